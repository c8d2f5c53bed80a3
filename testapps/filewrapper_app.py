"""wsgi.file_wrapper scenarios for e2e/filewrapper_test.go.

Files are wrapped in RecordingFile, a real buffered file (its fileno()
works) that records in tracker whether Python ever read it and whether it
was closed: a response sent with sendfile is never read by Python, one
sent by iteration is. Every request carries ?id=X; /closed?id=X returns
the events.
"""

import gzip
import io
import os
import time
import urllib.parse
import warnings
import wsgiref.validate

import tracker

warnings.simplefilter("error", wsgiref.validate.WSGIWarning)


def _params(environ):
    return {k: v[0] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()}


class Recording:
    """Records in tracker the first read() and the first close() of a file object."""

    def _setup(self, rid):
        self.rid = rid
        self._read_seen = False
        self._close_seen = False

    def read(self, size=-1):
        if not self._read_seen:
            self._read_seen = True
            tracker.record(self.rid, "read")
        return super().read(size)

    def close(self):
        if not self._close_seen:
            self._close_seen = True
            tracker.record(self.rid, "close")
        super().close()


class RecordingFile(Recording, io.BufferedReader):
    """A file opened for reading that records its first read() and its close()."""

    def __init__(self, rid, raw):
        io.BufferedReader.__init__(self, raw)
        self._setup(rid)


class RecordingBytes(io.BytesIO):
    """In-memory bytes: fileno() raises, so the server must iterate."""

    def __init__(self, rid, data):
        super().__init__(data)
        self.rid = rid

    def close(self):
        tracker.record(self.rid, "close")
        super().close()


class RecordingGzip(Recording, gzip.GzipFile):
    """A gzip file: fileno() is the compressed file's, read() returns what it decompresses."""

    def __init__(self, rid, path):
        gzip.GzipFile.__init__(self, path, "rb")
        self._setup(rid)


class FileProxy:
    """Not an io object, like Django's File: read() and fileno() reach the same file."""

    def __init__(self, f):
        self._f = f

    def read(self, size=-1):
        return self._f.read(size)

    def fileno(self):
        return self._f.fileno()

    def tell(self):
        return self._f.tell()

    def close(self):
        self._f.close()


def _headers(p, extra=()):
    h = [("Content-Type", "application/octet-stream")]
    if "cl" in p:
        h.append(("Content-Length", p["cl"]))
    return h + list(extra)


def file_(environ, start_response):
    """/file?id&path[&seek=N][&skip=N][&cl=N][&blk=N]: the file from its position.

    seek moves the position with seek(); skip reads N bytes through the
    buffer first (unrecorded), so the descriptor's offset is past the
    application's position.
    """
    p = _params(environ)
    f = RecordingFile(p["id"], io.FileIO(p["path"], "rb"))
    if "seek" in p:
        f.seek(int(p["seek"]))
    if "skip" in p:
        io.BufferedReader.read(f, int(p["skip"]))
    start_response("200 OK", _headers(p))
    return environ["wsgi.file_wrapper"](f, int(p.get("blk", "8192")))


def gzip_(environ, start_response):
    """/gzip?id&path: a gzip.GzipFile must be iterated: its descriptor holds the compressed bytes."""
    p = _params(environ)
    start_response("200 OK", _headers(p))
    return environ["wsgi.file_wrapper"](RecordingGzip(p["id"], p["path"]), 8192)


def proxy(environ, start_response):
    """/proxy?id&path: a file behind an object outside io keeps the sendfile path."""
    p = _params(environ)
    f = RecordingFile(p["id"], io.FileIO(p["path"], "rb"))
    start_response("200 OK", _headers(p))
    return environ["wsgi.file_wrapper"](FileProxy(f), 8192)


def bytes_(environ, start_response):
    """/bytes?id&size=N[&cl=N]: N bytes (b'0123456789' repeated) from io.BytesIO."""
    p = _params(environ)
    data = (b"0123456789" * (int(p["size"]) // 10 + 1))[: int(p["size"])]
    start_response("200 OK", _headers(p))
    return environ["wsgi.file_wrapper"](RecordingBytes(p["id"], data), 4096)


def pipe(environ, start_response):
    """/pipe?id&size=N: a descriptor that is not a regular file (a pipe) must be iterated."""
    p = _params(environ)
    r, w = os.pipe()
    data = (b"abcdefghij" * (int(p["size"]) // 10 + 1))[: int(p["size"])]
    os.write(w, data)  # small enough for the pipe buffer
    os.close(w)
    start_response("200 OK", _headers(p))
    return environ["wsgi.file_wrapper"](RecordingFile(p["id"], io.FileIO(r, "rb")), 1024)


def written(environ, start_response):
    """/written?id&path: write() before returning the wrapper; the body continues by iteration."""
    p = _params(environ)
    write = start_response("200 OK", _headers(p))
    write(b"prefix:")
    return environ["wsgi.file_wrapper"](RecordingFile(p["id"], io.FileIO(p["path"], "rb")), 8192)


def text(environ, start_response):
    """/text?id&path: a text-mode file yields str, which is an error whatever the server does."""
    p = _params(environ)
    start_response("200 OK", _headers(p))
    return environ["wsgi.file_wrapper"](open(p["path"], "r", encoding="latin-1"), 8192)


def not_modified(environ, start_response):
    """/304?id&path: a 304 has no body, so the file is not sent (but it is closed)."""
    p = _params(environ)
    start_response("304 Not Modified", [("ETag", '"x"')])
    return environ["wsgi.file_wrapper"](RecordingFile(p["id"], io.FileIO(p["path"], "rb")), 8192)


def block(environ, start_response):
    """/block?gate=P: holds its Python thread until the test creates P (at most 10 s)."""
    gate = _params(environ)["gate"]
    deadline = time.monotonic() + 10
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.005)
    body = b"released" if os.path.exists(gate) else b"gate-timeout"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def ping(environ, start_response):
    body = b"app " + environ["PATH_INFO"].encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


ROUTES = {
    "/file": file_,
    "/bytes": bytes_,
    "/gzip": gzip_,
    "/proxy": proxy,
    "/pipe": pipe,
    "/written": written,
    "/text": text,
    "/304": not_modified,
    "/block": block,
    "/closed": tracker.closed_app,
}


def application(environ, start_response):
    return ROUTES.get(environ["PATH_INFO"], ping)(environ, start_response)


validated = wsgiref.validate.validator(application)
