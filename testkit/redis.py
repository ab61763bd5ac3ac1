"""A Redis server of a test's own: redis-server on a free port with its own folder and no persistence, killed
and started again at will. A restart loses every key, as the crash of an unpersisted Redis does. The shared
Redis on 6379 is never touched."""

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .processes import free_port, port_answers
from .waiting import wait_until


class RedisServer:
    def __init__(self):
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="myshop-redis-"))
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self, timeout=30):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--daemonize", "no", "--dir", str(self.base)]
        with open(self.base / "redis.log", "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(
            lambda: port_answers(self.port) or self.process.poll() is not None,
            timeout=timeout,
            what=f"Redis on port {self.port}",
        )
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited: {(self.base / 'redis.log').read_text()[-2000:]}")
        return self

    def kill(self):
        """SIGKILL the server, as a crash would: connections drop, the port closes, every key is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        wait_until(lambda: not port_answers(self.port), timeout=30, what="the Redis port to close")

    def restart(self, outage_seconds=1.0):
        """Kill, stay down for `outage_seconds`, start again; (went down, came back) as time.monotonic()."""
        self.kill()
        down = time.monotonic()
        time.sleep(outage_seconds)  # the outage itself: nothing to wait for
        self.start()
        return down, time.monotonic()

    def stop(self):
        self.kill()
        shutil.rmtree(self.base, ignore_errors=True)
