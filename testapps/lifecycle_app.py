"""For the process lifecycle tests (e2e/lifecycle_test.go).

Every response is JSON naming the worker process that served it (pid,
uid, gid), VERSION, which the reload test rewrites in a copy of this
file, and the LIFECYCLE_TAG variable (set with --env in a configuration
file). Query parameters make a request slow, stuck, busy or big:

  /work?ms=N        sleep N milliseconds, then answer
  /sleep?s=N        time.sleep(N): blocked in C, where an asynchronous
                    exception cannot reach it (harakiri's forced stop)
  /busy             a pure-Python loop that never ends (harakiri's
                    exception stops it)
  /grow?mb=N        keep N more MiB alive in this process (reload-on-rss)
  mark=PATH         (with any route) create PATH when the request starts,
                    so a test knows it is in flight

If the file named by LIFECYCLE_CRASH_MARKER exists, importing this module
fails, so a test can make every new worker die at start-up.
"""

import json
import os
import time
import urllib.parse

VERSION = "v1"

_marker = os.environ.get("LIFECYCLE_CRASH_MARKER", "")
if _marker and os.path.exists(_marker):
    raise RuntimeError("lifecycle_app refuses to start: %s exists" % _marker)

_ballast = []


def _busy_forever():
    n = 0
    while True:
        n += 1


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))

    def arg(name, default):
        return query.get(name, [default])[0]

    mark = arg("mark", "")
    if mark:
        with open(mark, "w") as f:
            f.write(str(os.getpid()))
    if path == "/work":
        time.sleep(float(arg("ms", "0")) / 1000)
    elif path == "/sleep":
        time.sleep(float(arg("s", "1")))
    elif path == "/busy":
        _busy_forever()
    elif path == "/grow":
        # Filled, not zeroed, so that the pages are really resident.
        _ballast.append(b"\x01" * (int(arg("mb", "1")) << 20))
    body = json.dumps({
        "pid": os.getpid(),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "version": VERSION,
        "tag": os.environ.get("LIFECYCLE_TAG", ""),
        "path": path,
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
