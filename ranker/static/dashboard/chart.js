/* The charts, as inline SVG: a row's sparkline, a story's views over time (with a hover
 * read-out) and the beacon tally's bars per day. Times are read on the site's clock (its
 * time zone, as the answer names it), whatever the editor's browser is set to. */

import { el, svg } from "./dom.js";
import {
  fmtAxis,
  fmtDay,
  fmtInt,
  num,
  plural,
  sameDate,
  siteZone,
  wallClock,
  wallDayMonth,
  wallTime,
} from "./format.js";

function resUnit(res) {
  return res === "day" ? "day" : res === "hour" ? "hour" : "minute";
}

const PER_UNIT = { minute: "views/min", hour: "views/h", day: "views/day" };
const CURRENT = { minute: "this minute", hour: "this hour", day: "today" };

// The newest bucket is still filling up when it is read: drawn at its views so far, every
// story would seem to collapse at the right-hand end. So it is drawn dashed, to a hollow
// dot at its pace (the views so far, pro-rated to the whole bucket) once a fifth of it has
// run. Before that a pace means little: the views so far are drawn if they are already
// above the bucket before (a rise at least that steep), else the bucket is left out. Where
// this browser's clock and the server's disagree too much to tell how far it has run, it
// is drawn dashed at the views so far.
const MIN_RUN = 0.2;
const CLOCK_SLACK = 30; // seconds this browser's clock may be off the server's

/** How much of the newest bucket (its `start`, `step` seconds long) had run when its series
 * was read, at `readAt` on this browser's clock: 0-1, or null when the clocks disagree. */
export function bucketRun(start, step, readAt) {
  const ran = num(readAt) - num(start);
  if (!(step > 0) || !(num(start) > 0) || ran < -CLOCK_SLACK || ran > step + CLOCK_SLACK) return null;
  return Math.min(1, Math.max(0, ran / step));
}

/** The newest bucket, `value` views so far (`before` in the bucket before it), as drawn:
 * `at` the height it is drawn at (null: left out), `paced` whether that is its pace rather
 * than its views so far. */
function partial(value, before, run) {
  if (run == null) return { value, run, at: value, paced: false };
  if (run < MIN_RUN) return { value, run, at: value > before ? value : null, paced: false };
  return { value, run, at: run < 1 ? value / run : value, paced: run < 1 };
}

/** A series' newest bucket as drawn (see partial), or null for none. */
function newest(vals, run) {
  const n = vals.length;
  return n ? partial(vals[n - 1], n > 1 ? vals[n - 2] : 0, run) : null;
}

/** "40 s", "25 min", "9 h": how long a bucket has run. */
function ranFor(seconds) {
  const s = Math.round(seconds);
  if (s < 120) return s + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return Math.round(s / 3600) + " h";
}

/** The newest bucket in words, for the charts' labels. */
function partialWords(p, res, step) {
  const now = CURRENT[resUnit(res)];
  const Now = now.charAt(0).toUpperCase() + now.slice(1);
  if (p.at == null) return Now + " has just begun (" + fmtInt(p.value) + " so far) and is not drawn yet.";
  if (!p.paced) return Now + " is not over: " + fmtInt(p.value) + " so far, drawn dashed.";
  return (
    Now + " is not over: " + fmtInt(p.value) + " so far in " + ranFor(p.run * step) +
    ", drawn dashed at about " + fmtInt(p.at) + ", the whole " + resUnit(res) + " at this pace."
  );
}

/** A sparkline's values, and its newest bucket as drawn (see partial). */
function sparkValues(values, run) {
  const vals = Array.isArray(values) ? values.map(num) : [];
  return { vals, last: newest(vals, run) };
}

/** The largest value a sparkline draws: its finished buckets' and its newest as drawn. */
export function sparkTop(values, run) {
  const { vals, last } = sparkValues(values, run);
  let top = last && last.at != null ? last.at : 0;
  for (let i = 0; i < vals.length - 1; i++) if (vals[i] > top) top = vals[i];
  return top;
}

/** "Scale 0–1,234 views/min": the top of the scale rows share. */
export function scaleText(top, res) {
  return "Scale 0–" + fmtInt(Math.ceil(top)) + " " + PER_UNIT[resUnit(res)];
}

function sparkLabel(vals, last, res, step, top, shared) {
  const unit = resUnit(res);
  if (!vals.length) return "views per " + unit + ": no data";
  let total = 0;
  let peak = 0;
  for (const v of vals) {
    total += v;
    if (v > peak) peak = v;
  }
  return (
    "views per " + unit + ", last " + plural(vals.length, unit) + ": " + fmtInt(total) + " in total, peak " +
    fmtInt(peak) + ". " + partialWords(last, res, step) + " " + scaleText(top, res) +
    (shared ? ", the same for every row." : ", this row's own.")
  );
}

/** An <svg> of `w` x `h` user units, an image to assistive technology, described by `label`. */
function chartRoot(cls, w, h, label) {
  return svg("svg", {
    class: cls,
    width: w,
    height: h,
    viewBox: "0 0 " + w + " " + h,
    role: "img",
    "aria-label": label,
    focusable: "false",
  });
}

/** A small inline SVG of views per bucket: area and line, the newest bucket dashed (see
 * partial). opts: `run` (bucketRun), `step` (a bucket's seconds), `top` (the scale's top,
 * shared by a list's rows; else the row's own largest). */
export function sparkline(values, res, w, h, opts) {
  const o = opts || {};
  const { vals, last } = sparkValues(values, o.run);
  const shared = o.top > 0;
  const top = shared ? o.top : sparkTop(vals, o.run);
  const label = sparkLabel(vals, last, res, num(o.step), top, shared);
  const root = chartRoot("spark", w, h, label);
  const title = svg("title"); // the same words on hover
  title.textContent = label;
  root.appendChild(title);
  const padX = 1.5;
  const padY = 2.5;
  const base = h - padY;
  if (vals.length < 2) {
    root.appendChild(svg("line", { class: "spark-base", x1: padX, x2: w - padX, y1: base, y2: base }));
    return root;
  }
  const n = vals.length;
  const dx = (w - 2 * padX) / (n - 1);
  const x = (i) => (padX + i * dx).toFixed(1);
  const y = (v) => (top > 0 ? base - (Math.min(v, top) / top) * (h - 2 * padY) : base).toFixed(1);
  const pt = (i, v) => x(i) + "," + y(v);
  const done = vals.slice(0, n - 1).map((v, i) => pt(i, v));
  const end = n - 2; // the newest finished bucket
  root.appendChild(
    svg("path", { class: "spark-area", d: "M" + x(0) + "," + base + " L" + done.join(" L") + " L" + x(end) + "," + base + " Z" }),
  );
  root.appendChild(svg("polyline", { class: "spark-line", points: done.join(" ") }));
  if (last.at == null) {
    root.appendChild(svg("circle", { class: "spark-dot", cx: x(end), cy: y(vals[end]), r: 1.8 }));
    return root;
  }
  root.appendChild(
    svg("polyline", { class: "spark-line spark-partial", points: done[end] + " " + pt(n - 1, last.at) }),
  );
  root.appendChild(svg("circle", { class: "spark-dot spark-open", cx: x(n - 1), cy: y(last.at), r: 1.8 }));
  return root;
}

/** A series answer's sparklines: views per bucket per id, a bucket's seconds, and how far
 * the newest bucket had run when read (now). */
export function sparkSeries(answer) {
  const series = answer && answer.series && typeof answer.series === "object" ? answer.series : {};
  const starts = answer && Array.isArray(answer.starts) ? answer.starts : [];
  const step = num(answer && answer.step);
  const start = starts.length ? starts[starts.length - 1] : 0;
  return { series, step, run: bucketRun(start, step, Date.now() / 1000) };
}

/** A list's sparklines into their cells (`rows`: [id, cell] pairs) from `spark` (sparkSeries;
 * null while it is read), each on its own scale or, when `same`, all on the list's
 * largest value. The shared scale's top, or 0. */
export function drawSparks(rows, spark, res, w, h, same) {
  let top = 0;
  if (spark && same) for (const [id] of rows) top = Math.max(top, sparkTop(spark.series[id], spark.run));
  for (const [id, cell] of rows) {
    const line = spark
      ? sparkline(spark.series[id], res, w, h, { run: spark.run, step: spark.step, top })
      : sparkline(null, res, w, h);
    if (cell.firstChild) cell.replaceChild(line, cell.firstChild);
    else cell.appendChild(line);
  }
  return top;
}

/** A round step for about `ticks` steps up to max: 1, 2, 2.5 or 5 times a power of ten. */
function niceStep(max, ticks) {
  const raw = max / ticks;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return Math.max(1, nice * mag);
}

/** A bucket's axis label from its start's wall clock `w` (`before`: the bucket before's,
 * or null): its date for a day, and for the first hour of a day; else its time. */
function xLabel(w, before, res) {
  if (res === "day" || (res === "hour" && before && !sameDate(w, before))) return wallDayMonth(w);
  return wallTime(w);
}

/** Whether a bucket starting at wall clock `w` is one to label, labelling every k-th: days
 * counted on the calendar, hours and minutes on the site's clock. */
function onBoundary(w, res, k) {
  if (res === "day") return Math.round(Date.UTC(w.year, w.month - 1, w.day) / 86400000) % k === 0;
  if (res === "hour") return w.hour % k === 0;
  return (w.hour * 60 + w.minute) % k === 0;
}

// Label every k-th bucket, the smallest k of these that leaves at most 7 labels.
const LABEL_EVERY = {
  minute: [5, 10, 15, 20, 30, 60, 120],
  hour: [1, 2, 3, 6, 12, 24, 48],
  day: [1, 2, 5, 7, 14, 30],
};

/** A story's views over time (`data`: the series answer, or null while loading; read at
 * `readAt`, unix s on this browser's clock) into `container`, with its read-out in `tip` on
 * hover. Each point is a bucket's start and its views: a day starts at the site's midnight
 * and is not always 24 hours long. The newest bucket is drawn as partial() says. */
export function drawChart(container, tip, data, res, emptyText, readAt) {
  container.textContent = "";
  tip.hidden = true;
  const points =
    data && Array.isArray(data.points) ? data.points.filter((p) => Array.isArray(p) && p.length >= 2) : [];
  const step = num(data && data.step) || (res === "hour" ? 3600 : 60); // a day's varies
  const zone = siteZone(data && data.timezone);
  const W = Math.max(320, Math.round(container.clientWidth || 800));
  const H = 260;
  const M = { top: 14, right: 16, bottom: 26, left: 48 };
  const iw = W - M.left - M.right;
  const ih = H - M.top - M.bottom;
  const vals = points.map((p) => num(p[1]));
  const times = points.map((p) => num(p[0]));
  const walls = times.map((t) => wallClock(t, zone));
  const run = times.length ? bucketRun(times[times.length - 1], step, readAt) : null;
  const last = newest(vals, run);
  let max = last && last.at != null ? last.at : 0; // the scale's: what is drawn
  let peak = 0;
  let total = 0;
  vals.forEach((v, i) => {
    if (v > max && i < vals.length - 1) max = v;
    if (v > peak) peak = v;
    total += v;
  });
  const unit = resUnit(res);
  const root = chartRoot(
    "chart-svg", W, H,
    points.length
      ? "views per " + unit + ", last " + plural(points.length, unit) + ": " + fmtInt(total) +
        " in total, peak " + fmtInt(peak) + ". " + partialWords(last, res, step)
      : "views per " + unit + ": no data",
  );
  const g = svg("g", { transform: "translate(" + M.left + "," + M.top + ")" });
  root.appendChild(g);

  // y axis: nice ticks from 0
  const stepY = niceStep(Math.max(max, 4), 4);
  const top = Math.max(stepY, Math.ceil(max / stepY) * stepY);
  const y = (v) => ih - (v / top) * ih;
  const grid = svg("g", { class: "axis axis-y" });
  for (let v = 0; v <= top + 1e-9; v += stepY) {
    const yy = Math.round(y(v)) + 0.5;
    grid.appendChild(svg("line", { class: v === 0 ? "grid grid-zero" : "grid", x1: 0, x2: iw, y1: yy, y2: yy }));
    const label = svg("text", { x: -8, y: yy, dy: "0.32em", "text-anchor": "end" });
    label.textContent = fmtAxis(v);
    grid.appendChild(label);
  }
  g.appendChild(grid);

  if (points.length < 1) {
    const t = svg("text", { class: "chart-empty", x: iw / 2, y: ih / 2, "text-anchor": "middle" });
    t.textContent = emptyText || "No data yet";
    g.appendChild(t);
    container.appendChild(root);
    return;
  }

  const n = points.length;
  const x = (i) => (n === 1 ? iw / 2 : (i / (n - 1)) * iw);

  // x axis labels on round boundaries
  const every = LABEL_EVERY[res] || [1, 5, 10];
  let k = every[every.length - 1];
  for (const c of every) {
    if (n / c <= 7) {
      k = c;
      break;
    }
  }
  const xAxis = svg("g", { class: "axis axis-x", transform: "translate(0," + ih + ")" });
  let lastX = -Infinity;
  for (let i = 0; i < n; i++) {
    if (!onBoundary(walls[i], res, k)) continue;
    const xx = x(i);
    if (xx - lastX < 44 || xx < 14 || xx > iw - 14) continue;
    lastX = xx;
    xAxis.appendChild(svg("line", { class: "tick", x1: xx, x2: xx, y1: 0, y2: 4 }));
    const label = svg("text", { x: xx, y: 17, "text-anchor": "middle" });
    label.textContent = xLabel(walls[i], i > 0 ? walls[i - 1] : null, res);
    xAxis.appendChild(label);
  }
  g.appendChild(xAxis);

  // area + line of the finished buckets; the newest one still filling up (see partial)
  const coords = vals.map((v, i) => [x(i), y(i === n - 1 && last.at != null ? last.at : v)]);
  const fmt = (p) => p[0].toFixed(1) + "," + p[1].toFixed(1);
  const solidEnd = n > 1 ? n - 2 : 0;
  const solid = coords.slice(0, solidEnd + 1).map(fmt);
  g.appendChild(
    svg("path", {
      class: "chart-area",
      d:
        "M" + coords[0][0].toFixed(1) + "," + ih + " L" + solid.join(" L") + " L" +
        coords[solidEnd][0].toFixed(1) + "," + ih + " Z",
    }),
  );
  g.appendChild(svg("polyline", { class: "chart-line", points: solid.join(" ") }));
  const shown = last.at != null ? n - 1 : solidEnd; // the newest point drawn
  if (shown > solidEnd) {
    g.appendChild(
      svg("polyline", { class: "chart-line chart-partial", points: fmt(coords[n - 2]) + " " + fmt(coords[n - 1]) }),
    );
  }
  g.appendChild(
    svg("circle", {
      class: shown === n - 1 ? "chart-dot chart-open" : "chart-dot",
      cx: coords[shown][0].toFixed(1),
      cy: coords[shown][1].toFixed(1),
      r: 3,
    }),
  );

  // hover read-out
  const guide = svg("line", { class: "chart-guide", x1: 0, x2: 0, y1: 0, y2: ih, visibility: "hidden" });
  const marker = svg("circle", { class: "chart-marker", r: 4, cx: 0, cy: 0, visibility: "hidden" });
  g.appendChild(guide);
  g.appendChild(marker);
  const hit = svg("rect", { class: "chart-hit", x: 0, y: 0, width: iw, height: ih });
  g.appendChild(hit);

  function hide() {
    guide.setAttribute("visibility", "hidden");
    marker.setAttribute("visibility", "hidden");
    tip.hidden = true;
  }
  function show(ev) {
    const box = root.getBoundingClientRect();
    const scale = box.width / W || 1;
    const px = (ev.clientX - box.left) / scale - M.left;
    const i = Math.max(0, Math.min(n - 1, Math.round(n === 1 ? 0 : (px / iw) * (n - 1))));
    const cx = coords[i][0];
    const cy = i === n - 1 && last.at == null ? y(vals[i]) : coords[i][1];
    guide.setAttribute("x1", cx.toFixed(1));
    guide.setAttribute("x2", cx.toFixed(1));
    guide.setAttribute("visibility", "visible");
    marker.setAttribute("cx", cx.toFixed(1));
    marker.setAttribute("cy", cy.toFixed(1));
    marker.setAttribute("visibility", "visible");
    const w = walls[i];
    const when = res === "day" ? wallDayMonth(w) : (res === "hour" ? wallDayMonth(w) + ", " : "") + wallTime(w);
    const span = res === "day" ? when : when + "–" + wallTime(wallClock(times[i] + step, zone));
    tip.textContent = "";
    tip.appendChild(el("strong", null, fmtInt(vals[i]) + (vals[i] === 1 ? " view" : " views")));
    let note = "";
    if (i === n - 1) note = last.paced ? " (so far; about " + fmtInt(last.at) + " at this pace)" : " (so far)";
    tip.appendChild(el("span", null, span + note));
    tip.hidden = false;
    const host = container.getBoundingClientRect();
    const tipX = box.left - host.left + (M.left + cx) * scale;
    const tipY = box.top - host.top + (M.top + cy) * scale;
    const tw = tip.offsetWidth;
    let left = tipX + 12;
    if (left + tw > host.width - 4) left = tipX - tw - 12;
    tip.style.left = Math.round(left + container.offsetLeft) + "px";
    tip.style.top = Math.round(Math.max(0, tipY - 44) + container.offsetTop) + "px";
  }
  // A mouse points; a finger taps, and the read-out stays until the next tap or redraw.
  hit.addEventListener("pointermove", show);
  hit.addEventListener("pointerdown", show);
  hit.addEventListener("pointerleave", (ev) => {
    if (ev.pointerType === "mouse") hide();
  });
  container.appendChild(root);
}

/** The beacon tally's days (newest first) as bars, oldest to newest: counted below, not
 * counted stacked on top. `sentence` says the same for screen readers. */
export function weekChart(days, sentence) {
  const barW = 9;
  const gap = 4;
  const H = 30;
  const W = days.length * barW + (days.length - 1) * gap;
  let peak = 0;
  for (const d of days) if (d.total > peak) peak = d.total;
  const root = chartRoot(
    "bt-week-svg", W, H, "Beacons per day, last " + plural(days.length, "day") + ": " + sentence,
  );
  days
    .slice()
    .reverse()
    .forEach((d, i) => {
      const x = i * (barW + gap);
      const today = i === days.length - 1;
      const g = svg("g", { class: today ? "bt-day is-today" : "bt-day" });
      const tip = svg("title");
      tip.textContent =
        fmtDay(d.day) + (today ? " (today, so far)" : "") + ": " + fmtInt(d.counted) + " counted, " +
        fmtInt(d.refused) + " not counted";
      g.appendChild(tip);
      g.appendChild(svg("rect", { class: "bt-day-slot", x, y: H - 2, width: barW, height: 2 }));
      const hC = peak > 0 ? (d.counted / peak) * H : 0;
      const hR = peak > 0 ? (d.refused / peak) * H : 0;
      // A day with anything at all stays visible, however small next to the peak.
      const minH = d.total > 0 ? 1.5 : 0;
      const rH = d.refused > 0 ? Math.max(minH, hR) : 0;
      const cH = d.counted > 0 ? Math.min(H - rH, Math.max(minH, hC)) : 0;
      if (cH) {
        g.appendChild(
          svg("rect", { class: "bt-day-counted", x, y: (H - cH).toFixed(1), width: barW, height: cH.toFixed(1) }),
        );
      }
      if (rH) {
        g.appendChild(
          svg("rect", { class: "bt-day-refused", x, y: (H - cH - rH).toFixed(1), width: barW, height: rH.toFixed(1) }),
        );
      }
      root.appendChild(g);
    });
  return root;
}
