/* Pins: stories an editor placed at a position in the site's or a section's lists, in
 * chosen windows, until a time. One click pins a Most viewed row where it is, in the list's
 * section (or site-wide) and every window, until the end of the site's day. The Pinned
 * panel lists the pins in force, read every round, each with Unpin. Times are on the
 * site's clock. */

import { api, errorText, pinPath, sitePath } from "./api.js";
import { $, el, setText, storyHash } from "./dom.js";
import { capitalize, dayEnd, fmtLater, parseDate, siteZone } from "./format.js";
import { refreshNow } from "./poll.js";
import { get } from "./state.js";

// The windows a pin may hold in, in the tabs' order and words.
const WINDOW_NAMES = { hot: "Now", "1h": "1h", "24h": "24h", "7d": "7d", "30d": "30d", all: "All time" };
// A pin made in the last hour of the site's day lasts through the next day: pinning a
// story at 23:30 means more than half an hour.
const LAST_HOUR = 3600;

let seq = 0; // only the newest read is used
let pins = new Map(); // id -> the pin in force, as the server answered
let read = false; // whether the pins have been read since the site was signed in to
const unpinning = new Set(); // ids whose unpin from the panel is in flight
let onChange = () => {};

/** Who is told when the pins change (read, made or removed): the lists that mark them. */
export function whenPinsChange(handler) {
  onChange = handler;
}

/** Now on the server's clock, unix s: the site's day is the server's. */
export function serverNow() {
  return Date.now() / 1000 + get().skew;
}

/** The site's time zone as this browser can read it ("UTC" until Rising has named it). */
function zone() {
  return siteZone(get().zone);
}

/** Until when one click pins, from `now` (unix s): the end of the day in `zone`
 * (23:59:59), or of the next day when less than an hour of this one is left. */
export function pinUntil(now, zone) {
  let end = dayEnd(now, zone);
  if (end - now < LAST_HOUR) end = dayEnd(end, zone);
  return end - 1;
}

/** A time to come on the site's clock, "23:59" ("23:59 UTC" while the site's zone is not
 * known, so it is never taken for it). */
export function siteTime(t) {
  const z = zone();
  return fmtLater(t, z, serverNow()) + (z === get().zone ? "" : " " + z);
}

/** The words of the Pin button of a row at `rank` in the current list. */
export function pinOffer(rank) {
  const section = get().section;
  return (
    "Pin at #" + rank + (section ? " in " + capitalize(section) : "") + " until " +
    siteTime(pinUntil(serverNow(), zone()))
  );
}

/** When a pin ends (unix s), 0 for an answer without a readable time. */
export function pinEnd(pin) {
  const d = parseDate(pin && pin.until);
  return d ? d.getTime() / 1000 : 0;
}

/** Where a pin holds: "site-wide" or "in Sport". */
export function pinWhere(pin) {
  return pin.section ? "in " + capitalize(pin.section) : "site-wide";
}

/** Which windows a pin holds in: "every window" or "Now, 24h". */
export function pinWindows(pin) {
  const ws = Array.isArray(pin.windows) ? pin.windows.filter((w) => w in WINDOW_NAMES) : [];
  if (!ws.length || ws.length === Object.keys(WINDOW_NAMES).length) return "every window";
  return Object.keys(WINDOW_NAMES)
    .filter((w) => ws.indexOf(w) >= 0)
    .map((w) => WINDOW_NAMES[w])
    .join(", ");
}

/** A pin in one sentence: "Pinned at #1 site-wide, every window, until 23:59". */
export function pinSentence(pin) {
  const end = pinEnd(pin);
  return (
    "Pinned at #" + pin.position + " " + pinWhere(pin) + ", " + pinWindows(pin) +
    (end ? ", until " + siteTime(end) : "")
  );
}

/** The story's pin in force, or null. */
export function pinOf(id) {
  return pins.get(id) || null;
}

/** Whether the pins in force have been read: until they are, a list's own word on what is
 * pinned is all there is. */
export function pinsKnown() {
  return read;
}

/** Whether a pin places its story in the list shown (its section and window). */
export function pinnedHere(pin) {
  const ws = Array.isArray(pin.windows) ? pin.windows : [];
  return (pin.section || "") === get().section && ws.indexOf(get().window) >= 0;
}

function changed() {
  showPinned();
  onChange();
}

/** Reads the pins in force. A failure is said in the panel, whose last list stays. */
export async function loadPins() {
  const mine = ++seq;
  let data;
  try {
    data = await api(sitePath("/pins"), {});
  } catch (e) {
    if (mine === seq && e.code !== "auth" && get().view !== "signin") {
      showError("Could not read the pins: " + errorText(e) + (read ? " The list below may be out of date." : ""));
      if (!read) $("pins-empty").hidden = true;
    }
    throw e;
  }
  if (mine !== seq || get().view === "signin") return;
  const list = Array.isArray(data.pins) ? data.pins.filter((p) => p && typeof p.id === "string") : [];
  pins = new Map(list.map((p) => [p.id, p]));
  read = true;
  showError("");
  changed();
}

function showError(text) {
  const err = $("pins-error");
  setText(err, text);
  err.hidden = !text;
}

/** Pins in the order the server lists them: by section (the site's first), then position. */
function inOrder() {
  const now = serverNow();
  return Array.from(pins.values())
    .filter((p) => !(pinEnd(p) && pinEnd(p) <= now)) // ended since it was read
    .sort(
      (a, b) =>
        (a.section || "").localeCompare(b.section || "") ||
        a.position - b.position ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
}

function buildItem(id) {
  const li = el("li", { "data-id": id, class: "pin-item" });
  const main = el("div", { class: "pn-main" });
  main.append(el("a", { class: "story-link", href: storyHash(id) }), el("p", { class: "pn-meta" }));
  const button = el("button", { type: "button", class: "btn btn-small unpin" }, "Unpin");
  li.append(main, button);
  return li;
}

/** The Pinned panel, from the pins known (after a read, a pin or an unpin, or once the
 * site's clock is known). */
export function showPinned() {
  const list = $("pins-list");
  const shown = read ? inOrder() : [];
  const existing = new Map();
  for (const li of Array.from(list.children)) existing.set(li.getAttribute("data-id"), li);
  const frag = document.createDocumentFragment();
  for (const pin of shown) {
    let li = existing.get(pin.id);
    if (li) existing.delete(pin.id);
    else li = buildItem(pin.id);
    const title = pin.title || pin.id;
    const [main, button] = li.children;
    const [link, meta] = main.children;
    setText(link, title);
    link.setAttribute("title", title);
    const end = pinEnd(pin);
    const words = ["#" + pin.position + " " + pinWhere(pin), pinWindows(pin)];
    if (end) words.push("until " + siteTime(end));
    setText(meta, words.join(" · "));
    meta.setAttribute("title", pinSentence(pin));
    button.setAttribute("aria-label", "Unpin: " + title);
    button.disabled = unpinning.has(pin.id);
    frag.appendChild(li);
  }
  for (const li of existing.values()) li.remove();
  list.appendChild(frag);
  const empty = $("pins-empty");
  setText(
    empty,
    read ? "Nothing is pinned. A story's Pin button in Most viewed keeps it where it is until the end of the day." : "Loading…",
  );
  empty.hidden = shown.length > 0 || !$("pins-error").hidden;
  const count = $("pins-count");
  setText(count, shown.length);
  count.hidden = shown.length === 0;
  setText($("pins-hint"), read ? "times in " + zone() : "");
}

/** The panel's Unpin pressed: one request; a failure said in the panel. */
export async function unpinFromPanel(button) {
  const li = button.closest("li[data-id]");
  const id = li ? li.getAttribute("data-id") : "";
  if (!id || unpinning.has(id)) return;
  const pin = pins.get(id);
  unpinning.add(id);
  button.disabled = true;
  try {
    await unpinStory(id);
    showError("");
    refreshNow();
  } catch (e) {
    if (e.code !== "auth") showError("Could not unpin “" + ((pin && pin.title) || id) + "”: " + errorText(e));
  } finally {
    unpinning.delete(id);
    showPinned();
  }
}

/** Pins a story at `position` in the current list's section (or site-wide), every
 * window, until the end of the site's day. Throws ApiError. */
export async function pinStory(id, position) {
  const body = { until: pinUntil(serverNow(), zone()), position, section: get().section || null };
  const pin = await api(pinPath(id), { method: "PUT", body });
  seq++; // a read begun before this write would not have it
  pins.set(id, pin && typeof pin.id === "string" ? pin : { id, ...body, windows: Object.keys(WINDOW_NAMES) });
  changed();
  return pin;
}

/** Unpins a story; one no longer pinned (expired, or unpinned elsewhere) is what was
 * asked. Throws ApiError. */
export async function unpinStory(id) {
  try {
    await api(pinPath(id), { method: "DELETE" });
  } catch (e) {
    if (e.code !== "unknown_pin") throw e;
  }
  seq++;
  pins.delete(id);
  changed();
}

/** Another site: nothing of the last one's pins stays. */
export function resetPins() {
  seq++;
  pins = new Map();
  read = false;
  showError("");
  showPinned();
}
