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

function sparkLabel(values, res) {
  const unit = resUnit(res);
  if (!values || !values.length) return "views per " + unit + ": no data";
  let total = 0;
  let peak = 0;
  for (const v of values) {
    total += v;
    if (v > peak) peak = v;
  }
  return (
    "views per " + unit + ", last " + plural(values.length, unit) + ": " + fmtInt(total) +
    " in total, peak " + fmtInt(peak) + ", latest " + fmtInt(values[values.length - 1]) + " so far"
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

/** A small inline SVG: area + line, the last (partial) bucket dashed. */
export function sparkline(values, res, w, h) {
  const vals = Array.isArray(values) ? values.map(num) : [];
  const root = chartRoot("spark", w, h, sparkLabel(vals, res));
  const padX = 1.5;
  const padY = 2.5;
  const base = h - padY;
  if (vals.length < 2) {
    root.appendChild(svg("line", { class: "spark-base", x1: padX, x2: w - padX, y1: base, y2: base }));
    return root;
  }
  let max = 0;
  for (const v of vals) if (v > max) max = v;
  const n = vals.length;
  const dx = (w - 2 * padX) / (n - 1);
  const xs = vals.map((_, i) => padX + i * dx);
  const ys = vals.map((v) => (max > 0 ? base - (v / max) * (h - 2 * padY) : base));
  const pts = (from, to) => {
    const out = [];
    for (let i = from; i <= to; i++) out.push(xs[i].toFixed(1) + "," + ys[i].toFixed(1));
    return out.join(" ");
  };
  const last = n - 1;
  root.appendChild(
    svg("path", {
      class: "spark-area",
      d:
        "M" + xs[0].toFixed(1) + "," + base + " L" + pts(0, last - 1).replace(/ /g, " L") +
        " L" + xs[last - 1].toFixed(1) + "," + base + " Z",
    }),
  );
  root.appendChild(svg("polyline", { class: "spark-line", points: pts(0, last - 1) }));
  root.appendChild(svg("polyline", { class: "spark-line spark-partial", points: pts(last - 1, last) }));
  root.appendChild(
    svg("circle", { class: "spark-dot", cx: xs[last].toFixed(1), cy: ys[last].toFixed(1), r: 1.8 }),
  );
  return root;
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

/** A story's views over time (`data`: the series answer, or null while loading) into
 * `container`, with its read-out in `tip` on hover. Each point is a bucket's start and its
 * views: a day starts at the site's midnight and is not always 24 hours long. */
export function drawChart(container, tip, data, res, emptyText) {
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
  let max = 0;
  let total = 0;
  for (const v of vals) {
    if (v > max) max = v;
    total += v;
  }
  const unit = resUnit(res);
  const root = chartRoot(
    "chart-svg", W, H,
    points.length
      ? "views per " + unit + ", last " + plural(points.length, unit) + ": " + fmtInt(total) +
        " in total, peak " + fmtInt(max)
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

  // area + line; the last bucket is still filling up, so it is drawn dashed
  const coords = vals.map((v, i) => [x(i), y(v)]);
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
  if (n > 1) {
    g.appendChild(
      svg("polyline", { class: "chart-line chart-partial", points: fmt(coords[n - 2]) + " " + fmt(coords[n - 1]) }),
    );
  }
  g.appendChild(
    svg("circle", { class: "chart-dot", cx: coords[n - 1][0].toFixed(1), cy: coords[n - 1][1].toFixed(1), r: 3 }),
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
    const cy = coords[i][1];
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
    tip.appendChild(el("span", null, span + (i === n - 1 ? " (so far)" : "")));
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
  hit.addEventListener("mousemove", show);
  hit.addEventListener("mouseleave", hide);
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
