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
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType
from types import FrameType

from aiohttp import web
from prometheus_client import Counter, multiprocess

from ranker.core.config import Settings
from ranker.core.limits import AddressLimit
from ranker.core.networks import default_hosting_networks
from ranker.http.admission import address_window
from ranker.http.app import create_app
from ranker.http.appkeys import FLUSHER, Plugin
from ranker.http.connections import Runner
from ranker.http.operations import metrics_app
from ranker.store.engine import EmbeddedEngine, die_with_parent

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
    ready: EventType | None = None,
    plugins: Sequence[Plugin] = (),
) -> None:
    """Serve until SIGTERM/SIGINT; on the way out, everything accepted is flushed. `ready`
    is set once the port is served."""
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
    app = create_app(settings, address_limit=address_limit, plugins=plugins)
    app.on_startup.append(_settle_memory)  # after the catalog and filters are loaded
    with asyncio.Runner(loop_factory=_new_loop) as runner:
        drained = runner.run(_serve(app, settings, reuse_port, ready))
    _ignore_late_signals()  # again: closing the loop put back the default handlers
    if not drained:
        sys.exit(1)  # the parent, or the process manager, learns views were not written


async def _serve(
    app: web.Application, settings: Settings, reuse_port: bool, ready: EventType | None = None
) -> bool:
    """Serve until the first SIGTERM or SIGINT, then stop accepting, answer the requests
    already received, and write every view accepted. Signals after the first change
    nothing: a process group stopped by systemd, `kill -- -PGID` or a second Ctrl-C gets
    each signal more than once, and none may cut the drain short. True when everything
    accepted was written."""
    runner = Runner(app, shutdown_timeout=15)
    await runner.setup()
    side: web.AppRunner | None = None
    try:
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port or None)
        await site.start()
        if settings.metrics_port:
            side = web.AppRunner(metrics_app(app), access_log=None, handle_signals=False)
            await side.setup()
            await web.TCPSite(
                side, settings.metrics_host, settings.metrics_port, reuse_port=reuse_port or None
            ).start()
        if ready is not None:
            ready.set()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()
    finally:
        # Stops listening, answers what was received, lets handlers finish, then drains.
        await runner.stop()
        if side is not None:
            await side.cleanup()
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


def run(settings: Settings, workers: int = 1, plugins: Sequence[Plugin] = ()) -> int:
    """Serve until stopped; the exit status: 1 if any process could not write all it
    accepted, or died. Each worker's application gets `plugins`."""
    if workers <= 1:
        run_worker(settings, plugins=plugins)
        return 0
    engine = None
    if not settings.redis_url:
        # One engine for all workers, started here so it outlives each of them.
        engine = EmbeddedEngine(settings.data_dir)
        settings = replace(settings, redis_url=engine.start())
        log.info("embedded engine on %s, data in %s", settings.redis_url, settings.data_dir)
    pool = Workers(settings, workers, _before_fork(settings), plugins)
    # SIGTERM and Ctrl-C (SIGINT) alike: stop the workers and wait for them; more of either
    # while they drain change nothing.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, pool.stop)
    try:
        return pool.run()
    finally:
        _ignore_late_signals()
        if engine is not None:
            engine.stop()


WORKER_RESTARTS = Counter(
    "ranker_worker_restarts", "Workers of `ranker serve --workers N` that died and were replaced"
)
# A worker that dies is replaced at once if it had served this long, else after a delay
# that doubles with each quick death, up to RESPAWN_MAX: a worker that cannot start (its
# Redis is gone, say) is retried without spinning while the others serve.
STEADY = 10.0
RESPAWN_FIRST = 0.5
RESPAWN_MAX = 30.0


class Workers:
    """The worker processes of `ranker serve --workers N`, kept at N: one that dies is
    logged, counted in `ranker_worker_restarts` and replaced, until the server stops."""

    def __init__(
        self,
        settings: Settings,
        count: int,
        address_limit: AddressLimit | None,
        plugins: Sequence[Plugin] = (),
    ):
        self._settings = settings
        self._plugins = plugins
        self._address_limit = address_limit
        self._context = multiprocessing.get_context("fork")
        self._slots: list[_Slot] = [_Slot(i) for i in range(count)]
        self._stopping = False
        self._failed: list[str] = []

    def _start(self, slot: _Slot) -> None:
        ready = self._context.Event()
        process = self._context.Process(
            target=run_worker,
            args=(
                self._settings,
                True,
                os.getpid(),
                self._address_limit,
                ready,
                self._plugins,
            ),
            name=f"ranker-worker-{slot.index}",
        )
        process.start()
        slot.process, slot.ready, slot.started = process, ready, time.monotonic()

    def stop(self, signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        """Stop every worker (each flushes, then exits) and replace none."""
        self._stopping = True
        for slot in self._slots:
            if slot.process is not None and slot.process.is_alive():
                slot.process.terminate()

    def run(self) -> int:
        for slot in self._slots:
            self._start(slot)
        while True:
            running = [s.process for s in self._slots if s.process is not None]
            if self._stopping and not running:
                break
            due = [s.due for s in self._slots if s.process is None]
            timeout = max(0.0, min(due) - time.monotonic()) if due else None
            wait([p.sentinel for p in running], 0.2 if self._stopping else timeout)
            for slot in self._slots:
                if slot.process is not None and not slot.process.is_alive():
                    self._ended(slot)
                elif slot.process is None and not self._stopping and slot.due <= time.monotonic():
                    self._start(slot)
        if self._failed:
            log.error("workers that did not stop cleanly: %s", ", ".join(self._failed))
            return 1
        return 0

    def _ended(self, slot: _Slot) -> None:
        process = slot.process
        assert process is not None and slot.ready is not None
        process.join()
        if process.pid is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]
        slot.process = None
        if process.exitcode != 0:
            self._failed.append(f"{process.name} (pid {process.pid}, exit {process.exitcode})")
        if self._stopping:
            return
        if not slot.ready.is_set() and not any(s.ready and s.ready.is_set() for s in self._slots):
            # None has ever served: the server cannot start (its port is taken, say).
            log.error("%s could not start (exit %s); stopping", process.name, process.exitcode)
            self.stop()
            return
        served = time.monotonic() - slot.started
        slot.delay = (
            0.0 if served >= STEADY else min(max(RESPAWN_FIRST, 2 * slot.delay), RESPAWN_MAX)
        )
        slot.due = time.monotonic() + slot.delay
        WORKER_RESTARTS.inc()
        log.error(
            "%s (pid %s) died (exit %s) after %.1f s; starting another in %.1f s",
            process.name,
            process.pid,
            process.exitcode,
            served,
            slot.delay,
        )


@dataclass
class _Slot:
    index: int
    process: BaseProcess | None = None
    ready: EventType | None = None
    started: float = 0.0
    delay: float = 0.0
    due: float = 0.0
