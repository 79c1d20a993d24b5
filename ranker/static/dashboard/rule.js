/* The catalog's link and text rule (ranker/validate.py, whose patterns these are, verbatim:
 * tests/test_url_rule.py checks), applied again where entries are shown, since entries
 * stored before the rule may break it. The one browser copy: the dashboard imports it, and
 * widget.js is built with it (src/widget.js). */
/* eslint no-control-regex: "off" -- refusing control characters is the rule's point */

/** An http(s) URL or a path on the site ("/x", never "//host"), without whitespace,
 * controls, bidi characters or "\" (browsers read "/\host" as "//host"); else null. */
export function safeUrl(url) {
  if (typeof url !== "string") return null;
  const u = url.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "");
  const refused = /[\x00-\x20\x7f-\x9f\\\xa0\u061c\u1680\u2000-\u200a\u200e\u200f\u2028-\u202f\u205f\u2066-\u2069\u3000]/;
  // eslint-disable-next-line no-useless-escape -- verbatim LINK_RE, "\/" and all
  return /^(?:https?:\/\/[^\/?#]|\/(?!\/))/i.test(u) && !refused.test(u) ? u : null;
}

/** Text without controls or bidi overrides, so that an entry cannot show in another order
 * than it reads; the bidi marks right-to-left titles need stay. */
export function cleanText(text) {
  return String(text).replace(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, "");
}
