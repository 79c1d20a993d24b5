/* The Most viewed table: the top 20 of the chosen window and section (and author, when
 * one is chosen) among the stories published within the chosen age, each with a sparkline (each on its own scale, or all on one when the
 * editor asks), updated in place (a row moving up or down flashes). Each row pins or unpins
 * its story in one click; a pinned row says until when. */

import { api, errorText, seriesPath, sitePath } from "./api.js";
import { authorName } from "./authors.js";
import { drawSparks, scaleText, sparkline, sparkSeries } from "./chart.js";
import { $, el, setText, storyHash, svg } from "./dom.js";
import { fmtViews, num, parseDate } from "./format.js";
import {
  pinEnd,
  pinnedHere,
  pinOf,
  pinOffer,
  pinsKnown,
  pinSentence,
  pinStory,
  pinWhere,
  pinWindows,
  siteTime,
  unpinStory,
} from "./pins.js";
import { refreshNow } from "./poll.js";
import { get, remember, set } from "./state.js";

const TOP_N = 20;

// Each window, with the series its sparklines show.
export const WINDOWS = {
  hot: { label: "Now", res: "minute", n: 60, span: "Last 60 min" },
  "1h": { label: "1 hour", res: "minute", n: 60, span: "Last 60 min" },
  "24h": { label: "24 hours", res: "hour", n: 24, span: "Last 24 h" },
  "7d": { label: "7 days", res: "hour", n: 168, span: "Last 7 days" },
  "30d": { label: "30 days", res: "day", n: 30, span: "Last 30 days" },
  all: { label: "All time", res: "day", n: 30, span: "Last 30 days" },
};
export const WINDOW_ORDER = ["hot", "1h", "24h", "7d", "30d", "all"];
// How recently a listed story was published: each choice's `max_age`, in words after
// "published within". "0" is any age, and lifts a site's default `max_age` too: editors see
// every story read unless they narrow the list.
export const MAX_AGES = { "0": "any age", "6h": "6 hours", "24h": "24 hours", "48h": "48 hours", "7d": "7 days" };

/** Whether `value` is one of the published-within choices (a value remembered by an
 * earlier release may not be). */
export function isMaxAge(value) {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(MAX_AGES, value);
}

let seq = 0; // only the newest read is shown
const cache = new Map(); // "window|section|author|maxAge" -> {data, spark}: shown at once when chosen again
let prevRanks = null; // {key, ranks: Map(id -> rank)}: what a row moved from
let shown = new Map(); // id -> the item its row shows
const pinning = new Set(); // ids whose pin or unpin is in flight

function tbody() {
  return $("most-viewed").tBodies[0];
}

function topKey() {
  return get().window + "|" + get().section + "|" + get().author + "|" + get().maxAge;
}

function topPath() {
  const { window: win, section, author, maxAge } = get();
  // Editors see what is read: no stories filling a short list up.
  let u = sitePath("/top?n=" + TOP_N + "&backfill=false&window=" + encodeURIComponent(win));
  u += "&max_age=" + encodeURIComponent(maxAge);
  if (section) u += "&section=" + encodeURIComponent(section);
  if (author) u += "&author=" + encodeURIComponent(author);
  return u;
}

export async function loadTop() {
  const mine = ++seq;
  const key = topKey();
  const win = get().window;
  const data = await api(topPath(), { auth: false });
  if (mine !== seq || get().view === "signin") return;
  const at = parseDate(data.computed_at);
  if (at) set({ skew: at.getTime() / 1000 - Date.now() / 1000 });
  const entry = cache.get(key) || { data: null, spark: null };
  entry.data = data;
  cache.set(key, entry);
  if (key === topKey()) renderTop(entry, true);
  const items = Array.isArray(data.items) ? data.items : [];
  if (!items.length) return;
  const spec = WINDOWS[win];
  const ids = items.map((it) => String(it.id)).slice(0, 100);
  const ser = await api(seriesPath(ids, spec.res, spec.n), {});
  if (mine !== seq || get().view === "signin") return;
  entry.spark = sparkSeries(ser);
  if (key === topKey()) renderSparks(entry);
}

/** A pushpin, drawn in the text's colour (filled when the story is pinned, by CSS). */
export function pinIcon() {
  const icon = svg("svg", { class: "pin-icon", viewBox: "0 0 16 16", width: 14, height: 14, "aria-hidden": "true" });
  icon.append(
    svg("path", { class: "pin-body", d: "M6.25 2.25h3.5v4l2.5 3.25h-8.5l2.5-3.25z" }),
    svg("path", { class: "pin-line", d: "M5 2.25h6M8 9.5v5" }),
  );
  return icon;
}

function buildRow(id) {
  const tr = el("tr", { "data-id": id });
  const rank = el("td", { class: "c-rank" });
  const title = el("td", { class: "c-title" });
  const link = el("a", { class: "story-link", href: storyHash(id) });
  const mark = el("span", { class: "pin-mark", hidden: "" });
  // "Pinned" said apart: a phone shows the icon instead.
  mark.append(pinIcon(), el("span", { class: "pin-lead" }, "Pinned "), el("span", { class: "pin-until" }));
  title.append(link, mark);
  const section = el("td", { class: "c-section" });
  section.appendChild(el("span", { class: "chip" }));
  const views = el("td", { class: "c-views" });
  const trend = el("td", { class: "c-trend" });
  const pin = el("td", { class: "c-pin" });
  const button = el("button", { type: "button", class: "btn btn-small pin-btn" });
  button.append(pinIcon(), el("span", { class: "pin-word" }));
  pin.appendChild(button);
  tr.append(rank, title, section, views, trend, pin);
  return tr;
}

/** What a pinned row's marker says after "Pinned": "until 23:59", or where the pin holds
 * when it is not this list ("in Sport until 23:59", "in Now, 24h until 23:59"). */
function markWords(pin) {
  if (!pin) return "";
  const where = [];
  if ((pin.section || "") !== get().section) where.push(pinWhere(pin));
  else if (!pinnedHere(pin)) where.push("in " + pinWindows(pin));
  const end = pinEnd(pin);
  if (end) where.push("until " + siteTime(end));
  return where.join(" ");
}

/** A row's pin: its marker (until when) and its one button, Pin or Unpin. */
function renderPin(tr, it, rank) {
  const id = tr.getAttribute("data-id");
  const pin = pinOf(id);
  const pinned = pin ? true : !pinsKnown() && it.pinned === true;
  tr.classList.toggle("is-pinned", pinned);
  const mark = tr.cells[1].lastChild;
  mark.hidden = !pinned;
  setText(mark.lastChild, markWords(pin));
  mark.setAttribute("title", pin ? pinSentence(pin) : "Pinned");
  const button = tr.cells[5].firstChild;
  button.setAttribute("data-action", pinned ? "unpin" : "pin");
  button.setAttribute("aria-label", pinned ? "Unpin: " + (it.title || id) : pinOffer(rank));
  button.setAttribute("title", pinned ? (pin ? pinSentence(pin) : "Pinned") + ". Unpin in one click." : pinOffer(rank));
  setText(button.lastChild, pinned ? "Unpin" : "Pin");
  button.classList.toggle("is-pinned", pinned);
  const busy = pinning.has(id);
  button.disabled = busy;
  if (busy) button.setAttribute("aria-busy", "true");
  else button.removeAttribute("aria-busy");
}

// "Now" ranks by a time-decayed count: in plain words, a trending score.
const TRENDING = "Trending score";
const TRENDING_HELP = "views, each counting less the older it is (half-life)";

function renderHead(win) {
  const hot = win === "hot";
  setText($("views-head"), hot ? TRENDING : "Views");
  $("views-head").setAttribute(
    "title",
    hot ? TRENDING + ": " + TRENDING_HELP : "Exact views in the last " + WINDOWS[win].label.toLowerCase(),
  );
  setText($("trend-head"), WINDOWS[win].span);
  $("mv-note").hidden = !hot; // a phone has no hover to show the title: said in words
}

function renderTop(entry, fromPoll) {
  const data = entry.data;
  const body = tbody();
  const { window: win, section, hidden, author, maxAge } = get();
  const spec = WINDOWS[win];
  renderHead(win);
  const name = author ? authorName(author, data && Array.isArray(data.items) ? data.items : []) : "";
  showAuthor(name);
  const items = data && Array.isArray(data.items) ? data.items.filter((it) => !hidden.has(String(it.id))) : [];
  const key = topKey();
  const prev = prevRanks && prevRanks.key === key ? prevRanks.ranks : null;
  const existing = new Map();
  for (const tr of Array.from(body.rows)) existing.set(tr.getAttribute("data-id"), tr);
  const ranks = new Map();
  shown = new Map();
  // Rows are moved by taking them out and back in, which would drop the focus (a Pin
  // button just pressed, say): it is given back.
  const focused = body.contains(document.activeElement) ? document.activeElement : null;
  const frag = document.createDocumentFragment();
  items.forEach((it, idx) => {
    const id = String(it.id);
    const rank = num(it.rank) || idx + 1;
    ranks.set(id, rank);
    let tr = existing.get(id);
    if (tr) existing.delete(id);
    else tr = buildRow(id);
    const cells = tr.cells;
    setText(cells[0], rank);
    const link = cells[1].firstChild;
    setText(link, it.title || id);
    link.setAttribute("title", it.title || id);
    setText(cells[2].firstChild, it.section || "");
    cells[2].firstChild.hidden = !it.section;
    setText(cells[3], fmtViews(it.views, win));
    if (!cells[4].firstChild) cells[4].appendChild(sparkline(null, spec.res, 120, 28));
    renderPin(tr, it, rank);
    shown.set(id, it);
    if (fromPoll && prev) {
      const before = prev.get(id);
      const cls = before == null ? "moved-new" : rank < before ? "moved-up" : rank > before ? "moved-down" : "";
      if (cls) flash(tr, cls);
    }
    frag.appendChild(tr);
  });
  for (const tr of existing.values()) tr.remove();
  body.appendChild(frag); // re-appending in order moves rows without rebuilding them
  if (focused && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
  prevRanks = { key, ranks };
  const empty = $("mv-empty");
  if (!items.length) {
    const within = maxAge !== "0" ? " published within " + MAX_AGES[maxAge] : "";
    const of =
      (author ? " of stories by " + name + within : within ? " of stories" + within : "") +
      (section ? " in “" + section + "”" : "");
    setText(empty, of ? "No views" + of + " for this window yet." : "No views in this window yet.");
  }
  empty.hidden = items.length > 0;
  if (entry.spark) renderSparks(entry);
}

/** Whose stories are listed, if one author's; a list by author shows no pins, so it has
 * no Pin column. */
function showAuthor(name) {
  setText($("author-name"), name);
  $("author-bar").hidden = !name;
  $("most-viewed").classList.toggle("by-author", !!name);
}

function renderSparks(entry) {
  const res = WINDOWS[get().window].res;
  const rows = Array.from(tbody().rows).map((tr) => [tr.getAttribute("data-id"), tr.cells[4]]);
  const top = drawSparks(rows, entry.spark, res, 120, 28, get().sameScaleTop);
  showScale(top > 0 ? scaleText(top, res) : "");
}

/** The shared scale's words beside its switch ("" when each row has its own). */
function showScale(text) {
  const note = $("mv-scale");
  setText(note, text);
  note.hidden = !text;
}

/** Every row's sparkline on one scale (the list's largest value), or each on its own. */
export function shareTopScale(on) {
  set({ sameScaleTop: on });
  remember("sameScaleTop", on ? "1" : null);
  $("mv-same-scale").checked = on;
  const entry = cache.get(topKey());
  if (entry && entry.spark) renderSparks(entry);
}

function flash(node, cls) {
  node.classList.remove("moved-up", "moved-down", "moved-new");
  void node.offsetWidth; // restart the animation
  node.classList.add(cls);
}

/** The list shown again as read (the pins changed, or the site's clock became known). */
export function redrawTop() {
  const entry = cache.get(topKey());
  if (entry && entry.data && get().view === "dash") renderTop(entry, false);
}

function showPinError(text) {
  const err = $("mv-error");
  setText(err, text);
  err.hidden = !text;
}

/** A row's Pin or Unpin button pressed: one request, its answer shown in the row, a
 * failure said above the list. */
export async function pinButton(button) {
  const tr = button.closest("tr[data-id]");
  const id = tr ? tr.getAttribute("data-id") : "";
  const it = shown.get(id);
  if (!it || pinning.has(id)) return;
  const unpin = button.getAttribute("data-action") === "unpin";
  pinning.add(id);
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    if (unpin) await unpinStory(id);
    else await pinStory(id, num(it.rank) || Number(tr.cells[0].textContent));
    showPinError("");
    refreshNow();
  } catch (e) {
    if (e.code !== "auth") {
      showPinError("Could not " + (unpin ? "unpin" : "pin") + " “" + (it.title || id) + "”: " + errorText(e));
    }
  } finally {
    pinning.delete(id);
    redrawTop();
  }
}

/** The window tabs' state: one selected, and only it in the tab order. */
export function markWindowTab(win, focus) {
  for (const b of $("windows").querySelectorAll("[data-window]")) {
    const on = b.getAttribute("data-window") === win;
    b.setAttribute("aria-selected", on ? "true" : "false");
    b.tabIndex = on ? 0 : -1;
    if (on && focus) b.focus();
  }
}

/** The window chosen: the caller shows and reads the list it is for. */
export function selectWindow(win, focus) {
  set({ window: win });
  remember("window", win);
  markWindowTab(win, focus);
}

/** The published-within choice's state: the one chosen shown, marked when it narrows the
 * list. */
export function markMaxAge(maxAge) {
  const select = $("mv-max-age");
  select.value = maxAge;
  select.classList.toggle("is-narrowed", maxAge !== "0");
}

/** How recently published the listed stories must be: the caller shows and reads the list
 * it is for. */
export function selectMaxAge(maxAge) {
  set({ maxAge });
  remember("maxAge", maxAge === "0" ? null : maxAge);
  markMaxAge(maxAge);
}

/** The last list read for the current window and section, or "Loading…" until one is. */
export function showCachedTop() {
  showPinError("");
  const entry = cache.get(topKey());
  if (entry && entry.data) {
    renderTop(entry, false);
  } else {
    tbody().textContent = "";
    prevRanks = null;
    renderHead(get().window);
    showAuthor(get().author ? authorName(get().author, []) : "");
    showScale("");
    const empty = $("mv-empty");
    setText(empty, "Loading…");
    empty.hidden = false;
  }
}

/** Forgets every list read: they change (a story back in them, views released). */
export function forgetTop() {
  cache.clear();
}

/** Takes a story just hidden out of the lists read. */
export function dropFromTop(id) {
  for (const entry of cache.values()) {
    if (entry.data && Array.isArray(entry.data.items)) {
      entry.data = { ...entry.data, items: entry.data.items.filter((it) => String(it.id) !== id) };
    }
  }
}

/** Another site: nothing of the last one stays. */
export function resetTop() {
  cache.clear();
  prevRanks = null;
  shown = new Map();
  showPinError("");
  tbody().textContent = "";
}
