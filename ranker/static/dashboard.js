/* Ranker editors' dashboard. Plain ES2017, no dependencies, no build step.
 *
 * Views: sign-in form, dashboard (most viewed + rising + held views + hidden stories + the
 * day's beacon tally) and a story view at #story=<id>. Data comes from the JSON APIs under
 * /v1/sites/{site}/, polled every 5 s while the tab is visible (the tally every 30 s).
 * Untrusted text only ever reaches the DOM through textContent; SVG is built with
 * createElementNS; the token lives in sessionStorage and the Authorization header, never
 * in a URL.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- constants

  const POLL_MS = 5000;
  const TIMEOUT_MS = 10000;
  const TOP_N = 20;
  const RISING_N = 10;
  const SVG_NS = "http://www.w3.org/2000/svg";

  const WINDOWS = {
    hot: { label: "Now", res: "minute", n: 60, span: "Last 60 min" },
    "1h": { label: "1 hour", res: "minute", n: 60, span: "Last 60 min" },
    "24h": { label: "24 hours", res: "hour", n: 24, span: "Last 24 h" },
    "7d": { label: "7 days", res: "hour", n: 168, span: "Last 7 days" },
    "30d": { label: "30 days", res: "day", n: 30, span: "Last 30 days" },
    all: { label: "All time", res: "day", n: 30, span: "Last 30 days" },
  };
  const WINDOW_ORDER = ["hot", "1h", "24h", "7d", "30d", "all"];
  const RANK_LABELS = { hot: "Now", "1h": "1h", "24h": "24h", "7d": "7d", "30d": "30d", all: "All" };
  const STORY_RES = {
    minute: { n: 120, hint: "views per minute, last 2 hours" },
    hour: { n: 48, hint: "views per hour, last 48 hours" },
    day: { n: 30, hint: "views per day, last 30 days" },
  };
  const RISING_SPARK = { res: "minute", n: 30 };
  // The tally changes only as fast as the collectors flush, and nobody watches it tick.
  const BEACONS_MS = 30000;
  const BEACON_DAYS = 7;
  // Why a beacon was not counted, in an editor's words; a reason not listed here is shown
  // by its name.
  const REASONS = {
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
  const HELD_N = 20;
  // Views held for a story, in an editor's words: "51 concentrated · 3 over the per-address
  // limit". `help` says why such views are held.
  const HELD_WORDS = {
    concentrated: { one: "concentrated", many: "concentrated", help: "One network sent more than its share of the story's recent views" },
    address_limit: { one: "over the per-address limit", many: "over the per-address limit", help: REASONS.address_limit.help },
    datacenter: { one: "from a hosting network", many: "from hosting networks", help: REASONS.datacenter.help },
    bot: { one: "from a bot", many: "from bots", help: REASONS.bot.help },
    prefetch: { one: "prefetched", many: "prefetched", help: REASONS.prefetch.help },
    inconsistent: { one: "from an inconsistent browser", many: "from inconsistent browsers", help: REASONS.inconsistent.help },
    duplicate: { one: "repeat view", many: "repeat views", help: REASONS.duplicate.help },
  };
  // What the server releases when asked without reasons; its /held answer says so too.
  const RELEASE_DEFAULT = ["concentrated", "address_limit", "datacenter"];
  // The span the server measures a network's share over (the concentration rule).
  const SHARE_SPAN = "the last 10 minutes";

  // ---------------------------------------------------------------- small helpers

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        if (attrs[k] != null && attrs[k] !== false) node.setAttribute(k, attrs[k]);
      }
    }
    if (text != null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        if (attrs[k] != null) node.setAttribute(k, String(attrs[k]));
      }
    }
    return node;
  }

  function setText(node, value) {
    const s = value == null ? "" : String(value);
    if (node.textContent !== s) node.textContent = s;
  }

  /** The catalog's link rule (ranker/validate.py), also for entries stored before it: an
   * http(s) URL or a site path ("/x", never "//host") without whitespace, controls, bidi
   * characters or "\" (browsers read "/\host" as "//host"). */
  function safeUrl(url) {
    if (typeof url !== "string") return null;
    const u = url.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "");
    const refused = /[\x00-\x20\x7f-\x9f\\\xa0\u061c\u1680\u2000-\u200a\u200e\u200f\u2028-\u202f\u205f\u2066-\u2069\u3000]/;
    return /^(?:https?:\/\/[^\/?#]|\/(?!\/))/i.test(u) && !refused.test(u) ? u : null;
  }

  /** Every string the server sends, shown without controls or bidi overrides (the
   * catalog's text rule), so an old entry cannot reorder what an editor reads. Links keep
   * theirs: safeUrl refuses them whole. */
  function cleanStrings(key, value) {
    if (typeof value !== "string" || key === "url" || key === "image") return value;
    return value.replace(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, "");
  }

  const store = {
    get(key) {
      try { return window.sessionStorage.getItem("ranker." + key); } catch (e) { return null; }
    },
    set(key, value) {
      try {
        if (value == null || value === "") window.sessionStorage.removeItem("ranker." + key);
        else window.sessionStorage.setItem("ranker." + key, String(value));
      } catch (e) { /* storage may be disabled: the session just will not persist */ }
    },
  };

  const intFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const decFmt = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const pctFmt = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
  const compactFmt = (() => {
    try { return new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 }); } catch (e) { return intFmt; }
  })();

  function num(v) { const n = Number(v); return isFinite(n) ? n : 0; }
  function fmtInt(v) { return intFmt.format(Math.round(num(v))); }
  function fmtViews(v, win) { return win === "hot" ? decFmt.format(num(v)) : fmtInt(v); }
  function fmtRatio(r) {
    const n = num(r);
    if (n >= 100) return "×" + intFmt.format(Math.round(n));
    return "×" + n.toFixed(1);
  }
  /** n as a share of total: "6.6%", "<0.1%" rather than a misleading "0%". */
  function fmtShare(n, total) {
    if (!(total > 0)) return "";
    const r = n / total;
    return r > 0 && r < 0.001 ? "<" + pctFmt.format(0.001) : pctFmt.format(r);
  }
  function fmtAxis(v) { return v >= 10000 ? compactFmt.format(v) : intFmt.format(v); }
  function pad2(n) { return (n < 10 ? "0" : "") + n; }
  function clock(d, seconds) {
    return pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + (seconds ? ":" + pad2(d.getSeconds()) : "");
  }
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function dayMonth(d) { return d.getDate() + " " + MONTHS[d.getMonth()]; }
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  function capitalize(s) { s = String(s || ""); return s ? s.charAt(0).toUpperCase() + s.slice(1) : s; }

  function parseDate(value) {
    if (value == null || value === "") return null;
    const d = typeof value === "number" ? new Date(value * 1000) : new Date(String(value));
    return isNaN(d.getTime()) ? null : d;
  }

  function relTime(d) {
    const s = Math.round((Date.now() - d.getTime()) / 1000);
    if (s < 0) return "scheduled";
    if (s < 60) return "just now";
    const m = Math.round(s / 60);
    if (m < 60) return m + " min ago";
    const h = Math.round(m / 60);
    if (h < 48) return h + " h ago";
    return Math.round(h / 24) + " days ago";
  }

  function fmtPublished(value) {
    const d = parseDate(value);
    if (!d) return "";
    const opts = { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" };
    let s;
    try { s = d.toLocaleString(undefined, opts); } catch (e) { s = d.toISOString(); }
    return "Published " + s + " · " + relTime(d);
  }

  function storyHash(id) { return "#story=" + encodeURIComponent(id); }

  // ---------------------------------------------------------------- state

  const body = document.body;
  const pageSite = (body.getAttribute("data-site") || "").trim();
  const pageToken = (body.getAttribute("data-token") || "").trim();

  const S = {
    site: "",
    token: "",
    tokenFromPage: false,
    view: "none", // signin | dash | story
    window: "hot",
    section: "",
    storyId: null,
    storyRes: "minute",
    story: null, // the catalog entry shown in the story view
    storyPoints: null,
    storyMissing: false,
    hidePending: false,
    seq: { top: 0, rising: 0, hidden: 0, held: 0, story: 0, sections: 0, beacons: 0 },
    topCache: new Map(), // "window|section" -> {data, series}
    risingData: null,
    risingSeries: null,
    prevRanks: null, // {key, ranks: Map(id -> rank)}
    sectionsLoaded: false,
    hiddenIds: new Set(),
    heldData: null, // the last /held answer shown
    releasing: new Set(), // ids whose release is in flight
    beaconsAt: 0, // when the tally was last asked for (Date.now())
    timer: 0,
    ticking: false,
    again: false,
    lastOk: null,
    failing: false,
    cameFromDash: false,
  };

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message || code || ("HTTP " + status));
      this.status = status;
      this.code = code || "";
    }
  }

  function sitePath(rest) { return "/v1/sites/" + encodeURIComponent(S.site) + rest; }

  async function api(path, opts) {
    const o = opts || {};
    const auth = o.auth !== false;
    const headers = { Accept: "application/json" };
    if (auth) {
      if (!S.token) throw new ApiError(401, "auth", "Sign in to continue.");
      headers.Authorization = "Bearer " + S.token;
    }
    const init = {
      method: o.method || "GET",
      headers: headers,
      cache: "no-cache", // revalidate (ETag) instead of reusing a max-age'd answer
      credentials: "same-origin",
      referrerPolicy: "no-referrer",
    };
    if (o.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(o.body);
    }
    const token = S.token;
    const ctl = typeof AbortController === "function" ? new AbortController() : null;
    if (ctl) init.signal = ctl.signal;
    const timer = ctl ? setTimeout(() => ctl.abort(), TIMEOUT_MS) : 0;
    let res;
    let data = null;
    try {
      res = await fetch(path, init);
      const text = await res.text();
      if (text) {
        try { data = JSON.parse(text, cleanStrings); } catch (e) { data = null; }
      }
    } catch (e) {
      throw new ApiError(0, "network", "The server could not be reached.");
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) {
      const code = data && typeof data.error === "string" ? data.error : "";
      const message = data && typeof data.message === "string" ? data.message : "";
      if (auth && (res.status === 401 || res.status === 403)) {
        if (token === S.token) authFailed(res.status, message);
        throw new ApiError(res.status, "auth", message);
      }
      throw new ApiError(res.status, code, message);
    }
    if (data == null || typeof data !== "object") throw new ApiError(res.status, "bad_json", "Unexpected answer from the server.");
    return data;
  }

  // ---------------------------------------------------------------- auth

  function initAuth() {
    const storedSite = store.get("site") || "";
    const storedToken = store.get("token") || "";
    // The page's ?site= wins; else the site signed in to in this tab; in demo mode the
    // server fills data-token, and the demo site is called "demo".
    S.site = pageSite || storedSite || (pageToken ? "demo" : "");
    S.token = "";
    S.tokenFromPage = false;
    if (storedToken && storedSite === S.site) {
      S.token = storedToken;
    } else if (pageToken && store.get("pageTokenRefused") !== "1") {
      S.token = pageToken;
      S.tokenFromPage = true;
    }
  }

  function authFailed(status, message) {
    if (S.tokenFromPage) store.set("pageTokenRefused", "1");
    S.token = "";
    S.tokenFromPage = false;
    store.set("token", null);
    stopPolling();
    const why = status === 403 ? "This token is not allowed for " : "The token was not accepted for ";
    showSignin(why + "“" + S.site + "”" + (message ? " (" + message + ")" : "") + ". Please sign in again.");
  }

  function showSignin(message) {
    S.view = "signin";
    stopPolling();
    $("signin-view").hidden = false;
    $("dash").hidden = true;
    $("story").hidden = true;
    $("topbar-tools").hidden = true;
    setText($("site-name"), S.site);
    const msg = $("signin-msg");
    setText(msg, message || "");
    msg.hidden = !message;
    const siteInput = $("signin-site");
    if (!siteInput.value) siteInput.value = S.site;
    $("signin-token").value = "";
    document.title = "Sign in · Ranker";
    (siteInput.value ? $("signin-token") : siteInput).focus();
  }

  async function onSignin(ev) {
    ev.preventDefault();
    const site = $("signin-site").value.trim();
    const token = $("signin-token").value.trim();
    const msg = $("signin-msg");
    if (!site || !token) {
      setText(msg, !site ? "Enter the site name." : "Enter the site's token.");
      msg.hidden = false;
      return;
    }
    const button = $("signin-submit");
    button.disabled = true;
    setText(button, "Checking…");
    const prevSite = S.site;
    S.site = site;
    S.token = token;
    S.tokenFromPage = false;
    try {
      // Any token-checked read will do: it proves the site exists and the token works.
      const hidden = await api(sitePath("/items?hidden=true"), {});
      store.set("site", site);
      store.set("token", token);
      $("signin-token").value = "";
      if (site !== prevSite) resetSiteData();
      renderHidden(hidden);
      start();
    } catch (e) {
      S.token = "";
      let text;
      if (e.code === "auth") text = "That token was not accepted for “" + site + "”.";
      else if (e.status === 404) text = "There is no site called “" + site + "”.";
      else if (e.status === 0) text = "The server could not be reached. Try again in a moment.";
      else text = "Sign-in failed: " + (e.message || ("HTTP " + e.status));
      if (S.view !== "signin") showSignin(text);
      setText(msg, text);
      msg.hidden = false;
    } finally {
      button.disabled = false;
      setText(button, "Sign in");
    }
  }

  function signOut() {
    if (S.tokenFromPage) store.set("pageTokenRefused", "1");
    store.set("token", null);
    S.token = "";
    S.tokenFromPage = false;
    showSignin("Signed out.");
  }

  function resetSiteData() {
    S.topCache.clear();
    S.risingData = null;
    S.risingSeries = null;
    S.prevRanks = null;
    S.sectionsLoaded = false;
    S.section = "";
    S.hiddenIds = new Set();
    $("most-viewed").tBodies[0].textContent = "";
    $("rising").textContent = "";
    $("hidden-list").textContent = "";
    S.seq.held++;
    S.heldData = null;
    $("held-list").textContent = "";
    $("held-count").hidden = true;
    $("held-error").hidden = true;
    $("held-msg").hidden = true;
    setText($("held-empty"), "Loading…");
    $("held-empty").hidden = false;
    S.beaconsAt = 0;
    S.seq.beacons++;
    clearBeacons("Loading…");
    const select = $("section");
    while (select.options.length > 1) select.remove(1);
    select.value = "";
  }

  // ---------------------------------------------------------------- live status & polling

  function setLive(state) {
    const live = $("live");
    live.setAttribute("data-state", state);
    const labels = { live: "Live", reconnecting: "Reconnecting…", paused: "Paused", idle: "Connecting…" };
    setText($("live-label"), labels[state] || "");
    if (S.lastOk) {
      setText($("last-update"), "Updated " + clock(S.lastOk, true));
      $("last-update").setAttribute("title", "Last successful update: " + S.lastOk.toLocaleString());
    }
  }

  function markResult(ok) {
    if (ok) {
      S.lastOk = new Date();
      S.failing = false;
      setLive(document.hidden ? "paused" : "live");
    } else {
      S.failing = true;
      setLive("reconnecting");
    }
  }

  function stopPolling() {
    clearTimeout(S.timer);
    S.timer = 0;
  }

  function schedule(ms) {
    clearTimeout(S.timer);
    S.timer = setTimeout(tick, ms);
  }

  /** One poll: whatever the current view shows. Never overlaps itself. */
  async function tick() {
    stopPolling();
    if (!S.token || S.view === "signin") return;
    if (document.hidden) { setLive("paused"); return; }
    if (S.ticking) { S.again = true; return; }
    S.ticking = true;
    S.again = false;
    const jobs = [];
    if (S.view === "story") {
      jobs.push(loadStory());
    } else {
      jobs.push(loadTop(), loadRising(), loadHidden(), loadHeld());
      if (Date.now() - S.beaconsAt >= BEACONS_MS) jobs.push(loadBeacons());
      if (!S.sectionsLoaded) loadSections();
    }
    const results = await Promise.all(jobs.map((p) => p.then(() => true, (e) => isQuiet(e))));
    S.ticking = false;
    if (!S.token || S.view === "signin") return;
    markResult(results.every(Boolean));
    if (document.hidden) { setLive("paused"); return; } // resumed by visibilitychange
    schedule(S.again ? 0 : POLL_MS);
  }

  /** Errors that are not the connection's fault do not flip the live state. */
  function isQuiet(e) {
    if (e && e.code === "auth") return true;
    if (e && e.status >= 400 && e.status < 500) return true; // shown where they happen
    if (e && !(e instanceof ApiError) && window.console) console.warn(e);
    return false;
  }

  function refreshNow() {
    if (S.ticking) { S.again = true; return; }
    schedule(0);
  }

  function onVisibility() {
    if (S.view === "signin" || !S.token) return;
    if (document.hidden) {
      stopPolling();
      setLive("paused");
    } else {
      setLive(S.failing ? "reconnecting" : "live");
      refreshNow();
    }
  }

  // ---------------------------------------------------------------- sparklines & charts

  function resUnit(res) { return res === "day" ? "day" : res === "hour" ? "hour" : "minute"; }

  function sparkLabel(values, res) {
    const unit = resUnit(res);
    if (!values || !values.length) return "views per " + unit + ": no data";
    let total = 0;
    let peak = 0;
    for (const v of values) { total += v; if (v > peak) peak = v; }
    return "views per " + unit + ", last " + plural(values.length, unit) + ": " +
      fmtInt(total) + " in total, peak " + fmtInt(peak) + ", latest " + fmtInt(values[values.length - 1]) + " so far";
  }

  /** A small inline SVG: area + line, the last (partial) bucket dashed. */
  function sparkline(values, res, w, h) {
    const vals = Array.isArray(values) ? values.map(num) : [];
    const root = svg("svg", {
      class: "spark", width: w, height: h, viewBox: "0 0 " + w + " " + h,
      role: "img", "aria-label": sparkLabel(vals, res), focusable: "false",
    });
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
    root.appendChild(svg("path", {
      class: "spark-area",
      d: "M" + xs[0].toFixed(1) + "," + base + " L" + pts(0, last - 1).replace(/ /g, " L") +
        " L" + xs[last - 1].toFixed(1) + "," + base + " Z",
    }));
    root.appendChild(svg("polyline", { class: "spark-line", points: pts(0, last - 1) }));
    root.appendChild(svg("polyline", { class: "spark-line spark-partial", points: pts(last - 1, last) }));
    root.appendChild(svg("circle", { class: "spark-dot", cx: xs[last].toFixed(1), cy: ys[last].toFixed(1), r: 1.8 }));
    return root;
  }

  function niceStep(max, ticks) {
    const raw = max / ticks;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / mag;
    const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    return Math.max(1, nice * mag);
  }

  function xLabel(t, res, prevT) {
    const d = new Date(t * 1000);
    if (res === "day") return dayMonth(d);
    if (res === "hour" && (d.getHours() === 0 || prevT == null)) {
      return d.getHours() === 0 ? dayMonth(d) : clock(d, false);
    }
    return clock(d, false);
  }

  function drawChart(container, data, res, emptyText) {
    container.textContent = "";
    const tip = $("chart-tip");
    tip.hidden = true;
    const points = data && Array.isArray(data.points) ? data.points.filter((p) => Array.isArray(p) && p.length >= 2) : [];
    const step = num(data && data.step) || (res === "day" ? 86400 : res === "hour" ? 3600 : 60);
    const W = Math.max(320, Math.round(container.clientWidth || 800));
    const H = 260;
    const M = { top: 14, right: 16, bottom: 26, left: 48 };
    const iw = W - M.left - M.right;
    const ih = H - M.top - M.bottom;
    const vals = points.map((p) => num(p[1]));
    const times = points.map((p) => num(p[0]));
    let max = 0;
    let total = 0;
    for (const v of vals) { if (v > max) max = v; total += v; }
    const unit = resUnit(res);
    const root = svg("svg", {
      class: "chart-svg", width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img",
      "aria-label": points.length
        ? "views per " + unit + ", last " + plural(points.length, unit) + ": " + fmtInt(total) + " in total, peak " + fmtInt(max)
        : "views per " + unit + ": no data",
    });
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
    const every = {
      minute: [5, 10, 15, 20, 30, 60, 120],
      hour: [1, 2, 3, 6, 12, 24, 48],
      day: [1, 2, 5, 7, 14, 30],
    }[res] || [1, 5, 10];
    let k = every[every.length - 1];
    for (const c of every) { if (n / c <= 7) { k = c; break; } }
    const xAxis = svg("g", { class: "axis axis-x", transform: "translate(0," + ih + ")" });
    let prev = null;
    let lastX = -Infinity;
    for (let i = 0; i < n; i++) {
      const t = times[i];
      let onBoundary;
      if (res === "day") onBoundary = Math.round(t / 86400) % k === 0;
      else if (res === "hour") onBoundary = new Date(t * 1000).getHours() % k === 0;
      else onBoundary = Math.round(t / 60) % k === 0;
      if (!onBoundary) continue;
      const xx = x(i);
      if (xx - lastX < 44 || xx < 14 || xx > iw - 14) continue;
      lastX = xx;
      xAxis.appendChild(svg("line", { class: "tick", x1: xx, x2: xx, y1: 0, y2: 4 }));
      const label = svg("text", { x: xx, y: 17, "text-anchor": "middle" });
      label.textContent = xLabel(t, res, prev);
      prev = t;
      xAxis.appendChild(label);
    }
    g.appendChild(xAxis);

    // area + line; the last bucket is still filling up, so it is drawn dashed
    const coords = vals.map((v, i) => [x(i), y(v)]);
    const fmt = (p) => p[0].toFixed(1) + "," + p[1].toFixed(1);
    const solidEnd = n > 1 ? n - 2 : 0;
    const solid = coords.slice(0, solidEnd + 1).map(fmt);
    g.appendChild(svg("path", {
      class: "chart-area",
      d: "M" + coords[0][0].toFixed(1) + "," + ih + " L" + solid.join(" L") + " L" + coords[solidEnd][0].toFixed(1) + "," + ih + " Z",
    }));
    g.appendChild(svg("polyline", { class: "chart-line", points: solid.join(" ") }));
    if (n > 1) {
      g.appendChild(svg("polyline", { class: "chart-line chart-partial", points: fmt(coords[n - 2]) + " " + fmt(coords[n - 1]) }));
    }
    g.appendChild(svg("circle", { class: "chart-dot", cx: coords[n - 1][0].toFixed(1), cy: coords[n - 1][1].toFixed(1), r: 3 }));

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
      const d = new Date(times[i] * 1000);
      const when = res === "day" ? dayMonth(d) : (res === "hour" ? dayMonth(d) + ", " : "") + clock(d, false);
      const endD = new Date((times[i] + step) * 1000);
      const span = res === "day" ? when : when + "–" + clock(endD, false);
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

  // ---------------------------------------------------------------- most viewed

  function topKey() { return S.window + "|" + S.section; }

  function topUrl() {
    let u = sitePath("/top?n=" + TOP_N + "&window=" + encodeURIComponent(S.window));
    if (S.section) u += "&section=" + encodeURIComponent(S.section);
    return u;
  }

  function seriesUrl(ids, res, n) {
    return sitePath("/series?ids=" + ids.map(encodeURIComponent).join(",") + "&res=" + res + "&n=" + n);
  }

  async function loadTop() {
    const seq = ++S.seq.top;
    const key = topKey();
    const win = S.window;
    const data = await api(topUrl(), { auth: false });
    if (seq !== S.seq.top || S.view === "signin") return;
    const entry = S.topCache.get(key) || { data: null, series: null };
    entry.data = data;
    S.topCache.set(key, entry);
    if (key === topKey()) renderTop(entry, true);
    const items = Array.isArray(data.items) ? data.items : [];
    if (!items.length) return;
    const spec = WINDOWS[win];
    const ids = items.map((it) => String(it.id)).slice(0, 100);
    const ser = await api(seriesUrl(ids, spec.res, spec.n), {});
    if (seq !== S.seq.top || S.view === "signin") return;
    entry.series = ser && ser.series && typeof ser.series === "object" ? ser.series : {};
    if (key === topKey()) renderSparks(entry);
  }

  function buildTopRow(id) {
    const tr = el("tr", { "data-id": id });
    const rank = el("td", { class: "c-rank" });
    const title = el("td", { class: "c-title" });
    const link = el("a", { class: "story-link", href: storyHash(id) });
    title.appendChild(link);
    const section = el("td", { class: "c-section" });
    section.appendChild(el("span", { class: "chip" }));
    const views = el("td", { class: "c-views" });
    const trend = el("td", { class: "c-trend" });
    tr.append(rank, title, section, views, trend);
    return tr;
  }

  function renderTop(entry, fromPoll) {
    const data = entry.data;
    const tbody = $("most-viewed").tBodies[0];
    const win = S.window;
    const spec = WINDOWS[win];
    setText($("views-head"), win === "hot" ? "Decayed views" : "Views");
    $("views-head").setAttribute("title", win === "hot"
      ? "Time-decayed view count: a view one half-life ago counts half"
      : "Exact views in the last " + spec.label.toLowerCase());
    setText($("trend-head"), spec.span);
    const items = data && Array.isArray(data.items) ? data.items.filter((it) => !S.hiddenIds.has(String(it.id))) : [];
    const key = topKey();
    const prev = S.prevRanks && S.prevRanks.key === key ? S.prevRanks.ranks : null;
    const existing = new Map();
    for (const tr of Array.from(tbody.rows)) existing.set(tr.getAttribute("data-id"), tr);
    const ranks = new Map();
    const frag = document.createDocumentFragment();
    items.forEach((it, idx) => {
      const id = String(it.id);
      const rank = num(it.rank) || idx + 1;
      ranks.set(id, rank);
      let tr = existing.get(id);
      if (tr) existing.delete(id);
      else tr = buildTopRow(id);
      const cells = tr.cells;
      setText(cells[0], rank);
      const link = cells[1].firstChild;
      setText(link, it.title || id);
      link.setAttribute("title", it.title || id);
      setText(cells[2].firstChild, it.section || "");
      cells[2].firstChild.hidden = !it.section;
      setText(cells[3], fmtViews(it.views, win));
      if (!cells[4].firstChild) cells[4].appendChild(sparkline(entry.series ? entry.series[id] : null, spec.res, 120, 28));
      if (fromPoll && prev) {
        const before = prev.get(id);
        const cls = before == null ? "moved-new" : rank < before ? "moved-up" : rank > before ? "moved-down" : "";
        if (cls) flash(tr, cls);
      }
      frag.appendChild(tr);
    });
    for (const tr of existing.values()) tr.remove();
    tbody.appendChild(frag); // re-appending in order moves rows without rebuilding them
    S.prevRanks = { key: key, ranks: ranks };
    const empty = $("mv-empty");
    if (!items.length) {
      setText(empty, S.section
        ? "No views in “" + S.section + "” for this window yet."
        : "No views in this window yet.");
    }
    empty.hidden = items.length > 0;
    if (entry.series) renderSparks(entry);
  }

  function renderSparks(entry) {
    const spec = WINDOWS[S.window];
    const tbody = $("most-viewed").tBodies[0];
    for (const tr of Array.from(tbody.rows)) {
      const id = tr.getAttribute("data-id");
      const cell = tr.cells[4];
      const spark = sparkline(entry.series ? entry.series[id] : null, spec.res, 120, 28);
      if (cell.firstChild) cell.replaceChild(spark, cell.firstChild);
      else cell.appendChild(spark);
    }
  }

  function flash(node, cls) {
    node.classList.remove("moved-up", "moved-down", "moved-new");
    void node.offsetWidth; // restart the animation
    node.classList.add(cls);
  }

  function selectWindow(win, focus) {
    if (!WINDOWS[win]) return;
    S.window = win;
    store.set("window", win);
    for (const b of $("windows").querySelectorAll("[data-window]")) {
      const on = b.getAttribute("data-window") === win;
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    }
    showCachedTop();
    S.seq.top++; // drop any answer for the previous window
    loadTop().then(() => markResult(true), (e) => { if (!isQuiet(e)) markResult(false); });
  }

  function showCachedTop() {
    const entry = S.topCache.get(topKey());
    const tbody = $("most-viewed").tBodies[0];
    if (entry && entry.data) {
      renderTop(entry, false);
    } else {
      tbody.textContent = "";
      S.prevRanks = null;
      const spec = WINDOWS[S.window];
      setText($("views-head"), S.window === "hot" ? "Decayed views" : "Views");
      setText($("trend-head"), spec.span);
      const empty = $("mv-empty");
      setText(empty, "Loading…");
      empty.hidden = false;
    }
  }

  // ---------------------------------------------------------------- rising

  async function loadRising() {
    const seq = ++S.seq.rising;
    let u = sitePath("/rising?n=" + RISING_N);
    if (S.section) u += "&section=" + encodeURIComponent(S.section);
    const section = S.section;
    const data = await api(u, {});
    if (seq !== S.seq.rising || section !== S.section || S.view === "signin") return;
    const items = Array.isArray(data.items) ? data.items : [];
    let series = S.risingSeries;
    // Reuse the previous sparklines until the new ones arrive.
    S.risingData = data;
    renderRising(data, series);
    if (!items.length) return;
    const ids = items.map((it) => String(it.id)).slice(0, 100);
    const ser = await api(seriesUrl(ids, RISING_SPARK.res, RISING_SPARK.n), {});
    if (seq !== S.seq.rising || section !== S.section || S.view === "signin") return;
    series = ser && ser.series && typeof ser.series === "object" ? ser.series : {};
    S.risingSeries = series;
    renderRising(data, series);
  }

  function buildRisingItem(id) {
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

  function renderRising(data, series) {
    const list = $("rising");
    const items = data && Array.isArray(data.items) ? data.items.filter((it) => !S.hiddenIds.has(String(it.id))) : [];
    const shortW = (data && data.short_window) || "10m";
    const baseW = (data && data.baseline_window) || "2h";
    setText($("rising-hint"), "last " + shortW.replace(/m$/, " min").replace(/h$/, " h") + " vs the " +
      baseW.replace(/m$/, " min").replace(/h$/, " h") + " before");
    const existing = new Map();
    for (const li of Array.from(list.children)) existing.set(li.getAttribute("data-id"), li);
    const frag = document.createDocumentFragment();
    items.forEach((it, idx) => {
      const id = String(it.id);
      let li = existing.get(id);
      if (li) existing.delete(id);
      else li = buildRisingItem(id);
      const [rank, main, side] = li.children;
      const [ratio, sparkHost] = side.children;
      setText(rank, num(it.rank) || idx + 1);
      const link = main.firstChild;
      setText(link, it.title || id);
      link.setAttribute("title", it.title || id);
      const [chip, views] = main.lastChild.children;
      setText(chip, it.section || "");
      chip.hidden = !it.section;
      setText(views, fmtInt(it.views_short) + " views in " + shortW.replace(/m$/, " min") +
        " · " + fmtAxis(Math.round(num(it.rate_short))) + "/h");
      views.setAttribute("title", "Now " + fmtInt(it.rate_short) + " views/hour, before " +
        fmtInt(it.rate_baseline) + " views/hour (" + fmtInt(it.views_baseline) + " views in " + baseW + ")");
      setText(ratio, fmtRatio(it.ratio));
      ratio.setAttribute("title", "Views per hour now vs before: " + fmtRatio(it.ratio));
      ratio.classList.toggle("ratio-hot", num(it.ratio) >= 3);
      if (series || !sparkHost.firstChild) {
        const spark = sparkline(series ? series[id] : null, RISING_SPARK.res, 72, 22);
        if (sparkHost.firstChild) sparkHost.replaceChild(spark, sparkHost.firstChild);
        else sparkHost.appendChild(spark);
      }
      frag.appendChild(li);
    });
    for (const li of existing.values()) li.remove();
    list.appendChild(frag);
    const empty = $("rising-empty");
    const floor = data && data.min_views ? " (at least " + fmtInt(data.min_views) + " views)" : "";
    setText(empty, "Nothing is taking off right now" + floor + ".");
    empty.hidden = items.length > 0;
  }

  // ---------------------------------------------------------------- hidden stories

  async function loadHidden() {
    const seq = ++S.seq.hidden;
    const data = await api(sitePath("/items?hidden=true"), {});
    if (seq !== S.seq.hidden || S.view === "signin") return;
    renderHidden(data);
  }

  function renderHidden(data) {
    const items = data && Array.isArray(data.items) ? data.items : [];
    S.hiddenIds = new Set(items.map((it) => String(it.id)));
    const list = $("hidden-list");
    list.textContent = "";
    for (const it of items) {
      const id = String(it.id);
      const li = el("li", { "data-id": id, class: "hidden-item" });
      const main = el("div", { class: "h-main" });
      main.appendChild(el("a", { class: "story-link", href: storyHash(id), title: it.title || id }, it.title || id));
      if (it.section) main.appendChild(el("span", { class: "chip" }, it.section));
      const button = el("button", { type: "button", class: "btn btn-small unhide", "aria-label": "Unhide: " + (it.title || id) }, "Unhide");
      li.append(main, button);
      list.appendChild(li);
    }
    $("hidden-empty").hidden = items.length > 0;
    const count = $("hidden-count");
    setText(count, items.length);
    count.hidden = items.length === 0;
  }

  async function unhideFromList(button) {
    const li = button.closest("li[data-id]");
    const id = li ? li.getAttribute("data-id") : "";
    if (!id || button.disabled) return;
    button.disabled = true;
    setText(button, "Unhiding…");
    try {
      await api(sitePath("/items/" + encodeURIComponent(id)), { method: "PATCH", body: { hidden: false } });
      S.hiddenIds.delete(id);
      S.topCache.clear(); // it is back in the lists on the next read
      li.remove();
      renderHidden(collectHidden());
      refreshNow();
    } catch (e) {
      if (e.code === "auth") return;
      button.disabled = false;
      setText(button, "Retry");
      button.setAttribute("title", "Could not unhide: " + (e.message || ("HTTP " + e.status)));
    }
  }

  /** The hidden list as rendered (after a local change), so it can be re-rendered at once. */
  function collectHidden() {
    return {
      items: Array.from($("hidden-list").children).map((li) => {
        const link = li.querySelector(".story-link");
        const chip = li.querySelector(".chip");
        return { id: li.getAttribute("data-id"), title: link ? link.textContent : "", section: chip ? chip.textContent : "" };
      }),
    };
  }

  // ---------------------------------------------------------------- held views

  function errText(e) { return e.message || ("HTTP " + e.status); }

  /** What n views held for `reason` are called: "concentrated", "from a bot". */
  function heldLabel(reason, n) {
    const w = HELD_WORDS[reason];
    return w ? (n === 1 ? w.one : w.many) : String(reason).replace(/_/g, " ");
  }

  /** How a count of views held for `reason` reads: "51 concentrated", "1 from a bot". */
  function heldWords(reason, n) { return fmtInt(n) + " " + heldLabel(reason, n); }

  function viewCount(n) { return fmtInt(n) + (n === 1 ? " view" : " views"); }

  /** A story's held views as [{reason, n}], largest first, without empty reasons. */
  function heldCounts(held) {
    const out = [];
    if (held && typeof held === "object") {
      for (const reason of Object.keys(held)) {
        const n = Math.max(0, Math.round(num(held[reason])));
        if (n > 0) out.push({ reason: reason, n: n });
      }
    }
    return out.sort((a, b) => b.n - a.n);
  }

  /** "a, b or c" */
  function orList(words) {
    return words.length < 2 ? words.join("") : words.slice(0, -1).join(", ") + " or " + words[words.length - 1];
  }

  /** What the Release button counts, in words: "concentrated, over the per-address limit or
   * from hosting networks". */
  function releaseWords(release) {
    return orList(release.map((r) => (HELD_WORDS[r] ? HELD_WORDS[r].many : r.replace(/_/g, " "))));
  }

  function flagText(flag) {
    if (!flag || typeof flag !== "object" || typeof flag.network !== "string") return "";
    const share = num(flag.share);
    return (share > 0 ? pctFmt.format(share) : "Most") + " of its views in " + SHARE_SPAN +
      " came from one network (" + flag.network + ")";
  }

  async function loadHeld() {
    const seq = ++S.seq.held;
    let data;
    try {
      data = await api(sitePath("/held?n=" + HELD_N), {});
    } catch (e) {
      if (seq === S.seq.held && e.code !== "auth" && S.view !== "signin") {
        // The last list stays up, marked as possibly out of date.
        const err = $("held-error");
        setText(err, "Could not refresh the held views: " + errText(e) +
          (S.heldData ? " The list below may be out of date." : ""));
        err.hidden = false;
        if (!S.heldData) $("held-empty").hidden = true;
      }
      throw e;
    }
    if (seq !== S.seq.held || S.view === "signin") return;
    $("held-error").hidden = true;
    renderHeld(data);
  }

  function buildHeldItem(id) {
    const li = el("li", { "data-id": id, class: "held-item" });
    const main = el("div", { class: "hd-main" });
    const head = el("div", { class: "hd-head" });
    head.append(el("a", { class: "story-link", href: storyHash(id) }), el("span", { class: "chip" }));
    const flag = el("p", { class: "hd-flag" });
    const counts = el("p", { class: "hd-counts" });
    const other = el("details", { class: "hd-other" });
    other.append(el("summary"), el("p", { class: "hd-why" }));
    main.append(head, flag, counts, other);
    const button = el("button", { type: "button", class: "btn btn-small release" }, "Release");
    li.append(main, button);
    return li;
  }

  function updateHeldItem(li, it, release) {
    const id = li.getAttribute("data-id");
    const title = it.title ? String(it.title) : id;
    const [main, button] = li.children;
    const [head, flagP, countsP, other] = main.children;
    const link = head.firstChild;
    setText(link, title);
    const url = safeUrl(it.url);
    link.setAttribute("title", url ? title + " (" + url + ")" : title);
    setText(head.lastChild, it.section || "");
    head.lastChild.hidden = !it.section;

    const flag = flagText(it.flag);
    setText(flagP, flag);
    flagP.hidden = !flag;
    const at = flag ? parseDate(it.flag.at) : null;
    if (at) flagP.setAttribute("title", "Flagged at " + clock(at, false) + " (" + relTime(at) + ")");
    else flagP.removeAttribute("title");
    li.classList.toggle("is-flagged", !!flag);

    const counts = heldCounts(it.held);
    const releasable = counts.filter((c) => release.indexOf(c.reason) >= 0);
    const kept = counts.filter((c) => release.indexOf(c.reason) < 0);
    const n = releasable.reduce((sum, c) => sum + c.n, 0);
    setText(countsP, releasable.map((c) => heldWords(c.reason, c.n)).join(" · "));
    countsP.hidden = !releasable.length;

    // Views held for what sent them (bots, prefetches, repeats) are shown on request: the
    // button leaves them held.
    other.hidden = !kept.length;
    if (kept.length) {
      const k = kept.reduce((sum, c) => sum + c.n, 0);
      setText(other.firstChild, (releasable.length ? "Also held, not released" : "Held, not released") +
        " by this button: " + viewCount(k));
      setText(other.lastChild, kept.map((c) => heldWords(c.reason, c.n)).join(" · ") +
        ". These are held for what sent them, not for where they came from.");
    }

    const pending = S.releasing.has(id);
    if (!pending) setText(button, "Release");
    button.disabled = pending || n === 0;
    const what = releaseWords(release);
    button.setAttribute("aria-label", n
      ? "Release " + viewCount(n) + " of “" + title + "” held as " + what
      : "Release: nothing held for “" + title + "” that this button counts");
    button.setAttribute("title", "Count the views held as " + what +
      " (not bots, prefetched pages or repeat views)");
  }

  function renderHeld(data) {
    S.heldData = data;
    const items = data && Array.isArray(data.items)
      ? data.items.filter((it) => it && typeof it === "object" && it.id != null) : [];
    const release = data && Array.isArray(data.release_default) ? data.release_default.map(String) : RELEASE_DEFAULT;
    const list = $("held-list");
    const existing = new Map();
    for (const li of Array.from(list.children)) existing.set(li.getAttribute("data-id"), li);
    const frag = document.createDocumentFragment();
    for (const it of items) {
      const id = String(it.id);
      let li = existing.get(id);
      if (li) existing.delete(id);
      else li = buildHeldItem(id);
      updateHeldItem(li, it, release);
      frag.appendChild(li);
    }
    // A row being released stays until its answer: focus must not vanish under the editor.
    for (const [id, li] of existing) { if (!S.releasing.has(id)) li.remove(); }
    list.appendChild(frag); // re-appending in order moves rows without rebuilding them
    const empty = $("held-empty");
    setText(empty, "No views held.");
    empty.hidden = items.length > 0;
    const count = $("held-count");
    setText(count, items.length);
    count.setAttribute("title", (items.length === 1 ? "1 story" : items.length + " stories") + " with views held");
    count.hidden = items.length === 0;
  }

  function showHeldMsg(text, isError) {
    const msg = $("held-msg");
    setText(msg, text);
    msg.classList.toggle("is-error", !!isError);
    msg.hidden = false;
  }

  async function releaseHeld(button) {
    const li = button.closest("li[data-id]");
    const id = li ? li.getAttribute("data-id") : "";
    if (!id || button.disabled || S.releasing.has(id)) return;
    const link = li.querySelector(".story-link");
    const title = link ? link.textContent : id;
    S.releasing.add(id);
    button.disabled = true;
    setText(button, "Releasing…");
    let failed = false;
    try {
      // No body: the server releases its default reasons, the ones the button names.
      const res = await api(storyItemPath(id) + "/release", { method: "POST" });
      const n = Math.max(0, Math.round(num(res.views)));
      showHeldMsg(n
        ? "Released " + viewCount(n) + " of “" + title + "” into the counts."
        : "Nothing was left to release for “" + title + "”.");
      S.topCache.clear(); // the lists change with the released views
      S.beaconsAt = 0; // and so does the day's tally of releases
    } catch (e) {
      failed = true;
      if (e.code === "auth") return;
      showHeldMsg("Could not release the views of “" + title + "”: " + errText(e), true);
    } finally {
      S.releasing.delete(id);
      if (li.isConnected) {
        button.disabled = false;
        setText(button, failed ? "Retry" : "Release");
      }
      if (S.view === "dash" && S.token) refreshNow();
    }
  }

  /** The story view's held views, by reason, with why each is held. */
  function renderStoryHeld(held) {
    const card = $("story-held");
    const counts = heldCounts(held);
    card.hidden = counts.length === 0;
    const list = $("story-held-list");
    list.textContent = "";
    if (!counts.length) return;
    const total = counts.reduce((sum, c) => sum + c.n, 0);
    setText($("story-held-hint"), viewCount(total) + " not in the total until released");
    for (const c of counts) {
      const w = HELD_WORDS[c.reason];
      const li = el("li", { class: "sh-reason", "data-reason": c.reason });
      li.append(el("span", { class: "sh-n" }, fmtInt(c.n)), el("span", { class: "sh-words" }, heldLabel(c.reason, c.n)));
      if (w) li.appendChild(el("span", { class: "sh-help" }, w.help));
      list.appendChild(li);
    }
  }

  // ---------------------------------------------------------------- beacon tally

  async function loadBeacons() {
    const seq = ++S.seq.beacons;
    S.beaconsAt = Date.now();
    let data;
    try {
      data = await api(sitePath("/beacons?days=" + BEACON_DAYS), {});
    } catch (e) {
      if (seq !== S.seq.beacons || e.code === "auth") throw e;
      if (e.status >= 400 && e.status < 500) {
        // Asking again soon would get the same answer: wait for the next round.
        if ($("beacons-today").hidden && $("beacons-week").hidden) {
          clearBeacons("The tally is not available: " + (e.message || ("HTTP " + e.status)));
        }
      } else {
        S.beaconsAt = 0; // the connection's fault: tried again on the next poll
      }
      throw e;
    }
    if (seq !== S.seq.beacons || S.view === "signin") return;
    renderBeacons(data);
  }

  function clearBeacons(message) {
    $("beacons-today").hidden = true;
    $("beacons-week").hidden = true;
    $("beacons-reasons").textContent = "";
    $("beacons-week-chart").textContent = "";
    const empty = $("beacons-empty");
    setText(empty, message);
    empty.hidden = false;
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
      if (n > 0) reasons.push({ reason: reason, n: n });
    }
    const pos = (r) => { const i = order.indexOf(r); return i < 0 ? order.length : i; };
    reasons.sort((a, b) => b.n - a.n || pos(a.reason) - pos(b.reason));
    const counted = Math.max(0, Math.round(num(d.counted)));
    return { day: typeof d.day === "string" ? d.day : "", counted: counted, refused: refused, total: counted + refused, reasons: reasons };
  }

  /** "2026-11-26" (a UTC day) as "26 Nov". */
  function fmtDay(day) {
    const d = /^\d{4}-\d{2}-\d{2}$/.test(day) ? new Date(day + "T00:00:00Z") : null;
    return d && !isNaN(d.getTime()) ? d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] : day;
  }

  function renderBeacons(data) {
    const order = data && Array.isArray(data.reasons) ? data.reasons.map(String) : Object.keys(REASONS);
    const days = (data && Array.isArray(data.days) ? data.days : []).map((d) => dayTally(d, order)); // newest first
    const today = days[0] || dayTally(null, order);
    const hint = $("beacons-hint");
    hint.setAttribute("title", today.day ? "The UTC day " + today.day + ", so far" : "The UTC day so far");

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
      split.style.width = (100 * today.counted / today.total).toFixed(2) + "%";
      split.parentNode.setAttribute("title", fmtInt(today.counted) + " of " + fmtInt(today.total) +
        " beacons counted (" + fmtShare(today.counted, today.total) + ")");
      renderReasons(today);
      $("beacons-none").hidden = today.refused > 0;
      $("reasons-title").hidden = today.refused === 0;
    }
    const first = data && Array.isArray(data.days) && data.days[0] && typeof data.days[0] === "object" ? data.days[0] : {};
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
      li.children[1].firstChild.style.width = (100 * r.n / today.refused).toFixed(2) + "%";
      setText(li.children[2], fmtInt(r.n));
      frag.appendChild(li);
    }
    for (const li of existing.values()) li.remove();
    list.appendChild(frag);
  }

  /** The days asked for, oldest to newest: a sentence, and a bar per day (counted below,
   * not counted stacked on top). */
  function renderWeek(days) {
    const week = $("beacons-week");
    let counted = 0;
    let refused = 0;
    let peak = 0;
    for (const d of days) { counted += d.counted; refused += d.refused; if (d.total > peak) peak = d.total; }
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

    const barW = 9;
    const gap = 4;
    const H = 30;
    const W = days.length * barW + (days.length - 1) * gap;
    const root = svg("svg", {
      class: "bt-week-svg", width: W, height: H, viewBox: "0 0 " + W + " " + H, focusable: "false",
      role: "img", "aria-label": "Beacons per day, last " + plural(days.length, "day") + ": " + sentence,
    });
    days.slice().reverse().forEach((d, i) => {
      const x = i * (barW + gap);
      const g = svg("g", { class: i === days.length - 1 ? "bt-day is-today" : "bt-day" });
      const tip = svg("title");
      tip.textContent = fmtDay(d.day) + (i === days.length - 1 ? " (today, so far)" : "") + ": " +
        fmtInt(d.counted) + " counted, " + fmtInt(d.refused) + " not counted";
      g.appendChild(tip);
      g.appendChild(svg("rect", { class: "bt-day-slot", x: x, y: H - 2, width: barW, height: 2 }));
      const hC = peak > 0 ? (d.counted / peak) * H : 0;
      const hR = peak > 0 ? (d.refused / peak) * H : 0;
      // A day with anything at all stays visible, however small next to the peak.
      const minH = d.total > 0 ? 1.5 : 0;
      const rH = d.refused > 0 ? Math.max(minH, hR) : 0;
      const cH = d.counted > 0 ? Math.min(H - rH, Math.max(minH, hC)) : 0;
      if (cH) g.appendChild(svg("rect", { class: "bt-day-counted", x: x, y: (H - cH).toFixed(1), width: barW, height: cH.toFixed(1) }));
      if (rH) g.appendChild(svg("rect", { class: "bt-day-refused", x: x, y: (H - cH - rH).toFixed(1), width: barW, height: rH.toFixed(1) }));
      root.appendChild(g);
    });
    chart.appendChild(root);
  }

  // ---------------------------------------------------------------- sections

  async function loadSections() {
    const seq = ++S.seq.sections;
    let data;
    try {
      data = await api(sitePath("/sections"), { auth: false });
    } catch (e) {
      return; // tried again on the next poll
    }
    if (seq !== S.seq.sections) return;
    S.sectionsLoaded = true;
    const list = Array.isArray(data.sections) ? data.sections.filter((s) => typeof s === "string" && s) : [];
    const select = $("section");
    while (select.options.length > 1) select.remove(1);
    for (const s of list) select.appendChild(el("option", { value: s }, capitalize(s)));
    if (S.section && list.indexOf(S.section) < 0) {
      select.appendChild(el("option", { value: S.section }, capitalize(S.section)));
    }
    select.value = S.section;
  }

  function selectSection(section) {
    S.section = section;
    store.set("section", section);
    S.risingData = null;
    S.risingSeries = null;
    $("rising").textContent = "";
    $("rising-empty").hidden = true;
    if (S.view !== "dash") return;
    showCachedTop();
    S.seq.top++;
    S.seq.rising++;
    Promise.all([
      loadTop().then(() => true, (e) => isQuiet(e)),
      loadRising().then(() => true, (e) => isQuiet(e)),
    ]).then((r) => markResult(r.every(Boolean)));
  }

  // ---------------------------------------------------------------- story view

  function storyItemPath(id) { return sitePath("/items/" + encodeURIComponent(id)); }

  async function loadStory() {
    const id = S.storyId;
    if (!id || S.storyMissing) return;
    const seq = ++S.seq.story;
    const res = S.storyRes;
    const [entryResult, seriesResult] = await Promise.all([
      api(storyItemPath(id), {}).then((v) => ({ v: v }), (e) => ({ e: e })),
      api(storyItemPath(id) + "/series?res=" + res + "&n=" + STORY_RES[res].n, {}).then((v) => ({ v: v }), (e) => ({ e: e })),
    ]);
    if (seq !== S.seq.story || S.storyId !== id || S.view !== "story") return;
    if (entryResult.e) {
      if (entryResult.e.status === 404) {
        S.storyMissing = true; // not polled again until the view changes
        showStoryError("This story is not in the catalog (it may have been deleted).");
        return;
      }
      throw entryResult.e;
    }
    const entry = entryResult.v;
    if (S.hidePending && S.story) entry.hidden = S.story.hidden; // our write is in flight
    S.story = entry;
    renderStory(entry);
    if (seriesResult.e) throw seriesResult.e;
    if (S.storyRes === res) {
      S.storyPoints = seriesResult.v;
      drawChart($("story-chart"), seriesResult.v, res);
      const pts = Array.isArray(seriesResult.v.points) ? seriesResult.v.points : [];
      const total = pts.reduce((sum, p) => sum + (Array.isArray(p) ? num(p[1]) : 0), 0);
      setText($("chart-hint"), STORY_RES[res].hint + " · " + fmtInt(total) + " in range");
    }
  }

  function showStoryError(message) {
    const err = $("story-error");
    setText(err, message);
    err.hidden = false;
    $("story-head").hidden = true;
    $("hide-toggle").disabled = true;
  }

  function clearStory() {
    S.story = null;
    S.storyMissing = false;
    S.storyPoints = null;
    $("story-error").hidden = true;
    $("story-head").hidden = false;
    setText($("story-title"), "Loading…");
    setText($("story-summary"), "");
    setText($("story-section"), "");
    $("story-section").hidden = true;
    setText($("story-published"), "");
    setText($("story-state"), "");
    setText($("story-id"), S.storyId || "");
    setText($("story-total"), "–");
    setText($("hide-msg"), "");
    $("story-ranks").textContent = "";
    $("hide-toggle").disabled = true;
    setText($("hide-toggle"), "Hide from lists");
    $("story-chart").textContent = "";
    $("chart-tip").hidden = true;
    $("story-held").hidden = true;
    $("story-held-list").textContent = "";
  }

  function renderStory(e) {
    const id = String(e.id || S.storyId);
    const titleText = e.title || id;
    const h1 = $("story-title");
    const href = safeUrl(e.url);
    const current = h1.firstChild;
    if (href) {
      let a = current && current.nodeName === "A" ? current : null;
      if (!a) {
        h1.textContent = "";
        a = el("a", { target: "_blank", rel: "noopener noreferrer" });
        h1.appendChild(a);
      }
      if (a.getAttribute("href") !== href) a.setAttribute("href", href);
      setText(a, titleText);
      a.setAttribute("title", "Open the story: " + href);
    } else {
      setText(h1, titleText);
    }
    document.title = titleText + " · Ranker";
    const section = $("story-section");
    setText(section, e.section || "");
    section.hidden = !e.section;
    const pub = $("story-published");
    setText(pub, fmtPublished(e.published_at));
    const d = parseDate(e.published_at);
    if (d) pub.setAttribute("datetime", d.toISOString()); else pub.removeAttribute("datetime");
    const summary = $("story-summary");
    setText(summary, e.summary || "");
    summary.hidden = !e.summary;
    setText($("story-id"), id);
    if (e.views_total != null) setText($("story-total"), fmtInt(e.views_total));
    renderRanks(e.ranks);
    renderStoryHeld(e.held);
    renderHideState();
  }

  function renderRanks(ranks) {
    const list = $("story-ranks");
    list.textContent = "";
    for (const w of WINDOW_ORDER) {
      const r = ranks && ranks[w] != null ? num(ranks[w]) : null;
      const li = el("li", { class: "rank-badge" + (r == null ? " is-none" : r <= 10 ? " is-top" : ""), "data-window": w });
      li.setAttribute("title", WINDOWS[w].label + ": " + (r == null ? "not in the top 100" : "rank " + r));
      li.append(el("span", { class: "rb-window" }, RANK_LABELS[w]), el("span", { class: "rb-rank" }, r == null ? "–" : "#" + r));
      list.appendChild(li);
    }
  }

  function renderHideState() {
    const e = S.story;
    const button = $("hide-toggle");
    const state = $("story-state");
    if (!e) { button.disabled = true; return; }
    const hidden = !!e.hidden;
    setText(button, hidden ? "Unhide" : "Hide from lists");
    button.classList.toggle("btn-danger", !hidden);
    button.classList.toggle("btn-primary", hidden);
    button.setAttribute("aria-pressed", hidden ? "true" : "false");
    button.setAttribute("title", hidden
      ? "Put this story back into the Most Viewed lists"
      : "Take this story out of every Most Viewed list at once (it keeps counting views)");
    button.disabled = S.hidePending;
    setText(state, hidden ? "Hidden from lists" : "Visible in lists");
    state.classList.toggle("is-hidden", hidden);
  }

  async function toggleHidden() {
    const e = S.story;
    const id = S.storyId;
    if (!e || !id || S.hidePending) return;
    const want = !e.hidden;
    S.hidePending = true;
    S.seq.story++; // an older read must not undo what we show
    e.hidden = want; // show the new state at once
    renderHideState();
    setText($("hide-msg"), want ? "Hiding…" : "Unhiding…");
    try {
      const updated = await api(storyItemPath(id), { method: "PATCH", body: { hidden: want } });
      if (S.storyId === id && S.story) {
        const merged = Object.assign({}, S.story, updated || {});
        if (typeof merged.hidden !== "boolean") merged.hidden = want;
        S.story = merged;
      }
      if (want) S.hiddenIds.add(id); else S.hiddenIds.delete(id);
      dropFromCaches(id, want);
      setText($("hide-msg"), want ? "Hidden from all lists." : "Back in the lists.");
      loadHidden().catch(() => {});
    } catch (err) {
      if (err.code === "auth") return;
      if (S.storyId === id && S.story) S.story.hidden = !want;
      setText($("hide-msg"), "Could not " + (want ? "hide" : "unhide") + ": " + (err.message || ("HTTP " + err.status)));
    } finally {
      S.hidePending = false;
      if (S.storyId === id) renderHideState();
    }
  }

  function dropFromCaches(id, hidden) {
    if (!hidden) { S.topCache.clear(); return; } // it will be back on the next read
    for (const entry of S.topCache.values()) {
      if (entry.data && Array.isArray(entry.data.items)) {
        entry.data = Object.assign({}, entry.data, { items: entry.data.items.filter((it) => String(it.id) !== id) });
      }
    }
    if (S.risingData && Array.isArray(S.risingData.items)) {
      S.risingData = Object.assign({}, S.risingData, { items: S.risingData.items.filter((it) => String(it.id) !== id) });
    }
  }

  function selectRes(res) {
    if (!STORY_RES[res]) return;
    S.storyRes = res;
    store.set("storyRes", res);
    for (const b of $("res-switch").querySelectorAll("[data-res]")) {
      b.setAttribute("aria-pressed", b.getAttribute("data-res") === res ? "true" : "false");
    }
    setText($("chart-hint"), STORY_RES[res].hint);
    if (S.view !== "story") return;
    S.storyPoints = null;
    drawChart($("story-chart"), null, res, "Loading…");
    loadStory().then(() => markResult(true), (e) => { if (!isQuiet(e)) markResult(false); });
  }

  // ---------------------------------------------------------------- routing

  function parseHash() {
    const m = /^#story=(.+)$/.exec(location.hash || "");
    if (!m) return null;
    try { return decodeURIComponent(m[1]); } catch (e) { return null; }
  }

  function route() {
    if (!S.token) { showSignin(S.site ? "" : ""); return; }
    $("signin-view").hidden = true;
    $("topbar-tools").hidden = false;
    setText($("site-name"), S.site);
    const id = parseHash();
    const wasView = S.view;
    if (id) {
      const changed = S.storyId !== id || wasView !== "story";
      S.cameFromDash = wasView === "dash";
      S.view = "story";
      S.storyId = id;
      $("dash").hidden = true;
      $("story").hidden = false;
      if (changed) {
        clearStory();
        selectRes(S.storyRes);
        window.scrollTo(0, 0);
      }
    } else {
      S.view = "dash";
      S.storyId = null;
      $("story").hidden = true;
      $("dash").hidden = false;
      document.title = (S.site ? S.site + " · " : "") + "Most viewed · Ranker";
      if (wasView !== "dash") {
        showCachedTop();
        if (S.risingData) renderRising(S.risingData, S.risingSeries);
      }
    }
    refreshNow();
  }

  function start() {
    S.view = "none";
    setLive(S.failing ? "reconnecting" : "idle");
    route();
  }

  // ---------------------------------------------------------------- wiring

  function wire() {
    $("signin").addEventListener("submit", onSignin);
    $("signout").addEventListener("click", signOut);

    const tabs = $("windows");
    tabs.addEventListener("click", (ev) => {
      const b = ev.target.closest("[data-window]");
      if (b && b.getAttribute("data-window") !== S.window) selectWindow(b.getAttribute("data-window"), false);
    });
    tabs.addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft" && ev.key !== "Home" && ev.key !== "End") return;
      ev.preventDefault();
      const i = WINDOW_ORDER.indexOf(S.window);
      const next = ev.key === "Home" ? 0 : ev.key === "End" ? WINDOW_ORDER.length - 1
        : (i + (ev.key === "ArrowRight" ? 1 : -1) + WINDOW_ORDER.length) % WINDOW_ORDER.length;
      selectWindow(WINDOW_ORDER[next], true);
    });

    $("section").addEventListener("change", (ev) => selectSection(ev.target.value));

    $("res-switch").addEventListener("click", (ev) => {
      const b = ev.target.closest("[data-res]");
      if (b && b.getAttribute("data-res") !== S.storyRes) selectRes(b.getAttribute("data-res"));
    });

    $("hide-toggle").addEventListener("click", toggleHidden);

    $("hidden-list").addEventListener("click", (ev) => {
      const b = ev.target.closest("button.unhide");
      if (b) unhideFromList(b);
    });

    $("held-list").addEventListener("click", (ev) => {
      const b = ev.target.closest("button.release");
      if (b) releaseHeld(b);
    });

    $("story-back").addEventListener("click", (ev) => {
      ev.preventDefault();
      if (S.cameFromDash && history.length > 1) history.back();
      else location.hash = "";
    });

    $("brand").addEventListener("click", (ev) => {
      ev.preventDefault();
      if (S.view === "story") location.hash = "";
    });

    window.addEventListener("hashchange", () => { if (S.token) route(); });
    document.addEventListener("visibilitychange", onVisibility);

    let resizeTimer = 0;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        if (S.view === "story" && S.storyPoints) drawChart($("story-chart"), S.storyPoints, S.storyRes);
      }, 120);
    });
  }

  function init() {
    wire();
    initAuth();
    const win = store.get("window");
    if (win && WINDOWS[win]) S.window = win;
    S.section = store.get("section") || "";
    const res = store.get("storyRes");
    if (res && STORY_RES[res]) S.storyRes = res;
    for (const b of $("windows").querySelectorAll("[data-window]")) {
      const on = b.getAttribute("data-window") === S.window;
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
    }
    if (S.section) {
      const select = $("section");
      select.appendChild(el("option", { value: S.section }, capitalize(S.section)));
      select.value = S.section;
    }
    setText($("site-name"), S.site);
    $("signin-site").value = S.site;
    if (!S.token) { showSignin(""); return; }
    start();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
