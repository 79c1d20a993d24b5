/* Ranker beacon: a view per page view and SPA route */
((w, d, H) => {
try {
  const r = w.ranker = w.ranker || {};
  if (r.view) return; // embedded twice
  let s = d.currentScript || {},
    a = s.dataset || {},
    meta = k => (d.querySelector(`meta[name="ranker:${k}"]`) || {}).content,
    here = () => location.href.split("#")[0],
    site = a.site || meta("site"),
    ep = a.endpoint || (s.src ? new URL(s.src).origin : ""),
    ms = a.engaged * 1e3 || 0,
    last = here(), pend, left, t0, tm,
    send = id => {
      try {
        const u = ep + "/v1/hit", body = JSON.stringify({site, id, token: meta("token") || a.token});
        // text/plain: no preflight
        if (!site || !id || navigator.sendBeacon && navigator.sendBeacon(u, new Blob([body], {type: "text/plain"}))) return;
        fetch(u, {method: "POST", body, keepalive: true, mode: "no-cors",
          headers: {"Content-Type": "text/plain"}}).catch(() => {});
      } catch (e) {}
    },
    // once shown; with data-engaged, once seen that long
    tick = () => {
      clearTimeout(tm);
      if (t0) left -= Date.now() - t0, t0 = 0;
      if (pend == null || d.prerendering) return;
      if (left <= 0) send(pend), pend = null;
      else if (d.visibilityState == "visible") t0 = Date.now(), tm = setTimeout(tick, left);
    },
    count = id => { pend = id; left = ms; t0 = 0; tick() },
    // meta read a tick after pushState; a replaceState of the query alone is no view
    route = p => setTimeout(() => {
      const h = here(), q = x => p ? x.split("?")[0] : x, c = q(h) != q(last);
      last = h; c && count(meta("id") || a.id)
    });
  for (const e of ["visibilitychange", "prerenderingchange"]) d.addEventListener(e, tick);
  w.addEventListener("popstate", route);
  for (const k of ["pushState", "replaceState"]) {
    const o = H[k];
    H[k] = function (...x) { const v = o.apply(this, x); route(k > "q"); return v };
  }
  r.view = id => send(id || meta("id") || a.id);
  count(a.id || meta("id"));
} catch (e) {}
})(window, document, history);
