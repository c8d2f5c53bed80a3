"""Returns the environ as JSON so the e2e tests can check it key by key.

Every value is shown with its exact type name, because PEP 3333 cares about
types (native str for CGI values, bool and tuple for wsgi.*). wsgi.input,
wsgi.errors and wsgi.file_wrapper are objects: they are described by the
methods they offer instead (the validator wraps the first two, so their type
names differ between the two callables).
"""

import json
import warnings
import wsgiref.validate

warnings.simplefilter("error", wsgiref.validate.WSGIWarning)

_METHODS = ("read", "readline", "readlines", "__iter__", "write", "writelines", "flush")


def _describe(value):
    if isinstance(value, (str, bool, int, float, tuple, list)) or value is None:
        return {"type": type(value).__name__, "value": value}
    return {
        "type": type(value).__name__,
        "methods": [m for m in _METHODS if hasattr(value, m)],
        "callable": callable(value),
    }


def application(environ, start_response):
    body = json.dumps({key: _describe(value) for key, value in environ.items()}, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


validated = wsgiref.validate.validator(application)
