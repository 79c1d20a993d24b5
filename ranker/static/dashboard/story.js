/* A story's own view (#story=<id>): its catalog entry, views over time at a chosen
 * resolution, its rank per window, its held views, and Hide from lists. */

import { api, errorText, itemPath } from "./api.js";
import { drawChart } from "./chart.js";
import { $, el, setText } from "./dom.js";
import { fmtInt, fmtPublished, num, parseDate, siteZone, viewCount } from "./format.js";
import { HELD_WORDS, heldCounts, heldLabel } from "./held.js";
import { loadHidden } from "./hidden.js";
import { settle } from "./poll.js";
import { dropFromRising } from "./rising.js";
import { safeUrl } from "./rule.js";
import { get, remember, set } from "./state.js";
import { dropFromTop, forgetTop, WINDOW_ORDER, WINDOWS } from "./top.js";

// Each resolution, with how many buckets the chart shows.
export const STORY_RES = {
  minute: { n: 120, hint: "views per minute, last 2 hours" },
  hour: { n: 48, hint: "views per hour, last 48 hours" },
  day: { n: 30, hint: "views per day, last 30 days" },
};
const RANK_LABELS = { hot: "Now", "1h": "1h", "24h": "24h", "7d": "7d", "30d": "30d", all: "All" };

let seq = 0; // only the newest read is shown
let story = null; // the catalog entry shown
let points = null; // the series shown, drawn again when the window is resized
let readAt = 0; // when it was read (unix s, this browser's clock): how far its newest bucket had run
let missing = false; // not in the catalog: not read again until the view changes
let hidePending = false; // a Hide or Unhide in flight

function chart(data, res, emptyText) {
  drawChart($("story-chart"), $("chart-tip"), data, res, emptyText, readAt);
}

export async function loadStory() {
  const { storyId: id, storyRes: res } = get();
  if (!id || missing) return;
  const mine = ++seq;
  let seriesRead = 0;
  const settled = (p) => p.then((v) => ({ v }), (e) => ({ e }));
  const [entryResult, seriesResult] = await Promise.all([
    settled(api(itemPath(id), {})),
    settled(api(itemPath(id) + "/series?res=" + res + "&n=" + STORY_RES[res].n, {})).then((r) => {
      seriesRead = Date.now() / 1000;
      return r;
    }),
  ]);
  if (mine !== seq || get().storyId !== id || get().view !== "story") return;
  if (entryResult.e) {
    if (entryResult.e.status === 404) {
      missing = true;
      showError("This story is not in the catalog (it may have been deleted).");
      return;
    }
    throw entryResult.e;
  }
  const entry = entryResult.v;
  if (hidePending && story) entry.hidden = story.hidden; // our write is in flight
  story = entry;
  renderStory(entry);
  if (seriesResult.e) throw seriesResult.e;
  if (get().storyRes === res) {
    points = seriesResult.v;
    readAt = seriesRead;
    chart(seriesResult.v, res);
    const pts = Array.isArray(seriesResult.v.points) ? seriesResult.v.points : [];
    const total = pts.reduce((sum, p) => sum + (Array.isArray(p) ? num(p[1]) : 0), 0);
    const zone = siteZone(seriesResult.v.timezone); // the chart's clock
    setText($("chart-hint"), STORY_RES[res].hint + " · " + fmtInt(total) + " in range · " + zone + " time");
  }
}

function showError(message) {
  const err = $("story-error");
  setText(err, message);
  err.hidden = false;
  $("story-head").hidden = true;
  $("hide-toggle").disabled = true;
}

/** The view emptied for another story, "Loading…" until it is read. */
export function clearStory() {
  story = null;
  missing = false;
  points = null;
  $("story-error").hidden = true;
  $("story-head").hidden = false;
  setText($("story-title"), "Loading…");
  setText($("story-summary"), "");
  setText($("story-section"), "");
  $("story-section").hidden = true;
  setText($("story-published"), "");
  setText($("story-state"), "");
  setText($("story-id"), get().storyId || "");
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
  const id = String(e.id || get().storyId);
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
  if (d) pub.setAttribute("datetime", d.toISOString());
  else pub.removeAttribute("datetime");
  const summary = $("story-summary");
  setText(summary, e.summary || "");
  summary.hidden = !e.summary;
  setText($("story-id"), id);
  if (e.views_total != null) setText($("story-total"), fmtInt(e.views_total));
  renderRanks(e.ranks);
  renderHeld(e.held);
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

/** The story's held views, by reason, with why each is held. */
function renderHeld(held) {
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

function renderHideState() {
  const e = story;
  const button = $("hide-toggle");
  const state = $("story-state");
  if (!e) {
    button.disabled = true;
    return;
  }
  const hidden = !!e.hidden;
  setText(button, hidden ? "Unhide" : "Hide from lists");
  button.classList.toggle("btn-danger", !hidden);
  button.classList.toggle("btn-primary", hidden);
  button.setAttribute("aria-pressed", hidden ? "true" : "false");
  button.setAttribute(
    "title",
    hidden
      ? "Put this story back into the Most Viewed lists"
      : "Take this story out of every Most Viewed list at once (it keeps counting views)",
  );
  button.disabled = hidePending;
  setText(state, hidden ? "Hidden from lists" : "Visible in lists");
  state.classList.toggle("is-hidden", hidden);
}

export async function toggleHidden() {
  const e = story;
  const id = get().storyId;
  if (!e || !id || hidePending) return;
  const want = !e.hidden;
  hidePending = true;
  seq++; // an older read must not undo what we show
  e.hidden = want; // show the new state at once
  renderHideState();
  setText($("hide-msg"), want ? "Hiding…" : "Unhiding…");
  try {
    const updated = await api(itemPath(id), { method: "PATCH", body: { hidden: want } });
    if (get().storyId === id && story) {
      const merged = { ...story, ...(updated || {}) };
      if (typeof merged.hidden !== "boolean") merged.hidden = want;
      story = merged;
    }
    const hidden = new Set(get().hidden);
    if (want) hidden.add(id);
    else hidden.delete(id);
    set({ hidden });
    if (want) {
      dropFromTop(id);
      dropFromRising(id);
    } else {
      forgetTop(); // it will be back on the next read
    }
    setText($("hide-msg"), want ? "Hidden from all lists." : "Back in the lists.");
    loadHidden().catch(() => {});
  } catch (err) {
    if (err.code === "auth") return;
    if (get().storyId === id && story) story.hidden = !want;
    setText($("hide-msg"), "Could not " + (want ? "hide" : "unhide") + ": " + errorText(err));
  } finally {
    hidePending = false;
    if (get().storyId === id) renderHideState();
  }
}

/** The chart's resolution: its buttons, and the series read again. */
export function selectRes(res) {
  if (!STORY_RES[res]) return;
  set({ storyRes: res });
  remember("storyRes", res);
  for (const b of $("res-switch").querySelectorAll("[data-res]")) {
    b.setAttribute("aria-pressed", b.getAttribute("data-res") === res ? "true" : "false");
  }
  setText($("chart-hint"), STORY_RES[res].hint);
  if (get().view !== "story") return;
  points = null;
  chart(null, res, "Loading…");
  settle(loadStory());
}

/** The chart drawn again at the page's new width. */
export function redrawChart() {
  if (get().view === "story" && points) chart(points, get().storyRes);
}
