"""What the WordPress plugin's tests share: Debian's php (a test module that imports this is
skipped when it is missing, unless CI requires it), the plugin's pure PHP driven line by
line through tests/php/harness.php, and `ranker serve` for a site with a token and secret."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis import Redis

from ranker.store.engine import EmbeddedEngine, free_port
from tests.support import TOKEN
from tests.test_cli import ranker_process

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "integrations" / "wordpress" / "ranker-most-viewed"
HARNESS = ROOT / "tests" / "php" / "harness.php"
# CI (.ci/run) installs php, WordPress and MariaDB and sets this: their tests fail there
# rather than skip.
REQUIRED = bool(os.environ.get("RANKER_REQUIRE_WORDPRESS"))
SECRET = secrets.token_urlsafe(32)  # the site's secret: `ranker serve` refuses a short one


def need(path: str | None, what: str) -> str:
    """`path` if it exists; else skip the module, or fail it where CI requires it."""
    if path and Path(path).exists():
        return path
    if REQUIRED:
        raise RuntimeError(f"{what} is missing; .ci/run installs it")
    pytest.skip(f"{what} is not installed", allow_module_level=True)


PHP = need(shutil.which("php"), "Debian's php (apt-get install php-cli)")


class PhpError(Exception):
    """A Ranker_MV_Invalid the plugin's code threw: its message."""


class Harness:
    """One php process running the plugin's pure code: call(name, *args) returns what
    Ranker_MV_Core::name(*args) returns, or raises PhpError with its message."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [PHP, "-d", "display_errors=stderr", "-d", "error_reporting=-1", str(HARNESS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def call(self, name: str, *args: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(orjson.dumps({"call": name, "args": args}) + b"\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"php stopped (exit {self.proc.poll()})"
        answer = orjson.loads(line)
        if "error" in answer:
            raise PhpError(answer["error"])
        return answer["ok"]

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        try:
            assert self.proc.wait(10) == 0
        finally:
            self.proc.stdout.close()


@contextmanager
def ranker_serving(engine: EmbeddedEngine, tmp_path: Path, *flags: str) -> Iterator[str]:
    """`ranker serve` (with `flags`) for the site "news" with the session's token and
    SECRET, on the test engine (flushed first): its address."""
    with Redis.from_url(engine.url) as redis:
        redis.flushall()
    port = free_port()
    config = tmp_path / "ranker.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\nlog_format = "text"\n'
        f'[sites.news]\ntoken = "{TOKEN}"\nsecret = "{SECRET}"\n'
    )
    argv = ("serve", "--config", str(config), *flags)
    with ranker_process(tmp_path, port, *argv, REDIS_URL=engine.url):
        yield f"http://127.0.0.1:{port}"
