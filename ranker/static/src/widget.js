/* Ranker's "Most viewed" widget. Publishers embed the built copy (ranker/static/widget.js):
 *
 *   <div data-ranker-top data-site="demo" data-n="5" data-window="hot" data-section="sport"
 *        data-refresh="30" data-summary data-image data-title="Most viewed"></div>
 *   <script src="https://RANKER/widget.js" async></script>
 *
 * The list leaves out the page's own story: the container's data-id, else the page's
 * <meta name="ranker:id"> (what beacon.js reads), else the beacon script's data-id;
 * data-exclude-current="false" keeps it. data-exclude="id1,id2" leaves out more (at most
 * MAX_EXCLUDE in all, the page's own story first). data-max-age="48h" lists only stories
 * published that recently (the site's `max_age` when absent; "0" for any age).
 * data-author="Jane Doe" and data-tag="climate" list only the stories naming them.
 *
 * Never an empty box: whatever the container holds in the page's HTML (the publisher's
 * fallback) stays until an answer lists at least one story. A later answer with none keeps
 * the list shown, unless the container now asks for another list (changed attributes, or
 * another page story to leave out): then the fallback comes back. When fewer stories than
 * data-n have views, the API fills the list up with the latest published ones; those
 * <li> get the class ranker-backfill. data-backfill="false" asks for no filling up.
 * A story an editor pinned gets the class ranker-pinned.
 *
 * data-ranker-state on the container says what it shows:
 *   loading  the first answer is awaited; the fallback shows
 *   ready    a list of stories shows (and stays through failed or empty refreshes)
 *   empty    the answer listed no story; the fallback shows
 *   error    the fetch failed (network, HTTP status, bad JSON) and no list is shown;
 *            the fallback shows, and the next refresh tries again
 *
 * Every container on the page gets its list, refreshed in place every data-refresh seconds;
 * window.ranker.renderWidgets() picks up containers added or changed later. Titles and
 * every other field come from the catalog, so they are untrusted: the DOM is built with
 * textContent and setAttribute only, never innerHTML. Never throws into the page.
 *
 * Each box reports how it is seen and used, with navigator.sendBeacon (a text/plain
 * string: no CORS preflight, and a click never waits for it) to POST ENDPOINT/v1/recirc,
 * ENDPOINT being where the box fetches its list from:
 *   {"site": SITE, "placement": P, "event": "impression", "page": PAGE}
 *       once per box per page view, when at least half of its list has been in view for
 *       one continuous second in a visible tab, once a list shows (state ready); never
 *       again for that box, whatever refreshes or scrolling follow. The list is what is
 *       watched, not the container, which may have no box of its own (display: contents).
 *   {"site": SITE, "placement": P, "event": "click", "id": ID, "position": N, "page": PAGE}
 *       for each click (or middle click) on a story's link: its id and its 1-based place
 *       in the list shown.
 * P is the container's data-placement ("article-sidebar": 1-32 of a-z 0-9 _ -, the first
 * a letter or digit), else "default"; Ranker counts only the placements its configuration
 * names for the site. PAGE is the page's own story (the one the list leaves out, whether
 * or not it does), left out when none is known. data-track="false" on a container reports
 * nothing; nothing is reported where sendBeacon or IntersectionObserver is missing, so
 * that no click is counted without the impressions beside it.
 */
import { cleanText, safeUrl } from "../dashboard/rule.js";

let script = null; // the <script> that loaded this copy: its data-endpoint and data-css
let scriptBase = ""; // where the lists are fetched from, unless a container says otherwise
let cssLinked = false;
const states = new WeakMap(); // container -> its fetch/render state
const MAX_EXCLUDE = 20; // what GET /top accepts in `exclude`
// A story id as the API takes it (ranker/core/validate.py ID_RE): any other can name no
// listed story, and would only make the server refuse the whole request.
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
// A placement as POST /v1/recirc takes it: any other is reported as "default".
const PLACEMENT_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

function attr(el, name) {
  return el && el.getAttribute ? el.getAttribute("data-" + name) : null;
}

function has(el, name) {
  return !!(el && el.hasAttribute && el.hasAttribute("data-" + name));
}

/** data-NAME="false" (any case, any spaces): a default switched off. */
function off(el, name) {
  return String(attr(el, name)).trim().toLowerCase() === "false";
}

/** An image from another site (a link's rule, and never a path on the publisher's site). */
function safeImage(url) {
  const src = safeUrl(url);
  return src && src.charAt(0) !== "/" ? src : null;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text; // untouched nodes: no reflow, no flicker
}

function setAttr(el, name, value) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

function element(tag, className) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  return el;
}

/** The story of the page the container is on: where beacon.js finds it, unless the
 * container names its own. */
function currentId(box) {
  const own = attr(box, "id");
  if (own) return own;
  const meta = document.querySelector('meta[name="ranker:id"]');
  if (meta && meta.content) return meta.content;
  return attr(document.querySelector('script[src*="/beacon.js"][data-id]'), "id");
}

/** The ids to leave out, sorted so that the URL (and so the caches) stays the same. */
function excluded(box) {
  const wanted = (attr(box, "exclude") || "").split(",");
  if (!off(box, "exclude-current")) {
    wanted.unshift(currentId(box) || "");
  }
  const ids = [];
  for (const raw of wanted) {
    const id = raw.trim();
    if (ID_RE.test(id) && ids.indexOf(id) < 0 && ids.length < MAX_EXCLUDE) ids.push(id);
  }
  return ids.sort();
}

/** What a container asks for, read from its data- attributes. */
function config(box) {
  const base = (attr(box, "endpoint") || scriptBase).replace(/\/+$/, "");
  const query = [];
  const n = parseInt(attr(box, "n"), 10);
  if (n > 0) query.push("n=" + Math.min(n, 100));
  const win = attr(box, "window");
  if (win) query.push("window=" + encodeURIComponent(win));
  const section = attr(box, "section");
  if (section) query.push("section=" + encodeURIComponent(section));
  for (const name of ["author", "tag"]) {
    const value = attr(box, name);
    if (value) query.push(name + "=" + encodeURIComponent(value));
  }
  const maxAge = attr(box, "max-age");
  if (maxAge) query.push("max_age=" + encodeURIComponent(maxAge));
  if (off(box, "backfill")) query.push("backfill=false");
  const exclude = excluded(box);
  if (exclude.length) query.push("exclude=" + exclude.map(encodeURIComponent).join(","));
  const refresh = parseFloat(attr(box, "refresh"));
  return {
    url:
      base + "/v1/sites/" + encodeURIComponent(attr(box, "site") || "") + "/top" +
      (query.length ? "?" + query.join("&") : ""),
    base,
    exclude,
    title: attr(box, "title") || "",
    summary: has(box, "summary"),
    image: has(box, "image"),
    refresh: refresh > 0 ? Math.max(refresh, 5) * 1000 : 0,
  };
}

function sameConfig(a, b) {
  return (
    a.url === b.url && a.title === b.title && a.summary === b.summary &&
    a.image === b.image && a.refresh === b.refresh
  );
}

function linkCss(box, base) {
  if (cssLinked || attr(script, "css") === "none" || attr(box, "css") === "none") return;
  cssLinked = true;
  const link = element("link");
  link.rel = "stylesheet";
  link.href = base + "/widget.css";
  link.setAttribute("data-ranker-css", "");
  // First in <head>, so the page's own rules win ties as well as on specificity.
  document.head.insertBefore(link, document.head.firstChild);
}

// One <li> per story id, kept across refreshes so updates happen in place.
function makeRow() {
  return { li: element("li", "ranker-item"), title: null, summary: null, image: null };
}

function updateRow(row, item, state) {
  const li = row.li;
  setAttr(li, "data-id", String(item.id));
  // The latest stories that fill the list up (no views yet): styled by the page as it likes.
  li.classList.toggle("ranker-backfill", item.backfill === true);
  li.classList.toggle("ranker-pinned", item.pinned === true);
  const text = cleanText(item.title == null ? item.id : item.title);
  const href = safeUrl(item.url);
  const tag = href ? "A" : "SPAN";
  if (!row.title || row.title.tagName !== tag) {
    const title = element(tag.toLowerCase(), href ? "ranker-link" : "ranker-headline");
    if (row.title) li.replaceChild(title, row.title);
    else li.insertBefore(title, li.firstChild);
    row.title = title;
  }
  if (href) setAttr(row.title, "href", href);
  setText(row.title, text);

  const summary = state.cfg.summary && item.summary ? cleanText(item.summary) : "";
  if (summary) {
    if (!row.summary) {
      row.summary = li.insertBefore(element("p", "ranker-summary"), row.title.nextSibling);
    }
    setText(row.summary, summary);
  } else if (row.summary) {
    li.removeChild(row.summary);
    row.summary = null;
  }

  const src = state.cfg.image ? safeImage(item.image) : null;
  if (src) {
    if (!row.image) {
      row.image = element("img", "ranker-image");
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

/** Whether the container shows the widget's list (and not the page's own markup). */
function shown(box, state) {
  return !!state.list && state.list.parentNode === box;
}

function render(box, state, data) {
  const items = data && Array.isArray(data.items) ? data.items : null;
  if (!items) throw new Error("bad response");
  const cfg = state.cfg;
  const picked = [];
  const keep = {};
  for (const item of items) {
    if (!item || item.id == null) continue;
    const id = String(item.id);
    if (keep[id]) continue; // a duplicate id would steal its own row
    if (cfg.exclude.indexOf(id) >= 0) continue; // a server that ignored `exclude`
    keep[id] = true;
    picked.push(item);
  }
  if (!picked.length) {
    // Never an empty box: the list shown stays, unless it answers another question; else
    // the page's fallback (as it was when the list replaced it) stays or comes back.
    if (shown(box, state) && state.url !== cfg.url) {
      box.textContent = "";
      for (const node of state.fallback) box.appendChild(node);
      state.list = null;
    }
    if (!shown(box, state)) setAttr(box, "data-ranker-state", "empty");
    return;
  }
  // Build the skeleton on the first list (a publisher's fallback stays until then, kept
  // aside), or again if the page replaced the container's contents.
  if (!shown(box, state)) {
    state.fallback = Array.prototype.slice.call(box.childNodes);
    box.textContent = "";
    state.heading = null;
    state.list = element("ol", "ranker-list");
    state.rows = {};
    box.appendChild(state.list);
    if (state.observer) state.observer.observe(state.list);
  }
  state.url = cfg.url;
  if (cfg.title) {
    if (!state.heading) state.heading = box.insertBefore(element("h2", "ranker-title"), state.list);
    setText(state.heading, cfg.title);
  } else if (state.heading) {
    box.removeChild(state.heading);
    state.heading = null;
  }
  setAttr(state.list, "aria-label", cfg.title || "Most viewed");

  const list = state.list;
  let pos = 0;
  for (const item of picked) {
    const id = String(item.id);
    const row = state.rows[id] || (state.rows[id] = makeRow());
    updateRow(row, item, state);
    // Move a row only when it is out of place: moving a node would blur a focused link.
    const at = list.children[pos];
    if (at !== row.li) list.insertBefore(row.li, at || null);
    pos++;
  }
  for (const old in state.rows) {
    if (!keep[old]) {
      list.removeChild(state.rows[old].li);
      delete state.rows[old];
    }
  }
  setAttr(box, "data-ranker-state", "ready");
}

function load(box, state, timed) {
  clearTimeout(state.timer);
  state.timer = 0;
  if (box.isConnected === false) {
    states.delete(box); // removed from the page: stop refreshing
    return;
  }
  const seq = ++state.seq;
  const cfg = state.cfg;
  const next = () => {
    if (seq === state.seq && cfg.refresh) state.timer = setTimeout(refresh, cfg.refresh);
  };
  const refresh = () => {
    // Hidden tab: skip this round, try again next period.
    if (document.hidden && state.list) {
      next();
      return;
    }
    load(box, state, true);
  };
  if (!window.fetch) return;
  // A timed refresh revalidates (a cheap 304 by ETag): with max-age and
  // stale-while-revalidate the browser would hand back the previous list.
  // No custom headers, so a cross-origin read needs no CORS preflight.
  fetch(cfg.url, { credentials: "omit", cache: timed ? "no-cache" : "default" })
    .then((res) => {
      if (!res.ok) throw new Error("HTTP " + res.status);
      return res.json();
    })
    .then((data) => {
      if (seq === state.seq) render(box, state, data); // a newer request supersedes this one
    })
    .catch(() => {
      // Keep the last list; only say so when there is none.
      if (seq === state.seq && !shown(box, state)) setAttr(box, "data-ranker-state", "error");
    })
    .then(next)
    .catch(() => {});
}

/** Sends one event of the box to Ranker, fire and forget. */
function report(box, state, event, id, position) {
  try {
    const placement = attr(box, "placement");
    const page = currentId(box);
    if (off(box, "track")) return;
    navigator.sendBeacon(
      state.cfg.base + "/v1/recirc",
      JSON.stringify({
        site: attr(box, "site"),
        placement: (PLACEMENT_RE.test(placement) && placement) || "default",
        event,
        id, // clicks only: undefined leaves it out
        position,
        page: (ID_RE.test(page) && page) || undefined,
      }),
    );
  } catch {
    // an event lost (an endpoint that is no URL) rather than an error in the page
  }
}

/** Watches the box for its one impression and listens for clicks on its stories. */
function track(box, state) {
  if (!window.IntersectionObserver || !navigator.sendBeacon) return;
  let inView = false;
  let timer = 0;
  // (Re)starts the second that makes the impression, or stops it: the list must stay at
  // least half in view, in a visible tab, all along.
  const arm = () => {
    clearTimeout(timer);
    if (!inView || document.hidden) return;
    timer = setTimeout(() => {
      if (!shown(box, state)) return;
      state.observer.disconnect();
      state.observer = inView = null; // once per page view
      report(box, state, "impression");
    }, 1000);
  };
  // The last entry is the latest list's: render() observes each new one after the last.
  const watch = () => {
    state.observer = new IntersectionObserver(
      (entries) => {
        inView = entries[entries.length - 1].intersectionRatio >= 0.5;
        arm();
      },
      { threshold: 0.5 },
    );
    if (state.list) state.observer.observe(state.list);
  };
  watch();
  document.addEventListener("visibilitychange", arm);
  // A single-page app's next page view (beacon.js' route change, or ranker.view()): the
  // box, kept on the page, may make its impression again.
  window.addEventListener("ranker:view", () => state.observer || watch());
  const clicked = (event) => {
    try {
      const link = event.button < 2 && event.target.closest("a");
      const row = link && link.parentNode;
      const list = state.list;
      if (!row || row.parentNode !== list) return;
      report(box, state, "click", row.dataset.id, [...list.children].indexOf(row) + 1);
    } catch {
      // never throw into the page
    }
  };
  box.addEventListener("click", clicked);
  box.addEventListener("auxclick", clicked); // a middle click opens the story too
}

function renderWidgets() {
  try {
    for (const box of document.querySelectorAll("[data-ranker-top]")) {
      try {
        if (!attr(box, "site")) continue;
        const cfg = config(box);
        linkCss(box, cfg.base);
        let state = states.get(box);
        if (state && sameConfig(state.cfg, cfg)) continue; // unchanged: its timer carries on
        if (!state) {
          state = { cfg, seq: 0, timer: 0, list: null, heading: null, rows: {}, fallback: [] };
          states.set(box, state);
          track(box, state);
          setAttr(box, "data-ranker-state", "loading");
        }
        state.cfg = cfg;
        load(box, state);
      } catch {
        // one bad container must not stop the others
      }
    }
  } catch {
    // never throw into the page
  }
}

function install() {
  let ranker;
  try {
    ranker = window.ranker = window.ranker || {};
    // Loaded twice: the first copy already owns every container.
    if (ranker.renderWidgets) return void ranker.renderWidgets();
  } catch {
    return;
  }
  script = document.currentScript; // only set while this script first runs
  try {
    if (!script) script = document.querySelector('script[src*="/widget.js"]');
  } catch {
    script = null;
  }
  try {
    scriptBase = attr(script, "endpoint") || new URL(script.src).origin;
  } catch {
    // no src: same origin
  }
  ranker.renderWidgets = renderWidgets;
  try {
    renderWidgets();
    // An async script may run before the rest of the page is parsed.
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", renderWidgets);
  } catch {
    // never throw into the page
  }
}

install();
