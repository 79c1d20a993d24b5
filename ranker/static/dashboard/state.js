/* Where the editor is: the site and token, the view, and what it shows. The only state
 * more than one module reads; each module keeps its own (answers, caches, timers) to itself.
 * Read with get(), change with set(): the state is frozen, so a stray write throws. */

let current = Object.freeze({
  site: "",
  token: "",
  tokenFromPage: false, // demo mode: the server put the demo site's token in the page
  view: "none", // signin | dash | story
  list: "stories", // what the dashboard lists: stories | authors (#authors)
  author: "", // the stories listed are this author's only (their slug; #author=<slug>)
  window: "hot",
  section: "",
  maxAge: "0", // Most viewed lists stories published within this long (a max_age): "0", any age
  zone: "", // the site's time zone, as the last Rising answer named it
  skew: 0, // the server's clock ahead of this browser's (s), as the last list said
  storyId: null,
  storyRes: "minute",
  sameScaleTop: false, // Most viewed: every sparkline on the list's largest value
  sameScaleRising: false, // Rising: likewise
  hidden: new Set(), // ids of the stories hidden from the lists
});

export function get() {
  return current;
}

export function set(changes) {
  for (const key of Object.keys(changes)) {
    if (!(key in current)) throw new Error("no such state: " + key);
  }
  current = Object.freeze({ ...current, ...changes });
}

// What this tab remembers across reloads (sessionStorage, so it ends with the tab).

export function recall(key) {
  try {
    return window.sessionStorage.getItem("ranker." + key);
  } catch {
    return null;
  }
}

export function remember(key, value) {
  try {
    if (value == null || value === "") window.sessionStorage.removeItem("ranker." + key);
    else window.sessionStorage.setItem("ranker." + key, String(value));
  } catch {
    // storage may be disabled: the session just will not persist
  }
}
