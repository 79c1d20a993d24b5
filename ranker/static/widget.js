/* Ranker "Most viewed" widget.
 *
 *   <div data-ranker-top data-site="demo" data-n="5" data-window="hot" data-section="sport"
 *        data-refresh="30" data-summary data-image data-title="Most viewed"></div>
 *   <script src="https://RANKER/widget.js" async></script>
 *
 * Titles and every other field come from the catalog, so they are untrusted: the DOM is
 * built with textContent and setAttribute only, never innerHTML. Never throws into the page.
 */
(function (w, d) {
  "use strict";
  var r;
  try {
    r = w.ranker = w.ranker || {};
    // Loaded twice: the first copy already owns every container.
    if (r.renderWidgets) return void r.renderWidgets();
  } catch (e) {
    return;
  }

  var script = d.currentScript; // only set while this script first runs
  try {
    if (!script) script = d.querySelector('script[src*="/widget.js"]');
  } catch (e) { script = null; }
  var scriptBase = "";
  try {
    scriptBase = attr(script, "endpoint") || new URL(script.src).origin;
  } catch (e) { /* no src: same origin */ }
  var cssLinked = false;
  var states = new WeakMap(); // container -> its fetch/render state

  function attr(el, name) {
    return el && el.getAttribute ? el.getAttribute("data-" + name) : null;
  }

  function has(el, name) {
    return !!(el && el.hasAttribute && el.hasAttribute("data-" + name));
  }

  // The catalog's rule (ranker/validate.py), also for entries stored before it: an http(s)
  // URL or a "/path" (never //host, javascript: or data:) without whitespace, controls,
  // bidi characters or "\" (read as "/"); text without controls or bidi overrides.
  function safeHref(url) {
    if (typeof url !== "string") return null;
    url = url.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "");
    return /^(?:https?:\/\/[^\/?#]|\/(?!\/))/i.test(url) &&
      !/[\x00-\x20\x7f-\x9f\\\xa0\u061c\u1680\u2000-\u200a\u200e\u200f\u2028-\u202f\u205f\u2066-\u2069\u3000]/.test(url) ? url : null;
  }

  function safeImage(url) {
    var src = safeHref(url);
    return src && src.charAt(0) !== "/" ? src : null;
  }

  function cleanText(s) {
    return String(s).replace(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, "");
  }

  function setText(el, s) {
    if (el.textContent !== s) el.textContent = s; // untouched nodes: no reflow, no flicker
  }

  function setAttr(el, name, value) {
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  }

  function el(tag, cls) {
    var e = d.createElement(tag);
    if (cls) e.className = cls;
    return e;
  }

  function config(box) {
    var base = (attr(box, "endpoint") || scriptBase).replace(/\/+$/, "");
    var q = [];
    var n = parseInt(attr(box, "n"), 10);
    if (n > 0) q.push("n=" + Math.min(n, 100));
    var win = attr(box, "window");
    if (win) q.push("window=" + encodeURIComponent(win));
    var section = attr(box, "section");
    if (section) q.push("section=" + encodeURIComponent(section));
    var refresh = parseFloat(attr(box, "refresh"));
    return {
      url: base + "/v1/sites/" + encodeURIComponent(attr(box, "site") || "") + "/top" +
        (q.length ? "?" + q.join("&") : ""),
      base: base,
      title: attr(box, "title") || "",
      summary: has(box, "summary"),
      image: has(box, "image"),
      refresh: refresh > 0 ? Math.max(refresh, 5) * 1000 : 0
    };
  }

  function sameConfig(a, b) {
    return a.url === b.url && a.title === b.title && a.summary === b.summary &&
      a.image === b.image && a.refresh === b.refresh;
  }

  function linkCss(box, base) {
    if (cssLinked || attr(script, "css") === "none" || attr(box, "css") === "none") return;
    cssLinked = true;
    var link = el("link");
    link.rel = "stylesheet";
    link.href = base + "/widget.css";
    link.setAttribute("data-ranker-css", "");
    // First in <head>, so the page's own rules win ties as well as on specificity.
    d.head.insertBefore(link, d.head.firstChild);
  }

  // One <li> per story id, kept across refreshes so updates happen in place.
  function makeRow() {
    var li = el("li", "ranker-item");
    return { li: li, title: null, summary: null, image: null };
  }

  function updateRow(row, item, st) {
    var li = row.li;
    setAttr(li, "data-id", String(item.id));
    var text = cleanText(item.title == null ? item.id : item.title);
    var href = safeHref(item.url);
    var tag = href ? "A" : "SPAN";
    if (!row.title || row.title.tagName !== tag) {
      var t = el(tag.toLowerCase(), href ? "ranker-link" : "ranker-headline");
      if (row.title) li.replaceChild(t, row.title);
      else li.insertBefore(t, li.firstChild);
      row.title = t;
    }
    if (href) setAttr(row.title, "href", href);
    setText(row.title, text);

    var summary = st.cfg.summary && item.summary ? cleanText(item.summary) : "";
    if (summary) {
      if (!row.summary) row.summary = li.insertBefore(el("p", "ranker-summary"), row.title.nextSibling);
      setText(row.summary, summary);
    } else if (row.summary) {
      li.removeChild(row.summary);
      row.summary = null;
    }

    var src = st.cfg.image ? safeImage(item.image) : null;
    if (src) {
      if (!row.image) {
        row.image = el("img", "ranker-image");
        row.image.alt = ""; // decorative: the title says it all
        row.image.loading = "lazy";
        li.appendChild(row.image);
      }
      setAttr(row.image, "src", src);
    } else if (row.image) {
      li.removeChild(row.image);
      row.image = null;
    }
  }

  function render(box, st, data) {
    var items = data && Array.isArray(data.items) ? data.items : null;
    if (!items) throw new Error("bad response");
    // Build the skeleton on first data (a publisher's fallback stays until then),
    // or again if the page replaced the container's contents.
    if (!st.list || st.list.parentNode !== box) {
      box.textContent = "";
      st.heading = null;
      st.list = el("ol", "ranker-list");
      st.rows = {};
      box.appendChild(st.list);
    }
    if (st.cfg.title) {
      if (!st.heading) st.heading = box.insertBefore(el("h2", "ranker-title"), st.list);
      setText(st.heading, st.cfg.title);
    } else if (st.heading) {
      box.removeChild(st.heading);
      st.heading = null;
    }
    setAttr(st.list, "aria-label", st.cfg.title || "Most viewed");

    var list = st.list, keep = {}, pos = 0;
    for (var i = 0; i < items.length; i++) {
      var item = items[i];
      if (!item || item.id == null) continue;
      var id = String(item.id);
      if (keep[id]) continue; // a duplicate id would steal its own row
      keep[id] = true;
      var row = st.rows[id] || (st.rows[id] = makeRow());
      updateRow(row, item, st);
      // Move a row only when it is out of place: moving a node would blur a focused link.
      var at = list.children[pos];
      if (at !== row.li) list.insertBefore(row.li, at || null);
      pos++;
    }
    for (var old in st.rows) {
      if (!keep[old]) {
        list.removeChild(st.rows[old].li);
        delete st.rows[old];
      }
    }
    setAttr(box, "data-ranker-state", pos ? "ready" : "empty");
  }

  function load(box, st, timed) {
    clearTimeout(st.timer);
    st.timer = 0;
    if (box.isConnected === false) {
      states.delete(box); // removed from the page: stop refreshing
      return;
    }
    var seq = ++st.seq;
    var cfg = st.cfg;
    var next = function () {
      if (seq === st.seq && cfg.refresh) st.timer = setTimeout(tick, cfg.refresh);
    };
    var tick = function () {
      // Hidden tab: skip this round, try again next period.
      if (d.hidden && st.list) { next(); return; }
      load(box, st, true);
    };
    if (!w.fetch) return;
    // A timed refresh revalidates (a cheap 304 by ETag): with max-age and
    // stale-while-revalidate the browser would hand back the previous list.
    // No custom headers, so a cross-origin read needs no CORS preflight.
    fetch(cfg.url, { credentials: "omit", cache: timed ? "no-cache" : "default" })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      })
      .then(function (data) {
        if (seq === st.seq) render(box, st, data); // a newer request supersedes this one
      })
      .catch(function () {
        // Keep the last list; only say so when there is none yet.
        if (seq === st.seq && !st.list) setAttr(box, "data-ranker-state", "error");
      })
      .then(next)
      .catch(function () {});
  }

  function renderWidgets() {
    try {
      var boxes = d.querySelectorAll("[data-ranker-top]");
      for (var i = 0; i < boxes.length; i++) {
        try {
          var box = boxes[i];
          if (!attr(box, "site")) continue;
          var cfg = config(box);
          linkCss(box, cfg.base);
          var st = states.get(box);
          if (st && sameConfig(st.cfg, cfg)) continue; // unchanged: its timer carries on
          if (!st) {
            st = { cfg: cfg, seq: 0, timer: 0, list: null, heading: null, rows: {} };
            states.set(box, st);
          }
          st.cfg = cfg;
          load(box, st);
        } catch (e) { /* one bad container must not stop the others */ }
      }
    } catch (e) { /* never throw into the page */ }
  }

  r.renderWidgets = renderWidgets;
  try {
    renderWidgets();
    // An async script may run before the rest of the page is parsed.
    if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", renderWidgets);
  } catch (e) { /* never throw into the page */ }
})(window, document);
