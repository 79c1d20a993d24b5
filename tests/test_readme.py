"""The README is a contract: every shell example in it runs, as written and in order,
against the demo that its first command starts. Only the port is the test's own, and the
blocks marked `<!-- not run by tests/test_readme.py: why -->` are left out."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from pathlib import Path

from redis import Redis

from ranker.store.engine import EmbeddedEngine
from tests.test_cli import free_port, ranker_process

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
NOT_RUN = "<!-- not run by tests/test_readme.py:"
FENCE = re.compile(r"^( *)```sh\n(.*?)^\1```$", re.M | re.S)


def examples() -> list[tuple[int, str]]:
    """(line, text) of each shell example the test runs, in order."""
    text = README.read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        if before.startswith(NOT_RUN):
            continue
        found.append((text.count("\n", 0, m.start()) + 1, textwrap.dedent(m[2])))
    return found


def test_the_readme_has_examples_and_says_why_it_skips_any() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(examples()) >= 8
    for reason in re.findall(re.escape(NOT_RUN) + r"(.*?)-->", text):
        assert reason.strip(), "a skipped example says why"
    assert text.count(NOT_RUN) <= 4  # the exceptions stay few


def test_every_example_runs_against_the_demo(engine: EmbeddedEngine, tmp_path: Path) -> None:
    with Redis.from_url(engine.url) as redis:
        redis.flushall()
    port = free_port()
    script = ["set -euo pipefail"]
    for k, (_, block) in enumerate(examples()):
        script += [
            f"printf '\\n### %s\\n' {k}",
            block.replace("127.0.0.1:8080", f"127.0.0.1:{port}"),
        ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RANKER_", "REDIS_"))}
    argv = ("demo", "--port", str(port), "--rate", "5")
    with ranker_process(tmp_path, port, *argv, REDIS_URL=engine.url):
        done = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    outputs = re.split(r"\n### (\d+)\n", "\n" + done.stdout)[1:]
    by_block = dict(zip(outputs[::2], outputs[1::2], strict=True))
    lines = [line for line, _ in examples()]
    assert done.returncode == 0, (
        f"stopped in the example at README line {lines[len(by_block) - 1]}:\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    assert len(by_block) == len(lines)
    for k, output in by_block.items():
        assert '"error"' not in output, f"README line {lines[int(k)]}:\n{output}"
    everything = done.stdout
    assert "HTTP/1.1 204" in everything  # the beacon that counts, counted
    assert "demo: most viewed, window hot" in everything  # ranker top
    assert '"position":1,"until":' in everything  # the pin example
