"""The WordPress plugin's PHP, run by Debian's php: every file lints, its beacon tokens are
the ones Ranker verifies, every catalog entry it makes passes Ranker's rule, and its catalog
requests do what they say against a real `ranker serve`. (tests/test_browser_wordpress.py
runs the plugin in a real WordPress.)"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ranker.core.config import SITE_RE, Site
from ranker.core.signing import sign, verify
from ranker.core.validate import ID_RE, InvalidInput, catalog_entry, public_entry
from ranker.store.engine import EmbeddedEngine
from tests.support import BROWSER_HEADERS, TOKEN, auth
from tests.wordpress import HARNESS, PHP, PLUGIN, SECRET, Harness, PhpError, ranker_serving


@pytest.fixture(scope="module")
def php() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    harness.close()


def test_every_php_file_of_the_plugin_lints() -> None:
    files = sorted(PLUGIN.rglob("*.php")) + [HARNESS]
    assert len(files) >= 8
    for path in files:
        done = subprocess.run([PHP, "-l", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    # The directory's conventions that a lint cannot see.
    for path in PLUGIN.rglob("*.php"):
        text = path.read_text()
        if path.name == "index.php":  # "silence is golden": a folder lists nothing
            continue
        assert not text.rstrip().endswith("?>"), f"{path.name} ends with a closing tag"
        guard = "WP_UNINSTALL_PLUGIN" if path.name == "uninstall.php" else "ABSPATH"
        assert f"defined( '{guard}' )" in text, f"{path.name} runs when requested directly"


# Text as JSON carries it to PHP: no lone surrogates (nor does UTF-8 have them).
TEXT = st.characters(exclude_categories=("Cs",))
NO_NEWLINE = st.characters(exclude_categories=("Cs",), exclude_characters="\n")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secret=st.text(TEXT, min_size=1, max_size=60),
    site=st.one_of(st.from_regex(SITE_RE, fullmatch=True), st.text(NO_NEWLINE, max_size=20)),
    item_id=st.one_of(st.from_regex(ID_RE, fullmatch=True), st.text(NO_NEWLINE, max_size=40)),
    expires=st.one_of(st.integers(0, 2**62), st.sampled_from([0, 1, 1767225600, 2**31])),
)
@example(secret="s3cret", site="news", item_id="story-42", expires=1767225600)
@example(secret="clé", site="news", item_id="Ελλάδα-😀", expires=2**62)
def test_tokens_signed_in_php_verify_in_ranker(
    php: Harness, secret: str, site: str, item_id: str, expires: int
) -> None:
    token = php.call("sign", secret, site, item_id, expires)
    assert token == sign(secret, site, item_id, expires)
    before = expires - 1 if expires < 2**53 else 2**53  # a time a float clock can say
    assert verify(secret, site, item_id, token, now=before)
    assert not verify(secret, site, item_id, token, now=expires)  # expired
    assert not verify(secret, site, item_id + "x", token, now=before)
    assert not verify(secret + "x", site, item_id, token, now=before)


def test_without_a_secret_php_signs_with_the_key_ranker_derives_from_the_token(
    php: Harness,
) -> None:
    site = Site("news", half_life=3600.0, token=TOKEN)
    assert php.call("signing_key", TOKEN, "") == site.signing_key
    assert php.call("signing_key", TOKEN, SECRET) == SECRET
    assert php.call("signing_key", "", "") == ""


def test_php_refuses_to_sign_what_ranker_refuses(php: Harness) -> None:
    for args, message in [
        (("", "news", "story", 1), "secret: must not be empty"),
        (("key", "news", "two\nlines", 1), "site and id: strings without a newline"),
        (("key", "ne\nws", "story", 1), "site and id: strings without a newline"),
        (("key", "news", "story", -1), "expires: unix seconds, a non-negative integer"),
        (("key", "news", "story", "1"), "expires: unix seconds, a non-negative integer"),
    ]:
        with pytest.raises(PhpError, match=f"^{message}$"):
            php.call("sign", *args)


def test_a_pages_token_lasts_a_month_and_changes_once_a_day(php: Harness) -> None:
    now = 1_767_225_600 + 3600  # 2026-01-01 01:00 UTC
    expires = php.call("token_expiry", now)
    assert expires == 1_767_225_600 + 31 * 86400
    assert php.call("token_expiry", now + 80_000) == expires
    assert php.call("token_expiry", now + 90_000) == expires + 86400


# Post fields as WordPress holds them: HTML titles with entities, any text, links of any sort.
HTML_TEXT = st.one_of(
    st.text(TEXT, max_size=400),
    st.lists(
        st.sampled_from(["<em>", "</em>", "&amp;", "&#8217;", "&nbsp;", "\t", "\u202e", " ", "é"])
        | st.text(TEXT, max_size=8),
        max_size=60,
    ).map("".join),
)
LINK = st.one_of(
    st.text(TEXT, max_size=40),
    st.builds(
        "{}{}/{}".format,
        st.sampled_from(["https://", "http://", "HTTPS://", " https://", "//", "/", ""]),
        st.text(TEXT, max_size=20),
        st.text(TEXT, max_size=30),
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=HTML_TEXT,
    url=LINK,
    summary=HTML_TEXT,
    image=st.none() | LINK,
    authors=st.lists(HTML_TEXT, max_size=14),
    tags=st.lists(HTML_TEXT, max_size=40),
    slug=st.text(TEXT, max_size=50),
    published=st.none() | st.integers(-(2**36), 2**38),
)
def test_every_entry_php_makes_passes_the_catalog_rule(
    php: Harness,
    title: str,
    url: str,
    summary: str,
    image: str | None,
    authors: list[str],
    tags: list[str],
    slug: str,
    published: int | None,
) -> None:
    section = php.call("section", slug, 7)
    post = {"title": title, "url": url, "summary": summary, "image": image, "section": section}
    post |= {"authors": authors, "tags": tags, "published": published}
    try:
        entry = php.call("entry", post)
    except PhpError as e:  # only a post without a title or a usable link
        assert str(e) in (
            "title: must not be empty",
            "url: expected an http(s) URL or a path starting with a single /",
        )
        return
    try:
        catalog_entry(entry)
    except InvalidInput as e:
        pytest.fail(f"Ranker refuses {entry!r}: {e}")
    assert section is None or entry["section"] == section
    assert len(entry.get("authors", [])) <= 10 and len(entry.get("tags", [])) <= 30


def test_an_entry_keeps_what_a_reader_sees(php: Harness) -> None:
    entry = php.call(
        "entry",
        {
            "title": "Council <em>approves</em> tram &#8217;line&#8217; &amp; more\u202e",
            "url": " https://news.example/2026/tram line/ ",
            "published": 1_767_225_600,
            "section": php.call("section", "Economie-Marches", 12),
            "summary": "First\nline\t\tsecond",
            "image": "https://news.example/wp-content/uploads/a b.jpg",
            "authors": ["Jane Doe", "", "JANE DOE"],
            "tags": ["Trams &amp; buses", "x" * 150],
        },
    )
    assert entry == {
        "title": "Council approves tram \u2019line\u2019 & more",
        "url": "https://news.example/2026/tram%20line/",
        "published_at": "2026-01-01T00:00:00Z",
        "section": "economie-marches",
        "summary": "First line second",
        "image": "https://news.example/wp-content/uploads/a%20b.jpg",
        "authors": ["Jane Doe"],
        "tags": ["Trams & buses", "x" * 99 + "\u2026"],
    }
    assert php.call("section", "%d0%bd%d0%be%d0%b2%d0%be%d1%81%d1%82%d0%b8", 31) == "cat-31"
    assert php.call("section", "all", 4) == "cat-4"
    assert php.call("section", "Sport_News", 4) == "sport_news"
    assert php.call("section", "", 4) is None


def test_a_post_sent_from_php_is_catalogued_listed_hidden_and_deleted(
    php: Harness, engine: EmbeddedEngine, tmp_path: Path
) -> None:
    post = {
        "title": "Derby &amp; thriller: late <strong>winner</strong>",
        "url": "https://news.example/?p=212",
        "published": int(time.time()) - 600,
        "section": "sport",
        "authors": ["Ines Moreau"],
        "tags": ["Football", "Derby"],
        "image": "https://news.example/wp-content/uploads/derby.jpg",
    }
    with ranker_serving(engine, tmp_path) as base:

        def send(op: str, item_id: str, entry: Any = None, token: str = TOKEN) -> dict[str, Any]:
            request = php.call("request", base, "news", token, op, item_id, entry)
            answer = php.call("send", request)
            return {**answer, **php.call("outcome", op, answer["status"], answer["body"])}

        entry = php.call("entry", post)
        answer = send("put", "212", entry)
        assert (answer["status"], answer["outcome"]) == (201, "done"), answer
        stored = requests.get(f"{base}/v1/sites/news/items/212", headers=auth(), timeout=5).json()
        expected = public_entry("212", catalog_entry(entry))
        assert {k: stored[k] for k in expected} == expected
        assert stored["title"] == "Derby & thriller: late winner" and stored["hidden"] is False
        assert stored["published_at"] == time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(post["published"])
        )
        listed = requests.get(f"{base}/v1/sites/news/top?section=sport", timeout=5).json()
        assert [i["id"] for i in listed["items"]] == ["212"]
        ids = requests.get(f"{base}/v1/sites/news/items", headers=auth(), timeout=5).json()["ids"]
        assert ids == ["212"]
        assert send("put", "212", entry)["status"] == 200  # replaced

        # The page's token counts a story the catalog does not have yet.
        key = php.call("signing_key", TOKEN, SECRET)
        token = php.call("sign", key, "news", "213", php.call("token_expiry", int(time.time())))
        forged = token[:-1] + ("B" if token.endswith("A") else "A")
        for beacon_token, status in [(token, 204), (forged, 403)]:
            beacon = {"site": "news", "id": "213", "token": beacon_token}
            hit = requests.post(f"{base}/v1/hit", json=beacon, headers=BROWSER_HEADERS, timeout=5)
            assert hit.status_code == status, hit.text

        answer = send("hide", "212")
        assert (answer["status"], answer["outcome"]) == (200, "done"), answer
        listed = requests.get(f"{base}/v1/sites/news/top", timeout=5).json()
        assert listed["items"] == []
        answer = send("delete", "212")
        assert (answer["status"], answer["outcome"]) == (204, "done"), answer
        gone = requests.get(f"{base}/v1/sites/news/items/212", headers=auth(), timeout=5)
        assert gone.status_code == 404
        for op in ("delete", "hide"):  # a story Ranker does not have: nothing to do
            answer = send(op, "212")
            assert (answer["status"], answer["outcome"]) == (404, "done"), answer

        answer = send("put", "212", entry, token="x" * 40)
        assert answer["status"] in (401, 403) and answer["outcome"] == "retry", answer
        assert "x" * 40 not in answer["message"]

        bulk = php.call("import_request", base, "news", TOKEN, {"300": entry, "301": entry})
        answer = php.call("send", bulk)
        assert answer["status"] == 200, answer
        assert php.call("outcome", "import", 200, answer["body"])["outcome"] == "done"
        ids = requests.get(f"{base}/v1/sites/news/items", headers=auth(), timeout=5).json()["ids"]
        assert sorted(ids) == ["300", "301"]

    # Ranker gone: the push waits in the queue.
    answer = send("put", "212", entry)
    assert (answer["status"], answer["outcome"]) == (0, "retry")


def test_answers_that_may_pass_are_retried_for_about_three_days(php: Harness) -> None:
    for status, outcome in [(0, "retry"), (401, "retry"), (403, "retry"), (408, "retry")]:
        assert php.call("outcome", "put", status, "")["outcome"] == outcome
    for status in (429, 500, 502, 503):
        assert php.call("outcome", "put", status, "")["outcome"] == "retry"
    body = '{"error": "invalid_item", "message": "title: must not be empty"}'
    assert php.call("outcome", "put", 422, body) == {
        "outcome": "failed",
        "message": "HTTP 422 invalid_item: title: must not be empty",
    }
    site_gone = '{"error": "unknown_site", "message": "no such site"}'
    assert php.call("outcome", "delete", 404, site_gone)["outcome"] == "retry"
    delays = [php.call("retry_delay", n) for n in range(1, 21)]
    assert delays[:4] == [60, 120, 240, 480] and max(delays[:-1]) == 6 * 3600
    assert delays[-1] is None
    assert 2.5 * 86400 < sum(delays[:-1]) < 3.5 * 86400


def test_the_box_has_the_widgets_attributes_and_says_what_is_wrong(php: Harness) -> None:
    assert php.call("box", {}, "news", "42") == {
        "data-ranker-top": "",
        "data-site": "news",
        "data-n": "5",
        "data-window": "24h",
        "data-exclude": "42",
    }
    settings = {"window": "HOT", "section": "sport", "n": " 3", "exclude_current": "false"}
    settings |= {"title": "Most <b>read</b>", "placement": "sidebar"}
    assert php.call("box", settings, "news", "42") == {
        "data-ranker-top": "",
        "data-site": "news",
        "data-n": "3",
        "data-window": "hot",
        "data-section": "sport",
        "data-title": "Most read",
        "data-placement": "sidebar",
        "data-exclude-current": "false",
    }
    assert "data-exclude" not in php.call("box", {}, "news", None)
    for wrong, message in [
        ({"window": "week"}, "window: one of hot, 1h, 24h, 7d, 30d, all"),
        ({"n": "0"}, "n: a whole number from 1 to 100"),
        ({"n": "5 stories"}, "n: a whole number from 1 to 100"),
        ({"n": 101}, "n: a whole number from 1 to 100"),
        ({"section": "all"}, "section: 1-32 of a-z"),
        ({"section": "Économie"}, "section: 1-32 of a-z"),
        ({"exclude_current": "maybe"}, "exclude_current: true or false"),
        ({"placement": "side bar"}, "placement: 1-32 of a-z"),
    ]:
        with pytest.raises(PhpError, match=message):
            php.call("box", wrong, "news", "42")
