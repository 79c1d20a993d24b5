"""Which beacons are not a reader's view: bots, prefetches and clients sending too fast.

Pure and per process: the collector asks these on every beacon, passing the time in.
"""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict
from collections.abc import Mapping
from functools import lru_cache

# crawler-user-agents, not crawlerdetect: a larger list, released more often, with sample
# user agents for every pattern, and no browser-token stripping to pay for before a match.
from crawleruseragents import CRAWLER_USER_AGENTS_DATA  # type: ignore[import-untyped]

from ranker.core.patterns import PatternSet, trie_regex

MAX_UA = 512  # browsers and in-app browsers stay under ~400 characters

# -- what a browser's user agent looks like -------------------------------------------------

# A counted user agent must have a browser's shape: anything else (HTTP libraries, tools,
# "MyBot 1.0", "x(xxxxxxxxx") is refused without any list having to know its name. Browsers
# write these tokens exactly so, so they are matched case-sensitively.
_PLATFORM = r"\((?:[^()]|\([^()]*\))+\)"  # a device name may hold "(2022)"
_BROWSER_SHAPE = re.compile(
    # Blink and WebKit ("AppleWebKit/"; Facebook's iOS app also sends a bare "WebKit/"),
    # and Gecko ("Gecko/20100101", "Gecko/133.0"; never "like Gecko)").
    rf"Mozilla/5\.0 {_PLATFORM} (?:Apple)?WebKit/\d|Mozilla/5\.0 {_PLATFORM} Gecko/\d"
    # Internet Explorer 8 to 11 names its engine inside the platform.
    r"|Mozilla/[45]\.0 \([^()]*Trident/\d"
    # Opera Mini's proxy, and old Opera.
    rf"|Opera/9\.80 {_PLATFORM} Presto/\d"
)

# An Android device's model and build are named by its maker, in any words: CUBOT, "M bot
# 54", Phantom6, "Spider 8", "ECHO JAVA", ViewSonic, "HTC Butterfly", even a firmware build
# that the crawler list names (AP3A.240617.008, which 80legs copied from a real phone). So
# both the list and the deny tokens are looked for with them blanked out: "(Linux; Android
# 14; SM-S918B Build/UP1A.231005.007; wv)", "(Linux; U; Android 4.3; en-us; ViewSonic A8+)".
_ANDROID_MODEL_RE = re.compile(
    r"(Android [\d.]+; (?:[a-zA-Z]{2}[-_][a-zA-Z]{2}; )?)[^;()]*(?:\([^()]*\)[^;()]*)?"
)
_ANDROID_BUILD_RE = re.compile(r"Build/[^;()]*")

# Browser tokens that a crawler-user-agents pattern matches by accident: removed before
# the list is searched. Sogou's browser and search app ("Sogou" is there for Sogou's
# spiders, which say "spider"), Viber's in-app browser ("Viber" is its link-preview
# fetcher, which sends no browser's shape), and Opera Mini's build ("Opera Mini/4.4.39008/"
# holds "008/", the 80legs crawler).
_LISTED_BROWSER_TOKENS = re.compile(
    r"SogouMobileBrowser|SogouMSE|SogouSearch|Viber/|Opera Mini/[\d.]+/"
)

# What a self-declared bot shows even before any list knows it, anywhere in its user agent:
# a contact URL or e-mail address. No browser sends either.
_CONTACT_RE = re.compile(r"://|mailto:|@[\w-]+\.[A-Za-z]")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Patterns as Python regular expressions, searched case-sensitively like the list's own.
_CRAWLERS = PatternSet(p["pattern"] for p in CRAWLER_USER_AGENTS_DATA)

# Tokens no reader's browser sends, matched whatever their case, lookalike letters or
# punctuation: see _folded. So "GoogIebot", "Headless Chrome", "head-less", "hEaDlEsS" and
# "Sp1der" all match.
_DENY_TOKENS = (
    # Self-declared crawlers, whatever their name.
    "crawl",
    "spider",
    "scrape",
    "scrapy",
    # Headless and automated browsers.
    "headless",
    "puppeteer",
    "playwright",
    "selenium",
    "webdriver",
    "chromedriver",
    "geckodriver",
    "phantomjs",
    "nightmare",
    "slimerjs",
    "htmlunit",
    "jsdom",
    "cypress",
    "lighthouse",
    "pagespeed",
    "gtmetrix",
    "prerender",
    "screenshot",
    "thumbnail",
    # Monitors and scanners.
    "monitor",
    "checker",
    "scanner",
    "diagnostic",
    "observatory",
    "inspector",
    "validator",
    "verifier",
    "measurement",
    # HTTP clients and tools.
    "postman",
    "insomnia",
    "wget",
    "python",
    "aiohttp",
    "httpx",
    "urllib",
    "okhttp",
    "gohttp",
    "axios",
    "nodefetch",
    "undici",
    "httpclient",
    "guzzle",
    "libwww",
    # Link-preview and other fetchers.
    "preview",
    "facebookexternalhit",
    "facebookcatalog",
    "pagerenderer",  # Google-PageRenderer
    "cardyb",  # Bluesky's
    "embedly",
    "iframely",
    "fetcher",
)
# Short tokens that are also pieces of ordinary words ("security" folds to "securlty",
# "Kobo Touch" and "BOTECH" hold "bot"), as regular expressions: they must end a word, as
# in "Googlebot", "MyBot/1.0", "libcurl/8", "Java/17". Electron only with its version, as
# its default user agent has it ("Electron/28.2.0"), not WeCom's "MailPlugin_Electron".
_DENY_WORD_ENDS = ("bot", "curl", "java", r"electron [\dlo]")
# Makers whose name ends in a deny token and that in-app browsers repeat after the platform
# (Instagram's "(...; CUBOT; KINGKONG 9; ...)"): removed before the search.
_DENY_EXEMPT = ("cubot",)

# Letters from other scripts that pass for Latin ones ("Gооglebot" in Cyrillic), for the
# rare user agent that is not ASCII. Accents and full-width letters go through NFKD first.
_LOOKALIKES = str.maketrans("авекмнорстухіјѕԁһӏɡαβεικνορτυχ", "abekmhopctyxijsdhlgabeiknoptux")


def _fold_byte(byte: int) -> int:
    """I, l, 1, | and ! become "l", 0 becomes "o", what is not a letter or digit a space."""
    char = chr(byte)
    if char in "il1|!":
        return ord("l")
    if char == "0":
        return ord("o")
    return byte if char.isascii() and char.isalnum() else ord(" ")


_FOLD = bytes(_fold_byte(byte) for byte in range(256))  # bytes.translate: 1/8 of str's time


def _folded(text: str) -> bytes:
    """`text` in lower case, lookalike characters made one and punctuation made spaces."""
    text = text.lower()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).translate(_LOOKALIKES)
    return text.encode("ascii", "ignore").translate(_FOLD)


# Searched in the folded text with its spaces dropped, so "head less" is "headless" too.
_DENY_RE = re.compile(trie_regex(_folded(token).decode() for token in _DENY_TOKENS).encode())
# Searched in the folded text with its spaces, where a word can be seen to end.
_DENY_WORD_END_RE = re.compile(f"(?:{'|'.join(_DENY_WORD_ENDS)})(?![a-z])".encode())
_DENY_EXEMPT_FOLDED = tuple(_folded(name) for name in _DENY_EXEMPT)


def is_bot(user_agent: str) -> bool:
    """True unless `user_agent` is shaped like a browser's and names no crawler, headless
    browser, automation tool, HTTP library or link-preview fetcher.

    Browser-shaped: "Mozilla/5.0 (platform) " then a WebKit or Gecko engine token, Internet
    Explorer's Trident, or Opera Mini's Presto; at most MAX_UA characters, none of them a
    control character. A name: anything crawler-user-agents lists (case-sensitively, as the
    list means it), a contact URL or address, or a deny token in any case or disguise.
    """
    if len(user_agent) > MAX_UA:  # checked first so the cache never holds a long string
        return True
    return _is_bot(user_agent)


@lru_cache(maxsize=4096)  # real traffic repeats a few thousand user agents
def _is_bot(user_agent: str) -> bool:
    if _CONTROL_RE.search(user_agent) is not None:  # first: see PatternSet.search
        return True
    if _BROWSER_SHAPE.match(user_agent) is None:
        return True
    if _CONTACT_RE.search(user_agent) is not None:
        return True
    text = _without_android_device(user_agent)
    return _has_deny_token(text) or _CRAWLERS.search(_LISTED_BROWSER_TOKENS.sub("", text))


def _without_android_device(user_agent: str) -> str:
    """`user_agent` without an Android device's model and build: see _ANDROID_MODEL_RE."""
    if "Android" not in user_agent:
        return user_agent
    return _ANDROID_BUILD_RE.sub("", _ANDROID_MODEL_RE.sub(r"\1", user_agent))


def _has_deny_token(text: str) -> bool:
    words = _folded(text)
    for name in _DENY_EXEMPT_FOLDED:
        words = words.replace(name, b" ")
    return (
        _DENY_RE.search(words.replace(b" ", b"")) is not None
        or _DENY_WORD_END_RE.search(words) is not None
    )


# Chrome sends "Sec-Purpose: prefetch" and, when prerendering, "prefetch;prerender"; older
# Chrome "Purpose: prefetch", Safari "X-Purpose: preview", Firefox "X-moz: prefetch".
_PREFETCH_HEADERS = ("Sec-Purpose", "Purpose", "X-Purpose", "X-Moz")
_PREFETCH_RE = re.compile(r"prefetch|prerender|preview", re.IGNORECASE)


def is_prefetch(headers: Mapping[str, str]) -> bool:
    """True if the browser fetched this speculatively: nobody has seen the page yet.

    `headers` must look names up case-insensitively, as aiohttp's request.headers does.
    """
    for name in _PREFETCH_HEADERS:
        value = headers.get(name)
        if value and _PREFETCH_RE.search(value):
            return True
    return False


# -- fetch metadata -------------------------------------------------------------------------

# The user agents of browser versions that send Sec-Fetch-* on every request to a
# potentially trustworthy origin: Chrome and Edge 80+ (Sec-Fetch-Dest came last, in 80),
# Firefox 90+, Safari 16.4+. Each is written out whole, to the end of the string, so an app
# that adds its own token (FBAV, Instagram, Line/, wv, GSA, Snapchat...) or a browser that
# only borrows the engine (Samsung Internet, UC, Yandex, Opera Mini) never matches: a wrong
# True refuses a real reader, a wrong False only lets a bot past this one check.
_CHROMIUM_RE = re.compile(
    r"Mozilla/5\.0 \((?:Windows NT [\d.]+(?:; Win64; x64|; WOW64)?"
    r"|Macintosh; Intel Mac OS X [\d_]+|X11; Linux \w+|X11; CrOS \w+ [\d.]+"
    r"|Linux; Android [\d.]+(?:; [^();]+)?)\) "  # one segment after Android: "K", no "; wv"
    r"AppleWebKit/537\.36 \(KHTML, like Gecko\) Chrome/(?P<chrome>\d+)\.[\d.]+ "
    r"(?:Mobile )?Safari/537\.36(?: (?:Edg|EdgA|OPR)/\d+\.[\d.]+)?"  # Edge's, Opera's token
)
_FIREFOX_RE = re.compile(
    r"Mozilla/5\.0 \((?:Windows NT [\d.]+|Macintosh; Intel Mac OS X [\d.]+|X11; [^();]+"
    r"|Android [\d.]+; (?:Mobile|Tablet))(?:; [^();]+)*; rv:[\d.]+\) "
    r"Gecko/(?:20100101|[\d.]+) Firefox/(?P<firefox>\d+)\.[\d.]+"
)
_SAFARI_RE = re.compile(
    r"Mozilla/5\.0 \((?:Macintosh; Intel Mac OS X 10_\d+(?:_\d+)?"
    r"|(?:iPhone; CPU iPhone|iPad; CPU) OS (?P<ios>\d+_\d+)(?:_\d+)? like Mac OS X)\) "
    r"AppleWebKit/605\.1\.15 \(KHTML, like Gecko\) Version/(?P<version>\d+(?:\.\d+)?)"
    r"(?:\.\d+)? (?:Mobile/\w+ Safari/604\.1|Safari/605\.1\.15)"
)


def requires_fetch_metadata(user_agent: str) -> bool:
    """True if `user_agent` claims a browser that always sends Sec-Fetch-Site, -Mode and
    -Dest to a potentially trustworthy origin: a beacon from it without them is not that
    browser. False for in-app browsers, web views, iOS browsers other than Safari, browsers
    built on Chromium under their own name, old versions and anything unknown."""
    if len(user_agent) > MAX_UA:
        return False
    return _requires_fetch_metadata(user_agent)


@lru_cache(maxsize=4096)
def _requires_fetch_metadata(user_agent: str) -> bool:
    if (chromium := _CHROMIUM_RE.fullmatch(user_agent)) is not None:
        return int(chromium["chrome"]) >= 80
    if (firefox := _FIREFOX_RE.fullmatch(user_agent)) is not None:
        return int(firefox["firefox"]) >= 90
    if (safari := _SAFARI_RE.fullmatch(user_agent)) is not None:
        # On iOS it is the system's WebKit that sends them: both must be 16.4 or later.
        # (The system version may be frozen, as macOS's is at 10_15_7: so no more than that.)
        ios = safari["ios"]
        return _version(safari["version"]) >= (16, 4) and (
            ios is None or _version(ios.replace("_", ".")) >= (16, 4)
        )
    return False


def _version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


# Any of them is enough: Sec-Fetch-User only comes with navigations.
_FETCH_METADATA_HEADERS = ("Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest")


def has_fetch_metadata(headers: Mapping[str, str]) -> bool:
    """True if the request carries any Sec-Fetch-Site, -Mode or -Dest header with a value.

    `headers` must look names up case-insensitively, as aiohttp's request.headers does.
    """
    return any(headers.get(name) for name in _FETCH_METADATA_HEADERS)


class RateLimiter:
    """A token bucket per client: `burst` beacons at once, then `rate` a second.

    State lives in this process: behind N collector processes a client gets up to N times
    the limit. At most `max_clients` buckets are kept; past that the least recently seen
    client is forgotten and, if it comes back, starts with a full bucket again. That only
    loosens the limit, and only for clients idle for less than `burst / rate` seconds while
    `max_clients` others were seen: size it above the clients seen in that time.
    """

    def __init__(self, rate: float, burst: int, max_clients: int) -> None:
        if rate <= 0 or burst < 1 or max_clients < 1:
            raise ValueError("rate must be positive, burst and max_clients at least 1")
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        # client -> (tokens, when last refilled), least recently seen first. An OrderedDict:
        # finding a plain dict's first key after many deletions walks past all of them.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, client: str, now: float) -> bool:
        """Take a token from `client`'s bucket if it has one."""
        buckets = self._buckets
        bucket = buckets.get(client)
        if bucket is None:
            tokens, last = float(self.burst), now
        else:
            tokens, last = bucket
            buckets.move_to_end(client)
            if now > last:  # a clock that steps back refills nothing
                tokens = min(float(self.burst), tokens + (now - last) * self.rate)
                last = now
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        buckets[client] = (tokens, last)
        if len(buckets) > self.max_clients:
            buckets.popitem(last=False)
        return allowed
