/* CDN purges: how the site's purge hooks are doing, in a panel shown only for a site that
 * has hooks. Each hook with the purges it sent, gave up after every retry and retried; one
 * that gave a purge up is flagged with its last error and when, on the site's clock. */

import { api, errorText, sitePath } from "./api.js";
import { $, el, setText } from "./dom.js";
import { capitalize, fmtEarlier, fmtInt, num, parseDate, plural, relTime, siteZone } from "./format.js";
import { serverNow } from "./pins.js";
import { get } from "./state.js";

// Hooks come with the site's configuration, which changes only with a restart: a site
// without any is asked again once a minute, not every round.
const NO_HOOKS_MS = 60000;
// What each count is, for a pointer's hover and a screen reader.
const COUNT_HELP = {
  sent: "purges the CDN confirmed",
  failed: "purges given up after every retry",
  retried: "attempts that failed and were tried again",
};

let seq = 0; // only the newest read is shown
let hooks = null; // the hooks of the last answer ([] for none); null until one is read
let askedAt = 0; // when the purges were last asked for (Date.now())

/** Whether a round should read the purges: every round for a site with hooks. */
export function purgesDue() {
  return !(hooks && !hooks.length) || Date.now() - askedAt >= NO_HOOKS_MS;
}

/** Reads the hooks' counts. A failure is said in the panel (whose last list stays) and not
 * thrown: the round's other reads tell whether the connection works. */
export async function loadPurges() {
  const mine = ++seq;
  askedAt = Date.now();
  let data;
  try {
    data = await api(sitePath("/purges"), {});
  } catch (e) {
    // A site known to have no hooks has no panel to say it in.
    if (mine === seq && e.code !== "auth" && get().view !== "signin" && !(hooks && !hooks.length)) {
      showError("Could not read the CDN purges: " + errorText(e) + (hooks ? " The list below may be out of date." : ""));
      showPurges();
    }
    return;
  }
  if (mine !== seq || get().view === "signin") return;
  hooks = Array.isArray(data.hooks) ? data.hooks.filter((h) => h && typeof h.hook === "string") : [];
  showError("");
  showPurges();
}

function showError(text) {
  const err = $("purges-error");
  setText(err, text);
  err.hidden = !text;
}

/** When something happened (unix s), on the site's clock: "14:05", "14:05 yesterday"
 * ("14:05 UTC" while the site's zone is not known, so it is never taken for it). */
function siteTime(t) {
  const z = siteZone(get().zone);
  return fmtEarlier(t, z, serverNow()) + (z === get().zone ? "" : " " + z);
}

/** "fastly:SERVICE_ID" as its kind's name and its target: ["Fastly", "SERVICE_ID"]. */
function hookParts(name) {
  const at = name.indexOf(":");
  return at < 0 ? [capitalize(name), ""] : [capitalize(name.slice(0, at)), name.slice(at + 1)];
}

function buildItem(name) {
  const li = el("li", { class: "purge-hook", "data-hook": name });
  const [kind, target] = hookParts(name);
  const head = el("div", { class: "pg-head" });
  const who = el("p", { class: "pg-name" });
  who.append(el("span", { class: "pg-kind" }, kind), el("code", { class: "pg-target" }, target));
  const counts = el("p", { class: "pg-counts" });
  for (const what of Object.keys(COUNT_HELP)) {
    if (counts.childNodes.length) counts.append(" · ");
    const stat = el("span", { class: "pg-" + what, title: capitalize(COUNT_HELP[what]) });
    stat.append(el("b"), " " + what);
    counts.append(stat);
  }
  head.append(who, counts);
  li.append(head, el("p", { class: "pg-error" }));
  return li;
}

/** The last error of a hook, and when: a warning when it gave a purge up, a quiet note when
 * the attempt was retried. */
function renderError(p, hook, failed) {
  const error = typeof hook.last_error === "string" ? hook.last_error : "";
  const at = parseDate(hook.last_error_at);
  p.hidden = !error;
  if (!error) return;
  let when = "";
  if (at) {
    const t = at.getTime() / 1000;
    when = " at " + siteTime(t) + " (" + relTime(at, Math.max(serverNow(), t) * 1000) + ")";
    p.setAttribute("title", at.toISOString());
  } else {
    p.removeAttribute("title");
  }
  setText(p, (failed ? "Last error" : "Last error, then retried") + when + ": " + error);
  p.classList.toggle("is-failed", failed);
}

function updateItem(li, hook) {
  const failed = Math.max(0, Math.round(num(hook.failed)));
  li.classList.toggle("is-failing", failed > 0);
  const [head, error] = li.children;
  const counts = head.lastChild;
  for (const what of Object.keys(COUNT_HELP)) {
    const stat = counts.querySelector(".pg-" + what);
    setText(stat.firstChild, fmtInt(Math.max(0, num(hook[what]))));
  }
  counts.querySelector(".pg-failed").classList.toggle("is-bad", failed > 0);
  renderError(error, hook, failed > 0);
  return failed;
}

/** The panel, from the last answer (after a read, or once the site's clock is known);
 * hidden for a site without hooks. */
export function showPurges() {
  const shown = hooks || [];
  const list = $("purges-list");
  const existing = new Map();
  for (const li of Array.from(list.children)) existing.set(li.getAttribute("data-hook"), li);
  const frag = document.createDocumentFragment();
  let failed = 0;
  for (const hook of shown) {
    let li = existing.get(hook.hook);
    if (li) existing.delete(hook.hook);
    else li = buildItem(hook.hook);
    failed += updateItem(li, hook);
    frag.appendChild(li);
  }
  for (const li of existing.values()) li.remove();
  list.appendChild(frag);
  const alert = $("purges-alert");
  setText(
    alert,
    plural(failed, "purge") + " given up after every retry: readers may be shown out-of-date lists until " +
      "the CDN's copies expire.",
  );
  alert.hidden = failed === 0;
  const count = $("purges-count");
  setText(count, shown.length);
  count.setAttribute("title", plural(shown.length, "purge hook"));
  count.hidden = shown.length === 0;
  const card = $("purges-card");
  card.classList.toggle("is-failing", failed > 0);
  card.hidden = shown.length === 0 && $("purges-error").hidden;
}

/** Another site: nothing of the last one's hooks stays, and its own are read at once. */
export function resetPurges() {
  seq++;
  hooks = null;
  askedAt = 0;
  showError("");
  $("purges-list").textContent = "";
  showPurges();
}
