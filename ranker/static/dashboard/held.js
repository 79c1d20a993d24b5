/* Held views: the stories with views held out of the counts, a concentrated one flagged
 * with its network's share, each with a Release button for the reasons the server
 * releases by default. Also the words a story's own view uses for its held views. */

import { api, errorText, itemPath, sitePath } from "./api.js";
import { askSoon, REASONS } from "./beacons.js";
import { $, el, setText, storyHash } from "./dom.js";
import { clock, fmtInt, fmtPercent, num, orList, parseDate, relTime, viewCount } from "./format.js";
import { refreshNow } from "./poll.js";
import { safeUrl } from "./rule.js";
import { get } from "./state.js";
import { forgetTop } from "./top.js";

const HELD_N = 20;
// Views held for a story, in an editor's words: "51 concentrated · 3 over the per-address
// limit". `help` says why such views are held.
export const HELD_WORDS = {
  concentrated: {
    one: "concentrated",
    many: "concentrated",
    help: "One network sent more than its share of the story's recent views",
  },
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

let seq = 0; // only the newest read is shown
let shown = null; // the last answer shown
const releasing = new Set(); // ids whose release is in flight

/** What n views held for `reason` are called: "concentrated", "from a bot". */
export function heldLabel(reason, n) {
  const w = HELD_WORDS[reason];
  return w ? (n === 1 ? w.one : w.many) : String(reason).replace(/_/g, " ");
}

/** How a count of views held for `reason` reads: "51 concentrated", "1 from a bot". */
function heldWords(reason, n) {
  return fmtInt(n) + " " + heldLabel(reason, n);
}

/** A story's held views as [{reason, n}], largest first, without empty reasons. */
export function heldCounts(held) {
  const out = [];
  if (held && typeof held === "object") {
    for (const reason of Object.keys(held)) {
      const n = Math.max(0, Math.round(num(held[reason])));
      if (n > 0) out.push({ reason, n });
    }
  }
  return out.sort((a, b) => b.n - a.n);
}

/** What the Release button counts, in words: "concentrated, over the per-address limit or
 * from hosting networks". */
function releaseWords(release) {
  return orList(release.map((r) => (HELD_WORDS[r] ? HELD_WORDS[r].many : r.replace(/_/g, " "))));
}

function flagText(flag) {
  if (!flag || typeof flag !== "object" || typeof flag.network !== "string") return "";
  const share = num(flag.share);
  return (
    (share > 0 ? fmtPercent(share) : "Most") + " of its views in " + SHARE_SPAN + " came from one network (" +
    flag.network + ")"
  );
}

export async function loadHeld() {
  const mine = ++seq;
  let data;
  try {
    data = await api(sitePath("/held?n=" + HELD_N), {});
  } catch (e) {
    if (mine === seq && e.code !== "auth" && get().view !== "signin") {
      // The last list stays up, marked as possibly out of date.
      const err = $("held-error");
      setText(
        err,
        "Could not refresh the held views: " + errorText(e) + (shown ? " The list below may be out of date." : ""),
      );
      err.hidden = false;
      if (!shown) $("held-empty").hidden = true;
    }
    throw e;
  }
  if (mine !== seq || get().view === "signin") return;
  $("held-error").hidden = true;
  renderHeld(data);
}

function buildItem(id) {
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

function updateItem(li, it, release) {
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
    setText(
      other.firstChild,
      (releasable.length ? "Also held, not released" : "Held, not released") + " by this button: " + viewCount(k),
    );
    setText(
      other.lastChild,
      kept.map((c) => heldWords(c.reason, c.n)).join(" · ") +
        ". These are held for what sent them, not for where they came from.",
    );
  }

  const pending = releasing.has(id);
  if (!pending) setText(button, "Release");
  button.disabled = pending || n === 0;
  const what = releaseWords(release);
  button.setAttribute(
    "aria-label",
    n
      ? "Release " + viewCount(n) + " of “" + title + "” held as " + what
      : "Release: nothing held for “" + title + "” that this button counts",
  );
  button.setAttribute("title", "Count the views held as " + what + " (not bots, prefetched pages or repeat views)");
}

function renderHeld(data) {
  shown = data;
  const items =
    data && Array.isArray(data.items) ? data.items.filter((it) => it && typeof it === "object" && it.id != null) : [];
  const release = data && Array.isArray(data.release_default) ? data.release_default.map(String) : RELEASE_DEFAULT;
  const list = $("held-list");
  const existing = new Map();
  for (const li of Array.from(list.children)) existing.set(li.getAttribute("data-id"), li);
  const frag = document.createDocumentFragment();
  for (const it of items) {
    const id = String(it.id);
    let li = existing.get(id);
    if (li) existing.delete(id);
    else li = buildItem(id);
    updateItem(li, it, release);
    frag.appendChild(li);
  }
  // A row being released stays until its answer: focus must not vanish under the editor.
  for (const [id, li] of existing) {
    if (!releasing.has(id)) li.remove();
  }
  list.appendChild(frag); // re-appending in order moves rows without rebuilding them
  const empty = $("held-empty");
  setText(empty, "No views held.");
  empty.hidden = items.length > 0;
  const count = $("held-count");
  setText(count, items.length);
  count.setAttribute("title", (items.length === 1 ? "1 story" : items.length + " stories") + " with views held");
  count.hidden = items.length === 0;
}

function showMessage(text, isError) {
  const msg = $("held-msg");
  setText(msg, text);
  msg.classList.toggle("is-error", !!isError);
  msg.hidden = false;
}

export async function release(button) {
  const li = button.closest("li[data-id]");
  const id = li ? li.getAttribute("data-id") : "";
  if (!id || button.disabled || releasing.has(id)) return;
  const link = li.querySelector(".story-link");
  const title = link ? link.textContent : id;
  releasing.add(id);
  button.disabled = true;
  setText(button, "Releasing…");
  let failed = false;
  try {
    // No body: the server releases its default reasons, the ones the button names.
    const res = await api(itemPath(id) + "/release", { method: "POST" });
    const n = Math.max(0, Math.round(num(res.views)));
    showMessage(
      n
        ? "Released " + viewCount(n) + " of “" + title + "” into the counts."
        : "Nothing was left to release for “" + title + "”.",
    );
    forgetTop(); // the lists change with the released views
    askSoon(); // and so does the day's tally of releases
  } catch (e) {
    failed = true;
    if (e.code === "auth") return;
    showMessage("Could not release the views of “" + title + "”: " + errorText(e), true);
  } finally {
    releasing.delete(id);
    if (li.isConnected) {
      button.disabled = false;
      setText(button, failed ? "Retry" : "Release");
    }
    if (get().view === "dash" && get().token) refreshNow();
  }
}

/** Another site: nothing of the last list stays. */
export function resetHeld() {
  seq++;
  shown = null;
  $("held-list").textContent = "";
  $("held-count").hidden = true;
  $("held-error").hidden = true;
  $("held-msg").hidden = true;
  setText($("held-empty"), "Loading…");
  $("held-empty").hidden = false;
}
