/* Beacons today: the site's day's views counted and beacons not counted, why not (largest
 * reason first), the views editors released, and the last seven days as bars. A site's day
 * is its own time zone's, as the answer names it, with the date the server gives it. */

import { api, errorText, sitePath } from "./api.js";
import { weekChart } from "./chart.js";
import { $, el, setText } from "./dom.js";
import { capitalize, fmtDay, fmtInt, fmtShare, num, plural } from "./format.js";
import { get } from "./state.js";

// The tally changes only as fast as the collectors flush, and nobody watches it tick.
const BEACONS_MS = 30000;
const BEACON_DAYS = 7;
// Why a beacon was not counted, in an editor's words; a reason not listed here is shown
// by its name.
export const REASONS = {
  bot: { label: "Bots", help: "Crawlers, headless browsers and link previews" },
  prefetch: { label: "Prefetched", help: "Pages prefetched or prerendered and never shown" },
  duplicate: { label: "Repeat views", help: "The same reader again within the repeat window" },
  unsigned: { label: "Unknown ids", help: "An id not in the catalog, sent without a valid token" },
  rate_limited: { label: "Rate limited", help: "Too many beacons from one address" },
  malformed: { label: "Malformed", help: "Broken beacons" },
  overloaded: { label: "Store unreachable", help: "Refused while the store was unreachable" },
  inconsistent: { label: "Inconsistent browsers", help: "Browsers without the headers their version always sends" },
  datacenter: { label: "Hosting networks", help: "From cloud and hosting providers' networks, where few readers are" },
  address_limit: { label: "Per-address limit", help: "More views of one story from one address than the limit allows" },
  concentrated: { label: "One network's surge", help: "Over one network's share of a story's recent views" },
};

let seq = 0; // only the newest read is shown
let askedAt = 0; // when the tally was last asked for (Date.now())

/** Whether a round should read the tally again. */
export function beaconsDue() {
  return Date.now() - askedAt >= BEACONS_MS;
}

/** Read again on the next round: the tally changed (views released). */
export function askSoon() {
  askedAt = 0;
}

export async function loadBeacons() {
  const mine = ++seq;
  askedAt = Date.now();
  let data;
  try {
    data = await api(sitePath("/beacons?days=" + BEACON_DAYS), {});
  } catch (e) {
    if (mine !== seq || e.code === "auth") throw e;
    if (e.status >= 400 && e.status < 500) {
      // Asking again soon would get the same answer: wait for the next round.
      if ($("beacons-today").hidden && $("beacons-week").hidden) {
        clearBeacons("The tally is not available: " + errorText(e));
      }
    } else {
      askedAt = 0; // the connection's fault: tried again on the next poll
    }
    throw e;
  }
  if (mine !== seq || get().view === "signin") return;
  renderBeacons(data);
}

function clearBeacons(message) {
  setText($("beacons-hint"), "");
  $("beacons-hint").removeAttribute("title");
  $("beacons-today").hidden = true;
  $("beacons-week").hidden = true;
  $("beacons-reasons").textContent = "";
  $("beacons-week-chart").textContent = "";
  const empty = $("beacons-empty");
  setText(empty, message);
  empty.hidden = false;
}

/** Another site: nothing of the last tally stays, and the new one is read at once. */
export function resetBeacons() {
  askedAt = 0;
  seq++;
  clearBeacons("Loading…");
}

/** One day of the tally: views counted, and the reasons beacons were not, largest first. */
function dayTally(day, order) {
  const d = day && typeof day === "object" ? day : {};
  const nc = d.not_counted && typeof d.not_counted === "object" ? d.not_counted : {};
  const reasons = [];
  let refused = 0;
  for (const reason of Object.keys(nc)) {
    const n = Math.max(0, Math.round(num(nc[reason])));
    refused += n;
    if (n > 0) reasons.push({ reason, n });
  }
  const pos = (r) => {
    const i = order.indexOf(r);
    return i < 0 ? order.length : i;
  };
  reasons.sort((a, b) => b.n - a.n || pos(a.reason) - pos(b.reason));
  const counted = Math.max(0, Math.round(num(d.counted)));
  return { day: typeof d.day === "string" ? d.day : "", counted, refused, total: counted + refused, reasons };
}

function renderBeacons(data) {
  const order = data && Array.isArray(data.reasons) ? data.reasons.map(String) : Object.keys(REASONS);
  const days = (data && Array.isArray(data.days) ? data.days : []).map((d) => dayTally(d, order)); // newest first
  const today = days[0] || dayTally(null, order);
  // The server's name for the zone, even one this browser's Intl would not know: only
  // the server reckons the days.
  const zone = data && typeof data.timezone === "string" && data.timezone ? data.timezone : "UTC";
  const hint = $("beacons-hint");
  setText(hint, today.day ? fmtDay(today.day) + " · " + zone : zone);
  hint.setAttribute("title", zone + " day " + (today.day ? today.day + ", so far" : "so far"));

  const empty = $("beacons-empty");
  $("beacons-today").hidden = today.total === 0;
  setText(empty, "No beacons yet today.");
  empty.hidden = today.total > 0;
  if (today.total > 0) {
    setText($("beacons-counted"), fmtInt(today.counted));
    setText($("beacons-refused"), fmtInt(today.refused));
    const share = fmtShare(today.refused, today.total);
    setText($("beacons-share"), share ? "(" + share + ")" : "");
    const split = $("beacons-split");
    split.style.width = ((100 * today.counted) / today.total).toFixed(2) + "%";
    split.parentNode.setAttribute(
      "title",
      fmtInt(today.counted) + " of " + fmtInt(today.total) + " beacons counted (" +
        fmtShare(today.counted, today.total) + ")",
    );
    renderReasons(today);
    $("beacons-none").hidden = today.refused > 0;
    $("reasons-title").hidden = today.refused === 0;
  }
  const first =
    data && Array.isArray(data.days) && data.days[0] && typeof data.days[0] === "object" ? data.days[0] : {};
  const released = Math.max(0, Math.round(num(first.released)));
  const rel = $("beacons-released");
  setText(rel, fmtInt(released) + " held " + (released === 1 ? "view" : "views") + " released into the counts by editors");
  rel.hidden = released === 0;
  renderWeek(days);
}

function renderReasons(today) {
  const list = $("beacons-reasons");
  const existing = new Map();
  for (const li of Array.from(list.children)) existing.set(li.getAttribute("data-reason"), li);
  const frag = document.createDocumentFragment();
  for (const r of today.reasons) {
    const known = REASONS[r.reason];
    const label = known ? known.label : capitalize(r.reason.replace(/_/g, " "));
    let li = existing.get(r.reason);
    if (li) {
      existing.delete(r.reason);
    } else {
      li = el("li", { class: "bt-reason", "data-reason": r.reason });
      const name = el("span", { class: "bt-reason-label" }, label);
      // The explanation is the tooltip; screen readers get it as text.
      if (known) name.appendChild(el("span", { class: "visually-hidden" }, ": " + known.help));
      const bar = el("span", { class: "bt-bar", "aria-hidden": "true" });
      bar.appendChild(el("span", { class: "bt-bar-fill" }));
      li.append(name, bar, el("span", { class: "bt-reason-n" }));
    }
    const share = fmtShare(r.n, today.refused);
    li.setAttribute("title", (known ? known.help : label) + " · " + share + " of the beacons not counted");
    li.children[1].firstChild.style.width = ((100 * r.n) / today.refused).toFixed(2) + "%";
    setText(li.children[2], fmtInt(r.n));
    frag.appendChild(li);
  }
  for (const li of existing.values()) li.remove();
  list.appendChild(frag);
}

/** The days asked for: a sentence, and a bar per day. */
function renderWeek(days) {
  const week = $("beacons-week");
  let counted = 0;
  let refused = 0;
  for (const d of days) {
    counted += d.counted;
    refused += d.refused;
  }
  week.hidden = counted + refused === 0;
  const chart = $("beacons-week-chart");
  chart.textContent = "";
  if (week.hidden) return;
  setText($("week-title"), "Last " + plural(days.length, "day"));
  const share = fmtShare(refused, counted + refused);
  const parts = [fmtInt(counted) + " counted · ", fmtInt(refused) + " not counted" + (share ? " (" + share + ")" : "")];
  const sentence = parts.join("");
  const sum = $("beacons-week-sum");
  if (sum.textContent !== sentence) {
    sum.textContent = "";
    for (const part of parts) sum.appendChild(el("span", null, part)); // each wraps as a whole
  }
  chart.appendChild(weekChart(days, sentence));
}
