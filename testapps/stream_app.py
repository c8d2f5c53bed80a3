"""Response-side scenarios: streaming, write(), exc_info, close(), broken responses.

Each path is one scenario; the e2e tests check what reaches the wire.
Requests that pass ?id=X record what happened to their iterable in
tracker, readable through /closed?id=X. Deliberate failures raise
RuntimeError (never AssertionError), so an AssertionError in the log always
means the wsgiref validator found a real problem.
"""

import json
import os
import sys
import time
import urllib.parse
import warnings
import wsgiref.validate

import tracker

warnings.simplefilter("error", wsgiref.validate.WSGIWarning)

TEXT = [("Content-Type", "text/plain")]


def _param(environ, name, default=""):
    return urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get(name, [default])[0]


def _wait_for(path, timeout=5.0):
    """Blocks until the test creates path (or timeout); True if it did."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def gated(environ, start_response):
    # The last chunk is produced only after the test has seen the first one
    # and opened the gate: a server that buffers the body fails the test.
    gate = _param(environ, "gate")
    start_response("200 OK", TEXT)

    def gen():
        yield b"first"
        yield b"last" if _wait_for(gate) else b"gate-timeout"

    return gen()


def gen(environ, start_response):
    start_response("200 OK", TEXT)

    def body():
        yield b"one,"
        yield b""  # empty chunks must not end a chunked body
        yield b"two,"
        yield b"three"

    return body()


def lazy(environ, start_response):
    # PEP 3333 allows start_response to be called from the iterable, as long
    # as it happens before the first body bytes are yielded.
    def body():
        start_response("200 OK", TEXT + [("X-Lazy", "yes")])
        yield b"lazy"

    return body()


def list1(environ, start_response):
    # One-chunk list and no Content-Length: the server can compute it.
    start_response("200 OK", TEXT)
    return [b"hello world"]


def write_only(environ, start_response):
    write = start_response("200 OK", TEXT)
    write(b"w1,")
    write(b"w2")
    return []


def write_mixed(environ, start_response):
    # PEP 3333: write() data goes first, then the iterable.
    write = start_response("200 OK", TEXT)
    write(b"w1,")
    return iter([b"i1,", b"i2"])


def exc_before(environ, start_response):
    start_response("200 OK", TEXT)
    try:
        raise RuntimeError("failed before any body was sent")
    except RuntimeError:
        # Headers not sent yet: the replacement status wins.
        start_response("503 Replaced", TEXT + [("X-Replaced", "yes")], sys.exc_info())
    return [b"replacement body"]


def exc_after(environ, start_response):
    start_response("200 OK", TEXT)

    def body():
        yield b"first"
        try:
            raise RuntimeError("failed after the headers were sent")
        except RuntimeError:
            # Too late to change anything: start_response re-raises (PEP 3333).
            start_response("500 Too Late", TEXT, sys.exc_info())
        yield b"never sent"

    return body()


def second_start_response(environ, start_response):
    start_response("200 OK", TEXT)
    start_response("201 Created", TEXT)  # no exc_info: must raise
    return [b"should not be sent"]


def raise_early(environ, start_response):
    raise RuntimeError("application failed before start_response")


def tracked(environ, start_response):
    """/tracked?id=X&mode=...: a tracker.Tracked iterable for the close() checks."""
    rid = tracker.request_id(environ)
    mode = _param(environ, "mode", "ok")
    start_response("200 OK", TEXT)
    if mode == "ok":
        chunks = [b"a,", b"b,", b"c"]
    elif mode == "raise-first":
        chunks = [RuntimeError("iteration failed before any body")]
    elif mode == "raise-later":
        chunks = [b"partial", RuntimeError("iteration failed after a chunk")]
    elif mode == "str":
        chunks = ["a str, not bytes"]
    else:
        raise RuntimeError("unknown mode %r" % mode)
    return tracker.Tracked(rid, chunks)


def disconnect(environ, start_response):
    """An endless stream, until the client goes away (bounded so a server bug cannot hang the test run)."""
    rid = tracker.request_id(environ)
    start_response("200 OK", TEXT)

    def body():
        try:
            for i in range(1000):
                yield b"x" * 1024
                time.sleep(0.005)
            tracker.record(rid, "exhausted")
        except GeneratorExit:
            tracker.record(rid, "GeneratorExit")
            raise
        finally:
            tracker.record(rid, "finally")

    return body()


def no_body(environ, start_response):
    """/no-body?id=X&code=N: HEAD, 204 and 304 responses whose iterable still has a body."""
    rid = tracker.request_id(environ)
    code = _param(environ, "code", "200")
    if code in ("204", "304"):
        # The validator forbids Content-Type on these; &cl=N adds a Content-Length (Django adds one to a 204).
        headers = [("X-Code", code)]
        if _param(environ, "cl"):
            headers.append(("Content-Length", _param(environ, "cl")))
        start_response(code + (" No Content" if code == "204" else " Not Modified"), headers)
    else:
        start_response("200 OK", TEXT)
    return tracker.Tracked(rid, [b"body that ", b"must not be sent"])


def cl_mismatch(environ, start_response):
    """/cl?declared=N&send=a,b: declares Content-Length N and sends the listed chunks."""
    declared = _param(environ, "declared")
    chunks = [c.encode() for c in _param(environ, "send").split(",")]
    start_response("200 OK", TEXT + [("Content-Length", declared)])

    def body():
        yield from chunks

    return body()


def bad_header(environ, start_response):
    """/bad-header?name=N&value=V[&times=K]: a header the server must refuse (CR/LF, hop-by-hop, a second Content-Length)."""
    start_response("200 OK", TEXT + [(_param(environ, "name"), _param(environ, "value"))] * int(_param(environ, "times", "1")))
    return [b"must not be sent"]


def file_wrapper(environ, start_response):
    """/file-wrapper?id=X: 20000 bytes through wsgi.file_wrapper, whose close() must reach the file."""
    start_response("200 OK", TEXT)
    data = bytes(range(256)) * 78 + b"end"
    return environ["wsgi.file_wrapper"](tracker.TrackedFile(tracker.request_id(environ), data), 4096)


def big(environ, start_response):
    """/big?mib=N: N MiB in 64 KiB chunks, chunk i filled with byte i % 251, to exercise flow control."""
    n = int(_param(environ, "mib", "1")) * 16
    start_response("200 OK", TEXT)
    return (bytes([i % 251]) * 65536 for i in range(n))


def ping(environ, start_response):
    body = ("pong " + environ["PATH_INFO"]).encode("latin-1")
    start_response("200 OK", TEXT + [("Content-Length", str(len(body)))])
    return [body]


ROUTES = {
    "/gated": gated,
    "/gen": gen,
    "/lazy": lazy,
    "/list1": list1,
    "/write": write_only,
    "/write-mixed": write_mixed,
    "/exc-before": exc_before,
    "/exc-after": exc_after,
    "/second-start-response": second_start_response,
    "/raise": raise_early,
    "/tracked": tracked,
    "/disconnect": disconnect,
    "/no-body": no_body,
    "/cl": cl_mismatch,
    "/bad-header": bad_header,
    "/file-wrapper": file_wrapper,
    "/big": big,
    "/closed": tracker.closed_app,
}


def application(environ, start_response):
    return ROUTES.get(environ["PATH_INFO"], ping)(environ, start_response)


validated = wsgiref.validate.validator(application)
