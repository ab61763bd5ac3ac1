"""The project's wiring: the Celery app, settings from the environment, docker-compose.yml."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.db import connection

from testkit.processes import run_python

pytestmark = pytest.mark.any_database  # settings, compose and the image


ROOT = Path(__file__).resolve().parents[2]


def test_celery_app_reads_django_settings_and_finds_the_task():
    from myshop import celery_app
    from myshop.celery import app

    assert celery_app is app and app.main == "myshop"
    app.loader.import_default_modules()
    assert "orders.tasks.order_created" in app.tasks
    assert app.conf.task_acks_late is True and app.conf.worker_prefetch_multiplier == 1


def test_settings_come_from_the_environment():
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='myshop.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.EMAIL_BACKEND, s.ALLOWED_HOSTS, s.DEBUG)"
    )
    result = run_python(
        code,
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://u@db:5432/shop",
        CELERY_BROKER_URL="amqp://a:b@mq:5672/v",
        ALLOWED_HOSTS="shop.example,www.shop.example",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 3)[:3] == [
        "core.postgresql",  # Django's, its health check without a round trip
        "amqp://a:b@mq:5672/v",
        "django.core.mail.backends.smtp.EmailBackend",
    ]
    assert "'shop.example', 'www.shop.example']" in result.stdout and result.stdout.strip().endswith("False")


def test_defaults_are_local_and_safe():
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='myshop.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.EMAIL_BACKEND)"
    )
    result = run_python(code, DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "amqp://guest:guest@localhost:5672//",
        "django.core.mail.backends.console.EmailBackend",
    ]


def test_production_sends_email_over_smtp_unless_told_otherwise():
    """With DEBUG off the console backend would write whole emails (names, addresses, links) to the log."""
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='myshop.settings'; django.setup();"
        "from django.conf import settings as s; print(s.EMAIL_BACKEND)"
    )
    result = run_python(code, SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "orders.mail.SMTPBackend"


def test_production_refuses_to_start_without_a_secret_key():
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='myshop.settings'; django.setup()"
    result = run_python(code)
    assert result.returncode != 0 and "Set SECRET_KEY" in result.stderr


def _compose(*args, env_file=None):
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose is required under CI (apt-get install docker-compose)")
        pytest.skip("docker-compose is not installed (apt-get install -y docker-compose)")
    env = {**os.environ, "SECRET_KEY": "compose-config-check"}
    options = ["--env-file", str(env_file)] if env_file else []
    result = subprocess.run(
        [binary, *options, "-f", str(ROOT / "docker-compose.yml"), "config", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_docker_compose_defines_a_healthy_rabbitmq_with_ui_and_volume():
    assert "rabbitmq" in _compose("--services").split()
    assert "rabbitmq-data" in _compose("--volumes").split()
    resolved = _compose()
    assert "image: rabbitmq:" in resolved and "-management" in resolved
    assert "5672:5672" in resolved and "15672:15672" in resolved and "healthcheck:" in resolved


def test_docker_compose_runs_the_whole_stack_from_the_repository_image():
    services = set(_compose("--services").split())
    assert {"postgres", "rabbitmq", "redis", "migrate", "web", "worker", "beat"} <= services
    resolved = _compose()
    assert resolved.count("condition: service_healthy") >= 7
    assert "127.0.0.1:5672:5672" in resolved  # the broker (guest/guest by default) faces no network
    assert "condition: service_completed_successfully" in resolved
    assert "gunicorn" in resolved and "beat" in resolved and (ROOT / "Dockerfile").exists()
    assert "profiles:" in resolved and "flower" in services  # Flower only with --profile monitoring


def test_docker_compose_serves_uploads_from_the_proxy_and_the_rest_from_gunicorn():
    import yaml

    services = yaml.safe_load(_compose())["services"]
    proxy, web, migrate = services["proxy"], services["web"], services["migrate"]
    assert [str(port["published"]) for port in proxy["ports"]] == ["8000"] and "ports" not in web
    # The demo pictures the migrate job draws are in the volume the proxy serves, read-only.
    assert "media:/srv/media:ro" in proxy["volumes"] and "media:/app/media:rw" in migrate["volumes"]
    assert web["environment"]["TRUSTED_PROXY_COUNT"] == "1"  # the abuse limits key on the client, not nginx
    config = (ROOT / "compose" / "proxy" / "default.conf").read_text()
    assert "alias /srv/media/;" in config and "proxy_pass http://web:8000;" in config
    assert "$proxy_add_x_forwarded_for" in config


def test_docker_compose_requires_a_secret_key():
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose is required under CI (apt-get install docker-compose)")
        pytest.skip("docker-compose is not installed")
    env = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_the_production_image_installs_only_what_production_runs():
    production = (ROOT / "requirements.txt").read_text()
    for tool in ("pytest", "hypothesis", "aiosmtpd", "playwright", "ruff", "djlint"):
        assert tool not in production.lower(), f"{tool} is a development tool"
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.txt" in dockerfile and "requirements-dev" not in dockerfile
    assert "\nUSER " in dockerfile  # not root
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"tests", "testkit", "bench"} <= set(ignored)


def _service_block(resolved, name):
    """The text of one service in `docker-compose config` output (services are indented by two spaces)."""
    lines = resolved.splitlines()
    start = lines.index(f"  {name}:")
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("   ")), len(lines))
    return "\n".join(lines[start:end])


def test_docker_compose_cluster_profile_runs_three_rabbitmq_nodes_and_points_the_shop_at_all_three():
    cluster_env = ROOT / ".env.cluster.example"
    services = set(_compose("--services", env_file=cluster_env).split())
    assert {"rabbitmq", "rabbitmq-2", "rabbitmq-3", "web", "worker", "beat"} <= services
    resolved = _compose(env_file=cluster_env)
    nodes = [_service_block(resolved, name) for name in ("rabbitmq", "rabbitmq-2", "rabbitmq-3")]
    for node in nodes:
        assert "image: rabbitmq:3.13-management" in node  # the official image
        assert "RABBITMQ_ERLANG_COOKIE: change-me-to-a-long-random-erlang-cookie" in node  # one shared cookie
        assert "RABBITMQ_CLUSTER_NODES: '3'" in node and "healthcheck:" in node
        assert "/etc/rabbitmq/enabled_plugins" in node
    for node in nodes[1:]:
        assert "- cluster" in node  # only with the profile
        assert "/etc/rabbitmq/conf.d/20-cluster.conf" in node
    assert "127.0.0.1:15692:15692" in nodes[0]  # rabbitmq_prometheus, for queue depth
    assert "rabbitmq_prometheus" in (ROOT / "compose/rabbitmq/enabled_plugins").read_text()
    discovery = (ROOT / "compose/rabbitmq/cluster.conf").read_text()
    assert "cluster_formation.peer_discovery_backend = classic_config" in discovery
    for number, hostname in enumerate(("myshop-rabbitmq", "myshop-rabbitmq-2", "myshop-rabbitmq-3"), start=1):
        assert f"cluster_formation.classic_config.nodes.{number} = rabbit@{hostname}" in discovery
        assert f"hostname: {hostname}" in resolved
    all_three = (
        "CELERY_BROKER_URL: amqp://myshop:change-me@rabbitmq:5672//;amqp://myshop:change-me@rabbitmq-2:"
        "5672//;amqp://myshop:change-me@rabbitmq-3:5672//"
    )
    for name in ("web", "worker", "beat"):
        assert all_three in _service_block(resolved, name), name
    assert "/readyz" in _service_block(resolved, "web")  # the healthcheck asks the readiness endpoint
    assert "WORKER_METRICS_PORT: '9808'" in _service_block(resolved, "worker")


def test_docker_compose_without_the_profile_keeps_one_node():
    resolved = _compose()
    for name in ("web", "worker", "beat"):
        assert "CELERY_BROKER_URL: amqp://guest:guest@rabbitmq:5672//\n" in _service_block(resolved, name) + "\n"
    assert "- cluster" in _service_block(resolved, "rabbitmq-2")  # defined, started only with the profile


@pytest.mark.parametrize("synchronous, level", [(None, 1), ("full", 2)])
def test_the_sqlite_file_is_a_write_ahead_log_flushed_as_configured(tmp_path, synchronous, level):
    """Pages read while the worker writes; synchronous NORMAL (1) by default, FULL (2) when asked."""
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='myshop.settings'; django.setup();"
        "from django.db import connection; cursor = connection.cursor();"
        "print(cursor.execute('PRAGMA journal_mode').fetchone()[0], cursor.execute('PRAGMA synchronous').fetchone()[0])"
    )
    env = {"DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}"}
    result = run_python(code, **env, **({"SQLITE_SYNCHRONOUS": synchronous} if synchronous else {}))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["wal", str(level)]


def test_an_unknown_sqlite_flush_setting_is_refused_at_start():
    result = run_python(
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='myshop.settings'; django.setup()",
        DEBUG="1",
        SQLITE_SYNCHRONOUS="OFF",
    )
    assert result.returncode != 0 and "SQLITE_SYNCHRONOUS must be NORMAL, FULL or EXTRA" in result.stderr


@pytest.mark.postgresql
@pytest.mark.parametrize("setting, prepared", [(None, True), ("0", False)])
def test_postgresql_prepares_what_a_connection_repeats_unless_told_not_to(setting, prepared):
    """Prepared statements save PostgreSQL planning each repeated query; a pooler in transaction mode needs
    them off (DATABASE_PREPARED_STATEMENTS=0)."""
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='myshop.settings'; django.setup();"
        "from django.db import connection; cursor = connection.cursor();"
        "[cursor.execute('SELECT %s::int + 1', [n]) for n in range(6)];"
        "cursor.execute('SELECT count(*) FROM pg_prepared_statements'); print(cursor.fetchone()[0])"
    )
    server = connection.settings_dict  # this pass's server; its maintenance database, which always exists
    env = {"DEBUG": "1", "DATABASE_URL": f"postgres://{server['USER']}@{server['HOST']}:{server['PORT']}/postgres"}
    result = run_python(code, **env, **({"DATABASE_PREPARED_STATEMENTS": setting} if setting else {}))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (int(result.stdout.split()[-1]) > 0) is prepared


def test_the_database_urls_own_options_are_kept_with_prepared_statements():
    """sslmode and connect_timeout in DATABASE_URL reach the connection as before, beside the prepared statements."""
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='myshop.settings'; django.setup();"
        "from django.conf import settings; print(sorted(settings.DATABASES['default']['OPTIONS'].items()))"
    )
    url = "postgres://shop@db.example.com:5432/myshop?sslmode=require&connect_timeout=7"
    result = run_python(code, DEBUG="1", DATABASE_URL=url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[-2] == (
        "[('connect_timeout', 7), ('prepare_threshold', 5), ('server_side_binding', True), ('sslmode', 'require')]"
    )
