"""A marker package: importable only from the virtualenv it was installed in."""

MAGIC = "gw-venv-probe 1.0"
