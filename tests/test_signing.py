"""Signed view tokens: what verifies, what never does, and that nothing raises."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ranker.core.signing import sign, verify

SECRET = "s3cret"
EXPIRES = 1767225600
NOW = EXPIRES - 3600.0
TOKEN = sign(SECRET, "news", "story-42", EXPIRES)

any_text = st.text(st.characters(exclude_categories=()))
secrets = st.text(min_size=1)
names = st.text().filter(lambda s: "\n" not in s)
expiries = st.integers(0, 2**40)


def test_the_token_format_other_languages_can_copy() -> None:
    """base64url, unpadded, of the first 16 bytes of HMAC-SHA256(secret,
    "site\\nid\\nexpires"), after the expiry and a dot."""
    mac = hmac.new(SECRET.encode(), f"news\nstory-42\n{EXPIRES}".encode(), hashlib.sha256)
    encoded = base64.urlsafe_b64encode(mac.digest()[:16]).decode().rstrip("=")
    assert TOKEN == f"{EXPIRES}.{encoded}" == "1767225600.nsWfbZWZgMEdEx8ncDeOZA"
    assert quote(TOKEN, safe="") == TOKEN  # nothing to escape in a URL or attribute


@given(secret=secrets, site=names, item_id=names, expires=expiries, before=st.floats(0, 1e9))
def test_a_token_verifies_until_it_expires(
    secret: str, site: str, item_id: str, expires: int, before: float
) -> None:
    token = sign(secret, site, item_id, expires)
    assert len(token) <= 64
    assume(before > 0 and expires - before < expires)
    assert verify(secret, site, item_id, token, expires - before)
    assert not verify(secret, site, item_id, token, expires)
    assert not verify(secret, site, item_id, token, expires + before)


@given(secret=secrets, site=names, item_id=names, expires=expiries, other=names)
def test_a_token_is_for_one_site_and_one_id(
    secret: str, site: str, item_id: str, expires: int, other: str
) -> None:
    token = sign(secret, site, item_id, expires)
    now = expires - 1.0
    if other != site:
        assert not verify(secret, other, item_id, token, now)
    if other != item_id:
        assert not verify(secret, site, other, token, now)
    if other and other != secret:
        assert not verify(other, site, item_id, token, now)


@given(expires=expiries, later=st.integers(1, 2**40))
def test_a_token_cannot_be_given_a_later_expiry(expires: int, later: int) -> None:
    token = sign(SECRET, "news", "story-42", expires)
    forged = f"{expires + later}.{token.partition('.')[2]}"
    assert not verify(SECRET, "news", "story-42", forged, expires - 1.0)


@given(position=st.integers(0, len(TOKEN) - 1), char=st.characters(codec="ascii"))
def test_any_changed_character_breaks_the_token(position: int, char: str) -> None:
    assume(char != TOKEN[position])
    changed = TOKEN[:position] + char + TOKEN[position + 1 :]
    assert not verify(SECRET, "news", "story-42", changed, NOW)


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        f"{EXPIRES}.",
        f".{TOKEN.partition('.')[2]}",
        TOKEN + "=",
        TOKEN + "==",
        " " + TOKEN,
        TOKEN + "\n",
        "0" + TOKEN,  # same expiry, not the digits sign() writes
        "+" + TOKEN,
        TOKEN.replace(".", ":"),
        TOKEN[:-1],
        TOKEN + "A",
        "١٧٦٧٢٢٥٦٠٠." + TOKEN.partition(".")[2],  # Arabic-Indic digits
        TOKEN[:-1] + "é",
        "9" * 10_000 + "." + "A" * 22,
        TOKEN * 1000,
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    assert not verify(SECRET, "news", "story-42", token, NOW)


def test_the_token_itself_verifies_in_these_tests() -> None:
    """So the refusals above are about the token, not the setup."""
    assert verify(SECRET, "news", "story-42", TOKEN, NOW)


@given(
    secret=any_text,
    site=any_text,
    item_id=any_text,
    token=any_text | st.builds(lambda t: TOKEN + t, any_text),
    now=st.floats(),
)
def test_verify_never_raises(secret: str, site: str, item_id: str, token: str, now: float) -> None:
    assert verify(secret, site, item_id, token, now) in (True, False)


@pytest.mark.parametrize("now", [float("nan"), float("inf")])
def test_a_broken_clock_verifies_nothing(now: float) -> None:
    assert not verify(SECRET, "news", "story-42", TOKEN, now)


def test_an_empty_secret_signs_and_verifies_nothing() -> None:
    with pytest.raises(ValueError):
        sign("", "news", "story-42", EXPIRES)
    unkeyed = hmac.new(b"", f"news\nstory-42\n{EXPIRES}".encode(), hashlib.sha256).digest()
    token = f"{EXPIRES}.{base64.urlsafe_b64encode(unkeyed[:16]).decode().rstrip('=')}"
    assert not verify("", "news", "story-42", token, NOW)


def test_a_newline_cannot_move_between_site_and_id() -> None:
    token = sign(SECRET, "news", "a", EXPIRES)
    assert not verify(SECRET, "news\na", "", token, NOW)
    with pytest.raises(ValueError):
        sign(SECRET, "news\na", "", EXPIRES)
    with pytest.raises(ValueError):
        sign(SECRET, "news", "a\nb", EXPIRES)


@pytest.mark.parametrize("expires", [-1, True])
def test_an_expiry_is_unix_seconds(expires: int) -> None:
    with pytest.raises(ValueError):
        sign(SECRET, "news", "story-42", expires)
