/* The section filter: the site's sections, read once per site (it is public). */

import { api, sitePath } from "./api.js";
import { $, el } from "./dom.js";
import { capitalize } from "./format.js";
import { get } from "./state.js";

let seq = 0; // only the newest read is shown
let loaded = false;

function removeOptions(select) {
  while (select.options.length > 1) select.remove(1); // all but "All sections"
}

/** The chosen section as an option, before the site's sections are read. */
export function addSectionOption(section) {
  const select = $("section");
  select.appendChild(el("option", { value: section }, capitalize(section)));
  select.value = section;
}

/** Reads the site's sections, unless they have been: a failure is tried on the next round. */
export async function loadSections() {
  if (loaded) return;
  const mine = ++seq;
  let data;
  try {
    data = await api(sitePath("/sections"), { auth: false });
  } catch {
    return; // tried again on the next poll
  }
  if (mine !== seq) return;
  loaded = true;
  const list = Array.isArray(data.sections) ? data.sections.filter((s) => typeof s === "string" && s) : [];
  const select = $("section");
  const section = get().section;
  removeOptions(select);
  for (const s of list) select.appendChild(el("option", { value: s }, capitalize(s)));
  if (section && list.indexOf(section) < 0) {
    select.appendChild(el("option", { value: section }, capitalize(section)));
  }
  select.value = section;
}

/** Another site: its sections are read anew. */
export function resetSections() {
  loaded = false;
  const select = $("section");
  removeOptions(select);
  select.value = "";
}
