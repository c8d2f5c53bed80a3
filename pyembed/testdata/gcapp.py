"""An app for the gc stats test: each request runs a full collection."""

import gc


def collect(environ, start_response):
    gc.collect()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
    return [b""]
