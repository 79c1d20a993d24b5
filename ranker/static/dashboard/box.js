/* Box performance: does the Most viewed box on the site's pages work? Per placement (a
 * box's data-placement), its impressions and clicks in the chosen window, the share of
 * readers who saw it and clicked a story, that share per position as a bar, and the
 * stories readers clicked most from it. */

import { api, errorText, sitePath } from "./api.js";
import { $, el, setText, storyHash } from "./dom.js";
import { fmtInt, fmtShare, num } from "./format.js";
import { get, recall, remember } from "./state.js";

// Counts are kept per hour and written with the collectors' batches, and a 30-day window
// reads 720 hours: once every 30 s is as fresh as anyone needs.
const BOX_MS = 30000;
export const BOX_WINDOWS = { "1h": "hour", "24h": "24 hours", "7d": "7 days", "30d": "30 days" };
const DEFAULT_WINDOW = "24h";
const TOP_STORIES = 5; // of the up to 20 the server lists per placement
// Positions past this are shown only when they were clicked: a box lists at most a few.
const FILLED_POSITIONS = 20;

let seq = 0; // only the newest read is shown
let askedAt = 0; // when the counts were last asked for (Date.now())
let read = false; // whether an answer for this site and window is shown
let boxWindow = DEFAULT_WINDOW;

/** "1 click", "1,204 clicks". */
function clicksText(n) {
  return fmtInt(n) + (n === 1 ? " click" : " clicks");
}

/** The window remembered in this tab, marked in the card. */
export function restoreBoxWindow() {
  const w = recall("boxWindow");
  boxWindow = w && BOX_WINDOWS[w] ? w : DEFAULT_WINDOW;
  markBoxWindow();
}

function markBoxWindow() {
  for (const b of $("box-windows").querySelectorAll("[data-box-window]")) {
    b.setAttribute("aria-pressed", b.getAttribute("data-box-window") === boxWindow ? "true" : "false");
  }
}

/** Another window chosen: the last one's figures go, and the new ones are read. */
export function selectBoxWindow(win) {
  if (!BOX_WINDOWS[win] || win === boxWindow) return false;
  boxWindow = win;
  remember("boxWindow", win === DEFAULT_WINDOW ? "" : win);
  markBoxWindow();
  clearBox("Loading…");
  return true;
}

/** Whether a round should read the counts again. */
export function boxDue() {
  return Date.now() - askedAt >= BOX_MS;
}

/** Reads the counts of the chosen window. A failure is said in the card (whose last
 * figures stay) and not thrown: the round's other reads tell whether the connection works. */
export async function loadBox() {
  const mine = ++seq;
  const win = boxWindow;
  askedAt = Date.now();
  let data;
  try {
    data = await api(sitePath("/recirculation?window=" + win), {});
  } catch (e) {
    if (mine !== seq || e.code === "auth" || get().view === "signin") return;
    if (!(e.status >= 400 && e.status < 500)) askedAt = 0; // the connection's: try next round
    showError(
      "Could not read the box's impressions and clicks: " + errorText(e) +
        (read ? " The figures below may be out of date." : ""),
    );
    if (!read) $("box-empty").hidden = true;
    return;
  }
  if (mine !== seq || win !== boxWindow || get().view === "signin") return;
  read = true;
  showError("");
  renderBox(data);
}

function showError(text) {
  const err = $("box-error");
  setText(err, text);
  err.hidden = !text;
}

function clearBox(message) {
  seq++;
  askedAt = 0;
  read = false;
  showError("");
  $("box-list").textContent = "";
  const empty = $("box-empty");
  empty.textContent = "";
  empty.appendChild(el("p", { class: "empty" }, message));
  empty.hidden = false;
}

/** Another site: nothing of the last one's boxes stays, and its own are read at once. */
export function resetBox() {
  clearBox("Loading…");
}

/** A placement of the answer, its counts whole and non-negative. */
function placementOf(p) {
  const count = (v) => Math.max(0, Math.round(num(v)));
  const positions = (Array.isArray(p.positions) ? p.positions : [])
    .filter((x) => x && count(x.position) > 0)
    .map((x) => ({ position: count(x.position), clicks: count(x.clicks) }));
  const stories = (Array.isArray(p.stories) ? p.stories : [])
    .filter((s) => s && typeof s.id === "string")
    .map((s) => ({ id: s.id, title: typeof s.title === "string" ? s.title : "", clicks: count(s.clicks) }));
  return { name: p.placement, impressions: count(p.impressions), clicks: count(p.clicks), positions, stories };
}

function renderBox(data) {
  const shown = (Array.isArray(data.placements) ? data.placements : [])
    .filter((p) => p && typeof p.placement === "string")
    .map(placementOf)
    // The most seen box first.
    .sort((a, b) => b.impressions - a.impressions || b.clicks - a.clicks || (a.name < b.name ? -1 : 1));
  const list = $("box-list");
  const existing = new Map();
  for (const li of Array.from(list.children)) existing.set(li.getAttribute("data-placement"), li);
  const frag = document.createDocumentFragment();
  for (const p of shown) {
    let li = existing.get(p.name);
    if (li) existing.delete(p.name);
    else li = buildPlacement(p.name);
    updatePlacement(li, p);
    frag.appendChild(li);
  }
  for (const li of existing.values()) li.remove();
  list.appendChild(frag);
  const empty = $("box-empty");
  if (!shown.length) renderEmpty(empty);
  empty.hidden = shown.length > 0;
}

/** Why there is nothing yet, and what makes something. */
function renderEmpty(empty) {
  empty.textContent = "";
  empty.append(
    el("p", { class: "bx-none" }, "No impressions or clicks of the box in the last " + BOX_WINDOWS[boxWindow] + "."),
  );
  const how = el("p", { class: "bx-how" });
  how.append(
    el("code", null, "widget.js"),
    " reports an impression once at least half of a box's list has been in view for a second, " +
      "and each click on a story in it. Each box is counted under its ",
    el("code", null, "data-placement"),
    " (",
    el("code", null, 'data-placement="article-sidebar"'),
    "), a box without one as ",
    el("code", null, "default"),
    ". Only the placements named in the site's configuration (",
    el("code", null, "placements"),
    ") are counted.",
  );
  empty.appendChild(how);
}

function buildPlacement(name) {
  const li = el("li", { class: "box-placement", "data-placement": name });
  const head = el("div", { class: "bx-head" });
  const counts = el("p", { class: "bx-counts" });
  counts.append(el("span", { class: "bx-impressions" }), " · ", el("span", { class: "bx-clicks" }));
  head.append(el("h3", { class: "bx-name" }, name), counts);
  const positions = el("div", { class: "bx-positions" });
  positions.append(
    el("h4", { class: "bx-subtitle" }, "Click-through by position"),
    el("ol", { class: "bx-pos-list" }),
    el("p", { class: "bx-nothing" }, "No clicks yet."),
  );
  const stories = el("div", { class: "bx-stories" });
  stories.append(
    el("h4", { class: "bx-subtitle" }, "Most clicked from the box"),
    el("ol", { class: "bx-story-list" }),
    el("p", { class: "bx-nothing" }, "No clicks yet."),
  );
  const body = el("div", { class: "bx-body" });
  body.append(positions, stories);
  li.append(head, el("p", { class: "bx-rate" }), body);
  return li;
}

/** "120 impressions", with the number in bold. */
function countText(node, n, word) {
  const text = fmtInt(n) + " " + word + (n === 1 ? "" : "s");
  if (node.textContent === text) return;
  node.textContent = "";
  node.append(el("b", null, fmtInt(n)), " " + word + (n === 1 ? "" : "s"));
}

/** The click-through rate in words. */
function rateWords(node, p) {
  const share = fmtShare(p.clicks, p.impressions);
  let lead = "";
  let rest;
  if (!p.impressions) {
    rest = "No impressions counted in the last " + BOX_WINDOWS[boxWindow] + ", so no click-through rate yet.";
  } else if (p.clicks > p.impressions) {
    lead = share;
    rest = " clicks per impression: more clicks than impressions, some readers clicked more than one story.";
  } else {
    lead = share;
    rest = " of readers who saw the box clicked a story";
  }
  if (node.textContent === lead + rest) return;
  node.textContent = "";
  if (lead) node.appendChild(el("b", { class: "bx-ctr" }, lead));
  node.append(rest);
}

function updatePlacement(li, p) {
  countText(li.querySelector(".bx-impressions"), p.impressions, "impression");
  countText(li.querySelector(".bx-clicks"), p.clicks, "click");
  rateWords(li.querySelector(".bx-rate"), p);
  // Rebuilt only when they changed: a focused link keeps its focus.
  const sig = JSON.stringify([p.impressions, p.positions, p.stories]);
  if (li.getAttribute("data-sig") === sig) return;
  li.setAttribute("data-sig", sig);
  renderPositions(li.querySelector(".bx-positions"), p);
  renderStories(li.querySelector(".bx-stories"), p);
}

/** A bar per position, its length the position's clicks against the most clicked one's
 * (the same impressions divide them all), labelled with its click-through rate. */
function renderPositions(box, p) {
  const byPosition = new Map(p.positions.map((x) => [x.position, x.clicks]));
  const last = Math.max(0, ...byPosition.keys());
  const shown = [];
  for (let k = 1; k <= Math.min(last, FILLED_POSITIONS); k++) shown.push(k);
  for (const k of [...byPosition.keys()].sort((a, b) => a - b)) if (k > FILLED_POSITIONS) shown.push(k);
  const most = Math.max(0, ...byPosition.values());
  const list = box.querySelector(".bx-pos-list");
  list.textContent = "";
  for (const k of shown) {
    const clicks = byPosition.get(k) || 0;
    const rate = p.impressions ? fmtShare(clicks, p.impressions) || "0%" : "";
    const li = el("li", {
      class: "bx-pos",
      "data-position": k,
      title: "Position " + k + ": " + clicksText(clicks) + (rate ? ", " + rate + " of impressions" : ""),
    });
    const n = el("span", { class: "bx-pos-n" });
    n.append(el("span", { class: "visually-hidden" }, "Position "), String(k));
    const bar = el("span", { class: "bx-bar", "aria-hidden": "true" });
    const fill = el("span", { class: "bx-bar-fill" });
    fill.style.width = (most ? (100 * clicks) / most : 0).toFixed(2) + "%";
    bar.appendChild(fill);
    li.append(n, bar, el("span", { class: "bx-pos-ctr" }, rate || clicksText(clicks)));
    list.appendChild(li);
  }
  list.hidden = shown.length === 0;
  box.querySelector(".bx-nothing").hidden = shown.length > 0;
}

function renderStories(box, p) {
  const list = box.querySelector(".bx-story-list");
  list.textContent = "";
  for (const s of p.stories.slice(0, TOP_STORIES)) {
    const li = el("li", { class: "bx-story", "data-id": s.id });
    li.append(
      el("a", { class: "story-link", href: storyHash(s.id) }, s.title || s.id),
      el("span", { class: "bx-story-clicks" }, clicksText(s.clicks)),
    );
    list.appendChild(li);
  }
  list.hidden = p.stories.length === 0;
  box.querySelector(".bx-nothing").hidden = p.stories.length > 0;
}
