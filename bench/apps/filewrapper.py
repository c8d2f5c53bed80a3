"""filewrapper: a large file sent through wsgi.file_wrapper, with a Content-Length.

benchrun writes the file into its temporary directory and passes its path in
BENCH_FILEWRAPPER_FILE. The file is opened per request and handed to the
server's wsgi.file_wrapper in 64 KiB blocks; the server closes it (PEP 3333:
the wrapper's close() closes the file).
"""

import os

PATH = os.environ.get("BENCH_FILEWRAPPER_FILE", "")
if not PATH:
    raise RuntimeError("BENCH_FILEWRAPPER_FILE is not set: benchrun sets it to the file this app sends")
BLOCK = 65536


def application(environ, start_response):
    f = open(PATH, "rb")
    try:
        length = str(os.fstat(f.fileno()).st_size)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", length)])
        return environ["wsgi.file_wrapper"](f, BLOCK)
    except BaseException:
        f.close()
        raise
