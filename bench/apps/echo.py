"""echo: reads the whole request body from wsgi.input (CONTENT_LENGTH bytes) and returns it."""


def application(environ, start_response):
    try:
        remaining = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        remaining = 0
    stream = environ["wsgi.input"]
    parts = []
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    body = b"".join(parts)
    start_response(
        "200 OK",
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))],
    )
    return [body]
