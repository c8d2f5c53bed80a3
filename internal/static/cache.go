package static

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// cacheTTL is how long an opened mapped directory, and what is known
// about a file's pre-compressed siblings, are reused. Within it, a
// directory replaced under the same path (a deployment switching a
// "current" symlink) or a sibling added or removed is not seen yet; nginx
// without open_file_cache sees them at once, but opens and stats more.
const cacheTTL = time.Second

// rootDir is a mapped directory opened with O_PATH and shared by the
// requests of one cacheTTL. refs counts the cache's reference and each
// request using it; the descriptor is closed when the count reaches zero,
// so it is never closed (and its number never reused) under a request.
type rootDir struct {
	fd   int
	born int64 // time.Now().UnixNano() when opened
	refs atomic.Int32
}

func (r *rootDir) tryRef() bool {
	for {
		n := r.refs.Load()
		if n <= 0 {
			return false // retired and closed (or closing)
		}
		if r.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (r *rootDir) release() {
	if r.refs.Add(-1) == 0 {
		unix.Close(r.fd)
	}
}

// rootCache holds one mount's current rootDir.
type rootCache struct {
	cur atomic.Pointer[rootDir]
	mu  sync.Mutex // one reopen at a time
}

// acquire returns the open root of path, opening it again when the cached
// one is older than cacheTTL. The caller must release it.
func (c *rootCache) acquire(path string, now int64) (*rootDir, error) {
	for {
		r := c.cur.Load()
		if r != nil && now-r.born < int64(cacheTTL) && r.tryRef() {
			return r, nil
		}
		c.mu.Lock()
		if c.cur.Load() != r {
			c.mu.Unlock()
			continue // another request reopened it meanwhile
		}
		fd, err := retryEINTR(func() (int, error) {
			return unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		})
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		nr := &rootDir{fd: fd, born: now}
		nr.refs.Store(2) // the cache's and the caller's
		c.cur.Store(nr)
		c.mu.Unlock()
		if r != nil {
			r.release() // drop the cache's reference to the old one
		}
		return nr, nil
	}
}

// siblingCache remembers, per file name, which pre-compressed siblings
// exist, so that a file without siblings (most of them) costs no extra
// system calls. It is bounded by clearing it when it grows past
// maxSiblingEntries (names only get in after the file itself was found).
type siblingCache struct {
	m sync.Map // name -> siblingInfo
	n atomic.Int64
}

const maxSiblingEntries = 20000

type siblingInfo struct {
	checked int64 // time.Now().UnixNano() of the check
	exists  [len(codings)]bool
}

func (c *siblingCache) get(name string, now int64) (siblingInfo, bool) {
	v, ok := c.m.Load(name)
	if !ok {
		return siblingInfo{}, false
	}
	si := v.(siblingInfo)
	return si, now-si.checked < int64(cacheTTL)
}

func (c *siblingCache) put(name string, si siblingInfo) {
	if _, loaded := c.m.Swap(name, si); !loaded && c.n.Add(1) > maxSiblingEntries {
		c.m.Clear()
		c.n.Store(0)
	}
}
