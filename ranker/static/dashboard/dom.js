/* Building and updating the page. Untrusted text only ever reaches the DOM through
 * textContent and setAttribute; SVG is built with createElementNS. */

const SVG_NS = "http://www.w3.org/2000/svg";

export const $ = (id) => document.getElementById(id);

/** A new element with attributes (null and false ones left out) and text. */
export function el(tag, attrs, text) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const k of Object.keys(attrs)) {
      if (attrs[k] != null && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    }
  }
  if (text != null) node.textContent = String(text);
  return node;
}

/** A new SVG element with attributes (null ones left out). */
export function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  if (attrs) {
    for (const k of Object.keys(attrs)) {
      if (attrs[k] != null) node.setAttribute(k, String(attrs[k]));
    }
  }
  return node;
}

/** Sets a node's text only when it changed: untouched nodes do not reflow or flicker. */
export function setText(node, value) {
  const s = value == null ? "" : String(value);
  if (node.textContent !== s) node.textContent = s;
}

/** Where a story's own view is: the page's hash. */
export function storyHash(id) {
  return "#story=" + encodeURIComponent(id);
}

/** The story id in the page's hash, or null on the dashboard. */
export function storyInHash() {
  const m = /^#story=(.+)$/.exec(location.hash || "");
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

/** Where an author's stories are listed: the page's hash. */
export function authorHash(slug) {
  return "#author=" + encodeURIComponent(slug);
}

/** What the dashboard lists by the page's hash: {list: "authors"} for #authors, the
 * stories of one author for #author=<slug>, else all stories. */
export function listInHash() {
  const h = location.hash || "";
  if (h === "#authors") return { list: "authors", author: "" };
  const m = /^#author=(.+)$/.exec(h);
  let author = "";
  if (m) {
    try {
      author = decodeURIComponent(m[1]);
    } catch {
      author = "";
    }
  }
  return { list: "stories", author };
}
