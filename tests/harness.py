"""Real components for fault tests and the soak benchmark: a private RabbitMQ node, a local SMTP server
that can misbehave on demand, and the shop's web server and Celery workers as subprocesses.

Nothing here touches the shared RabbitMQ at 127.0.0.1:5672.
"""
import asyncio
import email
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
SUBJECT_ORDER = re.compile(r"order (\d+) confirmed")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_answers(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(condition, *, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# --- RabbitMQ ---------------------------------------------------------------------------------------------

class RabbitNode:
    """A RabbitMQ node of our own (own name, ports and data), so faults never hit the shared broker."""

    def __init__(self, name=None):
        self.name = name or f"myshop-fault-{os.getpid()}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="myshop-rabbit-"))
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _ctl(self, *args, timeout=60, check=True):
        return subprocess.run(["rabbitmqctl", "-n", self.name, *args], capture_output=True, text=True,
                              timeout=timeout, check=check)

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
        subprocess.run(["rabbitmq-server", "-detached"], env=env, cwd="/tmp", check=True, timeout=60,
                       capture_output=True)
        wait_until(lambda: port_answers(self.port), timeout=timeout, interval=0.25,
                   what=f"RabbitMQ node {self.name} on port {self.port}")
        self._ctl("await_startup", timeout=timeout)
        return self

    def stop_app(self):
        """Broker down: connections dropped, port closed. The node itself keeps running."""
        self._ctl("stop_app")
        wait_until(lambda: not port_answers(self.port), timeout=30, what="the broker port to close")

    def start_app(self):
        self._ctl("start_app")
        wait_until(lambda: port_answers(self.port), timeout=60, what="the broker port to open")

    def queue_depth(self, queue="celery"):
        result = self._ctl("list_queues", "-q", "name", "messages", check=False)
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue:
                return int(parts[1])
        return 0

    def stop(self):
        self._ctl("stop", check=False, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


# --- SMTP -------------------------------------------------------------------------------------------------

class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        sink = self.sink
        with sink.lock:
            sink.attempts += 1
            sink.attempt_times.append(time.monotonic())
            fail = sink.fail_next > 0
            if fail:
                sink.fail_next -= 1
            stall = sink.stall_next > 0
            if stall:
                sink.stall_next -= 1
                sink.stalled.set()
        if fail:
            return sink.fail_reply
        if stall:
            while not sink.release.is_set():
                await asyncio.sleep(0.05)
        if sink.mail_delay:
            await asyncio.sleep(sink.mail_delay)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content)
        with self.sink.lock:
            self.sink.messages.append(message)
            self.sink.arrivals.append(time.monotonic())
        if self.sink.reply_delay:
            # The message is stored; the sender learns it only later (or, past its timeout, never).
            await asyncio.sleep(self.sink.reply_delay)
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server, session, envelope):
        if self.sink.quit_delay:
            await asyncio.sleep(self.sink.quit_delay)
        return "221 Bye"


class SmtpSink:
    """A real SMTP server on 127.0.0.1 that records what it accepts and can refuse or stall on demand."""

    def __init__(self):
        self.port = free_port()
        self.lock = threading.Lock()
        self.messages = []
        self.attempts = 0
        self.fail_next = 0
        self.fail_reply = "451 4.3.0 Temporary failure, try again later"
        self.stall_next = 0
        self.arrivals = []  # monotonic time each message was stored
        self.attempt_times = []  # monotonic time of each MAIL FROM (the start of each attempt)
        self.mail_delay = 0.0  # seconds to wait before answering MAIL FROM
        self.reply_delay = 0.0  # seconds to wait, after storing a message, before answering its final "."
        self.quit_delay = 0.0  # seconds to wait before answering QUIT
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.release.set()
        self.controller.stop()

    def reset(self):
        with self.lock:
            self.messages.clear()
            self.arrivals.clear()
            self.attempt_times.clear()
            self.attempts = self.fail_next = self.stall_next = 0
            self.mail_delay = self.reply_delay = self.quit_delay = 0.0
        self.stalled.clear()
        self.release.clear()

    def order_numbers(self):
        """Order number of every confirmation received, in arrival order (duplicates kept)."""
        with self.lock:
            subjects = [str(message["Subject"]) for message in self.messages]
        return [int(match.group(1)) for match in map(SUBJECT_ORDER.search, subjects) if match]


# --- The shop's processes ---------------------------------------------------------------------------------

def database_url(settings_dict):
    """DATABASE_URL for the database Django is connected to (the test database, inside a test)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = urllib.parse.quote(settings_dict.get("USER") or "")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{urllib.parse.quote(password)}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{settings_dict.get('HOST') or '127.0.0.1'}:{settings_dict.get('PORT') or 5432}/" \
           f"{settings_dict['NAME']}"


def shop_environment(*, database, broker, smtp_port, **extra):
    """Environment for a web or worker subprocess: production settings pointed at the given services."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "myshop.settings",
        "SECRET_KEY": "fault-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": broker,
        "EMAIL_BACKEND": "orders.mail.SMTPBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_TIMEOUT": "5",
        "LOG_LEVEL": "INFO",
        # Plain HTTP on loopback, and many requests from one address.
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "RATE_LIMIT_CHECKOUT": "",
        "RATE_LIMIT_CART": "",
        "RATE_LIMIT_LOGIN": "",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


class Process:
    """A subprocess in its own process group, its output in a log file."""

    def __init__(self, name, args, env, log_dir):
        self.name = name
        self.log_path = Path(log_dir) / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    @property
    def pid(self):
        return self.popen.pid

    def log(self):
        return self.log_path.read_text(errors="replace")

    def kill(self, sig=signal.SIGKILL):
        """Kill the whole process group (a worker and its pool children), as an OOM killer would."""
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        self._log.close()

    def stop(self):
        if self.popen.poll() is None:
            self.kill(signal.SIGTERM)
        else:
            self._log.close()


def manage(env, *args, timeout=300):
    """Run `manage.py *args` with `env`; its output, or RuntimeError with the tail of it."""
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args[:2])} failed ({result.returncode}):\n"
                           f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def start_worker(env, log_dir, *, name, beat=False, concurrency=1):
    args = [sys.executable, "-m", "celery", "-A", "myshop", "worker", "-l", "info", "-c", str(concurrency),
            "-n", f"{name}@%h", "--without-gossip", "--without-mingle"]
    if beat:
        schedule = Path(log_dir) / f"{name}-beat-schedule"
        args += ["-B", "-s", str(schedule)]
    process = Process(name, args, env, log_dir)
    wait_until(lambda: "ready." in process.log() or process.popen.poll() is not None, timeout=60,
               what=f"worker {name} to be ready")
    if process.popen.poll() is not None:
        raise RuntimeError(f"worker {name} exited:\n{process.log()}")
    return process


def start_web(env, log_dir, *, name="web"):
    port = free_port()
    process = Process(name, [sys.executable, "manage.py", "runserver", "--noreload", "--nothreading",
                             f"127.0.0.1:{port}"], env, log_dir)
    process.base_url = f"http://127.0.0.1:{port}"
    wait_until(lambda: port_answers(port) or process.popen.poll() is not None, timeout=60,
               what="the web server")
    if process.popen.poll() is not None:
        raise RuntimeError(f"web server exited:\n{process.log()}")
    return process


# --- A shopper over HTTP ----------------------------------------------------------------------------------

class Shopper:
    """A browser-like HTTP client (cookies, CSRF token) for driving the shop through its web layer."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies),
                                                  _NoRedirect())

    def _csrf(self):
        for cookie in self.cookies:
            if cookie.name == "csrftoken":
                return cookie.value
        self.request("GET", "/admin/login/")  # a page that always carries a form, hence the CSRF cookie
        return next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")

    def request(self, method, path, form=None, timeout=30):
        """(status, location, body) of one request; redirects are not followed."""
        data = None
        headers = {}
        if form is not None:
            form = {**form, "csrfmiddlewaretoken": self._csrf()}
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.headers.get("Location"), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location"), error.read().decode(errors="replace")

    def add_to_cart(self, product_id, quantity):
        status, _, _ = self.request("POST", f"/cart/add/{product_id}/", {"quantity": quantity})
        return status

    def checkout(self, customer):
        """Place the order; return (status, location, body, seconds)."""
        started = time.monotonic()
        status, location, body = self.request("POST", "/orders/create/", customer)
        return status, location, body, time.monotonic() - started

    def confirmation_page(self):
        return self.request("GET", "/orders/created/")[2]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
