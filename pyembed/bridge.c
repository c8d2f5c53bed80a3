/*
 * bridge.c holds every call into the Python C API made by gowsgi.
 * See bridge.h for the contract with Go and docs/ARCHITECTURE.md for the
 * threading model. Each exported gw_* function takes the GIL on entry and
 * releases it before returning; blocking work (reading the request body,
 * waiting for a slow client, logging) happens with the GIL released.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"

static const char *const gw_key_names[GW_KEY_COUNT] = {
    NULL,
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "REQUEST_URI",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "HTTPS",
    "HTTP_HOST",
    "HTTP_USER_AGENT",
    "HTTP_ACCEPT",
    "HTTP_ACCEPT_ENCODING",
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_CONNECTION",
    "HTTP_COOKIE",
    "HTTP_REFERER",
    "HTTP_CACHE_CONTROL",
    "HTTP_ORIGIN",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_REQUESTED_WITH",
    "HTTP_AUTHORIZATION",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
};

/* Python-side helpers; written in Python because they are cold paths. */
static const char gw_helpers_source[] =
    "import importlib, importlib.util, os, sys, traceback\n"
    "\n"
    "def format_exc(t, v, tb):\n"
    "    return ''.join(traceback.format_exception(t, v, tb)).rstrip('\\n')\n"
    "\n"
    "class FileWrapper:\n"
    "    '''wsgi.file_wrapper: iterates a file-like object in blocks; close() is forwarded.'''\n"
    "    def __init__(self, filelike, blksize=8192):\n"
    "        self.filelike = filelike\n"
    "        self.blksize = blksize\n"
    "        if hasattr(filelike, 'close'):\n"
    "            self.close = filelike.close\n"
    "    def __iter__(self):\n"
    "        return self\n"
    "    def __next__(self):\n"
    "        data = self.filelike.read(self.blksize)\n"
    "        if data:\n"
    "            return data\n"
    "        raise StopIteration\n"
    "\n"
    "def load_app(module, attr, wsgi_file):\n"
    "    if wsgi_file:\n"
    "        path = os.path.abspath(wsgi_file)\n"
    "        if not os.path.isfile(path):\n"
    "            raise FileNotFoundError('wsgi file %r does not exist' % wsgi_file)\n"
    "        name = 'gowsgi_file_' + ''.join(c if c.isalnum() else '_' for c in path)\n"
    "        spec = importlib.util.spec_from_file_location(name, path)\n"
    "        if spec is None:\n"
    "            raise ImportError('cannot load %r as Python source' % wsgi_file)\n"
    "        mod = importlib.util.module_from_spec(spec)\n"
    "        sys.modules[name] = mod\n"
    "        spec.loader.exec_module(mod)\n"
    "        where = wsgi_file\n"
    "    else:\n"
    "        mod = importlib.import_module(module)\n"
    "        where = 'module %r' % module\n"
    "    try:\n"
    "        app = getattr(mod, attr)\n"
    "    except AttributeError:\n"
    "        raise LookupError('%s has no attribute %r' % (where, attr)) from None\n"
    "    if not callable(app):\n"
    "        raise TypeError('%s:%s is not callable (it is %s)' % (where, attr, type(app).__name__))\n"
    "    return app\n";

static PyObject *gw_keys[GW_KEY_COUNT];
static PyObject *gw_app;
static PyObject *gw_template;
static PyObject *gw_format_exc;
static PyObject *gw_load_app_fn;
static PyObject *gw_str_http, *gw_str_https;
static PyObject *gw_key_url_scheme, *gw_key_input, *gw_key_errors, *gw_str_close;
/* wsgi.file_wrapper with sendfile */
static PyObject *gw_file_wrapper, *gw_str_filelike, *gw_str_fileno, *gw_str_tell, *gw_str_raw;
static PyObject *gw_io_base, *gw_file_io, *gw_buffered_reader, *gw_buffered_random;
static PyThreadState *gw_main_tstate;

typedef struct gw_ctx gw_ctx;
/*
 * Each OS thread that runs requests gets its own context and Python thread
 * state the first time, kept for the life of the process; Go runs each
 * request on the OS thread of the goroutine that read it, so there is no
 * hand-over between threads.
 */
static __thread gw_ctx *gw_tls_ctx;
static int gw_thread_count;
static PyInterpreterState *gw_interp;

/* ---------------------------------------------------------------- logging */

/* gw_log sends one message to Go with the GIL released (logging is I/O). */
static void gw_log(int idx, int level, const char *msg, size_t n)
{
    Py_BEGIN_ALLOW_THREADS
    go_log(idx, level, (char *)msg, n);
    Py_END_ALLOW_THREADS
}

/* gw_format_exception formats and clears the current exception; the result is malloc'd. */
static char *gw_format_exception(const char *prefix)
{
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (v != NULL && tb != NULL)
        PyException_SetTraceback(v, tb);
    PyObject *s = NULL;
    if (gw_format_exc != NULL && t != NULL)
        s = PyObject_CallFunctionObjArgs(gw_format_exc, t, v ? v : Py_None, tb ? tb : Py_None, NULL);
    const char *text = NULL;
    if (s != NULL)
        text = PyUnicode_AsUTF8(s);
    if (text == NULL) {
        PyErr_Clear();
        text = "(the exception could not be formatted)";
    }
    size_t plen = strlen(prefix), tlen = strlen(text);
    char *out = malloc(plen + 2 + tlen + 1);
    if (out != NULL) {
        memcpy(out, prefix, plen);
        memcpy(out + plen, ": ", 2);
        memcpy(out + plen + 2, text, tlen + 1);
    }
    Py_XDECREF(s);
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
    return out;
}

/* ------------------------------------------------------ per-thread context */

/*
 * gw_ctx is created once per request thread. It is wsgi.input, and it is
 * the self of the start_response and write callables, so serving a request
 * allocates none of them (the NGINX Unit Python module does the same).
 */
struct gw_ctx {
    PyObject_HEAD
    int idx;
    PyThreadState *tstate;
    PyObject *start_response; /* bound to this ctx; created once */
    PyObject *write;          /* bound to this ctx; created once */
    PyObject *errors;         /* this thread's wsgi.errors */

    /* State of the current request; reset by gw_run. */
    int active;       /* wsgi.input, start_response and write may be used */
    int headers_set;  /* start_response was called */
    int headers_sent; /* the head went to go_write */
    int client_gone;
    int has_length; /* the application's headers include Content-Length */
    long long length;   /* its value, when has_length */
    long long body_out; /* body bytes handed to go_write or staged */
    /*
     * The end of a response is staged in Go's buffer out[0:out_cap] (the
     * head at out[0:res->head_len], body bytes after it) and handed over
     * when gw_run returns, instead of crossing to Go with go_write while
     * the GIL is held: such a callback needs a Go P, which a thread queued
     * on the GIL may hold, so the GIL holder would wait for it.
     */
    char *out;
    size_t out_cap;
    gw_result *res;
    int errors_logged;
    char *head; /* "NNN reason\r\nName: value\r\n..." as latin-1 bytes */
    size_t head_len, head_cap;

    /* wsgi.input: the window in_buf[in_pos:in_end] holds unread bytes. */
    const char *in_buf;
    size_t in_pos, in_end;
    int in_stream; /* more bytes come from go_read */
    int in_eof;
    char *rbuf;
    size_t rbuf_cap;
};

typedef struct {
    PyObject_HEAD
    int idx;
    char *line;
    size_t len, cap;
} gw_errors;

static PyTypeObject gw_ctx_type;
static PyTypeObject gw_errors_type;

static int gw_ctx_check_active(gw_ctx *c)
{
    if (!c->active) {
        PyErr_SetString(PyExc_ValueError, "the request this object belongs to has ended");
        return -1;
    }
    return 0;
}

static int gw_grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *buf = p;
    *cap = n;
    return 0;
}

/* ------------------------------------------------------------- wsgi.input */

/* gw_in_fill makes unread bytes available: 1 if there are some, 0 at the end, -1 on error. */
static int gw_in_fill(gw_ctx *c)
{
    if (c->in_pos < c->in_end)
        return 1;
    if (c->in_eof || !c->in_stream)
        return 0;
    ssize_t n;
    int idx = c->idx;
    char *dst = c->rbuf;
    size_t cap = c->rbuf_cap;
    Py_BEGIN_ALLOW_THREADS
    n = go_read(idx, dst, cap);
    Py_END_ALLOW_THREADS
    if (n < 0) {
        c->in_eof = 1;
        PyErr_SetString(PyExc_OSError, "reading the request body failed: the client disconnected, timed out or sent a malformed body");
        return -1;
    }
    if (n == 0) {
        c->in_eof = 1;
        return 0;
    }
    c->in_buf = c->rbuf;
    c->in_pos = 0;
    c->in_end = (size_t)n;
    return 1;
}

static int gw_size_arg(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t *size)
{
    *size = -1;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "expected at most one argument");
        return -1;
    }
    if (nargs == 1 && args[0] != Py_None) {
        *size = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
        if (*size == -1 && PyErr_Occurred())
            return -1;
    }
    return 0;
}

static PyObject *gw_input_read(gw_ctx *c, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;
    if (gw_ctx_check_active(c) < 0 || gw_size_arg(args, nargs, &size) < 0)
        return NULL;
    if (size == 0)
        return PyBytes_FromStringAndSize(NULL, 0);
    size_t avail = c->in_end - c->in_pos;
    if (size > 0 && (avail >= (size_t)size || !c->in_stream || c->in_eof)) {
        size_t n = avail < (size_t)size ? avail : (size_t)size;
        PyObject *r = PyBytes_FromStringAndSize(c->in_buf + c->in_pos, (Py_ssize_t)n);
        c->in_pos += n;
        return r;
    }
    if (size < 0 && (!c->in_stream || c->in_eof)) {
        PyObject *r = PyBytes_FromStringAndSize(c->in_buf + c->in_pos, (Py_ssize_t)avail);
        c->in_pos = c->in_end;
        return r;
    }
    /* Streaming: read straight into the result, growing it for read(). */
    Py_ssize_t cap = size > 0 ? size : (Py_ssize_t)(avail + c->rbuf_cap);
    PyObject *r = PyBytes_FromStringAndSize(NULL, cap);
    if (r == NULL)
        return NULL;
    memcpy(PyBytes_AS_STRING(r), c->in_buf + c->in_pos, avail);
    c->in_pos = c->in_end;
    Py_ssize_t got = (Py_ssize_t)avail;
    while (!c->in_eof && (size < 0 || got < size)) {
        if (size < 0 && got == cap) {
            cap *= 2;
            if (_PyBytes_Resize(&r, cap) < 0)
                return NULL;
        }
        ssize_t n;
        int idx = c->idx;
        char *dst = PyBytes_AS_STRING(r) + got;
        size_t want = (size_t)(cap - got);
        Py_BEGIN_ALLOW_THREADS
        n = go_read(idx, dst, want);
        Py_END_ALLOW_THREADS
        if (n < 0) {
            c->in_eof = 1;
            Py_DECREF(r);
            PyErr_SetString(PyExc_OSError, "reading the request body failed: the client disconnected, timed out or sent a malformed body");
            return NULL;
        }
        if (n == 0)
            c->in_eof = 1;
        got += n;
    }
    if (got != cap && _PyBytes_Resize(&r, got) < 0)
        return NULL;
    return r;
}

static PyObject *gw_input_readline_impl(gw_ctx *c, Py_ssize_t size)
{
    if (size == 0)
        return PyBytes_FromStringAndSize(NULL, 0);
    size_t limit = size < 0 ? (size_t)PY_SSIZE_T_MAX : (size_t)size;
    /* Fast path: the whole line is already buffered. */
    size_t avail = c->in_end - c->in_pos;
    size_t scan = avail < limit ? avail : limit;
    const char *start = c->in_buf + c->in_pos;
    const char *nl = scan ? memchr(start, '\n', scan) : NULL;
    if (nl != NULL || scan == limit || (!c->in_stream || c->in_eof)) {
        size_t n = nl ? (size_t)(nl - start) + 1 : scan;
        c->in_pos += n;
        return PyBytes_FromStringAndSize(start, (Py_ssize_t)n);
    }
    /* Slow path: the line spans refills of the stream buffer. */
    char *acc = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        int r = gw_in_fill(c);
        if (r < 0) {
            free(acc);
            return NULL;
        }
        if (r == 0)
            break;
        avail = c->in_end - c->in_pos;
        scan = avail < limit - len ? avail : limit - len;
        start = c->in_buf + c->in_pos;
        nl = memchr(start, '\n', scan);
        size_t n = nl ? (size_t)(nl - start) + 1 : scan;
        if (gw_grow(&acc, &cap, len + n) < 0) {
            free(acc);
            return NULL;
        }
        memcpy(acc + len, start, n);
        len += n;
        c->in_pos += n;
        if (nl != NULL || len == limit)
            break;
    }
    PyObject *res = PyBytes_FromStringAndSize(acc, (Py_ssize_t)len);
    free(acc);
    return res;
}

static PyObject *gw_input_readline(gw_ctx *c, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;
    if (gw_ctx_check_active(c) < 0 || gw_size_arg(args, nargs, &size) < 0)
        return NULL;
    return gw_input_readline_impl(c, size);
}

static PyObject *gw_input_readlines(gw_ctx *c, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t hint;
    if (gw_ctx_check_active(c) < 0 || gw_size_arg(args, nargs, &hint) < 0)
        return NULL;
    PyObject *lines = PyList_New(0);
    if (lines == NULL)
        return NULL;
    Py_ssize_t total = 0;
    for (;;) {
        PyObject *line = gw_input_readline_impl(c, -1);
        if (line == NULL) {
            Py_DECREF(lines);
            return NULL;
        }
        Py_ssize_t n = PyBytes_GET_SIZE(line);
        if (n == 0) {
            Py_DECREF(line);
            break;
        }
        int rc = PyList_Append(lines, line);
        Py_DECREF(line);
        if (rc < 0) {
            Py_DECREF(lines);
            return NULL;
        }
        total += n;
        if (hint > 0 && total >= hint)
            break;
    }
    return lines;
}

static PyObject *gw_input_iter(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

static PyObject *gw_input_next(gw_ctx *c)
{
    if (gw_ctx_check_active(c) < 0)
        return NULL;
    PyObject *line = gw_input_readline_impl(c, -1);
    if (line != NULL && PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return NULL; /* StopIteration */
    }
    return line;
}

/* --------------------------------------------------- start_response, write */

static int gw_is_tchar(unsigned char ch)
{
    if (ch >= 'a' && ch <= 'z')
        return 1;
    if (ch >= 'A' && ch <= 'Z')
        return 1;
    if (ch >= '0' && ch <= '9')
        return 1;
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/*
 * gw_latin1 checks that s is a str of latin-1 code points without control
 * characters (HTAB allowed in values) and returns its bytes. CR, LF and NUL
 * in a header would let the application split the response.
 */
static const unsigned char *gw_latin1(PyObject *s, const char *what, int allow_tab, Py_ssize_t *len)
{
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what, Py_TYPE(s)->tp_name);
        return NULL;
    }
    if (PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_ValueError, "%s must hold only latin-1 characters: %R", what, s);
        return NULL;
    }
    const unsigned char *d = PyUnicode_1BYTE_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char ch = d[i];
        if ((ch < 0x20 && !(allow_tab && ch == '\t')) || ch == 0x7f) {
            PyErr_Format(PyExc_ValueError, "%s must not contain control characters (CR, LF, NUL): %R", what, s);
            return NULL;
        }
    }
    *len = n;
    return d;
}

static int gw_name_is(const unsigned char *name, Py_ssize_t n, const char *lower)
{
    size_t l = strlen(lower);
    if ((size_t)n != l)
        return 0;
    for (size_t i = 0; i < l; i++) {
        unsigned char ch = name[i];
        if (ch >= 'A' && ch <= 'Z')
            ch += 'a' - 'A';
        if (ch != (unsigned char)lower[i])
            return 0;
    }
    return 1;
}

static const char *const gw_hop_by_hop[] = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade", NULL,
};

static int gw_head_append(gw_ctx *c, const void *p, size_t n)
{
    if (gw_grow(&c->head, &c->head_cap, c->head_len + n) < 0)
        return -1;
    memcpy(c->head + c->head_len, p, n);
    c->head_len += n;
    return 0;
}

/* gw_set_head validates status and headers (PEP 3333) and serializes them into c->head. */
static int gw_set_head(gw_ctx *c, PyObject *status, PyObject *headers)
{
    Py_ssize_t slen;
    const unsigned char *s = gw_latin1(status, "status", 0, &slen);
    if (s == NULL)
        return -1;
    if (slen < 4 || s[3] != ' ' || s[0] < '1' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9') {
        PyErr_Format(PyExc_ValueError, "status must be a three-digit code, a space and a reason phrase, like '200 OK': %R", status);
        return -1;
    }
    if (s[0] == '1') {
        PyErr_Format(PyExc_ValueError, "informational status %R cannot be the response of a WSGI application", status);
        return -1;
    }
    if (!PyList_Check(headers)) {
        PyErr_Format(PyExc_TypeError, "response headers must be a list, not %.100s", Py_TYPE(headers)->tp_name);
        return -1;
    }
    c->head_len = 0;
    c->has_length = 0;
    c->length = 0;
    if (gw_head_append(c, s, (size_t)slen) < 0 || gw_head_append(c, "\r\n", 2) < 0)
        return -1;
    Py_ssize_t nh = PyList_GET_SIZE(headers);
    for (Py_ssize_t i = 0; i < nh; i++) {
        PyObject *h = PyList_GET_ITEM(headers, i);
        if (!PyTuple_Check(h) || PyTuple_GET_SIZE(h) != 2) {
            PyErr_Format(PyExc_TypeError, "each response header must be a (name, value) tuple, got %R", h);
            return -1;
        }
        Py_ssize_t nlen, vlen;
        const unsigned char *name = gw_latin1(PyTuple_GET_ITEM(h, 0), "header name", 0, &nlen);
        if (name == NULL)
            return -1;
        const unsigned char *val = gw_latin1(PyTuple_GET_ITEM(h, 1), "header value", 1, &vlen);
        if (val == NULL)
            return -1;
        if (nlen == 0) {
            PyErr_SetString(PyExc_ValueError, "header name must not be empty");
            return -1;
        }
        for (Py_ssize_t j = 0; j < nlen; j++) {
            if (!gw_is_tchar(name[j])) {
                PyErr_Format(PyExc_ValueError, "header name %R has a character not allowed in a field name", PyTuple_GET_ITEM(h, 0));
                return -1;
            }
        }
        for (const char *const *hop = gw_hop_by_hop; *hop; hop++) {
            if (gw_name_is(name, nlen, *hop)) {
                PyErr_Format(PyExc_ValueError, "hop-by-hop header %R is not allowed from a WSGI application (PEP 3333)", PyTuple_GET_ITEM(h, 0));
                return -1;
            }
        }
        if (gw_name_is(name, nlen, "content-length")) {
            /* Two lengths frame the body two ways, and a proxy or client
             * that believes the other one reads the rest as the next
             * response (RFC 9112 section 6.3, RFC 9110 section 8.6). */
            if (c->has_length) {
                PyErr_Format(PyExc_ValueError, "Content-Length given twice (again as %R): a response has one length", PyTuple_GET_ITEM(h, 1));
                return -1;
            }
            int ok = vlen > 0 && vlen <= 18;
            c->length = 0;
            for (Py_ssize_t j = 0; ok && j < vlen; j++) {
                ok = val[j] >= '0' && val[j] <= '9';
                c->length = c->length * 10 + (val[j] - '0');
            }
            if (!ok) {
                PyErr_Format(PyExc_ValueError, "Content-Length must be a decimal number, got %R", PyTuple_GET_ITEM(h, 1));
                return -1;
            }
            c->has_length = 1;
        }
        /* Trim optional whitespace around the value; the wire form is "Name: value". */
        while (vlen > 0 && (val[0] == ' ' || val[0] == '\t')) {
            val++;
            vlen--;
        }
        while (vlen > 0 && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t'))
            vlen--;
        if (gw_head_append(c, name, (size_t)nlen) < 0 || gw_head_append(c, ": ", 2) < 0 ||
            gw_head_append(c, val, (size_t)vlen) < 0 || gw_head_append(c, "\r\n", 2) < 0)
            return -1;
    }
    return 0;
}

static PyObject *gw_start_response(gw_ctx *c, PyObject *const *args, Py_ssize_t nargs)
{
    if (gw_ctx_check_active(c) < 0)
        return NULL;
    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "start_response(status, response_headers, exc_info=None) takes 2 or 3 arguments");
        return NULL;
    }
    PyObject *exc_info = nargs == 3 ? args[2] : Py_None;
    if (exc_info != Py_None) {
        if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
            PyErr_SetString(PyExc_TypeError, "exc_info must be a (type, value, traceback) tuple");
            return NULL;
        }
        if (c->headers_sent) {
            /* PEP 3333: too late to change the response, so re-raise the application's error. */
            PyObject *t = PyTuple_GET_ITEM(exc_info, 0), *v = PyTuple_GET_ITEM(exc_info, 1), *tb = PyTuple_GET_ITEM(exc_info, 2);
            if (tb == Py_None)
                tb = NULL;
            Py_INCREF(t);
            Py_INCREF(v);
            Py_XINCREF(tb);
            PyErr_Restore(t, v, tb);
            return NULL;
        }
    } else if (c->headers_set) {
        PyErr_SetString(PyExc_RuntimeError, "start_response was already called; a second call needs exc_info (PEP 3333)");
        return NULL;
    }
    if (gw_set_head(c, args[0], args[1]) < 0) {
        c->headers_set = 0;
        return NULL;
    }
    c->headers_set = 1;
    Py_INCREF(c->write);
    return c->write;
}

/*
 * gw_stage copies a write into the staging buffer and reports whether it
 * did. Only a write that nothing can follow is staged (the final one, or
 * one that completes the application's Content-Length, after which only
 * the final write may come), so holding it back until gw_run returns
 * delays no byte the client could use earlier (PEP 3333 forbids delaying
 * a block otherwise).
 */
static int gw_stage(gw_ctx *c, const gw_iov *iov, int niov, size_t n, int flags)
{
    if (c->out == NULL)
        return 0;
    if (!(flags & GW_WRITE_FINAL) && !(c->has_length && c->body_out + (long long)n >= c->length))
        return 0;
    size_t hlen = c->headers_sent ? 0 : c->head_len;
    size_t used = c->res->head_len + c->res->body_len;
    if (used + hlen + n > c->out_cap)
        return 0;
    if (hlen > 0) {
        /* Nothing is staged before the head is: headers_sent was 0. */
        memcpy(c->out, c->head, hlen);
        c->res->head_len = hlen;
        c->headers_sent = 1;
        used = hlen;
    }
    for (int i = 0; i < niov; i++) {
        memcpy(c->out + used, iov[i].base, iov[i].len);
        used += iov[i].len;
    }
    c->res->body_len += n;
    c->body_out += (long long)n;
    if (flags & GW_WRITE_FINAL) {
        c->res->flags = flags;
        c->active = 0;
    }
    return 1;
}

/* gw_unstage hands what gw_stage holds to Go, before a write that cannot be staged. */
static int gw_unstage(gw_ctx *c)
{
    gw_result *r = c->res;
    if (r == NULL || r->head_len + r->body_len == 0)
        return GW_OK;
    gw_iov iov = {c->out + r->head_len, r->body_len};
    int rc = go_write(c->idx, r->head_len > 0 ? c->out : NULL, r->head_len, &iov, r->body_len > 0, 0);
    r->head_len = r->body_len = 0;
    return rc;
}

/* gw_send hands body pieces (and the head, the first time) to Go. */
static int gw_send(gw_ctx *c, const gw_iov *iov, int niov, int flags)
{
    size_t n = 0;
    for (int i = 0; i < niov; i++)
        n += iov[i].len;
    if (gw_stage(c, iov, niov, n, flags))
        return 0;
    c->body_out += (long long)n;
    int rc = gw_unstage(c);
    if (rc == GW_GONE) {
        c->client_gone = 1;
        if (!(flags & GW_WRITE_FINAL))
            return -1;
    }
    const char *head = NULL;
    size_t hlen = 0;
    if (!c->headers_sent) {
        head = c->head;
        hlen = c->head_len;
        c->headers_sent = 1;
    }
    if (flags & GW_WRITE_FINAL)
        c->active = 0; /* Go may reuse the body memory once it has the final write */
    rc = go_write(c->idx, (char *)head, hlen, (gw_iov *)iov, niov, flags);
    while (rc == GW_WAIT) {
        int idx = c->idx;
        Py_BEGIN_ALLOW_THREADS
        rc = go_wait(idx);
        Py_END_ALLOW_THREADS
    }
    if (rc == GW_GONE) {
        c->client_gone = 1;
        return -1;
    }
    return 0;
}

static PyObject *gw_write(gw_ctx *c, PyObject *data)
{
    if (gw_ctx_check_active(c) < 0)
        return NULL;
    if (!c->headers_set) {
        PyErr_SetString(PyExc_RuntimeError, "write() called before start_response");
        return NULL;
    }
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "write() takes bytes, not %.100s", Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (c->client_gone) {
        PyErr_SetString(PyExc_OSError, "the client disconnected");
        return NULL;
    }
    if (PyBytes_GET_SIZE(data) > 0) {
        gw_iov iov = {PyBytes_AS_STRING(data), (size_t)PyBytes_GET_SIZE(data)};
        if (gw_send(c, &iov, 1, 0) < 0) {
            PyErr_SetString(PyExc_OSError, "the client disconnected");
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyMethodDef gw_start_response_def = {"start_response", (PyCFunction)(void (*)(void))gw_start_response, METH_FASTCALL,
                                            "start_response(status, response_headers, exc_info=None) -> write"};
static PyMethodDef gw_write_def = {"write", (PyCFunction)gw_write, METH_O, "write(data: bytes) sends data at once"};

static PyMethodDef gw_ctx_methods[] = {
    {"read", (PyCFunction)(void (*)(void))gw_input_read, METH_FASTCALL, "read(size=-1) -> bytes"},
    {"readline", (PyCFunction)(void (*)(void))gw_input_readline, METH_FASTCALL, "readline(size=-1) -> bytes"},
    {"readlines", (PyCFunction)(void (*)(void))gw_input_readlines, METH_FASTCALL, "readlines(hint=-1) -> list"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject gw_ctx_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gowsgi.Input",
    .tp_basicsize = sizeof(gw_ctx),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.input of one gowsgi request thread",
    .tp_iter = gw_input_iter,
    .tp_iternext = (iternextfunc)gw_input_next,
    .tp_methods = gw_ctx_methods,
};

/* ------------------------------------------------------------ wsgi.errors */

/*
 * gw_errors_take moves the complete lines (or everything, when all is set)
 * out of the line buffer into a malloc'd copy, so they can be logged with
 * the GIL released while other threads write to the same stream.
 */
static char *gw_errors_take(gw_errors *e, int all, size_t *n)
{
    size_t cut = 0;
    if (all) {
        cut = e->len;
    } else {
        for (size_t i = e->len; i > 0; i--) {
            if (e->line[i - 1] == '\n') {
                cut = i;
                break;
            }
        }
    }
    *n = cut;
    if (cut == 0)
        return NULL;
    char *out = malloc(cut);
    if (out == NULL)
        return NULL;
    memcpy(out, e->line, cut);
    memmove(e->line, e->line + cut, e->len - cut);
    e->len -= cut;
    return out;
}

static void gw_errors_emit(int idx, char *text, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || text[i] == '\n') {
            if (i > start || i < n)
                gw_log(idx, GW_LOG_ERROR, text + start, i - start);
            start = i + 1;
        }
    }
    free(text);
}

static PyObject *gw_errors_write(gw_errors *e, PyObject *s)
{
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "wsgi.errors.write() takes str, not %.100s", Py_TYPE(s)->tp_name);
        return NULL;
    }
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (u == NULL)
        return NULL;
    if (gw_grow(&e->line, &e->cap, e->len + (size_t)n) < 0)
        return NULL;
    memcpy(e->line + e->len, u, (size_t)n);
    e->len += (size_t)n;
    if (memchr(u, '\n', (size_t)n) != NULL || e->len > 65536) {
        size_t len;
        char *lines = gw_errors_take(e, e->len > 65536, &len);
        if (lines != NULL) {
            /* drop the final newline: each line is one log record */
            if (len > 0 && lines[len - 1] == '\n')
                len--;
            gw_errors_emit(e->idx, lines, len);
        }
    }
    Py_RETURN_NONE;
}

static PyObject *gw_errors_writelines(gw_errors *e, PyObject *seq)
{
    PyObject *it = PyObject_GetIter(seq);
    if (it == NULL)
        return NULL;
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *r = gw_errors_write(e, item);
        Py_DECREF(item);
        if (r == NULL) {
            Py_DECREF(it);
            return NULL;
        }
        Py_DECREF(r);
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *gw_errors_flush(gw_errors *e, PyObject *unused)
{
    (void)unused;
    size_t len;
    char *rest = gw_errors_take(e, 1, &len);
    if (rest != NULL)
        gw_errors_emit(e->idx, rest, len);
    Py_RETURN_NONE;
}

static PyMethodDef gw_errors_methods[] = {
    {"write", (PyCFunction)gw_errors_write, METH_O, "write(str) logs complete lines"},
    {"writelines", (PyCFunction)gw_errors_writelines, METH_O, "writelines(seq)"},
    {"flush", (PyCFunction)gw_errors_flush, METH_NOARGS, "flush() logs a pending partial line"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject gw_errors_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gowsgi.Errors",
    .tp_basicsize = sizeof(gw_errors),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.errors: each line goes to the gowsgi log",
    .tp_methods = gw_errors_methods,
};

/* ------------------------------------------------------------ interpreter */

const char *gw_python_version(void)
{
    return Py_GetVersion();
}

static char *gw_strdup_err(const char *prefix, const char *msg)
{
    size_t a = strlen(prefix), b = msg ? strlen(msg) : 0;
    char *out = malloc(a + b + 3);
    if (out == NULL)
        return NULL;
    memcpy(out, prefix, a);
    if (b) {
        memcpy(out + a, ": ", 2);
        memcpy(out + a + 2, msg, b + 1);
    } else {
        out[a] = '\0';
    }
    return out;
}

static int gw_setup(const gw_init_options *o)
{
    for (int i = 1; i < GW_KEY_COUNT; i++) {
        gw_keys[i] = PyUnicode_InternFromString(gw_key_names[i]);
        if (gw_keys[i] == NULL)
            return -1;
    }
    gw_str_http = PyUnicode_InternFromString("http");
    gw_str_https = PyUnicode_InternFromString("https");
    gw_key_url_scheme = PyUnicode_InternFromString("wsgi.url_scheme");
    gw_key_input = PyUnicode_InternFromString("wsgi.input");
    gw_key_errors = PyUnicode_InternFromString("wsgi.errors");
    gw_str_close = PyUnicode_InternFromString("close");
    if (!gw_str_http || !gw_str_https || !gw_key_url_scheme || !gw_key_input || !gw_key_errors || !gw_str_close)
        return -1;
    if (PyType_Ready(&gw_ctx_type) < 0 || PyType_Ready(&gw_errors_type) < 0)
        return -1;

    /* sys.path: the given directories first, in order. */
    PyObject *path = PySys_GetObject("path"); /* borrowed */
    if (path == NULL || !PyList_Check(path)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
        return -1;
    }
    for (int i = o->npaths - 1; i >= 0; i--) {
        PyObject *p = PyUnicode_DecodeFSDefault(o->paths[i]);
        if (p == NULL || PyList_Insert(path, 0, p) < 0) {
            Py_XDECREF(p);
            return -1;
        }
        Py_DECREF(p);
    }

    /* The helper module holds FileWrapper, load_app and format_exc. */
    PyObject *mod = PyImport_AddModule("_gowsgi"); /* borrowed */
    if (mod == NULL)
        return -1;
    PyObject *globals = PyModule_GetDict(mod); /* borrowed */
    if (PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0)
        return -1;
    PyObject *r = PyRun_String(gw_helpers_source, Py_file_input, globals, globals);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    gw_format_exc = PyDict_GetItemString(globals, "format_exc");
    gw_load_app_fn = PyDict_GetItemString(globals, "load_app");
    PyObject *file_wrapper = PyDict_GetItemString(globals, "FileWrapper");
    if (!gw_format_exc || !gw_load_app_fn || !file_wrapper) {
        PyErr_SetString(PyExc_RuntimeError, "gowsgi helper module is incomplete");
        return -1;
    }
    Py_INCREF(gw_format_exc);
    Py_INCREF(gw_load_app_fn);

    /* gw_respond recognizes this class to send its file with sendfile. */
    gw_file_wrapper = file_wrapper;
    Py_INCREF(gw_file_wrapper);
    gw_str_filelike = PyUnicode_InternFromString("filelike");
    gw_str_fileno = PyUnicode_InternFromString("fileno");
    gw_str_tell = PyUnicode_InternFromString("tell");
    gw_str_raw = PyUnicode_InternFromString("raw");
    PyObject *io = PyImport_ImportModule("io");
    if (io != NULL) {
        gw_io_base = PyObject_GetAttrString(io, "IOBase");
        gw_file_io = PyObject_GetAttrString(io, "FileIO");
        gw_buffered_reader = PyObject_GetAttrString(io, "BufferedReader");
        gw_buffered_random = PyObject_GetAttrString(io, "BufferedRandom");
        Py_DECREF(io);
    }
    if (!gw_str_filelike || !gw_str_fileno || !gw_str_tell || !gw_str_raw || !gw_io_base || !gw_file_io ||
        !gw_buffered_reader || !gw_buffered_random)
        return -1;

    /* The environ template: everything that is the same for every request. */
    gw_template = PyDict_New();
    if (gw_template == NULL)
        return -1;
    PyObject *version = Py_BuildValue("(ii)", 1, 0);
    PyObject *empty = PyUnicode_FromStringAndSize("", 0);
    int rc = version == NULL ||
             PyDict_SetItemString(gw_template, "wsgi.version", version) < 0 ||
             PyDict_SetItemString(gw_template, "wsgi.multithread", o->threads > 1 ? Py_True : Py_False) < 0 ||
             PyDict_SetItemString(gw_template, "wsgi.multiprocess", o->multiprocess ? Py_True : Py_False) < 0 ||
             PyDict_SetItemString(gw_template, "wsgi.run_once", Py_False) < 0 ||
             PyDict_SetItemString(gw_template, "wsgi.file_wrapper", file_wrapper) < 0 ||
             PyDict_SetItemString(gw_template, "wsgi.input_terminated", Py_True) < 0 ||
             empty == NULL || PyDict_SetItem(gw_template, gw_keys[GW_KEY_SCRIPT_NAME], empty) < 0;
    Py_XDECREF(version);
    Py_XDECREF(empty);
    return rc ? -1 : 0;
}

int gw_init(const gw_init_options *o, char **err)
{
    PyStatus st;
    PyConfig cfg;
    PyConfig_InitPythonConfig(&cfg);
    /* Go owns the process's signals; Python must not install handlers. */
    cfg.install_signal_handlers = 0;
    cfg.parse_argv = 0;
    /* Unbuffered stdio so that print() from the app reaches the log at once. */
    cfg.buffered_stdio = 0;
    st = PyConfig_SetBytesArgv(&cfg, 1, (char *const[]){(char *)o->program});
    if (!PyStatus_Exception(st) && o->python_exe && o->python_exe[0])
        st = PyConfig_SetBytesString(&cfg, &cfg.program_name, o->python_exe);
    if (PyStatus_Exception(st)) {
        *err = gw_strdup_err("python configuration failed", st.err_msg);
        PyConfig_Clear(&cfg);
        return -1;
    }
    st = Py_InitializeFromConfig(&cfg);
    PyConfig_Clear(&cfg);
    if (PyStatus_Exception(st)) {
        *err = gw_strdup_err("python initialization failed", st.err_msg);
        return -1;
    }
    gw_interp = PyThreadState_Get()->interp;
    if (gw_setup(o) < 0) {
        *err = PyErr_Occurred() ? gw_format_exception("python set-up failed") : gw_strdup_err("python set-up failed", "out of memory");
        gw_main_tstate = PyEval_SaveThread();
        return -1;
    }
    gw_main_tstate = PyEval_SaveThread();
    return 0;
}

int gw_load_app(const char *module, const char *callable, const char *wsgi_file, char **err)
{
    PyEval_RestoreThread(gw_main_tstate);
    int rc = 0;
    PyObject *app = PyObject_CallFunction(gw_load_app_fn, "sss", module, callable, wsgi_file);
    if (app == NULL) {
        *err = gw_format_exception("traceback");
        rc = -1;
    } else {
        Py_XSETREF(gw_app, app);
    }
    gw_main_tstate = PyEval_SaveThread();
    return rc;
}

/* gw_ctx_new makes the calling OS thread's context; the GIL is held. */
static gw_ctx *gw_ctx_new(PyThreadState *ts)
{
    gw_ctx *c = PyObject_New(gw_ctx, &gw_ctx_type);
    gw_errors *e = PyObject_New(gw_errors, &gw_errors_type);
    if (c == NULL || e == NULL) {
        Py_XDECREF(c);
        Py_XDECREF(e);
        return NULL;
    }
    memset((char *)c + sizeof(PyObject), 0, sizeof(*c) - sizeof(PyObject));
    memset((char *)e + sizeof(PyObject), 0, sizeof(*e) - sizeof(PyObject));
    c->tstate = ts;
    c->errors = (PyObject *)e;
    c->rbuf_cap = 65536;
    c->rbuf = malloc(c->rbuf_cap);
    c->start_response = PyCFunction_New(&gw_start_response_def, (PyObject *)c);
    c->write = PyCFunction_New(&gw_write_def, (PyObject *)c);
    if (c->rbuf == NULL || c->start_response == NULL || c->write == NULL)
        return NULL; /* leaked on purpose: the thread cannot serve, and this happens only without memory */
    return c;
}

/*
 * gw_enter takes the GIL on the calling OS thread with its own thread
 * state, creating both the first time. The thread state is created on the
 * thread that uses it, so PyGILState_Ensure in C extensions finds it.
 */
static gw_ctx *gw_enter(void)
{
    gw_ctx *c = gw_tls_ctx;
    if (c != NULL) {
        PyEval_RestoreThread(c->tstate);
        return c;
    }
    PyThreadState *ts = PyThreadState_New(gw_interp);
    if (ts == NULL)
        return NULL;
    PyEval_RestoreThread(ts);
    c = gw_ctx_new(ts);
    if (c == NULL) {
        PyErr_Clear();
        PyEval_SaveThread();
        return NULL;
    }
    gw_tls_ctx = c;
    gw_thread_count++;
    return c;
}

int gw_threads_started(void)
{
    return gw_thread_count;
}

/* ------------------------------------------------------------- a request */

static PyObject *gw_build_environ(gw_ctx *c, const char *p, size_t len, int flags)
{
    PyObject *env = PyDict_Copy(gw_template);
    if (env == NULL)
        return NULL;
    const char *end = p + len;
    while (p < end) {
        gw_env_entry e;
        if ((size_t)(end - p) < sizeof e)
            goto malformed;
        memcpy(&e, p, sizeof e);
        p += sizeof e;
        if (e.key >= GW_KEY_COUNT || (size_t)(end - p) < (size_t)e.key_len + e.val_len)
            goto malformed;
        PyObject *k;
        if (e.key != GW_KEY_NONE) {
            k = gw_keys[e.key];
            Py_INCREF(k);
        } else {
            k = PyUnicode_DecodeLatin1(p, e.key_len, NULL);
        }
        p += e.key_len;
        PyObject *v = PyUnicode_DecodeLatin1(p, e.val_len, NULL);
        p += e.val_len;
        int rc = (k == NULL || v == NULL) ? -1 : PyDict_SetItem(env, k, v);
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0)
            goto fail;
    }
    if (PyDict_SetItem(env, gw_key_url_scheme, (flags & GW_RUN_HTTPS) ? gw_str_https : gw_str_http) < 0 ||
        PyDict_SetItem(env, gw_key_input, (PyObject *)c) < 0 ||
        PyDict_SetItem(env, gw_key_errors, c->errors) < 0)
        goto fail;
    return env;
malformed:
    PyErr_SetString(PyExc_SystemError, "gowsgi: malformed packed environ");
fail:
    Py_DECREF(env);
    return NULL;
}

static void gw_log_exception(gw_ctx *c, const char *what)
{
    char *msg = gw_format_exception(what);
    c->errors_logged++;
    if (msg != NULL) {
        gw_log(c->idx, GW_LOG_ERROR, msg, strlen(msg));
        free(msg);
    }
}

/* gw_fail ends a request whose application failed: a 500 if nothing was sent yet, else a cut connection. */
static void gw_fail(gw_ctx *c)
{
    if (!c->headers_sent) {
        static const char head[] = "500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n";
        static const char body[] = "Internal Server Error\n";
        c->head_len = 0;
        if (gw_head_append(c, head, sizeof head - 1) < 0) {
            PyErr_Clear();
            c->headers_sent = 1; /* nothing sensible left to send */
            gw_send(c, NULL, 0, GW_WRITE_FINAL | GW_WRITE_ABORT);
            return;
        }
        gw_iov iov = {body, sizeof body - 1};
        gw_send(c, &iov, 1, GW_WRITE_FINAL);
        return;
    }
    gw_send(c, NULL, 0, GW_WRITE_FINAL | GW_WRITE_ABORT);
}

static void gw_call_close(gw_ctx *c, PyObject *result)
{
    PyObject *close = PyObject_GetAttr(result, gw_str_close);
    if (close == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError))
            PyErr_Clear();
        else
            gw_log_exception(c, "looking up close() on the response iterable failed");
        return;
    }
    PyObject *r = PyObject_CallNoArgs(close);
    Py_DECREF(close);
    if (r == NULL)
        gw_log_exception(c, "close() of the response iterable raised");
    else
        Py_DECREF(r);
}

static void gw_bad_chunk(gw_ctx *c, PyObject *item)
{
    PyErr_Format(PyExc_TypeError, "the response iterable yielded %.100s; WSGI response body chunks must be bytes", Py_TYPE(item)->tp_name);
    gw_log_exception(c, "invalid response from the application");
}

static void gw_no_start_response(gw_ctx *c)
{
    PyErr_SetString(PyExc_RuntimeError, "the application produced a response body without calling start_response");
    gw_log_exception(c, "invalid response from the application");
}

/*
 * gw_send_wrapped_file answers with the file inside a wsgi.file_wrapper
 * without reading it. When the wrapped object has a working fileno() on a
 * regular file open for reading, Go gets its own descriptor (a dup), the
 * application's position in the file and the length, and sends the bytes
 * with sendfile after gw_run returns: no Python thread waits for a slow
 * client and the file never passes through memory. The length is the
 * application's Content-Length if it gave one (Go sends no more than the
 * file has), else the rest of the file. Returns 1 when the response is
 * done (close() called, final write made), 0 when the wrapper must be
 * iterated like any iterable (nothing was sent or changed).
 */
/*
 * Whether read() on filelike returns the bytes of the file behind its
 * fileno(), so that sendfile sends what iteration would. Of io's classes
 * only a FileIO, or a BufferedReader / BufferedRandom over one, does:
 * gzip.GzipFile, bz2.BZ2File and lzma.LZMAFile are io objects whose
 * fileno() is the compressed file's, and a text file yields str. Objects
 * outside io (Django's File, tempfile's wrappers) hand their file's bytes
 * through and are taken at their fileno(), as uWSGI and gunicorn do.
 */
static int gw_reads_its_file(PyObject *filelike)
{
    int r = PyObject_IsInstance(filelike, gw_io_base);
    if (r == 0)
        return 1;
    if (r == 1 && PyObject_IsInstance(filelike, gw_file_io) == 1)
        return 1;
    if (r == 1 && (PyObject_IsInstance(filelike, gw_buffered_reader) == 1 ||
                   PyObject_IsInstance(filelike, gw_buffered_random) == 1)) {
        PyObject *raw = PyObject_GetAttr(filelike, gw_str_raw);
        r = raw != NULL ? PyObject_IsInstance(raw, gw_file_io) : -1;
        Py_XDECREF(raw);
        PyErr_Clear();
        return r == 1;
    }
    PyErr_Clear();
    return 0;
}

static int gw_send_wrapped_file(gw_ctx *c, PyObject *wrapper)
{
    /* A response begun with write() keeps going that way. */
    if (!c->headers_set || c->headers_sent || c->head_len < 3)
        return 0;
    PyObject *filelike = PyObject_GetAttr(wrapper, gw_str_filelike);
    if (filelike == NULL) {
        PyErr_Clear();
        return 0;
    }
    /* Anything else is iterated (a text file's str is reported there as the error it is). */
    PyObject *r = gw_reads_its_file(filelike) ? PyObject_CallMethodNoArgs(filelike, gw_str_fileno) : NULL;
    long fd = -1;
    if (r != NULL) {
        fd = PyLong_Check(r) ? PyLong_AsLong(r) : -1;
        Py_DECREF(r);
    }
    struct stat st;
    int fl;
    if (fd < 0 || fd > INT_MAX || PyErr_Occurred() || fstat((int)fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (fl = fcntl((int)fd, F_GETFL)) < 0 || (fl & O_ACCMODE) == O_WRONLY) {
        PyErr_Clear();
        Py_DECREF(filelike);
        return 0;
    }
    /*
     * The application's position: tell() counts what a buffered reader
     * has read ahead but not returned, which the descriptor's own offset
     * (lseek) would skip. Objects without tell() use the offset.
     */
    long long off = -1;
    r = PyObject_CallMethodNoArgs(filelike, gw_str_tell);
    if (r != NULL) {
        off = PyLong_Check(r) ? PyLong_AsLongLong(r) : -1;
        Py_DECREF(r);
    }
    PyErr_Clear();
    Py_DECREF(filelike);
    if (off < 0)
        off = (long long)lseek((int)fd, 0, SEEK_CUR);
    if (off < 0)
        return 0;
    int dfd = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0)
        return 0;
    long long size = (long long)st.st_size > off ? (long long)st.st_size - off : 0;
    size_t head_len = c->head_len;
    /* 204 and 304 have no body and must not get a length (Go sends no body for them). */
    int bodyless = memcmp(c->head, "204", 3) == 0 || memcmp(c->head, "304", 3) == 0;
    if (!c->has_length && !bodyless) {
        char cl[48];
        int n = snprintf(cl, sizeof cl, "Content-Length: %lld\r\n", size);
        if (gw_head_append(c, cl, (size_t)n) < 0) {
            PyErr_Clear();
            close(dfd);
            return 0;
        }
    }
    c->headers_sent = 1;
    int rc = go_sendfile(c->idx, c->head, c->head_len, dfd, (int64_t)off, (int64_t)size); /* Go owns dfd now */
    if (rc == GW_DECLINED) {
        c->headers_sent = 0;
        c->head_len = head_len;
        return 0;
    }
    if (rc == GW_GONE)
        c->client_gone = 1;
    gw_call_close(c, wrapper);
    gw_send(c, NULL, 0, GW_WRITE_FINAL);
    return 1;
}

/*
 * gw_respond sends the application's result and always calls its close()
 * before the final write, so by the time the client has the whole
 * response, close() has run.
 */
static void gw_respond(gw_ctx *c, PyObject *result)
{
    int failed = 0;
    /* A list or tuple (the common case) is sent as one write with Content-Length. */
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(result);
        PyObject **items = PySequence_Fast_ITEMS(result);
        gw_iov small[8];
        gw_iov *iov = n <= 8 ? small : PyMem_Malloc(sizeof(gw_iov) * (size_t)n);
        if (iov == NULL) {
            PyErr_NoMemory();
            gw_log_exception(c, "sending the response failed");
            gw_fail(c);
            return;
        }
        int niov = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (!PyBytes_Check(items[i])) {
                gw_bad_chunk(c, items[i]);
                failed = 1;
                break;
            }
            if (PyBytes_GET_SIZE(items[i]) > 0) {
                iov[niov].base = PyBytes_AS_STRING(items[i]);
                iov[niov].len = (size_t)PyBytes_GET_SIZE(items[i]);
                niov++;
            }
        }
        if (!failed && !c->headers_set) {
            gw_no_start_response(c);
            failed = 1;
        }
        if (failed)
            gw_fail(c);
        else
            gw_send(c, iov, niov, GW_WRITE_FINAL);
        if (iov != small)
            PyMem_Free(iov);
        return;
    }

    if (Py_IS_TYPE(result, (PyTypeObject *)gw_file_wrapper) && gw_send_wrapped_file(c, result))
        return;
    PyObject *it = PyObject_GetIter(result);
    if (it == NULL) {
        gw_log_exception(c, "the application's result is not iterable");
        failed = 1;
    } else {
        for (;;) {
            PyObject *item = PyIter_Next(it);
            if (item == NULL) {
                if (PyErr_Occurred()) {
                    gw_log_exception(c, "iterating the response raised");
                    failed = 1;
                }
                break;
            }
            if (!PyBytes_Check(item)) {
                gw_bad_chunk(c, item);
                Py_DECREF(item);
                failed = 1;
                break;
            }
            if (PyBytes_GET_SIZE(item) > 0) {
                if (!c->headers_set) {
                    Py_DECREF(item);
                    gw_no_start_response(c);
                    failed = 1;
                    break;
                }
                gw_iov iov = {PyBytes_AS_STRING(item), (size_t)PyBytes_GET_SIZE(item)};
                int rc = gw_send(c, &iov, 1, 0);
                Py_DECREF(item);
                if (rc < 0)
                    break; /* the client is gone: stop producing, but still close */
            } else {
                Py_DECREF(item);
            }
        }
        Py_DECREF(it);
    }
    gw_call_close(c, result);
    if (!failed && !c->headers_set) {
        gw_no_start_response(c);
        failed = 1;
    }
    if (failed)
        gw_fail(c);
    else
        gw_send(c, NULL, 0, GW_WRITE_FINAL);
}

/*
 * Load counters for Go's admission control (internal/server/admission.go):
 * how long requests waited for the GIL as they entered (counted once they
 * have it), how long they then ran until they let it go, and how many ran
 * (both counted as they end). Updated with the GIL held,
 * so plain additions suffice; stored atomically for readers without it.
 */
static uint64_t gw_load_wait_ns, gw_load_run_ns, gw_load_runs;

static uint64_t gw_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void gw_load_counters(uint64_t *out)
{
    out[0] = __atomic_load_n(&gw_load_wait_ns, __ATOMIC_RELAXED);
    out[1] = __atomic_load_n(&gw_load_run_ns, __ATOMIC_RELAXED);
    out[2] = __atomic_load_n(&gw_load_runs, __ATOMIC_RELAXED);
}

int gw_run(int idx, const char *env, size_t env_len, const char *body, size_t body_len, int flags, char *out, size_t out_cap,
           gw_result *res)
{
    uint64_t t0 = gw_now_ns();
    gw_ctx *c = gw_enter();
    if (c == NULL)
        return -1;
    uint64_t t1 = gw_now_ns();
    __atomic_store_n(&gw_load_wait_ns, gw_load_wait_ns + (t1 - t0), __ATOMIC_RELAXED);
    c->idx = idx;
    c->out = out;
    c->out_cap = out_cap;
    c->res = res;
    res->head_len = res->body_len = 0;
    res->flags = 0;
    c->body_out = 0;
    ((gw_errors *)c->errors)->idx = idx;
    c->headers_set = 0;
    c->headers_sent = 0;
    c->client_gone = 0;
    c->errors_logged = 0;
    c->head_len = 0;
    if (flags & GW_RUN_BODY_STREAM) {
        c->in_stream = 1;
        c->in_eof = 0;
        c->in_buf = c->rbuf;
        c->in_pos = c->in_end = 0;
    } else {
        c->in_stream = 0;
        c->in_eof = 1;
        c->in_buf = body;
        c->in_pos = 0;
        c->in_end = body_len;
    }
    c->active = 1;
    gw_slot_note(idx); /* for the harakiri watchdog; a no-op without it */

    PyObject *environ = gw_build_environ(c, env, env_len, flags);
    if (environ == NULL) {
        gw_log_exception(c, "building the environ failed");
        gw_fail(c);
    } else {
        PyObject *args[2] = {environ, c->start_response};
        PyObject *result = PyObject_Vectorcall(gw_app, args, 2, NULL);
        Py_DECREF(environ);
        if (result == NULL) {
            gw_log_exception(c, "the application raised");
            gw_fail(c);
        } else {
            gw_respond(c, result);
            Py_DECREF(result);
        }
    }
    c->active = 0;
    c->in_buf = NULL;
    c->in_pos = c->in_end = 0;
    if (PyErr_Occurred())
        gw_log_exception(c, "unexpected pending exception");
    int n = c->errors_logged;
    c->out = NULL;
    c->res = NULL;
    uint64_t t2 = gw_now_ns();
    __atomic_store_n(&gw_load_run_ns, gw_load_run_ns + (t2 - t1), __ATOMIC_RELAXED);
    __atomic_store_n(&gw_load_runs, gw_load_runs + 1, __ATOMIC_RELAXED);
    PyEval_SaveThread();
    return n;
}

void gw_finalize(void)
{
    PyEval_RestoreThread(gw_main_tstate);
    Py_FinalizeEx();
}

/* ------------------------------------------------------------- metrics */

/*
 * gw_gc_collections stores gc.get_stats()[i]["collections"] for the first
 * n generations into out and returns how many it stored, or -1 if the
 * interpreter is not running or the stats cannot be read. Any OS thread
 * may call it: PyGILState_Ensure finds the thread's request thread state
 * if it has one and makes a temporary one otherwise. Never call it during
 * or after gw_finalize.
 */
int gw_gc_collections(uint64_t *out, int n)
{
    if (!Py_IsInitialized())
        return -1;
    PyGILState_STATE g = PyGILState_Ensure();
    int count = -1;
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *stats = gc != NULL ? PyObject_CallMethod(gc, "get_stats", NULL) : NULL;
    if (stats != NULL && PyList_Check(stats)) {
        count = 0;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(stats) && count < n; i++) {
            PyObject *gen = PyList_GET_ITEM(stats, i);                                             /* borrowed */
            PyObject *v = PyDict_Check(gen) ? PyDict_GetItemString(gen, "collections") : NULL; /* borrowed */
            unsigned long long c = v != NULL ? PyLong_AsUnsignedLongLong(v) : 0;
            if (c == (unsigned long long)-1 && PyErr_Occurred()) {
                PyErr_Clear();
                c = 0;
            }
            out[count++] = (uint64_t)c;
        }
    }
    if (PyErr_Occurred())
        PyErr_Clear();
    Py_XDECREF(stats);
    Py_XDECREF(gc);
    PyGILState_Release(g);
    return count;
}

/* ------------------------------------------------------------- harakiri */

/*
 * The harakiri watchdog (pyembed/harakiri.go) has to find the Python
 * thread that runs a slot's request, print its stack and raise an
 * exception in it. gw_run notes, per slot, the running thread's ident and
 * context and counts the slot's runs; every operation checks all three
 * with the GIL held, so it only ever touches the request the watchdog
 * judged stuck: never the next one on that slot, nor another slot's
 * request that the same OS thread runs by then.
 */
typedef struct {
    unsigned long ident; /* PyThread_get_thread_ident of the running thread */
    gw_ctx *ctx;         /* that thread's context: ctx->active and ctx->idx say what it runs now */
    unsigned long runs;  /* gw_run calls for this slot; read without the GIL through gw_slot_runs */
} gw_slot_record;

static gw_slot_record *gw_slot_records; /* NULL until gw_harakiri_setup: gw_slot_note is then a no-op */
static int gw_slot_nrecords;
static PyObject *gw_harakiri_exc;
/*
 * Threads in which HarakiriTimeout was raised. An asynchronous exception
 * waits for the thread's next bytecode; if its request ends without one,
 * it must not fire in the thread's next request, so gw_slot_note clears it.
 */
static unsigned long *gw_harakiri_raised;
static int gw_harakiri_nraised;

int gw_harakiri_setup(int threads, char **err)
{
    *err = NULL;
    if (threads < 1)
        threads = 1;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = -1;
    if (gw_harakiri_exc == NULL) {
        gw_harakiri_exc = PyErr_NewExceptionWithDoc(
            "_gowsgi.HarakiriTimeout",
            "Raised by gowsgi in a request thread that ran longer than --harakiri. It derives from\n"
            "BaseException so that 'except Exception' handlers let it end the request.",
            PyExc_BaseException, NULL);
        if (gw_harakiri_exc == NULL)
            goto out;
        PyObject *mod = PyImport_AddModule("_gowsgi"); /* borrowed */
        if (mod == NULL || PyModule_AddObjectRef(mod, "HarakiriTimeout", gw_harakiri_exc) < 0)
            goto out;
    }
    if (gw_slot_records == NULL) {
        gw_harakiri_raised = calloc((size_t)threads, sizeof *gw_harakiri_raised);
        gw_slot_records = calloc((size_t)threads, sizeof *gw_slot_records);
        if (gw_slot_records == NULL || gw_harakiri_raised == NULL) {
            free(gw_slot_records);
            free(gw_harakiri_raised);
            gw_slot_records = NULL;
            gw_harakiri_raised = NULL;
            PyErr_NoMemory();
            goto out;
        }
        gw_slot_nrecords = threads;
    }
    rc = 0;
out:
    if (rc < 0)
        *err = PyErr_Occurred() ? gw_format_exception("harakiri set-up failed") : gw_strdup_err("harakiri set-up failed", "unknown error");
    PyGILState_Release(g);
    return rc;
}

void gw_slot_note(int idx)
{
    if (gw_slot_records == NULL || idx < 0 || idx >= gw_slot_nrecords)
        return;
    unsigned long self = PyThread_get_thread_ident();
    for (int i = 0; i < gw_harakiri_nraised; i++) {
        if (gw_harakiri_raised[i] == self) {
            PyThreadState_SetAsyncExc(self, NULL); /* a leftover from this thread's last request */
            gw_harakiri_raised[i] = gw_harakiri_raised[--gw_harakiri_nraised];
            break;
        }
    }
    gw_slot_record *r = &gw_slot_records[idx];
    r->ident = self;
    r->ctx = gw_tls_ctx;
    __atomic_store_n(&r->runs, r->runs + 1, __ATOMIC_RELEASE);
}

unsigned long gw_slot_runs(int idx)
{
    if (gw_slot_records == NULL || idx < 0 || idx >= gw_slot_nrecords)
        return 0;
    return __atomic_load_n(&gw_slot_records[idx].runs, __ATOMIC_ACQUIRE);
}

/* gw_slot_running returns the slot's record if run is still in progress (GIL held). */
static gw_slot_record *gw_slot_running(int idx, unsigned long run)
{
    if (gw_slot_records == NULL || idx < 0 || idx >= gw_slot_nrecords)
        return NULL;
    gw_slot_record *r = &gw_slot_records[idx];
    if (r->runs != run || r->ctx == NULL || !r->ctx->active || r->ctx->idx != idx)
        return NULL;
    return r;
}

int gw_slot_stack(int idx, unsigned long run, char **out)
{
    *out = NULL;
    if (gw_slot_records == NULL)
        return 0;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = 0;
    gw_slot_record *r = gw_slot_running(idx, run);
    if (r != NULL) {
        rc = -1;
        PyObject *frames = NULL, *key = NULL, *tb = NULL, *lines = NULL, *empty = NULL, *text = NULL;
        PyObject *current_frames = PySys_GetObject("_current_frames"); /* borrowed */
        if (current_frames != NULL)
            frames = PyObject_CallNoArgs(current_frames);
        if (frames != NULL)
            key = PyLong_FromUnsignedLong(r->ident);
        PyObject *frame = key != NULL ? PyDict_GetItemWithError(frames, key) : NULL; /* borrowed */
        if (frame == NULL && !PyErr_Occurred()) {
            *out = strdup("(the thread has no python frame: it is between python calls)");
            rc = *out != NULL ? 1 : -1;
        } else if (frame != NULL && (tb = PyImport_ImportModule("traceback")) != NULL &&
                   (lines = PyObject_CallMethod(tb, "format_stack", "O", frame)) != NULL &&
                   (empty = PyUnicode_FromStringAndSize("", 0)) != NULL &&
                   (text = PyUnicode_Join(empty, lines)) != NULL) {
            const char *s = PyUnicode_AsUTF8(text);
            if (s != NULL && (*out = strdup(s)) != NULL)
                rc = 1;
        }
        Py_XDECREF(text);
        Py_XDECREF(empty);
        Py_XDECREF(lines);
        Py_XDECREF(tb);
        Py_XDECREF(key);
        Py_XDECREF(frames);
        if (rc < 0 && PyErr_Occurred()) {
            free(*out);
            *out = gw_format_exception("formatting the stack failed");
        }
    }
    PyGILState_Release(g);
    return rc;
}

int gw_slot_interrupt(int idx, unsigned long run)
{
    if (gw_slot_records == NULL || gw_harakiri_exc == NULL)
        return 0;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = 0;
    gw_slot_record *r = gw_slot_running(idx, run);
    if (r != NULL && PyThreadState_SetAsyncExc(r->ident, gw_harakiri_exc) > 0) {
        rc = 1;
        int known = 0;
        for (int i = 0; i < gw_harakiri_nraised; i++)
            known |= gw_harakiri_raised[i] == r->ident;
        if (!known && gw_harakiri_nraised < gw_slot_nrecords)
            gw_harakiri_raised[gw_harakiri_nraised++] = r->ident;
    }
    PyGILState_Release(g);
    return rc;
}
