/* Authors (#authors): who wrote the most viewed stories of the chosen window and section,
 * each with their stories' views, how many of their stories were read and the most read
 * one. An author's name opens Most viewed with their stories only (#author=<slug>). */

import { api, errorText, sitePath } from "./api.js";
import { $, authorHash, el, setText, storyHash } from "./dom.js";
import { fmtInt, fmtViews, num } from "./format.js";
import { get } from "./state.js";

const AUTHORS_N = 20;
// Each window in words, after "of each author's stories".
const SPANS = {
  hot: "now",
  "1h": "in the last hour",
  "24h": "in the last 24 hours",
  "7d": "in the last 7 days",
  "30d": "in the last 30 days",
  all: "of all time",
};

let seq = 0; // only the newest read is shown
const cache = new Map(); // "window|section" -> the answer: shown at once when chosen again
const names = new Map(); // slug -> the author's name, from every answer read

function listKey() {
  return get().window + "|" + get().section;
}

function shownNow() {
  return get().view === "dash" && get().list === "authors";
}

export async function loadAuthors() {
  const mine = ++seq;
  const key = listKey();
  const { window: win, section } = get();
  let u = sitePath("/authors/top?n=" + AUTHORS_N + "&window=" + encodeURIComponent(win));
  if (section) u += "&section=" + encodeURIComponent(section);
  let data;
  try {
    data = await api(u, {});
  } catch (e) {
    if (mine === seq && e.code !== "auth" && key === listKey() && shownNow()) {
      const had = cache.has(key);
      showError("Could not read the authors: " + errorText(e) + (had ? " The list below may be out of date." : ""));
      if (!had) $("authors-empty").hidden = true;
    }
    throw e;
  }
  if (mine !== seq || get().view === "signin") return;
  cache.set(key, data);
  for (const a of items(data)) names.set(String(a.author), String(a.name || a.author));
  if (key !== listKey()) return;
  showError("");
  if (shownNow()) renderAuthors(data);
}

function items(data) {
  return data && Array.isArray(data.items) ? data.items.filter((a) => a && typeof a.author === "string") : [];
}

function showError(text) {
  const err = $("authors-error");
  setText(err, text);
  err.hidden = !text;
}

function buildItem(slug) {
  const li = el("li", { "data-author": slug, class: "author-item" });
  const main = el("div", { class: "a-main" });
  const meta = el("p", { class: "a-meta" });
  const top = el("a", { class: "story-link" });
  meta.append(el("span", { class: "a-stories" }), el("span", { class: "a-top-label" }, " · Top: "), top);
  main.append(el("a", { class: "author-link", href: authorHash(slug) }), meta);
  const side = el("div", { class: "a-side" });
  side.append(el("span", { class: "a-views" }), el("span", { class: "a-unit" }));
  li.append(el("span", { class: "a-rank" }), main, side);
  return li;
}

function renderAuthors(data) {
  const win = get().window;
  const list = $("authors");
  const shown = items(data);
  const existing = new Map();
  for (const li of Array.from(list.children)) existing.set(li.getAttribute("data-author"), li);
  const frag = document.createDocumentFragment();
  shown.forEach((a, idx) => {
    let li = existing.get(a.author);
    if (li) existing.delete(a.author);
    else li = buildItem(a.author);
    const [rank, main, side] = li.children;
    setText(rank, num(a.rank) || idx + 1);
    const [link, meta] = main.children;
    const name = a.name || a.author;
    setText(link, name);
    link.setAttribute("title", "Most viewed stories by " + name);
    const n = Math.max(0, Math.round(num(a.stories)));
    const [stories, topLabel, top] = meta.children;
    setText(stories, (n === 1 ? "1 story" : fmtInt(n) + " stories") + " read");
    const story = a.top_story && typeof a.top_story === "object" ? a.top_story : null;
    topLabel.hidden = !story;
    top.hidden = !story;
    if (story) {
      const id = String(story.id);
      top.setAttribute("href", storyHash(id));
      setText(top, story.title || id);
      top.setAttribute("title", story.title || id);
    }
    const [views, unit] = side.children;
    setText(views, fmtViews(a.views, win));
    setText(unit, win === "hot" ? "trending score" : num(a.views) === 1 ? "view" : "views");
    frag.appendChild(li);
  });
  for (const li of existing.values()) li.remove();
  list.appendChild(frag);
  const empty = $("authors-empty");
  const section = get().section;
  setText(
    empty,
    "No story with a byline was read" + (section ? " in “" + section + "”" : "") + " in this window yet.",
  );
  empty.hidden = shown.length > 0;
  let note =
    (win === "hot" ? "Trending score" : "Views") + " of each author's stories " + SPANS[win] +
    "; a story by two authors counts for both.";
  if (data && data.complete === false) {
    note += " Counted over the " + fmtInt(data.stories) + " most viewed stories.";
  }
  setText($("authors-note"), note);
  $("authors-note").hidden = !shown.length;
}

/** The last list read for the current window and section, or "Loading…" until one is. */
export function showCachedAuthors() {
  showError("");
  const data = cache.get(listKey());
  if (data) {
    renderAuthors(data);
    return;
  }
  $("authors").textContent = "";
  $("authors-note").hidden = true;
  const empty = $("authors-empty");
  setText(empty, "Loading…");
  empty.hidden = false;
}

/** An author's name, by their slug: as an answer named them, or as a story lists it
 * (`stories`: items with `authors`), or the slug itself. */
export function authorName(slug, stories) {
  if (names.has(slug)) return names.get(slug);
  for (const it of stories || []) {
    for (const name of Array.isArray(it.authors) ? it.authors : []) {
      if (typeof name === "string" && slugOf(name) === slug) return name;
    }
  }
  return slug;
}

/** A name as lists are asked for it ("Jane Doe" -> "jane-doe"), near enough the server's
 * rule to recognise a name in a story's byline. */
function slugOf(name) {
  return name
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}]+/gu, "-")
    .replace(/^-+|-+$/g, "");
}

/** Another site: nothing of the last one's authors stays. */
export function resetAuthors() {
  seq++;
  cache.clear();
  names.clear();
  $("authors").textContent = "";
}
