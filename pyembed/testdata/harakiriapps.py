"""Apps for pyembed's harakiri tests (harakiri_test.go)."""

import time


def spin(environ, start_response):
    # A pure-Python loop: an asynchronous exception stops it at once.
    n = 0
    while True:
        n += 1


def nap(environ, start_response):
    # Blocked in C: the exception fires only when time.sleep returns.
    time.sleep(float(environ.get("QUERY_STRING") or "0.3"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"rested"]
