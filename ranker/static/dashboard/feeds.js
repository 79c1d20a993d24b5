/* Feeds: how the site's feeds and sitemaps are doing, in a panel shown only for a site that
 * has some. Each feed with when it was last read and what its last read brought (items
 * seen, added, updated, errors); a feed whose last poll failed is flagged with its error and
 * since when, on the site's clock, and the items it could not catalogue are listed with why. */

import { api, errorText, sitePath } from "./api.js";
import { $, el, setText } from "./dom.js";
import { fmtEarlier, fmtInt, num, parseDate, plural, relTime, siteZone } from "./format.js";
import { serverNow } from "./pins.js";
import { get } from "./state.js";

// Feeds come with the site's configuration, which changes only with a restart: a site
// without any is asked again once a minute, not every round.
const NO_FEEDS_MS = 60000;
// What each count is, for a pointer's hover and a screen reader.
const COUNT_HELP = {
  seen: "items in the feed when it was last read",
  added: "stories new to the catalog",
  updated: "stories whose entry the feed changed",
  errors: "items that make no valid entry: not catalogued",
};

let seq = 0; // only the newest read is shown
let feeds = null; // the feeds of the last answer ([] for none); null until one is read
let askedAt = 0; // when the feeds were last asked for (Date.now())

/** Whether a round should read the feeds: every round for a site with feeds. */
export function feedsDue() {
  return !(feeds && !feeds.length) || Date.now() - askedAt >= NO_FEEDS_MS;
}

/** Reads the feeds' status. A failure is said in the panel (whose last list stays) and not
 * thrown: the round's other reads tell whether the connection works. */
export async function loadFeeds() {
  const mine = ++seq;
  askedAt = Date.now();
  let data;
  try {
    data = await api(sitePath("/feeds"), {});
  } catch (e) {
    if (mine === seq && e.code !== "auth" && get().view !== "signin" && !(feeds && !feeds.length)) {
      showError("Could not read the feeds: " + errorText(e) + (feeds ? " The list below may be out of date." : ""));
      showFeeds();
    }
    return;
  }
  if (mine !== seq || get().view === "signin") return;
  feeds = Array.isArray(data.feeds) ? data.feeds.filter((f) => f && typeof f.name === "string") : [];
  showError("");
  showFeeds();
}

function showError(text) {
  const err = $("feeds-error");
  setText(err, text);
  err.hidden = !text;
}

/** When something happened, on the site's clock, and how long ago: "14:05 (3 min ago)". */
function when(value) {
  const d = parseDate(value);
  if (!d) return "";
  const t = d.getTime() / 1000;
  const z = siteZone(get().zone);
  const clockText = fmtEarlier(t, z, serverNow()) + (z === get().zone ? "" : " " + z);
  return clockText + " (" + relTime(d, Math.max(serverNow(), t) * 1000) + ")";
}

function buildItem(name) {
  const li = el("li", { class: "feed-item", "data-feed": name });
  const head = el("div", { class: "pg-head" });
  const who = el("p", { class: "pg-name" });
  who.append(el("span", { class: "pg-kind fd-name" }, name), el("code", { class: "pg-target fd-url" }));
  const counts = el("p", { class: "pg-counts" });
  for (const what of Object.keys(COUNT_HELP)) {
    if (counts.childNodes.length) counts.append(" · ");
    const stat = el("span", { class: "fd-" + what, title: COUNT_HELP[what] });
    stat.append(el("b"), " " + what);
    counts.append(stat);
  }
  head.append(who, counts);
  const skipped = el("details", { class: "fd-skipped" });
  skipped.append(el("summary"), el("ul"));
  li.append(head, el("p", { class: "fd-when" }), el("p", { class: "pg-error" }), skipped);
  return li;
}

function renderWhen(p, feed) {
  const read = when(feed.last_read);
  const polled = when(feed.last_success);
  let text = "Not read yet";
  if (read) text = "Last read " + read;
  if (polled && feed.last_success !== feed.last_read) text += "; unchanged at " + polled;
  setText(p, text);
}

function renderError(p, feed) {
  const failing = feed.outcome === "failed";
  const error = typeof feed.last_error === "string" && failing ? feed.last_error : "";
  p.hidden = !error;
  p.classList.toggle("is-failed", !!error);
  if (!error) return;
  const failures = Math.max(1, Math.round(num(feed.failures)));
  const at = when(feed.last_error_at);
  setText(p, (failures > 1 ? plural(failures, "poll") + " failed" : "The last poll failed") +
    (at ? ", at " + at : "") + ": " + error);
}

function renderSkipped(details, feed) {
  const reasons = Array.isArray(feed.item_errors) ? feed.item_errors : [];
  const errors = Math.max(0, Math.round(num(feed.items && feed.items.errors)));
  details.hidden = errors === 0 || reasons.length === 0;
  if (details.hidden) return;
  const [summary, list] = details.children;
  setText(summary, plural(errors, "item") + " not catalogued: why");
  list.textContent = "";
  for (const r of reasons) {
    if (!r || typeof r.reason !== "string") continue;
    list.append(el("li", null, (typeof r.item === "string" && r.item ? r.item + ": " : "") + r.reason));
  }
}

function updateItem(li, feed) {
  const failing = feed.outcome === "failed";
  li.classList.toggle("is-failing", failing);
  const [head, whenP, error, skipped] = li.children;
  setText(head.querySelector(".fd-url"), typeof feed.url === "string" ? feed.url : "");
  const items = feed.items || {};
  for (const what of Object.keys(COUNT_HELP)) {
    const stat = head.querySelector(".fd-" + what);
    const n = Math.max(0, num(items[what]));
    setText(stat.firstChild, fmtInt(n));
    if (what === "errors") setText(stat.lastChild, n === 1 ? " error" : " errors");
  }
  head.querySelector(".fd-errors").classList.toggle("is-bad", num(items.errors) > 0);
  renderWhen(whenP, feed);
  renderError(error, feed);
  renderSkipped(skipped, feed);
  return failing ? 1 : 0;
}

/** The panel, from the last answer (after a read, or once the site's clock is known);
 * hidden for a site without feeds. */
export function showFeeds() {
  const shown = feeds || [];
  const list = $("feeds-list");
  const existing = new Map();
  for (const li of Array.from(list.children)) existing.set(li.getAttribute("data-feed"), li);
  const frag = document.createDocumentFragment();
  let failing = 0;
  for (const feed of shown) {
    let li = existing.get(feed.name);
    if (li) existing.delete(feed.name);
    else li = buildItem(feed.name);
    failing += updateItem(li, feed);
    frag.appendChild(li);
  }
  for (const li of existing.values()) li.remove();
  list.appendChild(frag);
  const alert = $("feeds-alert");
  setText(alert, plural(failing, "feed") + " failing: " + (failing === 1 ? "its" : "their") +
    " new stories are not catalogued until " + (failing === 1 ? "it is" : "they are") + " read again.");
  alert.hidden = failing === 0;
  const count = $("feeds-count");
  setText(count, shown.length);
  count.setAttribute("title", plural(shown.length, "feed"));
  count.hidden = shown.length === 0;
  const card = $("feeds-card");
  card.classList.toggle("is-failing", failing > 0);
  card.hidden = shown.length === 0 && $("feeds-error").hidden;
}

/** Another site: nothing of the last one's feeds stays, and its own are read at once. */
export function resetFeeds() {
  seq++;
  feeds = null;
  askedAt = 0;
  showError("");
  $("feeds-list").textContent = "";
  showFeeds();
}
