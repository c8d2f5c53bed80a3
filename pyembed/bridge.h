/*
 * bridge.h is the only contract between Go and the C half of the CPython
 * bridge. Everything that touches the Python C API lives in bridge.c;
 * Go calls the gw_* functions below, and C calls back into Go only through
 * the go_* functions (implemented in callbacks.go).
 *
 * Threading rule: every gw_* function is one complete sequence of Python
 * API calls. It takes the GIL on entry and releases it before returning,
 * so no goroutine ever holds the GIL across two cgo calls.
 */
#ifndef GOWSGI_BRIDGE_H
#define GOWSGI_BRIDGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Known environ keys. Go packs them as one byte instead of the key text and
 * C turns them into keys interned once at start-up, so building an environ
 * creates no key objects for these. The order must match gw_key_names in
 * bridge.c. GW_KEY_NONE means the entry carries its own key text.
 */
enum gw_key {
    GW_KEY_NONE = 0,
    GW_KEY_REQUEST_METHOD,
    GW_KEY_SCRIPT_NAME,
    GW_KEY_PATH_INFO,
    GW_KEY_QUERY_STRING,
    GW_KEY_REQUEST_URI,
    GW_KEY_CONTENT_TYPE,
    GW_KEY_CONTENT_LENGTH,
    GW_KEY_SERVER_NAME,
    GW_KEY_SERVER_PORT,
    GW_KEY_SERVER_PROTOCOL,
    GW_KEY_REMOTE_ADDR,
    GW_KEY_REMOTE_PORT,
    GW_KEY_HTTPS,
    GW_KEY_HTTP_HOST,
    GW_KEY_HTTP_USER_AGENT,
    GW_KEY_HTTP_ACCEPT,
    GW_KEY_HTTP_ACCEPT_ENCODING,
    GW_KEY_HTTP_ACCEPT_LANGUAGE,
    GW_KEY_HTTP_CONNECTION,
    GW_KEY_HTTP_COOKIE,
    GW_KEY_HTTP_REFERER,
    GW_KEY_HTTP_CACHE_CONTROL,
    GW_KEY_HTTP_ORIGIN,
    GW_KEY_HTTP_X_FORWARDED_FOR,
    GW_KEY_HTTP_X_FORWARDED_PROTO,
    GW_KEY_HTTP_X_REQUESTED_WITH,
    GW_KEY_HTTP_AUTHORIZATION,
    GW_KEY_HTTP_IF_NONE_MATCH,
    GW_KEY_HTTP_IF_MODIFIED_SINCE,
    GW_KEY_COUNT
};

/*
 * One packed environ entry, followed by key_len key bytes (only when
 * key == GW_KEY_NONE) and val_len value bytes. Values are bytes that C
 * decodes as latin-1, as PEP 3333 requires for native strings.
 */
typedef struct {
    uint8_t key;
    uint8_t pad;
    uint16_t key_len;
    uint32_t val_len;
} gw_env_entry;

/* gw_run flags */
#define GW_RUN_HTTPS 1        /* wsgi.url_scheme is "https" */
#define GW_RUN_BODY_STREAM 2  /* the body is read through go_read, not from memory */

/* go_write flags */
#define GW_WRITE_FINAL 1 /* no more body follows; the response is complete */
#define GW_WRITE_ABORT 2 /* the response is broken: close the connection after what was sent */

/* go_write / go_wait results */
#define GW_OK 0
#define GW_WAIT 1 /* too much output is buffered: release the GIL and call go_wait */
#define GW_GONE 2 /* the client is gone: stop producing output */
#define GW_DECLINED 3 /* go_sendfile only: this exchange cannot send a file; iterate the body instead */

/* go_log levels */
#define GW_LOG_INFO 0
#define GW_LOG_WARN 1
#define GW_LOG_ERROR 2

/* A piece of response body; it points into a Python bytes object that C keeps alive for the call. */
typedef struct {
    const char *base;
    size_t len;
} gw_iov;

/*
 * What gw_run staged: a head (out[0:head_len]) if it was not given to
 * go_write, then body_len body bytes. flags are go_write flags, nonzero
 * only if the final write is staged (always GW_WRITE_FINAL then).
 */
typedef struct {
    size_t head_len;
    size_t body_len;
    int flags;
} gw_result;

/* Options for gw_init, all strings NUL-terminated UTF-8 (filesystem encoding). */
typedef struct {
    const char *program;      /* argv[0] of the process, becomes sys.argv[0] */
    const char *python_exe;   /* interpreter path used for path computation and sys.executable; may be "" */
    const char *const *paths; /* prepended to sys.path in this order */
    int npaths;
    int threads;      /* request slots: how many requests may run Python at once */
    int multiprocess; /* wsgi.multiprocess */
} gw_init_options;

/*
 * gw_init starts the interpreter on the calling thread and releases the GIL.
 * On failure it returns -1 and *err is a malloc'd message for the caller to free.
 */
int gw_init(const gw_init_options *opts, char **err);

/*
 * gw_load_app imports the WSGI callable: module "pkg.mod" and attribute
 * callable, or the file wsgi_file (module is then ignored). On failure it
 * returns -1 and *err is a malloc'd message holding the Python traceback.
 */
int gw_load_app(const char *module, const char *callable, const char *wsgi_file, char **err);

/* gw_python_version returns a static string like "3.11.2 (main, ...)". */
const char *gw_python_version(void);

/* gw_threads_started is how many OS threads have a Python thread state for requests. */
int gw_threads_started(void);

/*
 * gw_run serves one request on the calling OS thread, which gets a
 * persistent Python thread state the first time. idx is the request slot
 * (0..threads-1) that the go_* callbacks receive. It builds the environ from the
 * packed entries, calls the application and streams the result to
 * go_write. It always ends with exactly one write carrying
 * GW_WRITE_FINAL (a go_write, or staged: see below), and it always calls the iterable's close(). Returns -1
 * without calling go_write only if no thread state could be created.
 * The body is body[0:body_len] unless GW_RUN_BODY_STREAM is set, in which
 * case it is read through go_read. Returns the number of Python errors
 * logged (0 for a clean request).
 *
 * The end of the response (the final write, and a write that completes
 * the application's Content-Length) is staged in out[0:out_cap] instead
 * of going to go_write whenever it fits: then *res says what is there and
 * Go performs that write itself after gw_run returns. For most responses
 * no callback into Go happens at all.
 */
int gw_run(int idx, const char *env, size_t env_len, const char *body, size_t body_len, int flags, char *out, size_t out_cap,
           gw_result *res);

/*
 * gw_load_counters stores, since the start: nanoseconds gw_run calls
 * waited for the GIL on entry (added once they have it), nanoseconds they
 * then ran inside Python (including waits there; added as they end), and
 * how many ended.
 */
void gw_load_counters(uint64_t *out);

/* gw_finalize runs atexit handlers and finalizes the interpreter on the thread that called gw_init. */
void gw_finalize(void);

/*
 * gw_gc_collections stores gc.get_stats()[i]["collections"] for the first
 * n generations into out; returns the count stored, or -1. Takes the GIL
 * (PyGILState_Ensure) on any thread; never during or after gw_finalize.
 */
int gw_gc_collections(uint64_t *out, int n);

/*
 * Callbacks into Go, implemented in callbacks.go. The prototypes match what
 * cgo generates for the exported Go functions (hence no const).
 *
 * go_write: called with the GIL held; never blocks. head is the status line
 *   and headers ("200 OK\r\nName: value\r\n..."), non-NULL only on the
 *   first call of a request. Returns GW_OK, GW_WAIT or GW_GONE.
 * go_wait: called with the GIL released; blocks until buffered output has
 *   drained. Returns GW_OK or GW_GONE.
 * go_read: called with the GIL released; reads up to n body bytes into dst.
 *   Returns the count, 0 at the end of the body, -1 on error.
 * go_log: called with the GIL released; one log line (wsgi.errors, a
 *   traceback). idx is the request thread.
 */
extern int go_write(int idx, char *head, size_t head_len, gw_iov *iov, int niov, int flags);
extern int go_wait(int idx);
extern ssize_t go_read(int idx, char *dst, size_t n);
extern void go_log(int idx, int level, char *msg, size_t n);
/*
 * go_sendfile: called with the GIL held instead of the first go_write when
 *   the application returned a wsgi.file_wrapper around a regular file;
 *   never blocks. head is as for go_write, with Content-Length unless the
 *   status is 204 or 304. Go owns the descriptor fd from the call on and
 *   closes it in every case: after gw_run returns it sends size bytes of it from offset
 *   (fewer if the head's Content-Length says so). C still ends the request
 *   with a final go_write. Returns GW_OK, GW_GONE, or GW_DECLINED (Go took
 *   nothing but fd: send the head and body with go_write).
 */
extern int go_sendfile(int idx, char *head, size_t head_len, int fd, int64_t offset, int64_t size);

/*
 * Harakiri (pyembed/harakiri.go). gw_harakiri_setup creates the exception
 * _gowsgi.HarakiriTimeout (a BaseException) and the per-slot records for
 * threads slots; before it, the other functions do nothing. gw_slot_note
 * is called by gw_run, with the GIL held, as a request starts: it records
 * the slot's thread and counts the slot's runs. gw_slot_runs reads that
 * count without the GIL. gw_slot_stack and gw_slot_interrupt take the GIL
 * (PyGILState_Ensure, so they can block while a thread holds it) and act
 * only if run is still the slot's current run: gw_slot_stack sets *out to
 * the thread's Python stack (malloc'd; the caller frees it) and returns 1,
 * or 0 if that run is over, or -1 with *out an error message or NULL;
 * gw_slot_interrupt raises HarakiriTimeout in the thread and returns 1, or
 * 0 if that run is over. On failure gw_harakiri_setup returns -1 and *err
 * is a malloc'd message.
 */
int gw_harakiri_setup(int threads, char **err);
void gw_slot_note(int idx);
unsigned long gw_slot_runs(int idx);
int gw_slot_stack(int idx, unsigned long run, char **out);
int gw_slot_interrupt(int idx, unsigned long run);

#endif
