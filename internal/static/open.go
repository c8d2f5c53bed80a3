package static

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/httpwire"
)

// outcome is what looking a request up in one mapping gave.
type outcome int

const (
	found    outcome = iota // the reply holds the file's response
	notFound                // try the next mapping, then the application
	answered                // the reply holds an error or a redirect
)

// openFlags: O_NONBLOCK so that opening a FIFO someone left in the tree
// cannot block the connection goroutine (it is refused after fstat; on a
// regular file the flag changes nothing).
const openFlags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC

// errEscape means the opened file is not under the mapped root.
var errEscape = errors.New("path leads outside the static root")

// dir opens names relative to one mapped directory (fd is an O_PATH
// descriptor of it, reopened every cacheTTL so that a root swapped by a
// deployment is followed), or absolute names (fd AT_FDCWD, for
// single-file mappings).
type dir struct {
	h       *Handler
	m       *mount
	fd      int
	beneath bool  // names must resolve under fd (directory mappings without --static-follow-symlinks)
	now     int64 // time.Now().UnixNano() of the request, for the caches
}

// open opens name for reading. Under a directory mapping without
// --static-follow-symlinks, a name that resolves outside the root, through
// a symlink, fails with errEscape or EXDEV/ELOOP; the check is made by the
// kernel while resolving (openat2 RESOLVE_BENEATH) or on the descriptor
// actually opened, so a file swapped between a check and the open cannot
// slip through.
func (d dir) open(name string) (int, error) {
	if !d.beneath {
		return retryEINTR(func() (int, error) { return unix.Openat(d.fd, name, openFlags, 0) })
	}
	if !d.h.noOpenat2.Load() {
		how := unix.OpenHow{Flags: openFlags, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
		fd, err := retryEINTR(func() (int, error) { return unix.Openat2(d.fd, name, &how) })
		switch err {
		case nil:
			return fd, nil
		case unix.ENOSYS:
			d.h.noOpenat2.Store(true)
		case unix.EXDEV, unix.EAGAIN, unix.EPERM:
			// EXDEV: a symlink leaves the root, or is absolute (which
			// RESOLVE_BENEATH refuses even when it points back inside);
			// EAGAIN: a concurrent rename. The checked open decides.
		default:
			return -1, err
		}
	}
	return d.openChecked(name)
}

// openChecked opens name following every symlink and then requires the
// opened file's real path (from /proc/self/fd) to lie under the root's.
func (d dir) openChecked(name string) (int, error) {
	fd, err := retryEINTR(func() (int, error) { return unix.Openat(d.fd, name, openFlags, 0) })
	if err != nil {
		return -1, err
	}
	root, err1 := fdPath(d.fd)
	got, err2 := fdPath(fd)
	if err1 != nil || err2 != nil || !within(got, root) {
		unix.Close(fd)
		return -1, errEscape
	}
	return fd, nil
}

// exists reports whether name is a regular file. It only decides whether
// the response carries "Vary: Accept-Encoding", so it need not be confined.
func (d dir) exists(name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(d.fd, name, &st, 0) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG
}

func fdPath(fd int) (string, error) {
	var buf [unix.PathMax]byte
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf[:])
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// within reports whether the path p is root or below it.
func within(p, root string) bool {
	if root == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == root || strings.HasPrefix(p, root) && p[len(root)] == '/'
}

func retryEINTR(f func() (int, error)) (int, error) {
	for {
		fd, err := f()
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// lookup finds the file for rel (the decoded path below the mount) in one
// mapping and fills r with its response.
func (h *Handler) lookup(m *mount, rel string, req *httpwire.Request, r *Reply) outcome {
	now := time.Now().UnixNano()
	if m.file {
		d := dir{h: h, m: m, fd: unix.AT_FDCWD, now: now}
		fd, err := d.open(m.path)
		if err != nil {
			return h.openFailed(err, m.path, r)
		}
		return h.serveOpened(d, fd, m.path, req, r)
	}
	root, err := m.root.acquire(m.path, now)
	if err != nil {
		return h.openFailed(err, m.path, r)
	}
	defer root.release()
	d := dir{h: h, m: m, fd: root.fd, beneath: !h.follow, now: now}
	name := strings.TrimLeft(rel, "/")
	trailing := rel == "" || strings.HasSuffix(rel, "/")
	if name == "" {
		name = "."
	}
	fd, err := d.open(name)
	if err != nil {
		return h.openFailed(err, m.path+"/"+name, r)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return h.openFailed(err, m.path+"/"+name, r)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return h.serveFile(d, fd, &st, name, req, r)
	case unix.S_IFDIR:
		unix.Close(fd)
		return h.serveDir(d, name, trailing, req, r)
	}
	unix.Close(fd) // a FIFO, socket or device is not a static file
	return notFound
}

// serveOpened serves an opened descriptor if it is a regular file.
func (h *Handler) serveOpened(d dir, fd int, name string, req *httpwire.Request, r *Reply) outcome {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return h.openFailed(err, name, r)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return notFound
	}
	return h.serveFile(d, fd, &st, name, req, r)
}

// serveDir serves a directory's index file. Without a trailing slash a
// directory that has one is redirected to the slashed URL, as nginx does,
// so that relative links in the index resolve; a directory without an
// index is not ours (uWSGI passes it to the application).
func (h *Handler) serveDir(d dir, name string, trailing bool, req *httpwire.Request, r *Reply) outcome {
	for _, idx := range h.index {
		p := idx
		if name != "." {
			p = strings.TrimSuffix(name, "/") + "/" + idx
		}
		fd, err := d.open(p)
		if err != nil {
			if classify(err) == notFound {
				continue
			}
			return h.openFailed(err, p, r)
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			unix.Close(fd)
			continue
		}
		if !trailing {
			unix.Close(fd)
			r.redirect(req.Path, req.Query, req.HasQuery)
			return answered
		}
		return h.serveFile(d, fd, &st, p, req, r)
	}
	return notFound
}

// classify maps an open error to what the client sees: like nginx, 404
// for a missing file (here: the next mapping or the application), 403 for
// a permission error, 500 for anything else; a symlink leading out of the
// root is answered as missing, without passing it on.
func classify(err error) outcome {
	switch err {
	case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
		return notFound
	}
	return answered
}

func (h *Handler) openFailed(err error, name string, r *Reply) outcome {
	switch err {
	case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
		return notFound
	case errEscape, unix.EXDEV, unix.ELOOP:
		r.text(404)
	case unix.EACCES, unix.EPERM:
		r.text(403)
	default:
		h.log.Error("cannot open a static file", "path", name, "err", err)
		r.text(500)
	}
	return answered
}

// coding is a pre-compressed sibling: FILE.br or FILE.gz.
type coding struct {
	name   string // Content-Encoding value
	suffix string
}

var codings = [...]coding{{"br", ".br"}, {"gzip", ".gz"}}

// serveFile answers with the regular file fd (named name under d), or
// with a pre-compressed sibling of it that the client accepts.
func (h *Handler) serveFile(d dir, fd int, st *unix.Stat_t, name string, req *httpwire.Request, r *Reply) outcome {
	var hdr reqHeaders
	hdr.scan(req)
	ctype := contentType(name)
	si, fresh := d.m.siblings.get(name, d.now)
	if !fresh {
		si = siblingInfo{checked: d.now}
		for i := range codings {
			si.exists[i] = d.exists(name + codings[i].suffix)
		}
		d.m.siblings.put(name, si)
	}
	// The response varies with Accept-Encoding whenever a sibling exists,
	// including when this client gets the uncompressed file.
	vary := si.exists != [len(codings)]bool{}
	encoding := ""
	for _, i := range negotiate(hdr.acceptEncoding) {
		if !si.exists[i] {
			continue
		}
		sfd, err := d.open(name + codings[i].suffix)
		if err != nil {
			continue
		}
		var sst unix.Stat_t
		if unix.Fstat(sfd, &sst) != nil || sst.Mode&unix.S_IFMT != unix.S_IFREG {
			unix.Close(sfd)
			continue
		}
		unix.Close(fd)
		fd, *st = sfd, sst
		encoding = codings[i].name
		break
	}
	h.respond(r, fd, st, ctype, encoding, vary, &hdr)
	return found
}
