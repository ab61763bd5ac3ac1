"""gunicorn's access log with status-page tokens masked (myshop/gunicorn_conf.py names it)."""

from gunicorn.glogging import Logger

from .logmask import mask_status_tokens


class StatusTokenMaskingLogger(Logger):
    """gunicorn's logger, with status-page tokens masked in every access-log field (request line, path,
    referer...): a status page's address is a key to the order's name and address, and never expires."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: mask_status_tokens(value) if isinstance(value, str) else value for name, value in atoms.items()}
