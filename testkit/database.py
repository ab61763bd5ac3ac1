"""Databases for subprocesses: the one a test runs on, or one of its own for a benchmark."""

import re
import sqlite3
import urllib.parse
from pathlib import Path


def database_url(settings_dict):
    """DATABASE_URL for the database Django is connected to (the test database, inside a test)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = urllib.parse.quote(settings_dict.get("USER") or "")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{urllib.parse.quote(password)}@" if password else (f"{user}@" if user else "")
    return (
        f"postgres://{auth}{settings_dict.get('HOST') or '127.0.0.1'}:{settings_dict.get('PORT') or 5432}/"
        f"{settings_dict['NAME']}"
    )


class ScratchDatabase:
    """A database a benchmark creates and drops: a SQLite file in `workdir`, or a PostgreSQL database at
    `url` (whose name must contain `marker`, since it is dropped)."""

    def __init__(self, url, workdir, marker="bench"):
        self.created = False
        if url is None:
            self.kind, self.path = "sqlite", Path(workdir) / "scratch.sqlite3"
            self.url = f"sqlite:///{self.path}"
            return
        parts = urllib.parse.urlsplit(url)
        self.kind, self.url, self.name = "postgresql", url, parts.path.lstrip("/")
        if parts.scheme not in {"postgres", "postgresql"} or not re.fullmatch(r"\w+", self.name or ""):
            raise SystemExit(f"not a usable PostgreSQL database URL: {url}")
        if marker not in self.name:
            raise SystemExit(f"the database is dropped afterwards, so its name must contain {marker!r}")
        self.connect_args = {
            key: value
            for key, value in {
                "host": parts.hostname or "127.0.0.1",
                "port": parts.port or 5432,
                "user": urllib.parse.unquote(parts.username) if parts.username else None,
                "password": urllib.parse.unquote(parts.password) if parts.password else None,
            }.items()
            if value
        }

    def _pg(self, dbname):
        import psycopg

        return psycopg.connect(dbname=dbname, connect_timeout=5, autocommit=True, **self.connect_args)

    def create(self):
        if self.kind == "postgresql":
            with self._pg("postgres") as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.name}"')
        self.created = True
        return self

    def drop(self):
        if self.kind == "postgresql" and self.created:
            with self._pg("postgres") as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def query(self, sql, params=()):
        if self.kind == "sqlite":
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=20)
            try:
                return conn.execute(sql.replace("%s", "?"), params).fetchall()
            finally:
                conn.close()
        with self._pg(self.name) as conn:
            return conn.execute(sql, params).fetchall()
