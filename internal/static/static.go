// Package static serves the static file map (--static-map) from the
// connection goroutine, before any Python thread is involved: the file is
// opened safely under its mapped root, conditional and range requests are
// answered as RFC 9110 says, and the body goes out with sendfile.
//
// Where the options are silent it does what nginx does, except that a file
// the map does not have goes to the application (as with uWSGI).
package static

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/internal/httpwire"
)

// Handler answers requests from the static map. It is immutable once made
// (apart from remembering that the kernel lacks openat2), so connections
// share it.
type Handler struct {
	mounts   []*mount
	index    []string
	expires  int64    // seconds; 0 for no caching headers
	skip     []string // lower-case suffixes that go to the application
	follow   bool     // symlinks may lead outside a mapped directory
	dotfiles bool     // serve names starting with a dot
	log      *slog.Logger

	// noOpenat2 is set once openat2 fails with ENOSYS (old kernel or a
	// seccomp filter); paths are then checked after a plain open.
	noOpenat2 atomic.Bool
}

// mount is one --static-map entry.
type mount struct {
	prefix string // decoded URL prefix without a trailing slash; "" for "/"
	path   string // absolute file system path
	file   bool   // path is one file, served at exactly prefix

	root     rootCache    // the directory, opened (directory mappings)
	siblings siblingCache // which files have .br/.gz siblings
}

// New checks that every mapped path exists and makes the handler. Paths
// are resolved against the working directory (after --chdir). It returns
// nil and no error when there is nothing to serve.
func New(o config.Static, log *slog.Logger) (*Handler, error) {
	if len(o.StaticMap) == 0 {
		return nil, nil
	}
	h := &Handler{expires: o.StaticExpires, follow: o.StaticFollowSymlinks, dotfiles: o.StaticDotfiles, log: log}
	h.index = append(h.index, o.StaticIndex...)
	for _, ext := range o.StaticSkipExt {
		if ext = strings.TrimSpace(ext); ext != "" {
			h.skip = append(h.skip, strings.ToLower(ext))
		}
	}
	var errs []error
	for _, v := range o.StaticMap {
		m, err := config.ParseStaticMap(v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		abs, err := filepath.Abs(m.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("--static-map %q: %v", v, err))
			continue
		}
		st, err := os.Stat(abs)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("--static-map %q: %v", v, err))
			continue
		case !st.IsDir() && !st.Mode().IsRegular():
			errs = append(errs, fmt.Errorf("--static-map %q: %s is neither a directory nor a regular file", v, abs))
			continue
		}
		prefix := m.Mount
		if prefix == "/" {
			prefix = ""
		}
		h.mounts = append(h.mounts, &mount{prefix: prefix, path: abs, file: !st.IsDir()})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return h, nil
}

// Mounts describes the mappings for the start-up log, in search order.
func (h *Handler) Mounts() []string {
	out := make([]string, len(h.mounts))
	for i, m := range h.mounts {
		p := m.prefix
		if p == "" {
			p = "/"
		}
		out[i] = p + "=" + m.path
	}
	return out
}

// match returns the part of the decoded path below the mount ("" for the
// mount itself) and whether the mount applies at all.
func (m *mount) match(path string) (string, bool) {
	if m.file {
		return "", path == m.prefix
	}
	if m.prefix == "" {
		return path, true
	}
	if !strings.HasPrefix(path, m.prefix) {
		return "", false
	}
	rel := path[len(m.prefix):]
	if rel != "" && rel[0] != '/' {
		return "", false // "/staticfoo" is not under "/static"
	}
	return rel, true
}

// Serve decides whether the static map answers req, which must still be
// valid (its slices alias the connection's read buffer). It returns nil
// when the application must answer: the method is not GET or HEAD, no
// mapping has the file, the name is skipped (--static-skip-ext, dot-files)
// or names a directory without an index. Otherwise the reply is complete
// and the caller writes it with Reply.Write and then calls Reply.Release.
func (h *Handler) Serve(req *httpwire.Request) *Reply {
	head := string(req.Method) == "HEAD"
	if !head && string(req.Method) != "GET" {
		return nil
	}
	if len(req.Path) == 0 || req.Path[0] != '/' {
		return nil
	}
	r := newReply(head)
	path, verdict := decodePath(r.scratch[:0], req.Path)
	r.scratch = path
	if verdict == pathInvalid {
		r.Release()
		return nil // a malformed escape: the application side answers 400
	}
	for _, m := range h.mounts {
		rel, ok := m.match(string(path))
		if !ok {
			continue
		}
		if verdict == pathRefused {
			r.text(404)
			return r
		}
		if h.skipped(path) || (!h.dotfiles && hasDotSegment(rel)) {
			r.Release()
			return nil
		}
		switch h.lookup(m, rel, req, r) {
		case found:
			return r
		case notFound:
			continue
		}
		return r // the reply says why (403, 404, 500)
	}
	r.Release()
	return nil
}

// skipped reports whether the path ends in one of the --static-skip-ext suffixes.
func (h *Handler) skipped(path []byte) bool {
	for _, ext := range h.skip {
		if len(path) >= len(ext) && strings.EqualFold(string(path[len(path)-len(ext):]), ext) {
			return true
		}
	}
	return false
}

// hasDotSegment reports whether a path segment starts with a dot.
func hasDotSegment(rel string) bool {
	for i := 0; i < len(rel); i++ {
		if rel[i] == '.' && (i == 0 || rel[i-1] == '/') {
			return true
		}
	}
	return false
}
