"""What a feed or a sitemap says, pure: its document read into items (RSS 0.9x/1.0/2.0 and
Atom through feedparser; sitemaps, Google News sitemaps and sitemap indexes through
defusedxml), and each item made a catalog entry: its id and section by the feed's rules,
its text cleaned and cut to the catalog's rule (ranker.core.validate), which has the last
word. A document that declares XML entities is refused whole: legitimate feeds never do,
and entity expansion is how XML bombs and external-entity reads (XXE) work."""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Final
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element, ParseError

import feedparser
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ranker.core.feeds import ID_RULES, Feed
from ranker.core.validate import (
    FACETS,
    MAX_NAME,
    MAX_SUMMARY,
    MAX_TITLE,
    MAX_URL,
    WHITESPACE,
    InvalidInput,
    catalog_entry,
    clean_text,
    is_section,
    safe_url,
)

MAX_CHILDREN: Final = 20  # child sitemaps of an index read in one pass (the newest first)
# "<!ENTITY" as ASCII (and so UTF-8) and as UTF-16 of either byte order.
_ENTITY: Final = re.compile(
    b"<!ENTITY|<\x00!\x00E\x00N\x00T\x00I\x00T\x00Y\x00|\x00<\x00!\x00E\x00N\x00T\x00I\x00T\x00Y"
)
_HTML_TYPES: Final = ("text/html", "application/xhtml+xml")


class FeedError(ValueError):
    """A document that cannot be read as a feed or sitemap; the message says why, for
    editors, and holds nothing of the document's address."""


@dataclass(slots=True)
class FeedItem:
    """An item of a feed or a sitemap, as read: nothing checked yet."""

    guid: str = ""
    link: str = ""
    title: str = ""
    title_is_html: bool = False
    published: str | float | None = None  # ISO-8601 or unix seconds
    summary: str = ""
    summary_is_html: bool = True
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    image: str = ""


@dataclass(frozen=True, slots=True)
class Document:
    kind: str  # "rss", "atom", "sitemap" or "sitemap index"
    items: list[FeedItem]
    children: list[str]  # a sitemap index's sitemaps, the newest first


def read(body: bytes, url: str, content_type: str = "") -> Document:
    """The items of a feed or sitemap document fetched from `url` (relative links are read
    against it); FeedError when it is neither, or declares entities."""
    if _ENTITY.search(body):
        raise FeedError(
            "the document declares XML entities: refused (entity expansion and external "
            "entities are how XML bombs and XXE work)"
        )
    try:
        root = fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise FeedError(f"refused: {type(e).__name__}") from None
    except (ParseError, ValueError):
        root = None  # not well-formed XML: feedparser reads many such feeds all the same
    if root is not None and _local(root.tag) in ("urlset", "sitemapindex"):
        return _sitemap(root, url)
    return _feed(body, url, content_type)


def _feed(body: bytes, url: str, content_type: str) -> Document:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # A stream, never a string: feedparser would take a string for a URL or a path to open.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    version = str(parsed.get("version") or "")
    if not version and not parsed.entries:
        problem = parsed.get("bozo_exception")
        why = f" ({type(problem).__name__})" if problem else ""
        raise FeedError(f"neither a feed (RSS, Atom) nor a sitemap{why}")
    kind = "atom" if version.startswith("atom") else "rss"
    return Document(kind, [_feed_item(e) for e in parsed.entries], [])


def _is_html(detail: Any) -> bool:
    return isinstance(detail, dict) and detail.get("type") in _HTML_TYPES


def _feed_item(e: Any) -> FeedItem:
    summary, summary_detail = e.get("summary", ""), e.get("summary_detail")
    if e.get("content") and not (summary and summary_detail):  # Atom with content only
        summary, summary_detail = e.content[0].get("value", ""), e.content[0]
    when = e.get("published_parsed") or e.get("updated_parsed")
    authors = [a.get("name", "") for a in e.get("authors", []) if isinstance(a, dict)]
    if not any(authors) and e.get("author"):
        authors = [e.author]
    return FeedItem(
        guid=e.get("id", ""),
        link=e.get("link", ""),
        title=e.get("title", ""),
        title_is_html=_is_html(e.get("title_detail")),
        published=calendar.timegm(when) if when else None,
        summary=summary,
        summary_is_html=_is_html(summary_detail),
        authors=[a for a in authors if a],
        categories=[t.get("term") or t.get("label") or "" for t in e.get("tags", [])],
        image=_image(e),
    )


def _image(e: Any) -> str:
    """The item's picture: media:content that is an image, else media:thumbnail, else an
    enclosure of an image type."""
    for media in e.get("media_content", []):
        kind = media.get("medium") or media.get("type", "").split("/")[0]
        if kind == "image" and media.get("url"):
            return str(media["url"])
    for thumbnail in e.get("media_thumbnail", []):
        if thumbnail.get("url"):
            return str(thumbnail["url"])
    for link in e.get("enclosures", []):
        if str(link.get("type", "")).startswith("image/") and link.get("href"):
            return str(link["href"])
    return ""


def _local(tag: object) -> str:
    """An element's name without its namespace."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(parent: Element | None, name: str) -> Element | None:
    if parent is None:
        return None
    return next((c for c in parent if _local(c.tag) == name), None)


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _sitemap(root: Element, url: str) -> Document:
    """A sitemap's pages (with Google News' and image extensions), or an index's sitemaps."""
    if _local(root.tag) == "sitemapindex":
        found = [
            (_text(_child(s, "lastmod")), urljoin(url, _text(_child(s, "loc"))))
            for s in root
            if _local(s.tag) == "sitemap" and _text(_child(s, "loc"))
        ]
        found.sort(key=lambda lc: lc[0], reverse=True)  # W3C dates sort as text; none last
        return Document("sitemap index", [], [loc for _, loc in found[:MAX_CHILDREN]])
    items = []
    for page in root:
        loc = _text(_child(page, "loc"))
        if _local(page.tag) != "url" or not loc:
            continue
        news = _child(page, "news")
        keywords = _text(_child(news, "keywords"))
        items.append(
            FeedItem(
                link=urljoin(url, loc),
                title=_text(_child(news, "title")),
                # When it was published; a sitemap without News says only when it changed.
                published=_text(_child(news, "publication_date"))
                or _text(_child(page, "lastmod"))
                or None,
                categories=[k.strip() for k in keywords.split(",") if k.strip()],
                image=_text(_child(_child(page, "image"), "loc")),
            )
        )
    return Document("sitemap", items, [])


# -- items as catalog entries ------------------------------------------------------------


class Skip(ValueError):
    """An item that makes no catalog entry; the message says why, for editors (who are
    told which item beside it)."""


_NOT_ID: Final = re.compile(r"[^A-Za-z0-9_.:-]+")
_SPACES: Final = re.compile(f"[{re.escape(WHITESPACE)}]+")
MAX_ID: Final = 128


def as_id(text: str) -> str:
    """`text` as a catalog id: each run of other characters than A-Z a-z 0-9 _ . : - made
    one "-", starting and ending with a letter or digit; past 128 characters, the first 115,
    "-" and 12 hex digits of the whole one's SHA-256. "" when nothing is left."""
    made = _NOT_ID.sub("-", text)
    made = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", made)
    if len(made) > MAX_ID:
        made = f"{made[:115]}-{hashlib.sha256(made.encode()).hexdigest()[:12]}"
    return made


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def item_id(item: FeedItem, rule: str) -> str:
    """The id the rule makes of an item (see README: feed sync); Skip if none."""
    if rule == "guid":
        source = item.guid or item.link
        if re.match(r"https?://", source, re.IGNORECASE):
            source = _path_and_query(source)
    elif rule == "link":
        parts = urlsplit(item.link)
        source = (parts.hostname or "") + _path_and_query(item.link)
    elif rule == "path":
        source = urlsplit(item.link).path
    else:
        found = re.search(rule, item.link)
        if not found:
            raise Skip("the id pattern does not match the link")
        source = found.group(1) or ""
    made = as_id(source)
    if not made:
        raise Skip(f"no id: the {rule if rule in ID_RULES else 'pattern'} gives none")
    return made


def section_name(text: str) -> str:
    """A category or a path segment as a section (ASCII, lower case, "-" between words);
    "" when it cannot be one."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    made = re.sub(r"[^a-z0-9_]+", "-", folded).strip("-_")[:32].strip("-_")
    return made if is_section(made) else ""


def item_section(item: FeedItem, rule: str) -> str:
    """The section the rule finds for an item; "" for none (an entry may have none)."""
    if rule == "category":
        return next((s for c in item.categories if (s := section_name(html.unescape(c)))), "")
    path = urlsplit(item.link).path
    if rule == "path":
        first = next((part for part in path.split("/") if part), "")
        return section_name(first)
    if rule:
        found = re.search(rule, path)
        return section_name(found.group(1) or "") if found else ""
    return ""


class _Text(HTMLParser):
    """The text of an HTML fragment: tags dropped, entities read, scripts and styles left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("p", "br", "div", "li"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(fragment: str) -> str:
    if "<" not in fragment and "&" not in fragment:
        return fragment
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    return "".join(parser.parts)


def clean(text: str, limit: int) -> str:
    """Text as the catalog takes it: no control or bidi-override characters, whitespace runs
    made one space, trimmed, and cut at a word to `limit` characters with an ellipsis."""
    text = clean_text(_SPACES.sub(" ", text)).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def _names(names: list[str], most: int) -> list[str]:
    """Authors or categories, at most `most`; an escaped "&amp;" (as WordPress sends
    categories) read as "&"."""
    out: list[str] = []
    for name in names:
        if (made := clean(html.unescape(name), MAX_NAME)) and made not in out:
            out.append(made)
    return out[:most]


def entry(item: FeedItem, feed: Feed) -> tuple[str, dict[str, str]]:
    """The catalog entry (id, stored fields) an item makes, or Skip saying why not."""
    link = safe_url(item.link)
    if not link or not re.match(r"https?://", link, re.IGNORECASE) or len(link) > MAX_URL:
        raise Skip("no usable http(s) link" if item.link else "no link")
    title = clean(html_text(item.title) if item.title_is_html else item.title, MAX_TITLE)
    if not title:
        raise Skip("no title")
    doc: dict[str, Any] = {"title": title, "url": link}
    doc["section"] = item_section(item, feed.section) or None
    summary = html_text(item.summary) if item.summary_is_html else item.summary
    if summary := clean(summary, MAX_SUMMARY):
        doc["summary"] = summary
    image = safe_url(item.image) if item.image else None
    if image and re.match(r"https?://", image, re.IGNORECASE) and len(image) <= MAX_URL:
        doc["image"] = image
    if item.published is not None:
        doc["published_at"] = item.published
    doc["authors"] = _names(item.authors, FACETS["authors"][0]) or None
    doc["tags"] = _names(item.categories, FACETS["tags"][0]) or None
    item_key = item_id(item, feed.id)
    try:
        return item_key, catalog_entry(doc)
    except InvalidInput as e:
        if "published_at" in str(e):  # a date nobody can read: the story without it
            del doc["published_at"]
            try:
                return item_key, catalog_entry(doc)
            except InvalidInput as again:
                e = again
        raise Skip(str(e)) from None
