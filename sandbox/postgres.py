"""A throwaway PostgreSQL server for the tests and the bench: Debian's binaries, a temporary
data folder, loopback only, a free port, durability off (fsync, full-page writes, synchronous
commit: a test's data dies with the server anyway). Run as the ``postgres`` user when we are
root (CI is root, and initdb refuses to run as root)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SERVER_USER = "postgres"  # Debian's package creates it


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin with initdb (or PG_BINDIR), or None."""
    forced = os.environ.get("PG_BINDIR")
    candidates = [Path(forced)] if forced else []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = [p for p in root.iterdir() if p.name.isdigit()]
        candidates += [p / "bin" for p in sorted(versions, key=lambda p: -int(p.name))]
    return next((c for c in candidates if (c / "initdb").exists()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TempPostgres:
    """One server; ``url(db)`` names a database on it, ``create_database`` makes one."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = 0
        self.dir = Path(tempfile.mkdtemp(prefix="rms-bot-pg-"))
        self._as_root = os.geteuid() == 0 if hasattr(os, "geteuid") else False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://bot@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (a copy of ``template`` if given: fast) and return its URL."""
        import psycopg

        copy = f" TEMPLATE {template}" if template else ""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}{copy}".encode())
        return self.url(name)

    def _run(self, *args: str) -> None:
        """Run a server binary (as the server's user when we are root); fail with its output."""
        done = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            user=SERVER_USER if self._as_root else None,
            cwd=self.dir,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")

    def start(self) -> None:
        """initdb and start; retried on another port if the chosen one was taken meanwhile."""
        if self._as_root:
            shutil.chown(self.dir, SERVER_USER)
        data = self.dir / "data"
        self._run(
            "initdb", "-D", str(data), "-U", "bot", "-A", "trust", "--no-sync", "-E", "UTF8",
            "--locale=C.UTF-8",
        )  # fmt: skip
        for attempt in range(3):
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
                "-c fsync=off -c full_page_writes=off -c synchronous_commit=off "
                "-c max_connections=300 -c shared_buffers=32MB"
            )
            try:
                self._run(
                    "pg_ctl", "-D", str(data), "-l", str(self.dir / "server.log"), "-w",
                    "-t", "30", "-o", options, "start",
                )  # fmt: skip
                return
            except RuntimeError:
                if attempt == 2:
                    raise RuntimeError(self.log_tail()) from None

    def restart(self) -> None:
        """Restart the server (fast shutdown: every open connection is cut). With its log
        file named again: without -l the new server would hold our output pipe open."""
        self._run(
            "pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "server.log"),
            "-m", "fast", "-w", "-t", "30", "restart",
        )  # fmt: skip

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "server.log").read_text(errors="replace")[-3000:]
        return ""

    def stop(self) -> None:
        """Stop at once (nothing to keep) and remove the folder."""
        with contextlib.suppress(RuntimeError, OSError):
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


class TempPgBouncer:
    """PgBouncer in front of a TempPostgres, in TRANSACTION pooling mode (what PaaS poolers
    run): each transaction may land on another server connection, and session state is lost."""

    def __init__(self, server: TempPostgres, binary: Path) -> None:
        self.server = server
        self.binary = binary
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"postgresql://bot@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        folder = self.server.dir
        self.port = _free_port()
        (folder / "users.txt").write_text('"bot" ""\n')
        (folder / "pgbouncer.ini").write_text(
            f"""[databases]
* = host=127.0.0.1 port={self.server.port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
pool_mode = transaction
default_pool_size = 4
max_client_conn = 500
logfile = {folder / "pgbouncer.log"}
"""
        )
        if self.server._as_root:
            for name in ("users.txt", "pgbouncer.ini"):
                shutil.chown(folder / name, SERVER_USER)
        self._proc = subprocess.Popen(
            [str(self.binary), str(folder / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=SERVER_USER if self.server._as_root else None,
        )
        for _ in range(200):  # ready when it accepts connections (≤ 10 s)
            with socket.socket() as s, contextlib.suppress(OSError):
                s.connect(("127.0.0.1", self.port))
                return
            if self._proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"pgbouncer did not start (exit {self._proc.poll()})")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)


@contextlib.contextmanager
def temp_pgbouncer(server: TempPostgres) -> Iterator[TempPgBouncer]:
    """PgBouncer (transaction pooling) in front of ``server``, stopped on exit."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise FileNotFoundError("no pgbouncer binary (apt-get install pgbouncer)")
    pooler = TempPgBouncer(server, Path(binary))
    try:
        pooler.start()
        yield pooler
    finally:
        pooler.stop()


@contextlib.contextmanager
def temp_postgres(bindir: Path | None = None) -> Iterator[TempPostgres]:
    """A started server, stopped and removed on exit."""
    found = bindir or find_bindir()
    if found is None:
        raise FileNotFoundError("no PostgreSQL server binaries (apt-get install postgresql)")
    server = TempPostgres(found)
    try:
        server.start()
        yield server
    finally:
        server.stop()
