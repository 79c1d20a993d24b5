/* Polling and the live indicator: one round of reads every 5 s while the tab is visible,
 * never two at once, and "Live", "Reconnecting…" or "Paused" in the top bar. What a round
 * reads is the caller's (pollWith). */

import { ApiError } from "./api.js";
import { $, setText } from "./dom.js";
import { clock } from "./format.js";
import { get } from "./state.js";

const POLL_MS = 5000;
const LABELS = { live: "Live", reconnecting: "Reconnecting…", paused: "Paused", idle: "Connecting…" };

let reads = () => [];
let timer = 0;
let ticking = false;
let again = false; // asked for a round while one was running: another right after it
let lastOk = null;
let failing = false;

/** What one round reads: a function returning the promises of the current view's reads. */
export function pollWith(roundReads) {
  reads = roundReads;
}

function setLive(state) {
  $("live").setAttribute("data-state", state);
  setText($("live-label"), LABELS[state] || "");
  if (lastOk) {
    setText($("last-update"), "Updated " + clock(lastOk, true));
    $("last-update").setAttribute("title", "Last successful update: " + lastOk.toLocaleString());
  }
}

/** "Connecting…" on a fresh start, unless the last round failed. */
export function showConnecting() {
  setLive(failing ? "reconnecting" : "idle");
}

/** Whether the connection works, after reads outside a round. */
export function markResult(ok) {
  if (ok) {
    lastOk = new Date();
    failing = false;
    setLive(document.hidden ? "paused" : "live");
  } else {
    failing = true;
    setLive("reconnecting");
  }
}

/** Errors that are not the connection's fault do not flip the live state. */
export function isQuiet(e) {
  if (e && e.code === "auth") return true;
  if (e && e.status >= 400 && e.status < 500) return true; // shown where they happen
  if (e && !(e instanceof ApiError) && window.console) console.warn(e);
  return false;
}

/** markResult for a read outside a round. */
export function settle(promise) {
  promise.then(
    () => markResult(true),
    (e) => {
      if (!isQuiet(e)) markResult(false);
    },
  );
}

export function stopPolling() {
  clearTimeout(timer);
  timer = 0;
}

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(tick, ms);
}

function signedOut() {
  return !get().token || get().view === "signin";
}

/** One round: whatever the current view shows. Never overlaps itself. */
async function tick() {
  stopPolling();
  if (signedOut()) return;
  if (document.hidden) {
    setLive("paused");
    return;
  }
  if (ticking) {
    again = true;
    return;
  }
  ticking = true;
  again = false;
  const jobs = reads();
  const results = await Promise.all(jobs.map((p) => p.then(() => true, (e) => isQuiet(e))));
  ticking = false;
  if (signedOut()) return;
  markResult(results.every(Boolean));
  if (document.hidden) {
    setLive("paused"); // resumed by visibilitychange
    return;
  }
  schedule(again ? 0 : POLL_MS);
}

/** A round now, or right after the one running. */
export function refreshNow() {
  if (ticking) {
    again = true;
    return;
  }
  schedule(0);
}

export function onVisibilityChange() {
  if (signedOut()) return;
  if (document.hidden) {
    stopPolling();
    setLive("paused");
  } else {
    setLive(failing ? "reconnecting" : "live");
    refreshNow();
  }
}
