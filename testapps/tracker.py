"""Records what happened to response iterables, keyed by a request id.

The e2e tests cannot see inside the server, so apps note here whether their
iterable was consumed and closed (and whether a generator saw GeneratorExit),
and the tests ask through the /closed endpoint. Request threads run in
parallel (--threads > 1), hence the lock.
"""

import json
import threading
import urllib.parse

_lock = threading.Lock()
_events = {}


def request_id(environ):
    """The id= query parameter; every tracked request carries one."""
    return urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("id", [""])[0]


def record(rid, event):
    with _lock:
        _events.setdefault(rid, []).append(event)


def events(rid):
    with _lock:
        return list(_events.get(rid, []))


class Tracked:
    """An iterable over chunks that records each chunk taken and close().

    A chunk that is an exception instance is raised instead of returned, so
    tests can make iteration fail at a chosen point.
    """

    def __init__(self, rid, chunks):
        self.rid = rid
        self.chunks = iter(chunks)

    def __iter__(self):
        return self

    def __next__(self):
        chunk = next(self.chunks)
        record(self.rid, "next")
        if isinstance(chunk, BaseException):
            raise chunk
        return chunk

    def close(self):
        record(self.rid, "close")


class TrackedFile:
    """A file-like object for wsgi.file_wrapper that records close()."""

    def __init__(self, rid, data):
        self.rid = rid
        self.data = data
        self.pos = 0

    def read(self, size=-1):
        end = len(self.data) if size < 0 else self.pos + size
        chunk = self.data[self.pos:end]
        self.pos += len(chunk)
        return chunk

    def close(self):
        record(self.rid, "close")


def closed_app(environ, start_response):
    """GET /closed?id=X -> {"events": [...]} for that request id."""
    body = json.dumps({"events": events(request_id(environ))}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
