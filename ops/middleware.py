from . import views

ENDPOINTS = {"/healthz": views.healthz, "/readyz": views.readyz, "/metrics": views.metrics_view}


class OpsEndpointsMiddleware:
    """Answers /healthz, /readyz and /metrics before any other middleware runs.

    Probes and scrapers call the pod or container directly, over plain HTTP and with its IP address as the
    Host: SecurityMiddleware would redirect them to HTTPS (a redirect counts as "healthy" to Kubernetes) and
    ALLOWED_HOSTS would refuse them. These three paths build no URL from the Host header, so skipping both is
    safe; /metrics has its own access rule (views.metrics_allowed). Put this first in MIDDLEWARE.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        endpoint = ENDPOINTS.get(request.path_info.rstrip("/") or "/")
        if endpoint is not None and request.method in {"GET", "HEAD"}:
            return endpoint(request)
        return self.get_response(request)
