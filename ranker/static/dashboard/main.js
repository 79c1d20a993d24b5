/* Ranker editors' dashboard: the entry module (dashboard.html loads it; the others are
 * imported from here, no build step). It wires the page, routes between the sign-in form,
 * the dashboard (its stories, #author=<slug> for one author's, or #authors) and a story's
 * view (#story=<id>), and says what each polling round reads:
 * the JSON APIs under /v1/sites/{site}/, every 5 s while the tab is visible (the beacon
 * tally, the box's performance and the alerts every 30 s, a site's CDN purges, feeds and
 * alerts every minute while it has none of the kind).
 *
 *   state.js  where the editor is        api.js    requests, token, the answers' text
 *   poll.js   rounds, live indicator     signin.js the form, the session
 *   top.js, rising.js, hidden.js, held.js, beacons.js, sections.js  the dashboard's panels
 *   pins.js   the pins in force (the Pinned panel), pinning and unpinning
 *   purges.js how the site's CDN purge hooks are doing (a panel only when it has hooks)
 *   alerts.js the site's alert hooks and the alerts they were sent (likewise)
 *   feeds.js  how the site's feeds and sitemaps are doing (a panel only when it has some)
 *   authors.js  the authors ranked by their stories' views
 *   box.js    Box performance: the Most viewed box's impressions and clicks per placement
 *   story.js  a story's view             chart.js  the SVG charts
 *   dom.js, format.js, rule.js  helpers: building the page, numbers and words, the catalog's rule
 */

import { alertsDue, loadAlerts, resetAlerts } from "./alerts.js";
import { whenRefused } from "./api.js";
import { loadAuthors, resetAuthors, showCachedAuthors } from "./authors.js";
import { beaconsDue, loadBeacons, resetBeacons } from "./beacons.js";
import { boxDue, loadBox, resetBox, restoreBoxWindow, selectBoxWindow } from "./box.js";
import { $, listInHash, setText, storyInHash } from "./dom.js";
import { feedsDue, loadFeeds, resetFeeds, showFeeds } from "./feeds.js";
import { loadHeld, release, resetHeld } from "./held.js";
import { clearHidden, loadHidden, renderHidden, unhide } from "./hidden.js";
import { loadPins, resetPins, showPinned, unpinFromPanel, whenPinsChange } from "./pins.js";
import { isQuiet, markResult, onVisibilityChange, pollWith, refreshNow, settle, showConnecting } from "./poll.js";
import { loadPurges, purgesDue, resetPurges, showPurges } from "./purges.js";
import { clearRising, loadRising, shareRisingScale, showCachedRising } from "./rising.js";
import { addSectionOption, loadSections, resetSections } from "./sections.js";
import { restoreSession, showSignin, tokenRefused, wireSignin } from "./signin.js";
import { get, recall, remember, set } from "./state.js";
import { clearStory, loadStory, redrawChart, selectRes, STORY_RES, toggleHidden } from "./story.js";
import {
  isMaxAge,
  loadTop,
  markMaxAge,
  markWindowTab,
  pinButton,
  redrawTop,
  resetTop,
  selectMaxAge,
  selectWindow,
  shareTopScale,
  showCachedTop,
  WINDOW_ORDER,
  WINDOWS,
} from "./top.js";

let cameFromDash = false; // the story view was opened from the dashboard: Back goes back
let cameFromAuthors = false; // an author's stories were opened from Authors: Back goes back

const LISTS = ["stories", "authors"];

/** Reads the list the dashboard shows: the stories (maybe one author's) or the authors. */
function readList() {
  return get().list === "authors" ? loadAuthors() : loadTop();
}

/** Shows the list last read for what is chosen, at once, until it is read again. */
function showList() {
  if (get().list === "authors") showCachedAuthors();
  else showCachedTop();
}

/** What one polling round reads: whatever the current view shows. */
function roundReads() {
  if (get().view === "story") return [loadStory()];
  const zone = get().zone;
  // Rising names the site's time zone: the pins', purges' and feeds' times are told by it.
  const rising = loadRising().then(() => {
    if (get().zone === zone) return;
    redrawTop();
    showPinned();
    showPurges();
    showFeeds();
  });
  const reads = [readList(), rising, loadHidden(), loadHeld(), loadPins()];
  if (beaconsDue()) reads.push(loadBeacons());
  if (purgesDue()) reads.push(loadPurges()); // which says its failures, never throws
  if (alertsDue()) reads.push(loadAlerts()); // likewise
  if (feedsDue()) reads.push(loadFeeds()); // likewise
  if (boxDue()) reads.push(loadBox()); // likewise
  loadSections(); // not part of the round: its failure is no sign of a broken connection
  return reads;
}

function chooseWindow(win, focus) {
  if (!WINDOWS[win]) return;
  selectWindow(win, focus);
  showList();
  settle(readList()); // which drops any answer for the previous window
}

/** Only stories published within `maxAge` listed (a MAX_AGES key; "0": any age). */
function chooseMaxAge(maxAge) {
  if (!isMaxAge(maxAge)) return;
  selectMaxAge(maxAge);
  if (get().view !== "dash" || get().list !== "stories") return;
  showList();
  settle(readList());
}

/** The list tabs' state: Stories or Authors selected, and only it in the tab order. */
function markListTab(list, focus) {
  for (const b of $("lists").querySelectorAll("[data-list]")) {
    const on = b.getAttribute("data-list") === list;
    b.setAttribute("aria-selected", on ? "true" : "false");
    b.tabIndex = on ? 0 : -1;
    if (on && focus) b.focus();
  }
  $("stories-view").hidden = list !== "stories";
  $("authors-view").hidden = list !== "authors";
}

/** Stories (all of them) or Authors chosen: where the page's hash says. */
function chooseList(list) {
  const hash = list === "authors" ? "#authors" : "";
  if (location.hash !== hash) location.hash = hash;
}

function selectSection(section) {
  set({ section });
  remember("section", section);
  clearRising();
  if (get().view !== "dash") return;
  showList();
  Promise.all([
    readList().then(() => true, (e) => isQuiet(e)),
    loadRising().then(() => true, (e) => isQuiet(e)),
  ]).then((r) => markResult(r.every(Boolean)));
}

/** Signed in to another site: nothing of the last one stays. */
function resetSite() {
  set({ section: "", zone: "", skew: 0, hidden: new Set() });
  resetTop();
  resetPins();
  resetAuthors();
  clearRising();
  clearHidden();
  resetHeld();
  resetBeacons();
  resetPurges();
  resetAlerts();
  resetFeeds();
  resetBox();
  resetSections();
}

function route() {
  if (!get().token) {
    showSignin("");
    return;
  }
  $("signin-view").hidden = true;
  $("topbar-tools").hidden = false;
  setText($("site-name"), get().site);
  const id = storyInHash();
  const wasView = get().view;
  if (id) {
    const changed = get().storyId !== id || wasView !== "story";
    cameFromDash = wasView === "dash";
    set({ view: "story", storyId: id });
    $("dash").hidden = true;
    $("story").hidden = false;
    if (changed) {
      clearStory();
      selectRes(get().storyRes);
      window.scrollTo(0, 0);
    }
  } else {
    const { list, author } = listInHash();
    const listChanged = list !== get().list || author !== get().author;
    if (listChanged && wasView === "dash") cameFromAuthors = get().list === "authors" && !!author;
    set({ view: "dash", storyId: null, list, author });
    $("story").hidden = true;
    $("dash").hidden = false;
    markListTab(list, false);
    const what = list === "authors" ? "Authors" : "Most viewed";
    document.title = (get().site ? get().site + " · " : "") + what + " · Ranker";
    if (wasView !== "dash" || listChanged) showList();
    if (wasView !== "dash") showCachedRising();
  }
  refreshNow();
}

function start() {
  set({ view: "none" });
  showConnecting();
  route();
}

function wire() {
  wireSignin((hidden, siteChanged) => {
    if (siteChanged) resetSite();
    renderHidden(hidden);
    start();
  });
  whenRefused(tokenRefused);

  const lists = $("lists");
  lists.addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-list]");
    if (b) chooseList(b.getAttribute("data-list"));
  });
  lists.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft" && ev.key !== "Home" && ev.key !== "End") return;
    ev.preventDefault();
    const i = LISTS.indexOf(get().list);
    const n = LISTS.length;
    const next = ev.key === "Home" ? 0 : ev.key === "End" ? n - 1 : (i + (ev.key === "ArrowRight" ? 1 : -1) + n) % n;
    chooseList(LISTS[next]);
    markListTab(LISTS[next], true);
  });
  $("author-back").addEventListener("click", (ev) => {
    ev.preventDefault();
    if (cameFromAuthors && history.length > 1) history.back();
    else location.hash = "#authors";
  });

  const tabs = $("windows");
  tabs.addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-window]");
    if (b && b.getAttribute("data-window") !== get().window) chooseWindow(b.getAttribute("data-window"), false);
  });
  tabs.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft" && ev.key !== "Home" && ev.key !== "End") return;
    ev.preventDefault();
    const i = WINDOW_ORDER.indexOf(get().window);
    const n = WINDOW_ORDER.length;
    const next = ev.key === "Home" ? 0 : ev.key === "End" ? n - 1 : (i + (ev.key === "ArrowRight" ? 1 : -1) + n) % n;
    chooseWindow(WINDOW_ORDER[next], true);
  });

  $("box-windows").addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-box-window]");
    if (b && selectBoxWindow(b.getAttribute("data-box-window")) && get().view === "dash") loadBox();
  });

  $("section").addEventListener("change", (ev) => selectSection(ev.target.value));
  $("mv-max-age").addEventListener("change", (ev) => chooseMaxAge(ev.target.value));
  $("mv-same-scale").addEventListener("change", (ev) => shareTopScale(ev.target.checked));
  $("rising-same-scale").addEventListener("change", (ev) => shareRisingScale(ev.target.checked));

  $("res-switch").addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-res]");
    if (b && b.getAttribute("data-res") !== get().storyRes) selectRes(b.getAttribute("data-res"));
  });

  $("hide-toggle").addEventListener("click", toggleHidden);

  $("most-viewed").addEventListener("click", (ev) => {
    const b = ev.target.closest("button.pin-btn");
    if (b) pinButton(b);
  });
  whenPinsChange(redrawTop);
  $("pins-list").addEventListener("click", (ev) => {
    const b = ev.target.closest("button.unpin");
    if (b) unpinFromPanel(b);
  });

  $("hidden-list").addEventListener("click", (ev) => {
    const b = ev.target.closest("button.unhide");
    if (b) unhide(b);
  });

  $("held-list").addEventListener("click", (ev) => {
    const b = ev.target.closest("button.release");
    if (b) release(b);
  });

  $("story-back").addEventListener("click", (ev) => {
    ev.preventDefault();
    if (cameFromDash && history.length > 1) history.back();
    else location.hash = "";
  });

  $("brand").addEventListener("click", (ev) => {
    ev.preventDefault();
    if (get().view === "story" || get().list !== "stories" || get().author) location.hash = "";
  });

  window.addEventListener("hashchange", () => {
    if (get().token) route();
  });
  document.addEventListener("visibilitychange", onVisibilityChange);

  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(redrawChart, 120);
  });
}

function init() {
  wire();
  pollWith(roundReads);
  restoreSession();
  const win = recall("window");
  const res = recall("storyRes");
  const maxAge = recall("maxAge");
  set({
    window: win && WINDOWS[win] ? win : get().window,
    section: recall("section") || "",
    maxAge: isMaxAge(maxAge) ? maxAge : get().maxAge,
    storyRes: res && STORY_RES[res] ? res : get().storyRes,
    sameScaleTop: recall("sameScaleTop") === "1",
    sameScaleRising: recall("sameScaleRising") === "1",
  });
  markWindowTab(get().window, false);
  restoreBoxWindow();
  markMaxAge(get().maxAge);
  $("mv-same-scale").checked = get().sameScaleTop;
  $("rising-same-scale").checked = get().sameScaleRising;
  if (get().section) addSectionOption(get().section);
  setText($("site-name"), get().site);
  $("signin-site").value = get().site;
  if (!get().token) {
    showSignin("");
    return;
  }
  start();
}

// A module runs once the document is parsed: the elements are all there.
init();
