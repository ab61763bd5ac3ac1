# One image for web, worker and beat; only the command differs (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Pango and a font for WeasyPrint, which renders the invoices (in the worker); gettext's msgfmt compiles the
# translations (locale/*/LC_MESSAGES/django.po) into the .mo files the shop reads.
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
        libharfbuzz-subset0 fonts-dejavu-core gettext && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Hashed, compressed static files, served by WhiteNoise, and the compiled translations. Both need settings, not
# secrets.
RUN SECRET_KEY=collectstatic-only STATIC_MANIFEST=1 python manage.py collectstatic --noinput \
    && SECRET_KEY=compilemessages-only python manage.py compilemessages --verbosity 0 \
    && useradd --create-home --uid 1000 shop && mkdir -p /app/var/private /app/media && chown -R shop /app/var /app/media && chmod 700 /app/var/private
USER shop

EXPOSE 8000
# myshop/gunicorn_conf.py masks status-page tokens in the access log; no control socket (nothing uses it).
CMD ["gunicorn", "myshop.wsgi:application", "--config", "python:myshop.gunicorn_conf", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "--no-control-socket"]
