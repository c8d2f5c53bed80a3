"""sleepy: sleeps 10 ms (standing in for a database call) then returns a short body."""

import time

BODY = b"slept 10 ms\n"
LENGTH = str(len(BODY))


def application(environ, start_response):
    time.sleep(0.010)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", LENGTH)])
    return [BODY]
