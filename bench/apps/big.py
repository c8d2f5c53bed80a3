"""big: a 1 MiB response sent as 16 chunks of 64 KiB from a generator, with a Content-Length."""

CHUNK = b"x" * (64 * 1024)
COUNT = 16
LENGTH = str(len(CHUNK) * COUNT)


def _chunks():
    for _ in range(COUNT):
        yield CHUNK


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", LENGTH)])
    return _chunks()
