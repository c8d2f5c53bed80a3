"""Reads the whole request body and answers with its digest and the environ.

Used by the hardening tests: the corpus replay checks that every valid raw
request reaches the application with exactly the body that was sent and
with the environ it must produce, and the proxy tests check what trusted
and untrusted forwarding headers did to REMOTE_ADDR, wsgi.url_scheme and
the host. The reply is JSON:

    {"len": ..., "sha256": ..., "environ": {every str value}, "url_scheme": ...}

/ok answers at once without touching the body (the "is the server still
responsive" probe); /sleep?ms=N holds the Python thread for N ms.
"""

import hashlib
import json
import time
import urllib.parse


def _reply(start_response, status, body, ctype="application/json"):
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/ok":
        return _reply(start_response, "200 OK", b"ok\n", "text/plain")
    if path == "/sleep":
        ms = int(urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("ms", ["0"])[0])
        time.sleep(ms / 1000.0)
        return _reply(start_response, "200 OK", b"slept\n", "text/plain")
    inp = environ["wsgi.input"]
    h = hashlib.sha256()
    n = 0
    while True:
        chunk = inp.read(65536)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    body = json.dumps({
        "len": n,
        "sha256": h.hexdigest(),
        "url_scheme": environ["wsgi.url_scheme"],
        # Values are native strings (latin-1 decoded bytes, PEP 3333):
        # JSON carries them as code points 0-255, which the test maps back.
        "environ": {k: v for k, v in environ.items() if isinstance(v, str)},
    }).encode()
    return _reply(start_response, "200 OK", body)
