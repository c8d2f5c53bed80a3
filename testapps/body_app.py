"""Reads the request body in the style named by the path and reports what it got.

The reply is JSON: the byte count and sha256 of everything read, the number
of calls, and "bad": every way in which a call broke the file-like contract
(read(n) longer than n, a readline() that stops before a newline without
being at the end, ...). The tests compare the hash with what they sent and
require "bad" to be empty.
"""

import hashlib
import json
import os
import time
import urllib.parse
import warnings
import wsgiref.validate

warnings.simplefilter("error", wsgiref.validate.WSGIWarning)


def _param(environ, name, default):
    return urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get(name, [default])[0]


def _wait_for(path, timeout=5.0):
    """Blocks until the test creates path: a gate that needs no timing guesses."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _read_pieces(environ, style, n):
    """Returns (pieces, bad) for one read style."""
    inp = environ["wsgi.input"]
    pieces, bad = [], []
    if style == "read":
        # read() with no argument: not allowed by the validator (it wants exactly one).
        pieces.append(inp.read())
        if inp.read(1) != b"":
            bad.append("data after read()")
    elif style == "read-cl":
        # What Django and most frameworks do.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        pieces.append(inp.read(length))
        if len(pieces[0]) != length:
            bad.append("read(CONTENT_LENGTH) returned %d bytes" % len(pieces[0]))
    elif style == "read-n":
        while True:
            chunk = inp.read(n)
            if len(chunk) > n:
                bad.append("read(%d) returned %d bytes" % (n, len(chunk)))
            if not chunk:
                break
            pieces.append(chunk)
    elif style == "readline":
        while True:
            line = inp.readline()
            if not line:
                break
            pieces.append(line)
        for line in pieces[:-1]:
            if not line.endswith(b"\n"):
                bad.append("readline() returned a partial line of %d bytes" % len(line))
        if pieces and b"\n" in pieces[-1][:-1]:
            bad.append("readline() returned more than one line")
    elif style == "readline-n":
        while True:
            line = inp.readline(n)
            if not line:
                break
            if len(line) > n:
                bad.append("readline(%d) returned %d bytes" % (n, len(line)))
            pieces.append(line)
        for line in pieces[:-1]:
            if not line.endswith(b"\n") and len(line) != n:
                bad.append("readline(%d) stopped early at %d bytes" % (n, len(line)))
            if b"\n" in line[:-1]:
                bad.append("readline(%d) returned more than one line" % n)
    elif style == "readlines":
        while True:
            lines = inp.readlines(n)
            if not lines:
                break
            for line in lines[:-1]:
                if not line.endswith(b"\n"):
                    bad.append("readlines() returned a partial line")
            pieces.extend(lines)
    elif style == "iter":
        for line in inp:
            pieces.append(line)
        for line in pieces[:-1]:
            if not line.endswith(b"\n"):
                bad.append("iteration returned a partial line")
    else:
        bad.append("unknown style %r" % style)
    return pieces, bad


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/echo":
        # For the concurrency test: the reply must differ per request.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = environ["wsgi.input"].read(length)
        body = b"echo:" + data
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/no-read":
        # Answers without touching wsgi.input (Expect: 100-continue must then never be answered with 100).
        body = b"not read"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/gated-read":
        # Reads only after the test opens the gate, so the test can check that 100 Continue waits for it.
        if not _wait_for(_param(environ, "gate", "")):
            start_response("504 Gate Timeout", [("Content-Type", "text/plain")])
            return [b"gate never opened"]
        data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        body = json.dumps({"len": len(data), "sha256": hashlib.sha256(data).hexdigest()}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    style = path.lstrip("/")
    pieces, bad = _read_pieces(environ, style, int(_param(environ, "n", "1000")))
    data = b"".join(pieces)
    body = json.dumps({
        "len": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "calls": len(pieces),
        "bad": bad[:10],
        "content_length": environ.get("CONTENT_LENGTH"),
        "transfer_encoding": environ.get("HTTP_TRANSFER_ENCODING"),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


validated = wsgiref.validate.validator(application)
