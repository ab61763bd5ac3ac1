"""gunicorn as the Dockerfile and docker-compose.yml start it: no status-page token in the access log, no
control socket."""

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.db import connection

from orders.models import Order
from testkit.database import database_url
from testkit.processes import Process, free_port, gunicorn_command, port_answers, shop_environment
from testkit.waiting import wait_until

pytestmark = pytest.mark.any_database  # the web server's flags and logs


ROOT = Path(__file__).resolve().parents[2]


def dockerfile_command():
    """The CMD of the Dockerfile, as a list."""
    line = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    return json.loads(line[len("CMD ") :])


def compose_web_command():
    """The web service's command in docker-compose.yml (resolved by docker-compose when installed)."""
    binary = shutil.which("docker-compose")
    if binary is None:
        text = (ROOT / "docker-compose.yml").read_text()
        return re.search(r"\n  web:\n(?:.*\n)*?    command: (\[[^\]]*\])", text).group(1)
    env = {**os.environ, "SECRET_KEY": "compose-config-check"}
    resolved = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return resolved.split("\n  web:\n", 1)[1].split("\n  worker:\n", 1)[0]


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """gunicorn started with the Dockerfile's command (one worker, a free port), on the test database."""
    args = dockerfile_command()
    port = free_port()
    args[args.index("0.0.0.0:8000")] = f"127.0.0.1:{port}"
    args[args.index("--workers") + 1] = "1"
    args[0] = str(Path(sys.executable).parent / "gunicorn")
    env = shop_environment(
        database=database_url(connection.settings_dict),
        broker="amqp://guest:guest@127.0.0.1:1//",
        smtp_port=1,
        HOME=str(tmp_path),
    )
    env.pop("XDG_RUNTIME_DIR", None)
    process = Process("gunicorn", args, env, tmp_path)
    process.base_url = f"http://127.0.0.1:{port}"
    process.home = tmp_path
    try:
        wait_until(lambda: port_answers(port) or process.popen.poll() is not None, timeout=60, what="gunicorn")
        assert process.popen.poll() is None, process.log()
        yield process
    finally:
        process.stop()


def get(url, **headers):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def post(url):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_status_page_tokens_are_masked_in_the_access_log(gunicorn, customer):
    order = Order.objects.create(**customer)
    status_url = f"{gunicorn.base_url}/en/orders/{order.token}/"
    assert get(status_url) == 200
    assert get(f"{gunicorn.base_url}/", Referer=status_url) == 200  # a link followed from the status page
    assert get(f"{gunicorn.base_url}/en/orders/{uuid.uuid4()}/") == 404
    assert get(f"{gunicorn.base_url}/en/orders/{order.token.hex}/") == 404  # the token without its dashes
    # Django's own warning for a wrong method names the path: masked too.
    assert post(status_url) in (403, 405)
    wait_until(lambda: gunicorn.log().count('"GET /') >= 4, timeout=10, what="four access-log lines")
    log = gunicorn.log()
    assert str(order.token) not in log and order.token.hex not in log
    assert re.search(r'"GET /en/orders/<token>/ HTTP/1.1" 200', log)
    assert re.search(r'"GET /en/orders/<token>/ HTTP/1.1" 404', log)
    assert "/en/orders/<token>/" in log.split('"GET / HTTP/1.1" 302', 1)[1]  # the referer, masked


def test_gunicorn_runs_without_its_control_socket(gunicorn):
    assert get(f"{gunicorn.base_url}/") == 200
    assert not list(gunicorn.home.rglob("*.ctl"))  # its default place, $HOME/.gunicorn/gunicorn.ctl


def test_gunicorn_is_started_the_same_way_everywhere():
    commands = {"Dockerfile": " ".join(dockerfile_command()), "docker-compose.yml": compose_web_command()}
    for name, command in commands.items():
        assert "--no-control-socket" in command, name
        assert "python:myshop.gunicorn_conf" in command, name
    kit = gunicorn_command(port=free_port())  # what bench/ and the tests start gunicorn with
    assert "--no-control-socket" in kit
