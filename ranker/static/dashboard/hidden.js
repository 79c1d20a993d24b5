/* Hidden stories: the list of stories taken out of the lists, each with an Unhide button.
 * Which stories are hidden is shared state (get().hidden): the other lists leave them out. */

import { api, errorText, itemPath, sitePath } from "./api.js";
import { $, el, setText, storyHash } from "./dom.js";
import { refreshNow } from "./poll.js";
import { get, set } from "./state.js";
import { forgetTop } from "./top.js";

let seq = 0; // only the newest read is shown

export async function loadHidden() {
  const mine = ++seq;
  const data = await api(sitePath("/items?hidden=true"), {});
  if (mine !== seq || get().view === "signin") return;
  renderHidden(data);
}

export function renderHidden(data) {
  const items = data && Array.isArray(data.items) ? data.items : [];
  set({ hidden: new Set(items.map((it) => String(it.id))) });
  const list = $("hidden-list");
  list.textContent = "";
  for (const it of items) {
    const id = String(it.id);
    const li = el("li", { "data-id": id, class: "hidden-item" });
    const main = el("div", { class: "h-main" });
    main.appendChild(el("a", { class: "story-link", href: storyHash(id), title: it.title || id }, it.title || id));
    if (it.section) main.appendChild(el("span", { class: "chip" }, it.section));
    const button = el(
      "button",
      { type: "button", class: "btn btn-small unhide", "aria-label": "Unhide: " + (it.title || id) },
      "Unhide",
    );
    li.append(main, button);
    list.appendChild(li);
  }
  $("hidden-empty").hidden = items.length > 0;
  const count = $("hidden-count");
  setText(count, items.length);
  count.hidden = items.length === 0;
}

export async function unhide(button) {
  const li = button.closest("li[data-id]");
  const id = li ? li.getAttribute("data-id") : "";
  if (!id || button.disabled) return;
  button.disabled = true;
  setText(button, "Unhiding…");
  try {
    await api(itemPath(id), { method: "PATCH", body: { hidden: false } });
    forgetTop(); // it is back in the lists on the next read
    li.remove();
    renderHidden(listed());
    refreshNow();
  } catch (e) {
    if (e.code === "auth") return;
    button.disabled = false;
    setText(button, "Retry");
    button.setAttribute("title", "Could not unhide: " + errorText(e));
  }
}

/** The hidden list as rendered (after a local change), so it can be re-rendered at once. */
function listed() {
  return {
    items: Array.from($("hidden-list").children).map((li) => {
      const link = li.querySelector(".story-link");
      const chip = li.querySelector(".chip");
      return { id: li.getAttribute("data-id"), title: link ? link.textContent : "", section: chip ? chip.textContent : "" };
    }),
  };
}

/** Another site: nothing of the last list stays. */
export function clearHidden() {
  $("hidden-list").textContent = "";
}
