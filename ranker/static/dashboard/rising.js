/* The Rising list: stories whose views per hour in the last minutes are well above the
 * hours before, each with its ratio and a sparkline. Until the site has been counted for
 * those hours, a notice saying when it will have, and the same stories without ratios
 * (they would compare with time nobody counted), the most read first. */

import { api, seriesPath, sitePath } from "./api.js";
import { drawSparks, scaleText, sparkline, sparkSeries } from "./chart.js";
import { $, el, setText, storyHash } from "./dom.js";
import {
  fmtAxis,
  fmtInt,
  fmtRatio,
  num,
  parseDate,
  sameDate,
  siteZone,
  wallClock,
  wallDayMonth,
  wallTime,
} from "./format.js";
import { get, remember, set } from "./state.js";

const RISING_N = 10;
const SPARK = { res: "minute", n: 30 };

let seq = 0; // only the newest read is shown
let last = null; // the last answer shown, and its sparklines (sparkSeries)
let lastSpark = null;

export async function loadRising() {
  const mine = ++seq;
  const section = get().section;
  let u = sitePath("/rising?n=" + RISING_N);
  if (section) u += "&section=" + encodeURIComponent(section);
  const data = await api(u, {});
  const stale = () => mine !== seq || section !== get().section || get().view === "signin";
  if (stale()) return;
  // The site's clock, which pins are told by too.
  if (typeof data.timezone === "string" && data.timezone && data.timezone !== get().zone) {
    set({ zone: data.timezone });
  }
  const items = Array.isArray(data.items) ? data.items : [];
  // Reuse the previous sparklines until the new ones arrive.
  last = data;
  renderRising(data, lastSpark);
  if (!items.length) return;
  const ids = items.map((it) => String(it.id)).slice(0, 100);
  const ser = await api(seriesPath(ids, SPARK.res, SPARK.n), {});
  if (stale()) return;
  lastSpark = sparkSeries(ser);
  renderRising(data, lastSpark);
}

/** Whether the site has been counted long enough for the ratios to mean something (a
 * server that does not say is taken at its word: it lists what it finds). */
function historyReady(data) {
  const h = data && data.history;
  return !(h && typeof h === "object" && h.ready === false);
}

/** "10m" as "10 minutes", "2h" as "2 hours". */
function spanLong(span) {
  const m = /^(\d+)([mh])$/.exec(span);
  if (!m) return span;
  const n = Number(m[1]);
  return n + (m[2] === "m" ? " minute" : " hour") + (n === 1 ? "" : "s");
}

/** Why there are no ratios yet, and when there will be, on the site's clock (the answer
 * names it; named in the text only if it does not, or this browser cannot read it); and
 * what is listed until then (`listed`: whether anything is). */
function historyNotice(data, shortW, baseW, listed) {
  let text =
    "Not enough history yet: Rising compares the last " + spanLong(shortW) + " with the " + spanLong(baseW) +
    " before.";
  const at = parseDate(data.history.ready_at);
  if (at) {
    const named = typeof data.timezone === "string" ? data.timezone : "";
    const zone = siteZone(named);
    const w = wallClock(at.getTime() / 1000, zone);
    const now = parseDate(data.computed_at) || new Date();
    const day = sameDate(w, wallClock(now.getTime() / 1000, zone)) ? "" : " on " + wallDayMonth(w);
    text += " Ready at " + wallTime(w) + (zone === named ? "" : " " + zone) + day + ".";
  } else {
    text += " Ready that long after the first view is counted.";
  }
  return listed ? text + " Until then, the stories read most in the last " + spanLong(shortW) + "." : text;
}

function buildItem(id) {
  const li = el("li", { "data-id": id, class: "rising-item" });
  const rank = el("span", { class: "r-rank" });
  const main = el("div", { class: "r-main" });
  const link = el("a", { class: "story-link", href: storyHash(id) });
  const meta = el("div", { class: "r-meta" });
  meta.append(el("span", { class: "chip" }), el("span", { class: "r-views" }));
  main.append(link, meta);
  const side = el("div", { class: "r-side" });
  side.append(el("span", { class: "ratio" }), el("span", { class: "r-spark" }));
  li.append(rank, main, side);
  return li;
}

/** "10m" as "10 min", "2h" as "2 h". */
function spanWords(span) {
  return span.replace(/m$/, " min").replace(/h$/, " h");
}

function renderRising(data, spark) {
  const list = $("rising");
  const hidden = get().hidden;
  const ready = historyReady(data);
  const items = data && Array.isArray(data.items) ? data.items.filter((it) => !hidden.has(String(it.id))) : [];
  // Without history the ratios' order means nothing: the most read first.
  if (!ready) items.sort((a, b) => num(b.views_short) - num(a.views_short));
  const shortW = (data && data.short_window) || "10m";
  const baseW = (data && data.baseline_window) || "2h";
  setText($("rising-hint"), "last " + spanWords(shortW) + " vs the " + spanWords(baseW) + " before");
  const notice = $("rising-notice");
  setText(notice, ready ? "" : historyNotice(data, shortW, baseW, items.length > 0));
  notice.hidden = ready;
  $("rising-tools").hidden = !items.length;
  const existing = new Map();
  for (const li of Array.from(list.children)) existing.set(li.getAttribute("data-id"), li);
  const frag = document.createDocumentFragment();
  items.forEach((it, idx) => {
    const id = String(it.id);
    let li = existing.get(id);
    if (li) existing.delete(id);
    else li = buildItem(id);
    const [rank, main, side] = li.children;
    const [ratio, sparkHost] = side.children;
    setText(rank, ready ? num(it.rank) || idx + 1 : idx + 1);
    const link = main.firstChild;
    setText(link, it.title || id);
    link.setAttribute("title", it.title || id);
    const [chip, views] = main.lastChild.children;
    setText(chip, it.section || "");
    chip.hidden = !it.section;
    setText(
      views,
      fmtInt(it.views_short) + " views in " + shortW.replace(/m$/, " min") + " · " +
        fmtAxis(Math.round(num(it.rate_short))) + "/h",
    );
    views.setAttribute(
      "title",
      "Now " + fmtInt(it.rate_short) + " views/hour, " +
        (ready
          ? "before " + fmtInt(it.rate_baseline) + " views/hour (" + fmtInt(it.views_baseline) + " views in " + baseW + ")"
          : "before: not counted long enough to tell"),
    );
    setText(ratio, ready ? fmtRatio(it.ratio) : "");
    ratio.hidden = !ready;
    ratio.setAttribute("title", ready ? "Views per hour now vs before: " + fmtRatio(it.ratio) : "");
    ratio.classList.toggle("ratio-hot", ready && num(it.ratio) >= 3);
    if (!sparkHost.firstChild) sparkHost.appendChild(sparkline(null, SPARK.res, 72, 22));
    frag.appendChild(li);
  });
  for (const li of existing.values()) li.remove();
  list.appendChild(frag);
  renderSparks(spark);
  const empty = $("rising-empty");
  const floor = data && data.min_views ? " (at least " + fmtInt(data.min_views) + " views)" : "";
  setText(empty, "Nothing is taking off right now" + floor + ".");
  empty.hidden = !ready || items.length > 0; // the notice says why there is none
}

/** The sparklines, once read (until then the previous ones stay), and the shared scale's
 * words beside its switch. */
function renderSparks(spark) {
  if (!spark) return;
  const rows = Array.from($("rising").children).map((li) => [
    li.getAttribute("data-id"),
    li.querySelector(".r-spark"),
  ]);
  const top = drawSparks(rows, spark, SPARK.res, 72, 22, get().sameScaleRising);
  const note = $("rising-scale");
  setText(note, top > 0 ? scaleText(top, SPARK.res) : "");
  note.hidden = !(top > 0);
}

/** Every row's sparkline on one scale (the list's largest value), or each on its own. */
export function shareRisingScale(on) {
  set({ sameScaleRising: on });
  remember("sameScaleRising", on ? "1" : null);
  $("rising-same-scale").checked = on;
  renderSparks(lastSpark);
}

/** The last list read, at once, when the dashboard is shown again. */
export function showCachedRising() {
  if (last) renderRising(last, lastSpark);
}

/** Takes a story just hidden out of the list read. */
export function dropFromRising(id) {
  if (last && Array.isArray(last.items)) {
    last = { ...last, items: last.items.filter((it) => String(it.id) !== id) };
  }
}

/** Another section or site: nothing of the last list stays. */
export function clearRising() {
  last = null;
  lastSpark = null;
  $("rising").textContent = "";
  $("rising-empty").hidden = true;
  $("rising-notice").hidden = true;
  $("rising-tools").hidden = true;
  $("rising-scale").hidden = true;
}
