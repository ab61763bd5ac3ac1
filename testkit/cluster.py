"""A three-node RabbitMQ cluster on this machine, without Docker, for the failover tests and the clustered soak.

Each node is a testkit.rabbit.RabbitNode (its own node name, AMQP and distribution ports, RABBITMQ_CONFIG_FILE
with its listener, data and log folders owned by the `rabbitmq` user); nodes 2 and 3 join node 1 with
`rabbitmqctl join_cluster`. They share the Erlang cookie of the `rabbitmq` user, since Debian's wrappers run
both the server and rabbitmqctl as that user. The shared broker on 5672 is never touched.

    with RabbitCluster() as cluster:        # started and joined; stopped and removed on the way out
        cluster.url                          # "amqp://..:p1//;amqp://..:p2//;amqp://..:p3//"
        cluster.leader("myshop")             # the node leading a quorum queue
        cluster.kill(node)                   # SIGKILL its Erlang VM, as a crash would
        cluster.restart(node)                # start it again on the same data: it rejoins

Needs rabbitmq-server and root (to hand the folders to the rabbitmq user), as RabbitNode does.
"""

import os
import shutil
import signal
import threading
import time

from .processes import port_answers
from .rabbit import RabbitNode
from .waiting import wait_until


class ClusterNode(RabbitNode):
    """A RabbitNode that knows the OS process of its Erlang VM, so that it can be SIGKILLed."""

    os_pid = None

    def start(self, timeout=180):
        super().start(timeout=timeout)
        # rabbitmq-server writes its VM's pid here (RABBITMQ_PID_FILE); asking rabbitmqctl costs seconds.
        self.os_pid = int((self.base / "pid").read_text().strip())
        return self

    def await_startup(self, timeout=180):
        """Wait until the node has booted; `await_startup` fails until the node has registered, so loop."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            result = self._ctl(
                "await_startup", "--timeout", str(max(1, int(remaining))), check=False, timeout=max(5, remaining + 10)
            )
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {self.name} did not start: {result.stderr.strip()[-500:]}")
            time.sleep(1)

    def alive(self):
        if self.os_pid is None:
            return False
        try:
            os.kill(self.os_pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self):
        """SIGKILL the node's Erlang VM: no goodbye to its peers or its clients, as in a crash."""
        if self.alive():
            os.kill(self.os_pid, signal.SIGKILL)
        wait_until(lambda: not port_answers(self.port), timeout=30, what=f"{self.name}'s port to close")
        # epmd and the node's helper processes (erl_child_setup) go with it or are harmless; the data stays.

    def stop(self):
        """Stop the node (kill it if it does not stop) and remove its folders."""
        if self.alive():
            self._ctl("stop", check=False, timeout=60)
        if self.alive():
            os.kill(self.os_pid, signal.SIGKILL)
        shutil.rmtree(self.base, ignore_errors=True)


class RabbitCluster:
    """Three (or `size`) RabbitMQ nodes joined into one cluster, each on its own ports."""

    def __init__(self, size=3, prefix=None):
        prefix = prefix or f"myshop-cluster-{os.getpid()}"
        self.nodes = [ClusterNode(name=f"{prefix}-{number}@localhost") for number in range(1, size + 1)]

    @property
    def url(self):
        """CELERY_BROKER_URL for all nodes, in order: clients fail over from one to the next."""
        return ";".join(node.url for node in self.nodes)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info):
        self.stop()

    def start(self, timeout=240):
        # Booting an Erlang VM is mostly waiting: start the nodes side by side, then join them one by one.
        self._each(self.nodes, lambda node: node.start(timeout=timeout))
        # Each rabbitmqctl call boots an Erlang VM of its own (2-3 s here): run the independent ones side by
        # side. The joining nodes are fresh, so join_cluster needs no `reset` before it.
        first, joining = self.nodes[0], self.nodes[1:]
        self._each(joining, lambda node: node._ctl("stop_app"))
        for node in joining:  # one at a time: joins change the cluster's membership
            node._ctl("join_cluster", first.name)
        self._each(joining, lambda node: (node._ctl("start_app"), node.await_startup(timeout=timeout)))
        wait_until(
            lambda: len(self.running_nodes()) == len(self.nodes),
            timeout=60,
            interval=0.5,
            what="every node running in the cluster",
        )
        return self

    @staticmethod
    def _each(nodes, action):
        """Run action(node) for every node side by side; raise if any failed, once all have finished."""
        errors = []

        def run(node):
            try:
                action(node)
            except BaseException as error:
                errors.append((node.name, error))

        threads = [threading.Thread(target=run, args=(node,)) for node in nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise RuntimeError(f"RabbitMQ nodes failed: {errors}")

    def live_node(self):
        for node in self.nodes:
            if node.alive() and port_answers(node.port):
                return node
        raise RuntimeError("no node of the cluster is alive")

    def ctl(self, *args, timeout=60):
        """rabbitmqctl on any live node; its stdout."""
        return self.live_node()._ctl(*args, timeout=timeout).stdout

    def running_nodes(self):
        output = self.ctl("eval", "rabbit_nodes:all_running().")
        return [node.name for node in self.nodes if node.name in output]

    def node_named(self, name):
        return next(node for node in self.nodes if node.name == name)

    def leader(self, queue):
        """The node leading quorum queue `queue` (None if it has none right now)."""
        for line in self.ctl("list_queues", "-q", "--no-table-headers", "name", "leader").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue:
                return next((node for node in self.nodes if node.name == parts[1]), None)
        return None

    def members(self, queue):
        for line in self.ctl("list_queues", "-q", "--no-table-headers", "name", "members").splitlines():
            if line.split() and line.split()[0] == queue:
                return [node.name for node in self.nodes if node.name in line]
        return []

    def consumer_nodes(self, queue):
        """Names of the nodes through which consumers of `queue` are connected (a channel pid names its node)."""
        names = []
        for line in self.ctl("list_consumers", "-q", "--no-table-headers", "queue_name", "channel_pid").splitlines():
            if line.split() and line.split()[0] == queue:
                names += [node.name for node in self.nodes if f"<{node.name}." in line and node.name not in names]
        return names

    def queue_depth(self, queue):
        """Messages in `queue` (ready + unacknowledged), asked of a live node; 0 if it does not exist."""
        for line in self.ctl("list_queues", "-q", "--no-table-headers", "name", "messages").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue:
                return int(parts[1])
        return 0

    def kill(self, node):
        node.kill()

    def restart(self, node, timeout=180):
        """Start a killed node again on its own data: it rejoins the cluster and its queue replicas catch up."""
        node.start(timeout=timeout)
        wait_until(
            lambda: node.name in self.running_nodes(), timeout=60, interval=0.5, what=f"{node.name} back in the cluster"
        )

    def stop(self):
        """Stop every node (side by side) and remove its folders, whatever state the cluster is in."""
        try:
            self._each(self.nodes, lambda node: node.stop())
        except RuntimeError as error:  # the others were still stopped
            print(f"could not stop every node cleanly: {error}")
