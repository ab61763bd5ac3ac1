"""The shop's processes for tests and benchmarks: web server and Celery workers as subprocesses in process
groups of their own, with production settings pointed at the services given."""

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

from .waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent


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


def shop_environment(*, database, broker, smtp_port=25, **extra):
    """Environment for a web or worker subprocess: production settings pointed at the given services."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "myshop.settings",
        "SECRET_KEY": "test-kit-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
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
        "ORDER_MAX_PER_CLIENT_PER_DAY": "0",  # the hoarding caps: every shopper comes from 127.0.0.1
        "ORDER_MAX_PER_EMAIL_PER_DAY": "0",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


class Process:
    """A subprocess in its own process group, its output in a log file."""

    def __init__(self, name, args, env, log_dir, cwd=ROOT):
        self.name = name
        self.log_path = Path(log_dir) / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._terminated = False

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def log(self):
        return self.log_path.read_text(errors="replace")

    def owns(self, pid):
        """True if process `pid` belongs to this process's group (the worker or one of its pool children)."""
        try:
            return os.getpgid(pid) == self.popen.pid
        except ProcessLookupError:
            return False

    def kill(self, sig=signal.SIGKILL):
        """Signal the whole process group (a worker and its pool children), as an OOM killer would, and reap."""
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

    def terminate(self):
        """SIGTERM to the main process only (a warm shutdown: a worker finishes its tasks); `stop` reaps."""
        if self.alive() and not self._terminated:
            self.popen.send_signal(signal.SIGTERM)
            self._terminated = True

    def stop(self):
        """SIGTERM to the main process only (a warm shutdown: a worker finishes its tasks), then reap."""
        if self.alive():
            self.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        self._log.close()


def manage(env, *args, timeout=300, cwd=ROOT):
    """Run `manage.py *args` with `env`; its output, or RuntimeError with the tail of it."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args[:2])} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout


def run_python(code, **env):
    """Run `code` in a fresh interpreter with only the given environment on top of a minimal one."""
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def _started(process, ready, what, timeout=60):
    try:
        wait_until(lambda: ready() or not process.alive(), timeout=timeout, interval=0.1, what=what)
    except TimeoutError:  # never ready: killed, not left running behind its caller's back
        process.kill()
        raise
    if not process.alive():
        raise RuntimeError(f"{process.name} exited:\n{process.log()[-4000:]}")
    return process


def worker_command(*, name, concurrency=1, python=sys.executable):
    """The command line of a Celery worker (prefork) named `name`@host, as the test kit and benchmarks run it."""
    return [
        python,
        "-m",
        "celery",
        "-A",
        "myshop",
        "worker",
        "-l",
        "info",
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
    ]


def start_worker(env, log_dir, *, name, beat=False, concurrency=1, cwd=ROOT, python=sys.executable, timeout=60):
    """A Celery worker (prefork) named `name`@host, optionally running beat; returned once it is ready."""
    args = worker_command(name=name, concurrency=concurrency, python=python)
    if beat:
        args += ["-B", "-s", str(Path(log_dir) / f"{name}-beat-schedule")]
    process = Process(name, args, env, log_dir, cwd=cwd)
    return _started(process, lambda: "ready." in process.log(), f"worker {name} to be ready", timeout=timeout)


def start_web(env, log_dir, *, name="web", cwd=ROOT, python=sys.executable):
    """Django's development server, single-threaded (a faithful, simple web tier for fault tests)."""
    port = free_port()
    process = Process(
        name,
        [python, "manage.py", "runserver", "--noreload", "--nothreading", f"127.0.0.1:{port}"],
        env,
        log_dir,
        cwd=cwd,
    )
    process.base_url = f"http://127.0.0.1:{port}"
    return _started(process, lambda: port_answers(port), "the web server")


def gunicorn_command(*, port, workers=2, threads=1, python=sys.executable):
    """The command line of gunicorn on 127.0.0.1:`port`, as the test kit and benchmarks run it."""
    return [
        python,
        "-m",
        "gunicorn",
        "myshop.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--no-control-socket",
        "--log-level",
        "warning",
    ]


def start_gunicorn(env, log_dir, *, name="gunicorn", workers=2, threads=1, cwd=ROOT, python=sys.executable):
    """The production web server: gunicorn with `workers` sync workers (or gthread with `threads`)."""
    port = free_port()
    args = gunicorn_command(port=port, workers=workers, threads=threads, python=python)
    process = Process(name, args, env, log_dir, cwd=cwd)
    process.base_url = f"http://127.0.0.1:{port}"
    return _started(process, lambda: port_answers(port), "gunicorn")


class ShopProcesses:
    """A shop's web and worker subprocesses on one environment, started on demand and stopped together; the
    tail of each log is printed when they stop (pytest shows it only when the test failed)."""

    def __init__(self, env, log_dir, **attributes):
        self.env, self.log_dir, self.processes = env, log_dir, []
        self.__dict__.update(attributes)

    def web(self):
        process = start_web(self.env, self.log_dir)
        self.processes.append(process)
        return process

    def worker(self, name="worker", beat=False):
        process = start_worker(self.env, self.log_dir, name=f"{name}-{uuid.uuid4().hex[:6]}", beat=beat)
        self.processes.append(process)
        return process

    def stop(self):
        for process in self.processes:  # all shut down at once (a worker's warm shutdown takes a second or two)
            process.terminate()
        for process in self.processes:
            process.stop()
            print(f"----- {process.name} log (tail) -----\n{process.log()[-4000:]}")
