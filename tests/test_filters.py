"""Bot, prefetch, fetch metadata and rate filters: pure, no server."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from crawleruseragents import CRAWLER_USER_AGENTS_DATA  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from ranker.core.filters import (
    MAX_UA,
    RateLimiter,
    has_fetch_metadata,
    is_bot,
    is_prefetch,
    requires_fetch_metadata,
)
from ranker.core.patterns import END, START, PatternSet, expand

BROWSERS = [
    # Chrome: Windows, macOS, Linux, Android, ChromeOS, iOS
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    # Firefox: Windows, macOS, Linux, Android, iOS
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
    # Safari: macOS, iPhone, iPad
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.7 Mobile/15E148 Safari/604.1",
    # Edge, Samsung Internet, Opera, Yandex, UC, Vivaldi
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/128.0.0.0 YaBrowser/24.10.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; U; Android 10; en-US; RMX2185 Build/QP1A.190711.020) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 "
    "UCBrowser/13.4.0.1306 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Vivaldi/7.0.3495.18",
    # In-app browsers and web views: real readers, though their apps also run bots
    "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/480.0.0.41.107;FBBV/653441370;"
    "FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.6.1;FBSS/3;FBCR/;FBID/phone;FBLC/en_US;"
    "FBOP/5;FBRV/655172367]",
    "Mozilla/5.0 (Linux; Android 14; SM-A546B Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/130.0.6723.107 Mobile Safari/537.36 "
    "[FB_IAB/FB4A;FBAV/488.0.0.64.77;]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 340.0.3.18.107 (iPhone14,2; iOS 17_5; "
    "en_US; en; scale=3.00; 1170x2532; 624340416)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.30.1163",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) GSA/343.0.695551749 Mobile/15E148 Safari/604.1",
    # Devices whose names look like bot words
    "Mozilla/5.0 (Linux; Android 9; CUBOT P30) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.6045.163 Mobile Safari/537.36",
    # ... from device-detector's fixtures (smartphone-33, -15, -4, -3.yml; tablet-11.yml)
    "Mozilla/5.0 (Linux; Android 7.0; M bot 54) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/78.0.3904.96 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 6.0; Phantom6 Build/MRA58K) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/50.0.2661.89 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; Spider 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 6.0; ECHO JAVA) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/72.0.3626.105 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 4.4.2; TURKCELL TURBO T50) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/81.0.4044.138 Mobile Safari/537.36",
    "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/13.0 Safari/605.1.15",
    "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.5) AppleWebKit/537.36 (KHTML, like Gecko) "
    "85.0.4183.93/6.5 TV Safari/537.36",
]

BOTS = [
    # Search and AI crawlers
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
    "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
    "+claudebot@anthropic.com)",
    "CCBot/2.0 (https://commoncrawl.org/faq/)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
    "Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)",
    "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
    # Link-preview fetchers
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Slack-ImgProxy (+https://api.slack.com/robots)",
    "WhatsApp/2.23.20.0 A",
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 "
    "skype-url-preview@microsoft.com",
    "Iframely/1.3.1 (+https://iframely.com/docs/about)",
    "Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)",
    "Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)",
    "Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/49.0.2623.75 Safari/537.36 Google-PageRenderer Google",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b",
    "Mozilla/5.0 (compatible; vkShare; +http://vk.com/dev/Share)",
    "Mastodon/4.2.10 (http.rb/5.1.1; +https://mastodon.social/)",
    "Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)",
    # Headless browsers and automation
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.6778.33 Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 "
    "Safari/538.1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Electron/28.2.0 "
    "Chrome/120.0.6099.227 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Playwright/1.48.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/100.0.4896.127 Safari/537.36 Puppeteer",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Selenium",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Nightmare",
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    # HTTP libraries and tools
    "curl/8.5.0",
    "Wget/1.21.4",
    "python-requests/2.32.3",
    "Python/3.11 aiohttp/3.10.10",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "Java/17.0.9",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "Scrapy/2.11.2 (+https://scrapy.org)",
    "PostmanRuntime/7.42.0",
    # Monitoring, feeds, archives
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers; like FeedFetcher-Google)",
    "ia_archiver (+http://www.alexa.com/site/help/webmasters; crawler@alexa.com)",
    # Bots no list names yet, known by how they introduce themselves
    "Mozilla/5.0 (compatible; NewsCrawler/1.0; +https://example.org/about)",
    "Mozilla/5.0 (compatible; SomeNewBot/0.1)",
    "Mozilla/5.0 (compatible; Fetcher; contact: ops@example.org)",
]

CHROME = BROWSERS[0]


@pytest.mark.parametrize("user_agent", BROWSERS)
def test_browsers_are_not_bots(user_agent: str) -> None:
    assert not is_bot(user_agent)


@pytest.mark.parametrize("user_agent", BOTS)
def test_bots_are_bots(user_agent: str) -> None:
    assert is_bot(user_agent)


def test_the_lists_are_long_enough_to_mean_something() -> None:
    assert len(BROWSERS) >= 12 and len(BOTS) >= 30
    assert not set(BROWSERS) & set(BOTS)


def test_the_pattern_set_agrees_with_the_crawler_list() -> None:
    """On every sample user agent the list ships, and on browsers: the list's patterns
    survived their rewriting into one trie."""
    patterns = [entry["pattern"] for entry in CRAWLER_USER_AGENTS_DATA]
    samples = [ua for entry in CRAWLER_USER_AGENTS_DATA for ua in entry["instances"]]
    assert len(samples) > 1000
    joined = re.compile("|".join(patterns))
    pattern_set = PatternSet(patterns)
    assert pattern_set.literal_count > 0.9 * len(patterns)  # else it is no faster
    assert all(pattern_set.search(ua) for ua in samples)
    assert all(pattern_set.search(ua) == bool(joined.search(ua)) for ua in BROWSERS + BOTS)


# Sample user agents in crawler-user-agents that are a real browser's, word for word: 80legs
# sends an OPPO phone's Instagram in-app browser, and the list names that phone's firmware
# build (AP3A.240617.008), which every such phone sends. Counting them is right.
REAL_BROWSERS_THE_CRAWLER_LIST_NAMES = {
    "Mozilla/5.0 (Linux; Android 15; CPH2557 Build/AP3A.240617.008; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/142.0.7444.142 Mobile Safari/537.36 Instagram "
    "406.0.0.58.159 Android (35/15; 480dpi; 1080x2400; OPPO; CPH2557; OP573DL1; mt6833; en_MY; "
    "822918295; IABMV/1) NV/1",
}


def test_every_crawler_the_list_knows_is_a_bot() -> None:
    samples = {ua for entry in CRAWLER_USER_AGENTS_DATA for ua in entry["instances"]}
    counted = {ua for ua in samples if not is_bot(ua)}
    assert counted <= REAL_BROWSERS_THE_CRAWLER_LIST_NAMES


@pytest.mark.parametrize(
    "user_agent",
    [
        "",
        " ",
        "\t \t",
        " " * 40,
        "Mozilla/5",  # too short
        "1234567890 (1234) 5678/90.1",  # no letters
        CHROME + "\x00",
        CHROME.replace(" ", "\t", 1),
        CHROME + "\n",
        CHROME + "\x7f",
        CHROME + " " + "A" * (MAX_UA - len(CHROME)),  # one over the limit
        "Mozilla/5.0 Chrome/131.0.0.0 Safari/537.36",  # no platform in parentheses
        "Mozilla/5.0",
    ],
)
def test_absurd_user_agents_are_bots(user_agent: str) -> None:
    assert is_bot(user_agent)


def test_a_long_browser_user_agent_is_not_absurd() -> None:
    padded = CHROME + " " + "A" * (MAX_UA - len(CHROME) - 1)
    assert len(padded) == MAX_UA and not is_bot(padded)
    assert is_bot(padded + "A")


def test_answers_do_not_change_when_cached() -> None:
    for user_agent in BROWSERS[:5] + BOTS[:5]:
        first = is_bot(user_agent)
        assert all(is_bot(user_agent) == first for _ in range(3))
        assert is_bot(user_agent) == (user_agent in BOTS)


@given(st.text(st.characters(exclude_categories=()), max_size=600))
def test_any_text_gets_an_answer(user_agent: str) -> None:
    assert is_bot(user_agent) in (True, False)
    assert requires_fetch_metadata(user_agent) in (True, False)


# -- real browsers: corpora -----------------------------------------------------------------


def _fake_useragent_records() -> list[dict[str, Any]]:
    """fake-useragent's real-world data set: user agents seen in the wild, with the browser
    and version each one is. Read from the installed package, so no network."""
    text = files("fake_useragent.data").joinpath("browsers.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    for record in records:
        # One entry is stored wrapped in double quotes, a scraping artifact: no browser
        # sends that, and its unquoted self is in the set too.
        record["useragent"] = record["useragent"].strip('"')
    return records


FAKE_USERAGENT = _fake_useragent_records()
INAPP_FILE = Path(__file__).parent / "data" / "inapp_user_agents.txt"
INAPP = [
    line
    for line in INAPP_FILE.read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


def test_the_corpora_are_large_enough_to_mean_something() -> None:
    kinds = {record["type"] for record in FAKE_USERAGENT}
    assert len(FAKE_USERAGENT) > 5000 and kinds == {"desktop", "mobile", "tablet"}
    assert len({record["useragent"] for record in FAKE_USERAGENT}) > 500
    assert len(INAPP) >= 60 and len(set(INAPP)) == len(INAPP)


def test_no_real_browser_in_fake_useragent_is_a_bot() -> None:
    refused = sorted({r["useragent"] for r in FAKE_USERAGENT if is_bot(r["useragent"])})
    assert refused == []


@pytest.mark.parametrize("user_agent", INAPP)
def test_in_app_and_minority_browsers_are_counted_without_fetch_metadata(
    user_agent: str,
) -> None:
    assert not is_bot(user_agent)
    assert not requires_fetch_metadata(user_agent)


# The first version of each browser family that sends Sec-Fetch-* (Opera's own numbers: 67
# on the desktop and 57 on Android are the first on Chromium 80), per fake-useragent's names.
_SENDS_FETCH_METADATA_FROM = {
    "Chrome": 80,
    "Chrome Mobile": 80,
    "Edge": 80,
    "Edge Mobile": 80,
    "Opera": 67,
    "Opera Mobile": 57,
    "Firefox": 90,
    "Firefox Mobile": 90,
    "Safari": 16.4,
    "Mobile Safari": 16.4,
}


def _sends_fetch_metadata(record: dict[str, Any]) -> bool:
    since = _SENDS_FETCH_METADATA_FROM.get(record["browser"])
    on_ios_but_not_safari = record["os"] == "iOS" and record["browser"] != "Mobile Safari"
    return (
        since is not None
        and record["browser_version_major_minor"] >= since
        and not on_ios_but_not_safari
    )


def test_fetch_metadata_is_required_only_of_browsers_that_send_it() -> None:
    """No wrong True over the whole data set: a wrong True refuses a real reader. And most
    of the browsers that do send it are recognised, or the check would catch nothing."""
    wrongly = [
        record["useragent"]
        for record in FAKE_USERAGENT
        if requires_fetch_metadata(record["useragent"]) and not _sends_fetch_metadata(record)
    ]
    assert wrongly == []
    sending = [r["useragent"] for r in FAKE_USERAGENT if _sends_fetch_metadata(r)]
    recognised = [ua for ua in sending if requires_fetch_metadata(ua)]
    assert len(sending) > 3000 and len(recognised) > 0.95 * len(sending)


# -- bots that dress up as browsers ---------------------------------------------------------

EVASIONS = [
    "puppeteer",
    "Headless Chrome",
    "GoogIebot",  # a capital i for the l
    "MyBot 1.0",
    "PostmanRuntime/7.36.0",
    "x(xxxxxxxxx",
    CHROME.replace("Chrome/", "HeadlessChrome/"),
    CHROME + " Headless Chrome",
    CHROME + " headless-chrome",
    CHROME + " hEaDlEsScHrOmE",
    "Mozilla/5.0 (compatible; GoogIebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 PuppeteerSharp",
    "Mozilla/5.0 (Windows NT 10.0) MyBot/1.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120 Safari/537.36 (compatible; Sp1der)",
    CHROME + " GoogIeb0t/2.1",
    CHROME + " G\u043e\u043eglebot/2.1",  # Cyrillic o's
    CHROME + " \uff30\uff55\uff50\uff50\uff45\uff54\uff45\uff45\uff52",  # full-width
    CHROME + " P.u.p.p.e.t.e.e.r",
    CHROME + " Play-Wright/1.48",
    CHROME + " Lib-Curl/8.4",
    # Known crawlers in a browser's clothes, named in the platform.
    "Mozilla/5.0 (X11; Linux x86_64; Storebot-Google/1.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/79.0.3945.88 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.3; WOW64; Trident/7.0; rv:11.0; BingPreview/1.0b) like Gecko",
]


@pytest.mark.parametrize("user_agent", EVASIONS)
def test_evasions_are_bots(user_agent: str) -> None:
    assert is_bot(user_agent)


# Deny tokens as a bot might disguise them, and browser user agents to hide them in. "bot"
# and "curl" are also pieces of words and must end one, so they are not split up.
_SPLITTABLE = ["headless", "puppeteer", "playwright", "selenium", "webdriver", "crawler"]
_SPLITTABLE += ["spider", "scraper", "python-requests", "postman", "lighthouse", "phantomjs"]
_WORDS = ["Googlebot", "MyBot", "bingbot", "AhrefsBot", "curl", "libcurl"]
_HOMOGLYPHS = {"l": "lI1|", "i": "iI1l", "o": "oO0"}


@st.composite
def _disguised(draw: st.DrawFn, tokens: list[str], split: bool) -> str:
    token = draw(st.sampled_from(tokens))
    chars = []
    for char in token:
        char = draw(st.sampled_from(_HOMOGLYPHS.get(char.lower(), char)))
        chars.append(char.upper() if draw(st.booleans()) else char.lower())
        if split:
            chars.append(draw(st.sampled_from(["", "", " ", "-", "_", "."])))
    return "".join(chars).rstrip(" -_.")


@given(
    browser=st.sampled_from(BROWSERS[:20]),
    token=_disguised(_SPLITTABLE, split=True) | _disguised(_WORDS, split=False),
    separator=st.sampled_from([" ", " (compatible; ", "; ", " ["]),
    version=st.sampled_from(["", "/1.0", " 2.1", "/"]),
)
def test_a_browser_naming_a_deny_token_in_any_disguise_is_a_bot(
    browser: str, token: str, separator: str, version: str
) -> None:
    assert not is_bot(browser)
    assert is_bot(f"{browser}{separator}{token}{version}")


# -- fetch metadata -------------------------------------------------------------------------

_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS {os} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) "
)
_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
_CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Mobile Safari/537.36"
)


def _browser(token: str) -> str:
    """The one user agent in BROWSERS that holds `token`."""
    (found,) = [user_agent for user_agent in BROWSERS if token in user_agent]
    return found


@pytest.mark.parametrize(
    ("user_agent", "required"),
    [
        (CHROME, True),  # Chrome 131, Windows
        (_browser("Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"), True),
        (_browser("X11; Linux x86_64) AppleWebKit"), True),
        (_browser("CrOS"), True),
        (_CHROME_ANDROID.format(v=131), True),
        (_CHROME_ANDROID.format(v=80), True),
        (_CHROME_ANDROID.format(v=79), False),  # before Sec-Fetch-Dest
        (CHROME.replace("Chrome/131", "Chrome/75"), False),
        (_browser("Edg/"), True),
        (_browser("EdgA/"), True),
        (_browser("OPR/"), True),
        (_browser("Windows NT 10.0; Win64; x64; rv:133.0"), True),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", True),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0", True),
        (_browser("Android 14; Mobile; rv:"), True),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:89.0) Gecko/20100101 Firefox/89.0", False),
        (_MAC + "Version/16.4 Safari/605.1.15", True),
        (_MAC + "Version/17.0 Safari/605.1.15", True),
        (_MAC + "Version/16.3 Safari/605.1.15", False),
        (_MAC + "Version/15.6.1 Safari/605.1.15", False),
        (_IPHONE.format(os="16_4") + "Version/16.4 Mobile/15E148 Safari/604.1", True),
        (_IPHONE.format(os="17_7") + "Version/17.7 Mobile/15E148 Safari/604.1", True),
        (_browser("iPad; CPU OS 17_7"), True),
        (_IPHONE.format(os="15_8") + "Version/15.6 Mobile/15E148 Safari/604.1", False),
        (_IPHONE.format(os="16_3_1") + "Version/16.3 Mobile/15E148 Safari/604.1", False),
        (_IPHONE.format(os="15_8") + "Version/17.0 Mobile/15E148 Safari/604.1", False),
        # iOS browsers other than Safari, and in-app browsers
        (_browser("CriOS/"), False),
        (_browser("FxiOS/"), False),
        (
            _IPHONE.format(os="18_3_2") + "EdgiOS/134.0.3124.95 Version/18.0 Mobile/15E148 "
            "Safari/604.1",
            False,
        ),
        (_IPHONE.format(os="17_2_1") + "Version/17.2 Mobile/15E148 Safari/604.1 Ddg/17.2", False),
        (_browser("FBAN/FBIOS"), False),
        (_browser("FB_IAB"), False),
        (_browser("Pixel 7 Build/TQ3A.230805.001; wv)"), False),
        (_browser("Instagram"), False),
        (_browser("GSA/"), False),
        (_browser("SamsungBrowser/"), False),
        (_browser("UCBrowser/"), False),
        (_browser("YaBrowser/"), False),
        (
            "Opera/9.80 (Android; Opera Mini/7.5.33361/34.861; U; en) Presto/2.8.119 Version/11.10",
            False,
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/70.0.3538.102 Safari/537.36 Edge/18.19582",  # the old Edge, EdgeHTML
            False,
        ),
        # Bots are not this function's business, but a padded one is not a browser either.
        (CHROME + " " + "A" * MAX_UA, False),
        ("", False),
    ],
)
def test_fetch_metadata_is_required_of_browsers_that_always_send_it(
    user_agent: str, required: bool
) -> None:
    assert requires_fetch_metadata(user_agent) == required


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Mode": "no-cors"},
        {"Sec-Fetch-Dest": "empty"},
        {"sec-fetch-site": "same-origin", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty"},
        {"SEC-FETCH-DEST": "empty", "Sec-Fetch-Site": ""},
    ],
)
def test_any_sec_fetch_header_with_a_value_is_fetch_metadata(headers: dict[str, str]) -> None:
    assert has_fetch_metadata(CIMultiDict({"User-Agent": CHROME, **headers}))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Sec-Fetch-Site": "", "Sec-Fetch-Mode": "", "Sec-Fetch-Dest": ""},
        {"Sec-Fetch-User": "?1"},  # only with navigations, never alone
        {"Sec-Purpose": "prefetch", "Sec-CH-UA": '"Chromium";v="131"', "Origin": "https://a.b"},
    ],
)
def test_no_sec_fetch_header_with_a_value_is_no_fetch_metadata(headers: dict[str, str]) -> None:
    assert not has_fetch_metadata(CIMultiDict({"User-Agent": CHROME, **headers}))


# -- the pattern set ------------------------------------------------------------------------


def test_patterns_expand_to_the_strings_they_stand_for() -> None:
    assert expand(r"Googlebot\/") == ["Googlebot/"]
    assert expand(r"[wW]get") == ["wget", "Wget"]
    assert expand(r"(^| )sentry\/") == [f"{START}sentry/", " sentry/"]
    assert expand(r"Automaton|Newsify") == ["Automaton", "Newsify"]
    assert expand(r"SSL Labs$") == [f"SSL Labs{END}"]
    assert expand(r"Ahrefs(?:Bot|SiteAudit)") == ["AhrefsBot", "AhrefsSiteAudit"]
    for regex in (r"a.b", r"a\d", r"a[^b]", r"a[b-z]", r"ab*", r"a+", r"a?", r"a{2}", r"(a", "a)"):
        assert expand(regex) is None, regex
    assert expand("[ab][cd][ef][gh][ij][kl][mn]") is None  # 128 strings: left a regex


# Patterns and texts over a small alphabet, so that they often meet.
_PIECES = st.sampled_from(
    ["a", "b", "A", "/", " ", r"\/", "[aA]", "[b/]", "(a|b)", "(?:ab|ba)", "(^| )", "^", "$"]
    + [".", "a*", "[^a]", r"\d", "b+"]
)
_PATTERN = st.lists(_PIECES, min_size=1, max_size=5).map("".join)


@given(patterns=st.lists(_PATTERN, min_size=1, max_size=8), text=st.text("abAB/ 1", max_size=12))
def test_a_pattern_set_finds_what_the_joined_regex_finds(patterns: list[str], text: str) -> None:
    expected = re.search("|".join(patterns), text) is not None
    assert PatternSet(patterns).search(text) == expected


# -- prefetch -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Sec-Purpose", "prefetch"),
        ("Sec-Purpose", "prefetch;prerender"),
        ("Sec-Purpose", "prefetch; anonymous-client-ip"),
        ("sec-purpose", "PREFETCH"),
        ("Purpose", "prefetch"),
        ("X-Purpose", "preview"),
        ("X-Purpose", "Prefetch"),
        ("x-moz", "prefetch"),
    ],
)
def test_speculative_requests_are_prefetches(name: str, value: str) -> None:
    headers = CIMultiDict({"User-Agent": CHROME, "Accept": "*/*", name: value})
    assert is_prefetch(headers)


def test_an_ordinary_beacon_is_not_a_prefetch() -> None:
    headers = CIMultiDict(
        {
            "User-Agent": CHROME,
            "Content-Type": "text/plain;charset=UTF-8",
            "Sec-Fetch-Dest": "empty",
            "Sec-Fetch-Mode": "no-cors",
            "Purpose": "",
            "X-Purpose": "navigate",
        }
    )
    assert not is_prefetch(headers)
    assert not is_prefetch(CIMultiDict())


# -- rate limiter ---------------------------------------------------------------------------


class ReferenceBucket:
    """A token bucket per client, never forgetting one: the textbook definition."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens: dict[str, float] = {}
        self.seen: dict[str, float] = {}

    def allow(self, client: str, now: float) -> bool:
        tokens = self.tokens.get(client, float(self.burst))
        if client in self.seen and now > self.seen[client]:
            tokens = min(float(self.burst), tokens + (now - self.seen[client]) * self.rate)
        self.seen[client] = max(now, self.seen.get(client, now))
        self.tokens[client] = tokens - 1.0 if tokens >= 1.0 else tokens
        return tokens >= 1.0


_STEPS = st.lists(
    st.tuples(
        st.sampled_from("abcdef"),
        st.sampled_from([0.0, 0.0, 0.01, 0.1, 0.25, 0.5, 1, 3, -0.5]),  # -0.5: the clock steps back
    ),
    max_size=120,
)
_RATES = st.sampled_from([0.5, 1.0, 2.0, 10.0])


@given(steps=_STEPS, rate=_RATES, burst=st.integers(1, 5))
def test_the_limiter_is_a_token_bucket(
    steps: list[tuple[str, float]], rate: float, burst: int
) -> None:
    limiter = RateLimiter(rate, burst, max_clients=6)  # room for every client
    reference = ReferenceBucket(rate, burst)
    now = 1.8e9
    for client, dt in steps:
        now += dt
        assert limiter.allow(client, now) == reference.allow(client, now)


@given(steps=_STEPS, rate=_RATES, burst=st.integers(1, 5), max_clients=st.integers(1, 4))
def test_forgetting_clients_only_ever_lets_more_through(
    steps: list[tuple[str, float]], rate: float, burst: int, max_clients: int
) -> None:
    limiter = RateLimiter(rate, burst, max_clients)
    reference = ReferenceBucket(rate, burst)
    allowed = {c: 0 for c in "abcdef"}
    expected = dict(allowed)
    now = 1.8e9
    for client, dt in steps:
        now += dt
        allowed[client] += limiter.allow(client, now)
        expected[client] += reference.allow(client, now)
        assert allowed[client] >= expected[client]
        assert len(limiter) <= max_clients


@given(gaps=st.lists(st.floats(0, 2, allow_nan=False), max_size=200), burst=st.integers(1, 10))
def test_a_client_never_beats_burst_plus_rate(gaps: list[float], burst: int) -> None:
    rate = 4.0
    limiter = RateLimiter(rate, burst, max_clients=10)
    now, times = 1.8e9, []
    for gap in gaps:
        now += gap
        if limiter.allow("reader", now):
            times.append(now)
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            assert j - i + 1 <= burst + rate * (times[j] - start) + 1e-6


def test_a_client_within_the_rate_is_never_refused() -> None:
    limiter = RateLimiter(rate=2.0, burst=1, max_clients=10)
    assert all(limiter.allow("reader", 1.8e9 + k * 0.5) for k in range(1000))
    assert not limiter.allow("reader", 1.8e9 + 999 * 0.5 + 0.1)


def test_the_least_recently_seen_client_is_forgotten_first() -> None:
    limiter = RateLimiter(rate=0.001, burst=1, max_clients=2)
    t = 1.8e9
    assert limiter.allow("a", t) and limiter.allow("b", t)
    assert not limiter.allow("a", t)  # a is now the most recently seen
    assert limiter.allow("c", t)  # forgets b, not a
    assert not limiter.allow("a", t)
    assert limiter.allow("b", t)  # b was forgotten: a full bucket again
    assert len(limiter) == 2


def test_a_clock_stepping_back_refills_and_takes_nothing() -> None:
    limiter = RateLimiter(rate=1.0, burst=2, max_clients=10)
    assert limiter.allow("a", 1000.0)
    assert limiter.allow("a", 900.0)  # the second token is still there
    assert not limiter.allow("a", 950.0)
    assert not limiter.allow("a", 1000.5)
    assert limiter.allow("a", 1001.0)


@pytest.mark.parametrize(("rate", "burst", "max_clients"), [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_a_limiter_needs_positive_settings(rate: float, burst: int, max_clients: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst, max_clients)
