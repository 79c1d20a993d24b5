"""The WordPress plugin in a real WordPress (Debian's, on a private MariaDB, served by
`php -S`) against a real `ranker serve --dev`: posts published, updated, unpublished and
trashed reach the catalog, a failed push waits and is sent again, a reader's Chromium counts
the view and sees the block and the shortcode draw the list, and no page shows a secret."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from ranker.core.signing import verify
from ranker.store.engine import EmbeddedEngine, free_port
from tests import browser
from tests.support import BROWSER, TOKEN, auth
from tests.wordpress import PHP, PLUGIN, ROOT, SECRET, need, ranker_serving

WORDPRESS = Path(need("/usr/share/wordpress/wp-settings.php", "Debian's wordpress")).parent
MARIADBD = need(shutil.which("mariadbd", path="/usr/sbin:/usr/bin"), "Debian's mariadb-server")
INSTALL_DB = need(shutil.which("mariadb-install-db"), "Debian's mariadb-server")
if "mysqli" not in subprocess.run([PHP, "-m"], capture_output=True, text=True).stdout.split():
    need(None, "PHP's mysqli (apt-get install php-mysql)")
RUNNER = ROOT / "tests" / "php" / "wordpress.php"


@contextlib.contextmanager
def mariadb(folder: Path) -> Iterator[Path]:
    """A MariaDB server of its own on a unix socket in `folder` (no TCP port): the socket."""
    data, socket = folder / "data", folder / "sock"
    user = f"--user={getpass.getuser()}"  # as root, mariadbd wants to be told so
    subprocess.run(
        [INSTALL_DB, "--no-defaults", f"--datadir={data}", "--skip-test-db", user,
         "--auth-root-authentication-method=normal"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = subprocess.Popen(
        [MARIADBD, "--no-defaults", f"--datadir={data}", f"--socket={socket}", user,
         "--skip-networking", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
         f"--pid-file={folder / 'pid'}", f"--log-error={folder / 'error.log'}"],
        stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not socket.exists():
            assert server.poll() is None and time.monotonic() < deadline, (
                folder / "error.log"
            ).read_text()
            time.sleep(0.05)
        yield socket
    finally:
        server.terminate()
        try:
            server.wait(20)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)


class WordPress:
    """Debian's WordPress copied into a folder, with the plugin copied in as a publisher
    installs it, its database on `socket`, served at `home` once serve() is entered."""

    def __init__(self, folder: Path, socket: Path) -> None:
        self.root = folder / "wordpress"
        self.port = free_port()
        self.home = f"http://127.0.0.1:{self.port}"
        self.log = folder / "debug.log"
        # Compiled scripts kept on disk: each php process would compile WordPress again.
        (folder / "opcache").mkdir()
        self.opcache = ["-d", "opcache.enable_cli=1", "-d", f"opcache.file_cache={folder}/opcache"]
        # Files, not Debian's relative links; without its wp-config.php, which reads per-host
        # files in /etc/wordpress.
        ignored = shutil.ignore_patterns("wp-config.php", ".htaccess")
        shutil.copytree(WORDPRESS, self.root, ignore=ignored)
        shutil.copytree(PLUGIN, self.root / "wp-content" / "plugins" / PLUGIN.name)
        (self.root / "wp-config.php").write_text(
            f"""<?php
define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'root' );
define( 'DB_PASSWORD', '' );
define( 'DB_HOST', 'localhost:{socket}' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
$table_prefix = 'wp_';
define( 'WP_HOME', '{self.home}' );
define( 'WP_SITEURL', '{self.home}' );
define( 'DISABLE_WP_CRON', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_HTTP_BLOCK_EXTERNAL', true );
define( 'WP_DEBUG', true );
define( 'WP_DEBUG_LOG', '{self.log}' );
define( 'WP_DEBUG_DISPLAY', false );
define( 'ABSPATH', __DIR__ . '/' );
require_once ABSPATH . 'wp-settings.php';
"""
        )

    def php(self, code: str, install: bool = False) -> Any:
        """Runs `code` (a function body) in this WordPress, signed in as its admin: what it
        returned."""
        env = {**os.environ, "RANKER_WP_INSTALL": "1"} if install else None
        done = subprocess.run(
            [PHP, *self.opcache, str(RUNNER), str(self.root)],
            input=code,
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout.splitlines()[-1])

    @contextlib.contextmanager
    def serve(self) -> Iterator[None]:
        server = subprocess.Popen(
            [PHP, *self.opcache, "-S", f"127.0.0.1:{self.port}", "-t", str(self.root)],
            env={**os.environ, "PHP_CLI_SERVER_WORKERS": "4"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                with contextlib.suppress(requests.ConnectionError):
                    if requests.get(f"{self.home}/wp-login.php", timeout=5).ok:
                        break
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            yield
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(10)

    def plugin_notices(self) -> list[str]:
        """What PHP logged about the plugin's code (WordPress 6.1 on PHP 8.2 logs its own
        deprecations, which are not the plugin's)."""
        text = self.log.read_text() if self.log.exists() else ""
        return [line for line in text.splitlines() if PLUGIN.name in line]


def setup(wp: WordPress, ranker: str) -> dict[str, Any]:
    """WordPress installed, the plugin active and set, and two posts published: "tram" with
    the block and the shortcode, a category, tags and a featured image; "derby" plain."""
    wp.php(
        """wp_install( 'Gazette', 'admin', 'admin@example.com', true, '', 'a-password-1' );
        return true;""",
        install=True,
    )
    return wp.php(  # type: ignore[no-any-return]
        f"""
        activate_plugin( 'ranker-most-viewed/ranker-most-viewed.php', '', false, true );
        update_option( 'ranker_mv_settings', array( 'url' => '{ranker}', 'site' => 'news',
            'token' => '{TOKEN}', 'secret' => '{SECRET}' ) );
        wp_update_user( array( 'ID' => 1, 'display_name' => 'Jane Doe' ) );
        $sport = wp_insert_term( 'Sport', 'category' )['term_id'];
        $image = wp_insert_attachment( array( 'post_mime_type' => 'image/jpeg',
            'post_title' => 'tram', 'post_status' => 'inherit' ), '2026/01/tram.jpg' );
        update_post_meta( $image, '_wp_attached_file', '2026/01/tram.jpg' );
        $derby = wp_insert_post( array( 'post_title' => 'Derby thriller',
            'post_status' => 'publish', 'post_content' => 'A late winner.',
            'post_category' => array( $sport ) ) );
        $tram = wp_insert_post( array(
            'post_title'    => 'Council approves <em>new</em> tram line',
            'post_status'   => 'publish',
            'post_excerpt'  => 'Works start in May.',
            'post_category' => array( $sport ),
            'tags_input'    => array( 'Trams & buses', 'Council' ),
            'meta_input'    => array( '_thumbnail_id' => $image ),
            'post_content'  => '<!-- wp:paragraph --><p>The council voted.</p>'
                . '<!-- /wp:paragraph -->' . "\\n"
                . '<!-- wp:ranker/most-viewed {{"n":3,"window":"hot","title":"Trending"}} /-->'
                . "\\n" . '<!-- wp:shortcode -->[ranker_most_viewed window="24h" n="5"]'
                . '<!-- /wp:shortcode -->',
        ) );
        return array( 'tram' => $tram, 'derby' => $derby, 'sport' => $sport,
            'tram_url' => get_permalink( $tram ), 'derby_url' => get_permalink( $derby ),
            'image' => wp_get_attachment_url( $image ),
            'queue' => get_option( 'ranker_mv_queue', array() ) );
        """
    )


def item(ranker: str, item_id: int | str) -> dict[str, Any] | None:
    """The catalog entry Ranker has for the post, or None."""
    answer = requests.get(f"{ranker}/v1/sites/news/items/{item_id}", headers=auth(), timeout=5)
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def until_counted(ranker: str, item_id: int, views: int) -> None:
    async def counted() -> bool:
        entry = item(ranker, item_id)
        return entry is not None and entry["views_total"] >= views

    await browser.until(counted, f"Ranker counting a view of post {item_id}")


async def editor_and_settings(chromium: Any, wp: WordPress, ranker: str) -> None:
    """An administrator's browser: the block in the editor, and the settings form (through
    options.php, its nonce and capability check) saving, and refusing a wrong address."""
    context = await chromium.new_context(user_agent=BROWSER)
    tab = await context.new_page()
    tab.set_default_timeout(20_000)
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    await tab.goto(f"{wp.home}/wp-login.php")
    await tab.fill("#user_login", "admin")
    await tab.fill("#user_pass", "a-password-1")
    await tab.click("#wp-submit")
    await tab.wait_for_url("**/wp-admin/**")

    await tab.goto(f"{wp.home}/wp-admin/post-new.php")
    await tab.wait_for_function("() => window.wp?.blocks?.getBlockType('ranker/most-viewed')")
    await tab.evaluate(
        """() => wp.data.dispatch("core/block-editor").insertBlocks(
            wp.blocks.createBlock("ranker/most-viewed", {n: 3, section: "sport"}))"""
    )
    placeholder = tab.locator(".wp-block-ranker-most-viewed .components-placeholder")
    await placeholder.wait_for()
    text = await placeholder.inner_text()
    assert "The 3 most viewed stories in section sport: Last 24 hours." in text, text

    settings = f"{wp.home}/wp-admin/options-general.php?page=ranker-most-viewed"
    await tab.goto(settings)
    assert await tab.locator("#ranker-mv-token").input_value() == ""
    assert await tab.locator(".ranker-mv-state").all_text_contents() == ["Set", "Set"]
    html = await tab.content()
    assert TOKEN not in html and SECRET not in html
    await tab.fill("#ranker-mv-url", "ranker.example.com/path")
    await tab.fill("#ranker-mv-site", "other")
    await tab.evaluate("() => document.querySelector('#ranker-mv-url').type = 'text'")
    await tab.click("#submit")
    notice = await tab.locator(".notice-error, .error").first.inner_text()
    assert "Ranker's address: an http:// or https:// address" in notice
    stored = wp.php("return get_option( 'ranker_mv_settings' );")
    assert stored == {"url": ranker, "site": "other", "token": TOKEN, "secret": SECRET}
    await tab.fill("#ranker-mv-site", "news")
    await tab.click("#submit")
    assert "Settings saved." in await tab.locator("#setting-error-settings_updated").inner_text()
    assert wp.php("return get_option( 'ranker_mv_settings' )['site'];") == "news"
    await tab.screenshot(path=browser.ARTIFACTS / "wordpress-settings.png", full_page=True)
    assert errors == []
    await context.close()


async def test_a_wordpress_site_counts_lists_and_catalogs_its_posts(
    engine: EmbeddedEngine, tmp_path: Path
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="rk-wp-"))  # short: a unix socket's path is
    try:
        with (
            mariadb(folder) as socket,
            ranker_serving(engine, tmp_path, "--dev") as ranker,
        ):
            wp = WordPress(folder, socket)
            posts = setup(wp, ranker)
            tram, derby = posts["tram"], posts["derby"]
            assert posts["queue"] == []  # both pushed at once
            entry = item(ranker, tram)
            assert entry is not None
            assert {k: entry[k] for k in ("title", "url", "section", "summary", "image")} == {
                "title": "Council approves new tram line",
                "url": posts["tram_url"],
                "section": "sport",
                "summary": "Works start in May.",
                "image": posts["image"],
            }
            assert (entry["authors"], entry["tags"]) == (["Jane Doe"], ["Council", "Trams & buses"])
            assert re.fullmatch(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["published_at"])

            with wp.serve():
                page = requests.get(posts["tram_url"], timeout=10).text
                assert TOKEN not in page and SECRET not in page
                tag = re.search(r"<script[^>]*/beacon\.js[^>]*>", page)
                assert tag is not None, page[:3000]
                beacon = dict(re.findall(r'([a-z-]+)="([^"]*)"', tag[0]))
                assert re.search(r"\sasync[\s=>]", tag[0])
                assert {k: beacon[k] for k in ("src", "data-site", "data-id")} == {
                    "src": f"{ranker}/beacon.js",
                    "data-site": "news",
                    "data-id": str(tram),
                }
                assert verify(SECRET, "news", str(tram), beacon["data-token"], now=time.time())

                async with browser.launched() as chromium:
                    context = await chromium.new_context(user_agent=BROWSER)
                    tab = await context.new_page()
                    errors: list[str] = []
                    tab.on("pageerror", lambda e: errors.append(str(e)))
                    await tab.goto(posts["derby_url"])
                    await until_counted(ranker, derby, 1)
                    await tab.goto(posts["tram_url"])
                    await until_counted(ranker, tram, 1)
                    for box in (".wp-block-ranker-most-viewed", ".ranker-most-viewed"):
                        ready = f"{box}[data-ranker-state=ready] li a"
                        link = tab.locator(ready)
                        await link.first.wait_for()
                        assert await link.all_text_contents() == ["Derby thriller"]
                        assert await link.first.get_attribute("href") == posts["derby_url"]
                        assert await tab.get_attribute(box, "data-exclude") == str(tram)
                    assert await tab.get_attribute(".wp-block-ranker-most-viewed", "data-n") == "3"
                    assert await tab.get_attribute(".ranker-most-viewed", "data-window") == "24h"
                    assert errors == []
                    browser.ARTIFACTS.mkdir(exist_ok=True)
                    await tab.screenshot(path=browser.ARTIFACTS / "wordpress-post.png")
                    await context.close()
                    await editor_and_settings(chromium, wp, ranker)

            # Unpublished: hidden, counts kept. Trashed: deleted.
            wp.php(f"wp_update_post( array( 'ID' => {derby}, 'post_status' => 'draft' ) );")
            hidden = item(ranker, derby)
            assert hidden is not None and hidden["hidden"] and hidden["views_total"] == 1
            wp.php(f"wp_trash_post( {tram} );")
            assert item(ranker, tram) is None

            # Ranker out of reach: the push waits, and goes once Ranker answers again.
            dead = f"http://127.0.0.1:{free_port()}"
            waiting = wp.php(
                f"""
                $settings = get_option( 'ranker_mv_settings' );
                update_option( 'ranker_mv_settings', array( 'url' => '{dead}' ) + $settings );
                $news = wp_insert_term( 'Новости', 'category' )['term_id'];
                $id = wp_insert_post( array( 'post_title' => 'Новости дня',
                    'post_status' => 'publish', 'post_category' => array( $news ) ) );
                update_option( 'ranker_mv_settings', $settings );
                return array( 'id' => $id, 'queue' => get_option( 'ranker_mv_queue' ),
                    'cron' => wp_next_scheduled( 'ranker_mv_retry' ) );
                """
            )
            news = waiting["id"]
            queued = waiting["queue"][str(news)]
            assert (queued["op"], queued["attempts"]) == ("put", 1)
            assert queued["error"].startswith("no answer: ") and TOKEN not in queued["error"]
            assert waiting["cron"] == queued["next"] and 50 <= queued["next"] - time.time() <= 61
            assert item(ranker, news) is None
            wp.php("Ranker_MV_Catalog::run_queue();")  # not due yet
            assert item(ranker, news) is None
            left = wp.php(
                "Ranker_MV_Catalog::run_queue( time() + 60 ); return array( "
                "get_option( 'ranker_mv_queue' ), wp_next_scheduled( 'ranker_mv_retry' ) );"
            )
            assert left == [[], False]
            sent = item(ranker, news)
            assert sent is not None and sent["title"] == "Новости дня"
            assert re.fullmatch(r"cat-\d+", sent["section"])

            # Posts from before the plugin: the bulk catalog sends them.
            old = wp.php(
                """
                $settings = get_option( 'ranker_mv_settings' );
                update_option( 'ranker_mv_settings', array( 'token' => '' ) + $settings );
                $id = wp_insert_post( array( 'post_title' => 'From the archive',
                    'post_status' => 'publish' ) );
                update_option( 'ranker_mv_settings', $settings );
                return $id;
                """
            )
            assert item(ranker, old) is None
            synced = wp.php("Ranker_MV_Catalog::sync(); return get_option( 'ranker_mv_sync' );")
            # WordPress' "Hello world!", "news" and this one
            assert synced["sent"] == 3 and synced["errors"] == []
            assert item(ranker, old) is not None

            # A scheduled post is catalogued when WP-Cron publishes it.
            scheduled = wp.php(
                """return wp_insert_post( array( 'post_title' => 'Budget day',
                    'post_status' => 'future', 'post_date' => wp_date( 'Y-m-d H:i:s',
                    time() + 3600 ) ) );"""
            )
            assert item(ranker, scheduled) is None
            wp.php(f"check_and_publish_future_post( {scheduled} );")  # what WP-Cron calls
            assert item(ranker, scheduled) is None  # not due yet
            wp.php(f"wp_publish_post( {scheduled} );")
            published = item(ranker, scheduled)
            assert published is not None and published["title"] == "Budget day"

            # The settings page says whether the token and secret are set, never what.
            page = wp.php("ob_start(); Ranker_MV_Settings::render(); return ob_get_clean();")
            assert TOKEN not in page and SECRET not in page
            assert page.count('data-state="set"') == 2 and 'name="_wpnonce"' in page
            assert re.search(r"name=.option_page. value=.ranker_mv.", page)
            assert len(re.findall(r'id="([^"]+)"', page)) == len(
                set(re.findall(r'id="([^"]+)"', page))
            )
            kept = wp.php(
                """
                $kept = Ranker_MV_Settings::sanitize( array( 'url' => 'ftp://x',
                    'site' => 'Bad Site', 'token' => 'short', 'secret' => '',
                    'secret_clear' => '1' ) );
                $errors = get_settings_errors( 'ranker_mv_settings' );
                return array( 'kept' => array_map( 'strlen', $kept ), 'url' => $kept['url'],
                    'errors' => wp_list_pluck( $errors, 'code' ) );
                """
            )
            assert kept["url"] == ranker
            assert kept["kept"] == {"url": len(ranker), "site": 4, "token": len(TOKEN), "secret": 0}
            assert kept["errors"] == ["ranker_mv_url", "ranker_mv_site", "ranker_mv_token"]
            told = wp.php(
                "$editor = do_shortcode( '[ranker_most_viewed window=\"week\"]' );"
                "wp_set_current_user( 0 );"
                "return array( $editor, do_shortcode( '[ranker_most_viewed n=\"0\"]' ) );"
            )
            assert "window: one of hot, 1h, 24h, 7d, 30d, all" in told[0]
            assert told[1] == ""
            # Deleted from the Plugins screen: nothing of it is left in WordPress.
            left = wp.php(
                """
                update_option( 'ranker_mv_queue', array( '9' => array( 'op' => 'put',
                    'attempts' => 1, 'next' => time() + 60, 'error' => '' ) ) );
                wp_schedule_single_event( time() + 60, 'ranker_mv_retry' );
                deactivate_plugins( 'ranker-most-viewed/ranker-most-viewed.php' );
                uninstall_plugin( 'ranker-most-viewed/ranker-most-viewed.php' );
                $options = array( 'ranker_mv_settings', 'ranker_mv_queue', 'ranker_mv_status',
                    'ranker_mv_sync' );
                return array( array_map( 'get_option', $options ),
                    wp_next_scheduled( 'ranker_mv_retry' ) );
                """
            )
            assert left == [[False] * 4, False]
            notices = wp.plugin_notices()
            assert wp.log.exists() and notices == [], notices  # the log is there: WP's own
    finally:
        shutil.rmtree(folder, ignore_errors=True)
