# Sourced by bin/run, bin/test and bin/lint: a virtualenv in .venv with requirements-dev.txt installed
# (production's requirements.txt plus the test and lint tools). Re-installs only when either file changed.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "myshop needs Python 3.11 or newer; set PYTHON=/path/to/python3.x" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ requirements.txt -nt .venv/.installed ] || [ requirements-dev.txt -nt .venv/.installed ]; then
  echo "==> installing requirements-dev.txt into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  touch .venv/.installed
fi
mkdir -p var
# The translations (locale/*/LC_MESSAGES/django.po) as gettext reads them; only those changed since last time.
if ! command -v msgfmt >/dev/null; then
  echo "myshop needs GNU gettext's msgfmt to compile its translations (Debian: apt-get install gettext)" >&2
  exit 1
fi
DEBUG=1 .venv/bin/python manage.py compilemessages --ignore=.venv --verbosity 0
