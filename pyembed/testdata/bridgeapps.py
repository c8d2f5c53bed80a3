"""Apps for pyembed's in-process tests: each exercises one part of the bridge."""

import sys


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]


def environ_types(environ, start_response):
    # name=type:value per line, sorted, for the keys the Go side sent.
    lines = []
    for k in sorted(environ):
        v = environ[k]
        if isinstance(v, str):
            lines.append("%s=str:%s" % (k, v))
        else:
            lines.append("%s=%s" % (k, type(v).__name__))
    body = "\n".join(lines).encode("utf-8")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def echo_body(environ, start_response):
    inp = environ["wsgi.input"]
    first = inp.readline()
    rest = inp.read()
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [first, b"|", rest]


def stream(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"a")

    def gen():
        yield b"b"
        yield b""
        yield b"c"

    return gen()


def raises(environ, start_response):
    raise ValueError("boom from the app")


def str_chunk(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["not bytes"]


def bad_header(environ, start_response):
    try:
        start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: x=1")])
    except ValueError as e:
        body = ("refused: %s" % e).encode()
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        return [body]
    return [b"accepted"]


def errors_stream(environ, start_response):
    environ["wsgi.errors"].write("line one\nline ")
    environ["wsgi.errors"].write("two\n")
    start_response("204 No Content", [])
    return []


def sized_list(environ, start_response):
    """A list body of environ['SIZE'] bytes."""
    n = int(environ["SIZE"])
    start_response("200 OK", [("Content-Length", str(n))])
    return [b"a" * (n // 2), b"b" * (n - n // 2)]


def chunks_with_length(environ, start_response):
    """Three chunks that fill the declared Content-Length, then what EXTRA says."""
    start_response("200 OK", [("Content-Length", "9")])
    yield b"one"
    yield b"two"
    yield b"six"
    extra = environ.get("EXTRA", "")
    if extra == "raise":
        raise RuntimeError("after the whole body")
    if extra:
        yield extra.encode()


def chunks_no_length(environ, start_response):
    start_response("200 OK", [])
    yield b"first"
    yield b"second"
