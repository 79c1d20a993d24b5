/* Ranker's beacon: one view for each page view, and one for each route change of a
 * single-page app. Publishers embed the built copy (ranker/static/beacon.js, under 2 KB):
 *
 *   <script src="https://RANKER/beacon.js" data-site="demo" data-id="story-id" async></script>
 *
 * Site and story come from the data- attributes or from <meta name="ranker:site"> and
 * <meta name="ranker:id">. Options: data-engaged="10" counts a view only after 10 s of
 * visible time, data-endpoint sends elsewhere than the script's origin, data-token (or
 * <meta name="ranker:token">) carries a signed token for an id not in the catalog, and
 * window.ranker.view(id) counts by hand. Never throws into the page.
 */

/** The content of <meta name="ranker:NAME">, if the page has one. */
function meta(name) {
  return (document.querySelector(`meta[name="ranker:${name}"]`) || {}).content;
}

/** The page's address without its fragment: an anchor is no new view. */
function currentUrl() {
  return location.href.split("#")[0];
}

function start(ranker, script) {
  const options = script.dataset || {};
  const site = options.site || meta("site");
  const endpoint = options.endpoint || (script.src ? new URL(script.src).origin : "");
  const engagedMs = options.engaged * 1000 || 0;
  let lastUrl = currentUrl();
  // The view waiting to be sent: sent once the page has been visible for `remainingMs`.
  let pendingId;
  let remainingMs;
  let visibleSince = 0;
  let timer;

  function send(id) {
    try {
      if (!site || !id) return;
      const url = endpoint + "/v1/hit";
      const body = JSON.stringify({ site, id, token: meta("token") || options.token });
      // text/plain: a simple request, so no CORS preflight.
      if (navigator.sendBeacon && navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }))) {
        return;
      }
      fetch(url, {
        method: "POST",
        body,
        keepalive: true,
        mode: "no-cors",
        headers: { "Content-Type": "text/plain" },
      }).catch(() => {});
    } catch {
      // a view lost rather than an error in the page
    }
  }

  // Sends the pending view once the page is shown (never while prerendered) and, with
  // data-engaged, once it has been visible that long in all.
  function check() {
    clearTimeout(timer);
    if (visibleSince) {
      remainingMs -= Date.now() - visibleSince;
      visibleSince = 0;
    }
    if (pendingId == null || document.prerendering) return;
    if (remainingMs <= 0) {
      send(pendingId);
      pendingId = null;
    } else if (document.visibilityState === "visible") {
      visibleSince = Date.now();
      timer = setTimeout(check, remainingMs);
    }
  }

  function count(id) {
    pendingId = id;
    remainingMs = engagedMs;
    visibleSince = 0;
    check();
  }

  // A route change is a view when the address changed: for replaceState, a change of the
  // query alone (utm_* dropped, say) is not one; back and forward to another address, query
  // or not, is. The ranker:id meta is read a tick later, once the app has updated it.
  function routeChanged(pathOnly) {
    setTimeout(() => {
      const url = currentUrl();
      const compared = (u) => (pathOnly ? u.split("?")[0] : u);
      const changed = compared(url) !== compared(lastUrl);
      lastUrl = url;
      if (changed) viewed(meta("id") || options.id);
    });
  }

  for (const event of ["visibilitychange", "prerenderingchange"]) {
    document.addEventListener(event, check);
  }
  window.addEventListener("popstate", () => routeChanged(false));
  for (const name of ["pushState", "replaceState"]) {
    const original = history[name];
    history[name] = function (...args) {
      const result = original.apply(this, args);
      routeChanged(name === "replaceState");
      return result;
    };
  }
  // A new page view of a single-page app: counted, and told to the page's boxes
  // (widget.js), each of which may then make its impression again.
  function viewed(id) {
    count(id);
    window.dispatchEvent(new Event("ranker:view"));
  }
  ranker.view = (id) => {
    send(id || meta("id") || options.id);
    window.dispatchEvent(new Event("ranker:view"));
  };
  count(options.id || meta("id"));
}

try {
  const ranker = (window.ranker = window.ranker || {});
  // Embedded twice: the first copy counts.
  if (!ranker.view) start(ranker, document.currentScript || {});
} catch {
  // never throw into the page
}
