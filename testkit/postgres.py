"""A PostgreSQL server of a test's own, for fault tests: initdb into a temporary folder, its own port, started,
stopped and restarted at will. The shared server at 127.0.0.1:5432 is never touched.

PostgreSQL refuses to run as root: as root the server runs as the `postgres` user (Debian's packages create
it), otherwise as the current user.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .processes import free_port, port_answers
from .waiting import wait_until

POSTGRES_ROOT = Path("/usr/lib/postgresql")


def binaries():
    """The bin folder of the newest PostgreSQL installed (Debian layout), or None."""
    folders = sorted(
        POSTGRES_ROOT.glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    return next((folder for folder in folders if (folder / "initdb").exists()), None)


def unavailable_reason():
    """Why no private PostgreSQL can be started here, or None if it can."""
    if binaries() is None:
        return f"no PostgreSQL server binaries under {POSTGRES_ROOT}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and there is no postgres user to run the server as"
    return None


class PostgresNode:
    """One PostgreSQL cluster on 127.0.0.1:<free port>, its data in a temporary folder; trust auth."""

    def __init__(self):
        self.bin = binaries()
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="myshop-pg-"))
        self.data = self.base / "data"
        self.log_path = self.base / "postgres.log"
        self._account = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self._account is not None:
            shutil.chown(self.base, self._account.pw_uid, self._account.pw_gid)

    def url(self, database="postgres"):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program, *args, timeout=120, check=True):
        options = {}
        if self._account is not None:
            options = {
                "user": self._account.pw_uid,
                "group": self._account.pw_gid,
                "extra_groups": [],
                "env": {"PATH": os.environ["PATH"], "HOME": self._account.pw_dir, "LC_ALL": "C.UTF-8"},
            }
        return subprocess.run(
            [str(self.bin / program), *args],
            cwd=self.base,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            **options,
        )

    def start(self, timeout=60):
        """initdb on first start, then start the server and wait until it accepts connections."""
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log_path),
            "-o",
            options,
            "-w",
            "-t",
            str(timeout),
            "start",
            timeout=timeout + 10,
        )
        wait_until(self.accepts_connections, timeout=timeout, what=f"PostgreSQL on port {self.port}")
        return self

    def stop(self, mode="fast"):
        """Stop the server: connections are dropped and the port closes."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)
        wait_until(lambda: not port_answers(self.port), timeout=30, what="the PostgreSQL port to close")

    def restart(self, outage_seconds=1.0):
        """Stop, stay down for `outage_seconds`, start again; (went down, came back) as time.monotonic()."""
        self.stop()
        down = time.monotonic()
        time.sleep(outage_seconds)  # the outage itself: nothing to wait for
        self.start()
        return down, time.monotonic()

    def accepts_connections(self):
        return self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-t", "1", check=False).returncode == 0

    def create_database(self, name):
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def query(self, database, sql, *params):
        """Rows of one query (for assertions), on a connection of its own."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database) as connection:
            return connection.execute(sql, params).fetchall()

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def destroy(self):
        """Stop the server (immediately) and remove its data."""
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.base, ignore_errors=True)
