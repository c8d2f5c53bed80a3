"""For the start-up tests: a working app (also loaded with --wsgi-file) and a non-callable attribute."""

settings = {"debug": False}  # --callable settings must be refused: not callable


def application(environ, start_response):
    body = b"started from " + __name__.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
