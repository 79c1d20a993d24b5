"""The browser code as shipped: beacon.js and widget.js are what esbuild builds from
static/src/ (the committed builds, since no Node.js runs where the package is installed)
and stay small; every dashboard module is imported, served and packaged."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ranker.http import assets

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "ranker" / "static"
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"
BUILT = ["beacon.js", "widget.js"]
# Bytes as served, and gzipped. The README promises beacon.js under 2 KB; the rest are
# budgets with room to spare, so that growth is a decision rather than an accident.
BUDGETS = {"beacon.js": (2048, 1024), "widget.js": (6912, 3072)}
# `import ... from "./x.js"` and `export ... from "./x.js"`, the only imports the dashboard uses.
IMPORT_RE = re.compile(r'^(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)";', re.MULTILINE | re.DOTALL)


@pytest.mark.skipif(
    not ESBUILD.exists() or shutil.which("node") is None,
    reason="esbuild is not installed: scripts/test installs it (npm ci)",
)
def test_the_committed_builds_are_what_esbuild_builds(tmp_path: Path) -> None:
    subprocess.run(
        ["node", str(ROOT / "scripts" / "build.mjs"), str(tmp_path)], check=True, cwd=ROOT
    )
    for name in BUILT:
        fresh = (tmp_path / name).read_bytes()
        assert (STATIC / name).read_bytes() == fresh, f"{name} is stale: run `npm run build`"


@pytest.mark.parametrize("name", BUILT)
def test_the_builds_say_where_they_come_from(name: str) -> None:
    first = (STATIC / name).read_text(encoding="utf-8").splitlines()[0]
    assert "ranker/static/src/" in first and "npm run build" in first
    assert (STATIC / "src" / name).exists()


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_the_embedded_scripts_stay_small(name: str) -> None:
    body = (STATIC / name).read_bytes()
    most, most_gzipped = BUDGETS[name]
    assert len(body) < most
    assert len(gzip.compress(body, compresslevel=9)) < most_gzipped


def _imports(source: str) -> list[str]:
    return IMPORT_RE.findall(source)


async def test_every_dashboard_module_is_imported_and_served(
    client: TestClient[Any, Any],
) -> None:
    """From dashboard.html's module script through every relative import: each is served
    as JavaScript, and no file in static/dashboard/ is left out."""
    html = await (await client.get("/dashboard")).text()
    entries = re.findall(r'<script type="module" src="([^"]+)"></script>', html)
    assert entries == ["/dashboard/main.js"]
    seen: set[str] = set()
    todo = list(entries)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        response = await client.get(path)
        assert response.status == 200, path
        assert response.content_type == "text/javascript", path
        for target in _imports(await response.text()):
            assert target.startswith("./") and target.endswith(".js"), (path, target)
            todo.append("/dashboard/" + target.removeprefix("./"))
    modules = {p.name for p in (STATIC / "dashboard").glob("*.js")}
    assert seen == {f"/dashboard/{m}" for m in modules}
    assert {p for p in assets.ASSETS if p.startswith("/dashboard/")} == seen


def test_the_package_ships_every_served_file() -> None:
    """A plain `pip install` (the Docker image) has only what package-data names."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["ranker"]
    shipped = {p for pattern in patterns for p in (ROOT / "ranker").glob(pattern) if p.is_file()}
    served = {STATIC.joinpath(*name.split("/")) for name, _ in assets.ASSETS.values()}
    demo = ROOT / "ranker" / "demo"
    pages = {STATIC / "dashboard.html", demo / "page.html", demo / "stories.jsonl"}
    assert served | pages <= shipped
    assert not [p for p in shipped if STATIC / "src" in p.parents]  # sources stay out


@pytest.mark.parametrize(
    ("given", "status"),
    [
        (None, 200),
        ("{tag}", 304),
        ('W/{tag}, "other"', 304),
        ('"other", {tag}', 304),
        ("*", 304),
        ('"other"', 200),
        ("{inner}", 200),  # a part of the tag is not the tag
    ],
)
async def test_assets_and_lists_read_if_none_match_alike(
    client: TestClient[Any, Any], given: str | None, status: int
) -> None:
    for path in ("/beacon.js", "/v1/sites/news/top"):
        tag = (await client.get(path)).headers["ETag"]
        headers = {} if given is None else {"If-None-Match": given.format(tag=tag, inner=tag[1:-3])}
        assert (await client.get(path, headers=headers)).status == status, path
