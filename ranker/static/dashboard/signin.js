/* Signing in and out: the site and its token, kept in this tab's session storage and sent
 * only in the Authorization header. In demo mode the server puts the demo site's token in
 * the page, and it is used until the server refuses it. */

import { api, errorText, sitePath } from "./api.js";
import { $, setText } from "./dom.js";
import { stopPolling } from "./poll.js";
import { get, recall, remember, set } from "./state.js";

/** The site and token this tab starts with: the page's ?site= wins, else the site signed in
 * to in this tab; in demo mode the server fills data-token, and the demo site is "demo". */
export function restoreSession() {
  const pageSite = (document.body.getAttribute("data-site") || "").trim();
  const pageToken = (document.body.getAttribute("data-token") || "").trim();
  const storedSite = recall("site") || "";
  const storedToken = recall("token") || "";
  const site = pageSite || storedSite || (pageToken ? "demo" : "");
  if (storedToken && storedSite === site) {
    set({ site, token: storedToken, tokenFromPage: false });
  } else if (pageToken && recall("pageTokenRefused") !== "1") {
    set({ site, token: pageToken, tokenFromPage: true });
  } else {
    set({ site, token: "", tokenFromPage: false });
  }
}

function forgetToken() {
  if (get().tokenFromPage) remember("pageTokenRefused", "1");
  remember("token", null);
  set({ token: "", tokenFromPage: false });
}

/** The server refused the token (401 or 403): back to the form, saying so. */
export function tokenRefused(status, message) {
  forgetToken();
  stopPolling();
  const why = status === 403 ? "This token is not allowed for " : "The token was not accepted for ";
  showSignin(why + "“" + get().site + "”" + (message ? " (" + message + ")" : "") + ". Please sign in again.");
}

export function showSignin(message) {
  set({ view: "signin" });
  stopPolling();
  $("signin-view").hidden = false;
  $("dash").hidden = true;
  $("story").hidden = true;
  $("topbar-tools").hidden = true;
  setText($("site-name"), get().site);
  const msg = $("signin-msg");
  setText(msg, message || "");
  msg.hidden = !message;
  const siteInput = $("signin-site");
  if (!siteInput.value) siteInput.value = get().site;
  $("signin-token").value = "";
  document.title = "Sign in · Ranker";
  (siteInput.value ? $("signin-token") : siteInput).focus();
}

function signOut() {
  forgetToken();
  showSignin("Signed out.");
}

/** The form's handlers. `signedIn(hidden, siteChanged)` starts the dashboard with the
 * hidden stories the check read. */
export function wireSignin(signedIn) {
  $("signin").addEventListener("submit", (ev) => onSubmit(ev, signedIn));
  $("signout").addEventListener("click", signOut);
}

async function onSubmit(ev, signedIn) {
  ev.preventDefault();
  const site = $("signin-site").value.trim();
  const token = $("signin-token").value.trim();
  const msg = $("signin-msg");
  if (!site || !token) {
    setText(msg, !site ? "Enter the site name." : "Enter the site's token.");
    msg.hidden = false;
    return;
  }
  const button = $("signin-submit");
  button.disabled = true;
  setText(button, "Checking…");
  const prevSite = get().site;
  set({ site, token, tokenFromPage: false });
  try {
    // Any token-checked read will do: it proves the site exists and the token works.
    const hidden = await api(sitePath("/items?hidden=true"), {});
    remember("site", site);
    remember("token", token);
    $("signin-token").value = "";
    signedIn(hidden, site !== prevSite);
  } catch (e) {
    set({ token: "" });
    let text;
    if (e.code === "auth") text = "That token was not accepted for “" + site + "”.";
    else if (e.status === 404) text = "There is no site called “" + site + "”.";
    else if (e.status === 0) text = "The server could not be reached. Try again in a moment.";
    else text = "Sign-in failed: " + errorText(e);
    if (get().view !== "signin") showSignin(text);
    setText(msg, text);
    msg.hidden = false;
  } finally {
    button.disabled = false;
    setText(button, "Sign in");
  }
}
