"""gunicorn settings wherever the shop is served (Dockerfile, docker-compose.yml, the test kit):
`gunicorn -c python:myshop.gunicorn_conf myshop.wsgi:application ...`."""

logger_class = "core.gunicorn.StatusTokenMaskingLogger"
