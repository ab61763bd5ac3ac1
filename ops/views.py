"""/healthz, /readyz and /metrics. Served by ops.middleware ahead of the rest of the stack, so that neither
the HTTPS redirect nor the allowed-hosts check stands between them and a probe or scraper."""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from . import metrics
from .readiness import readiness


def healthz(request):
    """Liveness: the process answers. Touches neither the database nor the broker."""
    return HttpResponse("ok\n", content_type="text/plain")


def readyz(request):
    """Readiness, for a load balancer: 200 if what a sale needs answers (the checks in READYZ_REQUIRE),
    else 503; each check as "ok" or "failed". What failed and how (addresses, errors) only for who may read
    /metrics, and in the log (once per run of the checks)."""
    ready, checks = readiness()
    failed = [name for name, outcome in checks.items() if not outcome["ok"]]
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {name: "ok" if outcome["ok"] else "failed" for name, outcome in checks.items()},
        "failed": failed,
    }
    if metrics_allowed(request):
        body["details"] = checks
    return JsonResponse(body, status=200 if ready else 503, json_dumps_params={"indent": 1})


def metrics_allowed(request):
    """A bearer token equal to METRICS_TOKEN, or a direct connection (not relayed by a proxy that adds
    X-Forwarded-For) from an address in METRICS_ALLOWED_NETWORKS. Neither configured: closed to everyone."""
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    if request.META.get("HTTP_X_FORWARDED_FOR"):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in settings.METRICS_ALLOWED_NETWORKS)


def metrics_view(request):
    """Prometheus text exposition of the shop's metrics, for allowed scrapers only (403 otherwise)."""
    if not metrics_allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(metrics.web_exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)  # what generate_latest writes
