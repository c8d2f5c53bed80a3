"""hello: the 13-byte "Hello, World!" in text/plain with a Content-Length."""

BODY = b"Hello, World!"
LENGTH = str(len(BODY))


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", LENGTH)])
    return [BODY]
