"""A RabbitMQ node of its own for fault tests and benchmarks: own name, ports, config and data, so faults
never hit the shared broker on 5672. And the one thing done on a shared broker: deleting a test run's own
queue and exchange."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .processes import free_port, port_answers
from .waiting import wait_until


class RabbitNode:
    """A RabbitMQ node of our own (own name, ports and data), so faults never hit the shared broker."""

    def __init__(self, name=None):
        self.name = name or f"myshop-fault-{os.getpid()}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="myshop-rabbit-"))
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _ctl(self, *args, timeout=60, check=True):
        return subprocess.run(
            ["rabbitmqctl", "-n", self.name, *args], capture_output=True, text=True, timeout=timeout, check=check
        )

    def start(self, timeout=120):
        if shutil.which("rabbitmq-server") is None:
            raise RuntimeError("rabbitmq-server is not installed")
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (self.base / "enabled_plugins").write_text("[].\n")
        shutil.chown(self.base, "rabbitmq", "rabbitmq")
        for path in self.base.iterdir():
            shutil.chown(path, "rabbitmq", "rabbitmq")
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "pid"),
        }
        subprocess.run(
            ["rabbitmq-server", "-detached"], env=env, cwd="/tmp", check=True, timeout=60, capture_output=True
        )
        wait_until(
            lambda: port_answers(self.port),
            timeout=timeout,
            interval=0.25,
            what=f"RabbitMQ node {self.name} on port {self.port}",
        )
        self._ctl("await_startup", timeout=timeout)
        return self

    def stop_app(self):
        """Broker down: connections dropped, port closed. The node itself keeps running."""
        self._ctl("stop_app")
        wait_until(lambda: not port_answers(self.port), timeout=30, what="the broker port to close")

    def start_app(self):
        self._ctl("start_app")
        wait_until(lambda: port_answers(self.port), timeout=60, what="the broker port to open")

    def queue_depth(self, queue="myshop", vhost="/"):
        """Messages in `queue` (ready + unacknowledged); 0 if it does not exist. Raises if rabbitmqctl fails:
        "the queue drained" must never pass unchecked."""
        result = self._ctl("list_queues", "-p", vhost, "-q", "name", "messages", timeout=30)
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue:
                return int(parts[1])
        return 0

    def add_vhost(self, name, user="guest"):
        """A virtual host of its own (separate queues), open to `user`."""
        self._ctl("add_vhost", name)
        self._ctl("set_permissions", "-p", name, user, ".*", ".*", ".*")

    def purge(self, queue="myshop"):
        """Empty `queue` (ready messages; none when it is not declared yet). Over AMQP: each rabbitmqctl call
        starts an Erlang VM, 2-3 s, and the fault tests purge before every test."""
        from amqp.exceptions import NotFound
        from kombu import Connection

        with Connection(self.url, connect_timeout=10) as connection:
            channel = connection.channel()
            try:
                channel.queue_purge(queue)
            except NotFound:
                pass

    def stop(self):
        self._ctl("stop", check=False, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


def delete_queue_and_exchange(broker_url, name):
    """Delete queue `name` and the exchange of the same name on the broker; True if nothing is left.

    Deleting what is not there is fine. Celery's celery_delayed_* queues are shared by every quorum-queue
    user of the vhost (other runs may have retries in flight) and are left alone.
    """
    from amqp.exceptions import NotFound
    from kombu import Connection

    with Connection(broker_url, connect_timeout=5) as connection:
        for delete in ("queue_delete", "exchange_delete"):
            channel = connection.channel()
            try:
                getattr(channel, delete)(name)
            except NotFound:
                pass
            finally:
                if channel.is_open:
                    channel.close()
        channel = connection.channel()
        try:
            channel.queue_declare(name, passive=True)
        except NotFound:
            return True
        return False
