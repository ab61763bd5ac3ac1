"""gunicorn settings for every place the shop is served from (Dockerfile, docker-compose.yml):
`gunicorn -c python:myshop.gunicorn_conf myshop.wsgi:application ...`.

Status-page paths (/orders/<token>/) are keys to an order's name and address, and never expire: the access
log shows them masked, in the request line, the path, the referer and every other field.
"""

from gunicorn.glogging import Logger

from myshop.logmask import mask_status_tokens


class StatusTokenMaskingLogger(Logger):
    """gunicorn's logger, with status-page tokens masked in every access-log field."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: mask_status_tokens(value) if isinstance(value, str) else value for name, value in atoms.items()}


logger_class = StatusTokenMaskingLogger
