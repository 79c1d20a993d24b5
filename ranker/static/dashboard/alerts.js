/* Alerts: the webhooks the site tells of rising stories, held views, beacons dropping and
 * the day's most viewed, in a panel shown only for a site that has alert hooks. Per hook
 * what it is told and when its digest goes out; then the alerts last made, each with its
 * kind, title, hook and state: sent, pending (with its next attempt) or failed (in warning
 * colours, with the hook's answer). Times are on the site's clock, its zone named. */

import { api, errorText, sitePath } from "./api.js";
import { $, el, setText } from "./dom.js";
import { capitalize, fmtEarlier, fmtLater, num, parseDate, plural, siteZone } from "./format.js";
import { serverNow } from "./pins.js";
import { get } from "./state.js";

// The collector looks for alerts every 30 s (alerts.interval): the panel is read as often.
// Hooks come with the site's configuration, which changes only with a restart: a site
// without any is asked again once a minute.
const HOOKS_MS = 30000;
const NO_HOOKS_MS = 60000;
const SHOWN = 20; // the newest alerts listed
const KIND_NAMES = { rising: "Rising", held: "Held views", dropping: "Beacons dropping", digest: "Digest" };
const FORMAT_NAMES = { slack: "Slack", json: "JSON" };
const STATE_NAMES = { sent: "Sent", pending: "Pending", failed: "Failed" };

let seq = 0; // only the newest read is shown
let answer = null; // the last answer read, checked ({ zone, hooks, pending, recent }); null until one is
let askedAt = 0; // when the alerts were last asked for (Date.now())

/** Whether a round should read the alerts: every 30 s for a site with hooks, once a minute
 * for one without, every round until an answer came. */
export function alertsDue() {
  return !answer || Date.now() - askedAt >= (answer.hooks.length ? HOOKS_MS : NO_HOOKS_MS);
}

/** An answer's parts this panel can show; anything else left out. */
function checked(data) {
  const d = data && typeof data === "object" ? data : {};
  const hooks = Array.isArray(d.hooks) ? d.hooks.filter((h) => h && typeof h.name === "string") : [];
  const recent = Array.isArray(d.recent)
    ? d.recent.filter((r) => r && typeof r.hook === "string" && typeof r.key === "string")
    : [];
  return { zone: d.timezone, hooks, recent, pending: Math.max(0, Math.round(num(d.pending))) };
}

/** Reads the hooks and their recent alerts. A failure is said in the panel (whose last
 * lists stay) and not thrown: the round's other reads tell whether the connection works. */
export async function loadAlerts() {
  const mine = ++seq;
  askedAt = Date.now();
  let data;
  try {
    data = await api(sitePath("/alerts?n=" + SHOWN), {});
  } catch (e) {
    // A site known to have no hooks has no panel to say it in.
    if (mine === seq && e.code !== "auth" && get().view !== "signin" && !(answer && !answer.hooks.length)) {
      showError("Could not read the alerts: " + errorText(e) + (answer ? " The lists below may be out of date." : ""));
      showAlerts();
    }
    return;
  }
  if (mine !== seq || get().view === "signin") return;
  answer = checked(data);
  showError("");
  showAlerts();
}

function showError(text) {
  const err = $("alerts-error");
  setText(err, text);
  err.hidden = !text;
}

/** The zone the panel's times are told in: the site's, as this browser can read it. */
function zone() {
  return siteZone(answer && answer.zone);
}

function kindName(kind) {
  return KIND_NAMES[kind] || capitalize(String(kind || "alert"));
}

/** Seconds since the epoch of an answer's time, or null. */
function seconds(value) {
  const d = parseDate(value);
  return d ? d.getTime() / 1000 : null;
}

function stamp(node, value) {
  const d = parseDate(value);
  if (d) node.setAttribute("datetime", d.toISOString());
  else node.removeAttribute("datetime");
}

// -- the hooks

function buildHook(name) {
  const li = el("li", { class: "alert-hook", "data-hook": name });
  const head = el("p", { class: "ah-head" });
  head.append(el("span", { class: "ah-name" }, name), el("span", { class: "ah-format" }));
  li.append(head, el("p", { class: "ah-kinds" }), el("p", { class: "ah-digest" }));
  return li;
}

function updateHook(li, hook) {
  const [head, kinds, digest] = li.children;
  const format = typeof hook.format === "string" ? hook.format : "";
  setText(head.lastChild, FORMAT_NAMES[format] || format);
  const told = Array.isArray(hook.kinds) ? hook.kinds.filter((k) => typeof k === "string") : [];
  const section = typeof hook.section === "string" && hook.section ? hook.section : "";
  setText(
    kinds,
    (told.length ? "Told of: " + told.map(kindName).join(" · ") : "Told of nothing") +
      (section ? " — section " + section + " (beacons dropping: the whole site)" : ""),
  );
  const hasDigest = told.includes("digest");
  digest.hidden = !hasDigest;
  if (hasDigest) {
    const at = typeof hook.digest_at === "string" ? hook.digest_at : "";
    const win = typeof hook.digest_window === "string" ? hook.digest_window : "";
    setText(digest, "Digest at " + at + " " + zone() + (win ? ", the " + win + " list" : ""));
  }
}

// -- the recent alerts

function itemKey(r) {
  return r.hook + "\n" + r.key;
}

function buildItem(r) {
  const li = el("li", { class: "alert-item", "data-hook": r.hook, "data-key": r.key });
  const head = el("p", { class: "al-head" });
  head.append(el("span", { class: "al-kind" }), el("span", { class: "al-title" }));
  const meta = el("p", { class: "al-meta" });
  meta.append(
    el("span", { class: "al-state" }),
    " · ",
    el("span", { class: "al-hook" }, r.hook),
    " · ",
    el("time", { class: "al-when" }),
    el("span", { class: "al-next" }),
  );
  li.append(head, meta, el("p", { class: "al-error" }));
  return li;
}

function updateItem(li, r) {
  const state = STATE_NAMES[r.state] ? r.state : "pending";
  li.setAttribute("data-state", state);
  for (const s of Object.keys(STATE_NAMES)) li.classList.toggle("is-" + s, s === state);
  const [head, meta, error] = li.children;
  setText(head.firstChild, kindName(r.kind));
  setText(head.lastChild, typeof r.title === "string" && r.title ? r.title : r.key);
  const badge = meta.querySelector(".al-state");
  setText(badge, STATE_NAMES[state]);
  badge.className = "al-state is-" + state;

  const now = serverNow();
  const z = zone();
  // A sent alert: when it was sent; any other: when it was made.
  const whenValue = state === "sent" && r.sent_at ? r.sent_at : r.created;
  const when = meta.querySelector(".al-when");
  const t = seconds(whenValue);
  setText(when, t == null ? "" : (state === "sent" ? "sent at " : "made at ") + fmtEarlier(t, z, now));
  stamp(when, whenValue);
  const next = meta.querySelector(".al-next");
  const nextT = state === "pending" ? seconds(r.next_at) : null;
  setText(next, nextT == null ? "" : " · next attempt at " + fmtLater(nextT, z, now));

  const attempts = Math.max(0, Math.round(num(r.attempts)));
  const why = typeof r.last_error === "string" ? r.last_error : "";
  let text = "";
  if (state === "failed") {
    text = "Given up after " + plural(attempts, "attempt") + (why ? ": " + why : "");
  } else if (state === "pending" && why) {
    text = (attempts === 1 ? "The first attempt" : plural(attempts, "attempt")) + " failed: " + why;
  }
  setText(error, text);
  error.hidden = !text;
  error.classList.toggle("is-failed", state === "failed");
}

/** Keeps a list's items (by `key`) in the answer's order: an unchanged one is not redrawn. */
function syncList(list, rows, keyOf, build, update) {
  const existing = new Map();
  for (const li of Array.from(list.children)) existing.set(li.dataset.k, li);
  const frag = document.createDocumentFragment();
  for (const row of rows) {
    const k = keyOf(row);
    let li = existing.get(k);
    if (li) existing.delete(k);
    else {
      li = build(row);
      li.dataset.k = k;
    }
    update(li, row);
    frag.appendChild(li);
  }
  for (const li of existing.values()) li.remove();
  list.appendChild(frag);
}

/** The panel, from the last answer; hidden for a site without hooks. */
export function showAlerts() {
  const a = answer || { hooks: [], recent: [], pending: 0 };
  syncList($("alerts-hooks"), a.hooks, (h) => h.name, (h) => buildHook(h.name), updateHook);
  syncList($("alerts-list"), a.recent, itemKey, buildItem, updateItem);
  const failed = a.recent.filter((r) => r.state === "failed").length;

  setText($("alerts-zone"), answer ? "times in " + zone() : "");
  const count = $("alerts-count");
  setText(count, a.hooks.length);
  count.setAttribute("title", plural(a.hooks.length, "alert hook"));
  count.hidden = a.hooks.length === 0;

  const pending = $("alerts-pending");
  setText(pending, a.pending ? plural(a.pending, "alert") + " waiting to be sent" : "Nothing waiting to be sent");
  pending.hidden = !answer || a.hooks.length === 0;
  const warn = $("alerts-failed");
  setText(
    warn,
    failed === 1
      ? "1 alert below was given up: its hook refused it or never answered."
      : failed + " alerts below were given up: their hooks refused them or never answered.",
  );
  warn.hidden = failed === 0;
  $("alerts-empty").hidden = !answer || a.hooks.length === 0 || a.recent.length > 0;

  const card = $("alerts-card");
  card.classList.toggle("is-failing", failed > 0);
  card.hidden = a.hooks.length === 0 && $("alerts-error").hidden;
}

/** Another site: nothing of the last one's alerts stays, and its own are read at once. */
export function resetAlerts() {
  seq++;
  answer = null;
  askedAt = 0;
  showError("");
  $("alerts-hooks").textContent = "";
  $("alerts-list").textContent = "";
  showAlerts();
}
