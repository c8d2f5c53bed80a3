"""The app of the observability tests (access log, metrics, stats page).

Routes, by PATH_INFO:
  /stderr        writes one line each through print(file=sys.stderr), the
                 logging module's default handler, os.write(2, ...), stdout
                 and wsgi.errors, all tagged with the query string
  /sleep?ms=N    sleeps N milliseconds (busy threads for the stats)
  /status/NNN    answers with that status
  /header        answers with an X-Trace response header
  /fail          raises (a traceback, a 500)
  anything else  "ok"
"""

import logging
import os
import sys
import time


def _respond(start_response, status, body=b"ok\n", extra=()):
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    headers.extend(extra)
    start_response(status, headers)
    return [body]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    if path == "/stderr":
        print("print-to-stderr " + query, file=sys.stderr)
        logging.warning("logging-warning %s", query)
        os.write(2, ("fd2-write " + query + "\n").encode())
        print("print-to-stdout " + query)
        environ["wsgi.errors"].write("wsgi-errors " + query + "\n")
        return _respond(start_response, "200 OK")
    if path == "/sleep":
        ms = int(query.partition("=")[2] or "0")
        time.sleep(ms / 1000.0)
        return _respond(start_response, "200 OK")
    if path.startswith("/status/"):
        code = int(path[len("/status/"):])
        return _respond(start_response, "%d Status %d" % (code, code))
    if path == "/header":
        return _respond(start_response, "200 OK", extra=[("X-Trace", "trace-42")])
    if path == "/fail":
        raise RuntimeError("observe_app fails on purpose")
    return _respond(start_response, "200 OK")
