"""The shop's URLs plus uploaded files, for the live server of the browser tests (DEBUG is off there)."""

from django.conf import settings
from django.urls import re_path
from django.views.static import serve

from myshop.urls import urlpatterns as shop_urlpatterns


def serve_media(request, path):
    return serve(request, path, document_root=settings.MEDIA_ROOT)  # read per request: tests move it


urlpatterns = [re_path(rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.*)$", serve_media), *shop_urlpatterns]
