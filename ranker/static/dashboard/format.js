/* Numbers, times and words as editors read them. Pure: no DOM, no state. */

const intFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decFmt = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const pctFmt = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
const compactFmt = (() => {
  try {
    return new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
  } catch {
    return intFmt;
  }
})();
export const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A number from an answer's field, 0 when it is none. */
export function num(v) {
  const n = Number(v);
  return isFinite(n) ? n : 0;
}

export function fmtInt(v) {
  return intFmt.format(Math.round(num(v)));
}

/** A window's views: decayed ("hot") ones with a decimal, exact ones whole. */
export function fmtViews(v, win) {
  return win === "hot" ? decFmt.format(num(v)) : fmtInt(v);
}

export function fmtRatio(r) {
  const n = num(r);
  if (n >= 100) return "×" + intFmt.format(Math.round(n));
  return "×" + n.toFixed(1);
}

export function fmtPercent(r) {
  return pctFmt.format(r);
}

/** n as a share of total: "6.6%", "<0.1%" rather than a misleading "0%". */
export function fmtShare(n, total) {
  if (!(total > 0)) return "";
  const r = n / total;
  return r > 0 && r < 0.001 ? "<" + pctFmt.format(0.001) : pctFmt.format(r);
}

/** An axis label: "12,400" up to 9,999, then "12K". */
export function fmtAxis(v) {
  return v >= 10000 ? compactFmt.format(v) : intFmt.format(v);
}

function pad2(n) {
  return (n < 10 ? "0" : "") + n;
}

/** "14:05", or "14:05:09" with seconds, in local time. */
export function clock(d, seconds) {
  return pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + (seconds ? ":" + pad2(d.getSeconds()) : "");
}

// A site's days and hours are its own time zone's (the answers that carry times say which).
const zoneFormats = new Map(); // time zone -> the Intl.DateTimeFormat reading its wall clock

function wallFormat(zone) {
  let f = zoneFormats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
    zoneFormats.set(zone, f);
  }
  return f;
}

/** The time zone an answer names (IANA, "Asia/Kathmandu"), or "UTC" when it names none
 * or this browser does not know it. */
export function siteZone(name) {
  if (typeof name === "string" && name) {
    try {
      wallFormat(name);
      return name;
    } catch {
      // a zone this browser's Intl rejects
    }
  }
  return "UTC";
}

/** The wall clock in `zone` (one siteZone returned) at `t` seconds since the epoch:
 * { year, month (1-12), day, hour (0-23), minute }. */
export function wallClock(t, zone) {
  const w = { year: 1970, month: 1, day: 1, hour: 0, minute: 0 };
  for (const part of wallFormat(zone).formatToParts(new Date(t * 1000))) {
    if (part.type in w) w[part.type] = Number(part.value);
  }
  if (w.hour === 24) w.hour = 0; // engines that ignore hourCycle write midnight as 24
  return w;
}

/** A wall clock's time: "14:05". */
export function wallTime(w) {
  return pad2(w.hour) + ":" + pad2(w.minute);
}

/** A wall clock's date: "26 Nov". */
export function wallDayMonth(w) {
  return w.day + " " + MONTHS[w.month - 1];
}

/** Whether two wall clocks show the same date. */
export function sameDate(a, b) {
  return a.year === b.year && a.month === b.month && a.day === b.day;
}

/** How far `zone`'s wall clock is ahead of UTC at `t` (seconds, to the minute). */
function zoneOffset(t, zone) {
  const w = wallClock(t, zone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) / 1000 - Math.floor(t / 60) * 60;
}

/** When the day in `zone` that `t` (unix s) falls in ends: its next midnight, unix s. */
export function dayEnd(t, zone) {
  const w = wallClock(t, zone);
  const midnight = Date.UTC(w.year, w.month - 1, w.day + 1) / 1000; // that wall clock, read as UTC
  const guess = midnight - zoneOffset(t, zone);
  return midnight - zoneOffset(guess, zone); // the offset at midnight: a clock change that day
}

/** A time to come on the site's clock, `now` being today: "23:59", "23:59 tomorrow",
 * "18:00 on 3 Dec". */
export function fmtLater(t, zone, now) {
  const w = wallClock(t, zone);
  if (sameDate(w, wallClock(now, zone))) return wallTime(w);
  if (sameDate(w, wallClock(dayEnd(now, zone), zone))) return wallTime(w) + " tomorrow";
  return wallTime(w) + " on " + wallDayMonth(w);
}

/** A time gone by on the site's clock, `now` being today: "14:05", "14:05 yesterday",
 * "14:05 on 24 Nov". */
export function fmtEarlier(t, zone, now) {
  const w = wallClock(t, zone);
  const today = wallClock(now, zone);
  if (sameDate(w, today)) return wallTime(w);
  if (sameDate(wallClock(dayEnd(t, zone), zone), today)) return wallTime(w) + " yesterday";
  return wallTime(w) + " on " + wallDayMonth(w);
}

/** "2026-11-26" (a calendar date, such as a site's day) as "26 Nov". */
export function fmtDay(day) {
  const d = /^\d{4}-\d{2}-\d{2}$/.test(day) ? new Date(day + "T00:00:00Z") : null;
  return d && !isNaN(d.getTime()) ? d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] : day;
}

export function plural(n, word) {
  return n + " " + word + (n === 1 ? "" : "s");
}

export function viewCount(n) {
  return fmtInt(n) + (n === 1 ? " view" : " views");
}

export function capitalize(s) {
  s = String(s || "");
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

/** "a, b or c" */
export function orList(words) {
  return words.length < 2 ? words.join("") : words.slice(0, -1).join(", ") + " or " + words[words.length - 1];
}

/** A date from seconds since the epoch or an ISO string; null for none or nonsense. */
export function parseDate(value) {
  if (value == null || value === "") return null;
  const d = typeof value === "number" ? new Date(value * 1000) : new Date(String(value));
  return isNaN(d.getTime()) ? null : d;
}

const DAYS_PER_MONTH = 365.25 / 12;

/** How long ago, in the largest unit that reads well: "just now", "5 min ago", "3 h ago",
 * "4 days ago", "4 months ago", "7 years ago" (never "2603 days ago"). `now` is for tests. */
export function relTime(d, now = Date.now()) {
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 0) return "scheduled";
  if (s < 60) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return m + " min ago";
  const h = Math.round(m / 60);
  if (h < 48) return h + " h ago";
  const days = s / 86400;
  if (days < 31) return plural(Math.round(days), "day") + " ago";
  const months = Math.round(days / DAYS_PER_MONTH);
  if (months < 12) return plural(months, "month") + " ago";
  return plural(Math.round(days / 365.25), "year") + " ago";
}

export function fmtPublished(value) {
  const d = parseDate(value);
  if (!d) return "";
  const opts = { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" };
  let s;
  try {
    s = d.toLocaleString(undefined, opts);
  } catch {
    s = d.toISOString();
  }
  return "Published " + s + " · " + relTime(d);
}
