/* The JSON APIs under /v1/sites/{site}/: requests with the site's token in the
 * Authorization header (never in a URL), a timeout, and every answer's text cleaned by
 * the catalog's rule as it is parsed. */

import { cleanText } from "./rule.js";
import { get } from "./state.js";

const TIMEOUT_MS = 10000;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || "HTTP " + status);
    this.status = status;
    this.code = code || "";
  }
}

/** What a failed request says, for an editor. */
export function errorText(e) {
  return e.message || "HTTP " + e.status;
}

let onRefused = () => {};

/** Who is told when the server refuses the token (401 or 403): sign-in, with its message. */
export function whenRefused(handler) {
  onRefused = handler;
}

export function sitePath(rest) {
  return "/v1/sites/" + encodeURIComponent(get().site) + rest;
}

export function itemPath(id) {
  return sitePath("/items/" + encodeURIComponent(id));
}

export function pinPath(id) {
  return sitePath("/pins/" + encodeURIComponent(id));
}

export function seriesPath(ids, res, n) {
  return sitePath("/series?ids=" + ids.map(encodeURIComponent).join(",") + "&res=" + res + "&n=" + n);
}

/** Every string the server sends, shown without controls or bidi overrides (the
 * catalog's text rule), so an old entry cannot reorder what an editor reads. Links keep
 * theirs: safeUrl refuses them whole. */
function cleanStrings(key, value) {
  if (typeof value !== "string" || key === "url" || key === "image") return value;
  return cleanText(value);
}

/** The parsed answer of a request (null for 204 No Content); throws ApiError. opts:
 * method, body (sent as JSON), auth (false for the public reads). */
export async function api(path, opts) {
  const o = opts || {};
  const auth = o.auth !== false;
  const token = get().token;
  const headers = { Accept: "application/json" };
  if (auth) {
    if (!token) throw new ApiError(401, "auth", "Sign in to continue.");
    headers.Authorization = "Bearer " + token;
  }
  const init = {
    method: o.method || "GET",
    headers,
    cache: "no-cache", // revalidate (ETag) instead of reusing a max-age'd answer
    credentials: "same-origin",
    referrerPolicy: "no-referrer",
  };
  if (o.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(o.body);
  }
  const ctl = typeof AbortController === "function" ? new AbortController() : null;
  if (ctl) init.signal = ctl.signal;
  const timer = ctl ? setTimeout(() => ctl.abort(), TIMEOUT_MS) : 0;
  let res;
  let data = null;
  try {
    res = await fetch(path, init);
    const text = await res.text();
    if (text) {
      try {
        data = JSON.parse(text, cleanStrings);
      } catch {
        data = null;
      }
    }
  } catch {
    throw new ApiError(0, "network", "The server could not be reached.");
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok) {
    const code = data && typeof data.error === "string" ? data.error : "";
    const message = data && typeof data.message === "string" ? data.message : "";
    if (auth && (res.status === 401 || res.status === 403)) {
      // Only if the token is still the one refused: the editor may have signed in anew.
      if (token === get().token) onRefused(res.status, message);
      throw new ApiError(res.status, "auth", message);
    }
    throw new ApiError(res.status, code, message);
  }
  if (res.status === 204) return null;
  if (data == null || typeof data !== "object") {
    throw new ApiError(res.status, "bad_json", "Unexpected answer from the server.");
  }
  return data;
}
