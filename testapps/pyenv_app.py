"""Reports the interpreter's environment as JSON, for the configuration and
virtualenv end-to-end tests: what sys and os.environ say, as the
application sees them, at import time and per request.
"""

import json
import os
import site
import sys

# Captured at import: --env must be in place before the first import.
IMPORT_ENV = {k: v for k, v in os.environ.items() if k.startswith("GW_") or k == "DJANGO_SETTINGS_MODULE"}
IMPORT_CWD = os.getcwd()

try:
    import gw_venv_probe  # only in the virtualenv the venv test builds

    PROBE = {"magic": gw_venv_probe.MAGIC, "file": gw_venv_probe.__file__}
except ImportError as e:
    PROBE = {"error": str(e)}

try:
    import flask  # noqa: F401  (Debian's, in the system site-packages only)

    SYSTEM_FLASK = True
except ImportError:
    SYSTEM_FLASK = False


def application(environ, start_response):
    info = {
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "exec_prefix": sys.exec_prefix,
        "executable": sys.executable,
        "version": "%d.%d" % sys.version_info[:2],
        "path": sys.path,
        "site_packages": site.getsitepackages(),
        "import_cwd": IMPORT_CWD,
        "import_env": IMPORT_ENV,
        "probe": PROBE,
        "system_flask": SYSTEM_FLASK,
    }
    body = json.dumps(info).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
