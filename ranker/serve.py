"""Running the server: one process, or several sharing the port (SO_REUSEPORT) and one
Redis. With several, the parent owns the embedded engine and the workers' lifetimes."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import sys
from dataclasses import replace
from types import FrameType

from aiohttp import web
from prometheus_client import multiprocess

from ranker.admission import address_window
from ranker.app import create_app
from ranker.appkeys import FLUSHER
from ranker.config import Settings
from ranker.engine import EmbeddedEngine, die_with_parent
from ranker.limits import AddressLimit
from ranker.networks import default_hosting_networks

log = logging.getLogger("ranker")


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


# Collections of the youngest generation: every this many container objects kept. Python's
# default (700) makes a server that keeps small objects for a while (aggregated views, the
# filters' memories) spend a tenth of its time in the collector; Ranker makes few cycles.
GC_THRESHOLDS = (50_000, 20, 100)


async def _settle_memory(app: web.Application) -> None:
    """What start-up loaded (the catalog, the hosting networks, the filter lists) lives as
    long as the process: leave it out of every garbage collection from now on."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_worker(
    settings: Settings,
    reuse_port: bool = False,
    parent: int | None = None,
    address_limit: AddressLimit | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT; on the way out, everything accepted is flushed."""
    if reuse_port:
        # One of several workers. The parent's handlers came with the fork: a signal before
        # the server sets its own should just end this process.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # If the parent dies without stopping it (SIGKILL), it gets SIGTERM, flushes and
        # exits rather than serve on alone; if the parent died already, it exits now.
        die_with_parent()
        if parent is not None and os.getppid() != parent:
            return
    app = create_app(settings, address_limit=address_limit)
    app.on_startup.append(_settle_memory)  # after the catalog and filters are loaded
    with asyncio.Runner(loop_factory=_new_loop) as runner:
        drained = runner.run(_serve(app, settings, reuse_port))
    _ignore_late_signals()  # again: closing the loop put back the default handlers
    if not drained:
        sys.exit(1)  # the parent, or the process manager, learns views were not written


async def _serve(app: web.Application, settings: Settings, reuse_port: bool) -> bool:
    """Serve until the first SIGTERM or SIGINT, then stop accepting, answer the requests
    already received, and write every view accepted. Signals after the first change
    nothing: a process group stopped by systemd, `kill -- -PGID` or a second Ctrl-C gets
    each signal more than once, and none may cut the drain short. True when everything
    accepted was written."""
    runner = web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=15,
        # Header limits: a longer request line or header field gets 400 before any handler.
        max_line_size=settings.max_field_size,
        max_field_size=settings.max_field_size,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port or None)
        await site.start()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()
    finally:
        await runner.cleanup()  # stops listening, lets handlers finish, then drains
        _ignore_late_signals()
    return app[FLUSHER].pending_views == 0


def _ignore_late_signals() -> None:
    """Once the work is done, a signal still on its way (the group's second SIGTERM, say)
    must not turn a clean exit into death by signal. Ignored for the whole process, not
    blocked: a thread of the resolver's pool would take a signal the main thread blocks."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)


def _before_fork(settings: Settings) -> AddressLimit | None:
    """What the workers share: one per-address limit, in memory they all write, so a
    client's views of a story are bounded however its connections are spread over them;
    and the hosting networks, loaded once."""
    if settings.deny_hosting:
        default_hosting_networks()
    if not settings.max_views_per_address:
        return None
    limit = AddressLimit(settings.max_views_per_address, address_window(settings))
    limit.share_across_fork()
    return limit


def run(settings: Settings, workers: int = 1) -> int:
    """Serve until stopped; the exit status: 1 if any process could not write all it
    accepted, or died."""
    if workers <= 1:
        run_worker(settings)
        return 0
    engine = None
    if not settings.redis_url:
        # One engine for all workers, started here so it outlives each of them.
        engine = EmbeddedEngine(settings.data_dir)
        settings = replace(settings, redis_url=engine.start())
        log.info("embedded engine on %s, data in %s", settings.redis_url, settings.data_dir)
    address_limit = _before_fork(settings)
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(
            target=run_worker,
            args=(
                # Demo readers come from one worker only.
                settings if i == 0 else replace(settings, demo_rate=0.0),
                True,
                os.getpid(),
                address_limit,
            ),
            name=f"ranker-worker-{i}",
        )
        for i in range(workers)
    ]

    def stop(signum: int, frame: FrameType | None) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: each worker flushes, then exits

    # SIGTERM and Ctrl-C (SIGINT) alike: stop the workers and wait for them; more of either
    # while they drain change nothing.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join()
            if process.pid is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]
    finally:
        _ignore_late_signals()
        if engine is not None:
            engine.stop()
    failed = [p.name for p in processes if p.exitcode != 0]
    if failed:
        log.error("workers that did not stop cleanly: %s", ", ".join(failed))
        return 1
    return 0
