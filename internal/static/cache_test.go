package static

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/config"
)

func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// TestRootCacheRefcount reopens the root as often as possible while
// requests use it: every descriptor handed out must stay valid until
// released, and none may leak.
func TestRootCacheRefcount(t *testing.T) {
	dir := t.TempDir()
	base := openFDs(t)
	var c rootCache
	var wg sync.WaitGroup
	var clock sync.Mutex
	now := int64(0)
	tick := func() int64 {
		clock.Lock()
		defer clock.Unlock()
		now += int64(cacheTTL) / 3 // every third acquire reopens
		return now
	}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				r, err := c.acquire(dir, tick())
				if err != nil {
					t.Error(err)
					return
				}
				var st unix.Stat_t
				if err := unix.Fstat(r.fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
					t.Errorf("a root in use was closed or reused: %v", err)
				}
				r.release()
			}
		}()
	}
	wg.Wait()
	if got := openFDs(t); got != base+1 {
		t.Errorf("%d descriptors open, want %d (the one cached root)", got, base+1)
	}
	c.cur.Load().release()
	if got := openFDs(t); got != base {
		t.Errorf("%d descriptors open after releasing the cache, want %d", got, base)
	}
}

// TestDeploySwap serves from a "current" symlink that a deployment swaps:
// the new release is served within cacheTTL.
func TestDeploySwap(t *testing.T) {
	base := t.TempDir()
	for _, v := range []string{"v1", "v2"} {
		if err := os.MkdirAll(filepath.Join(base, v), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(base, v, "a.txt"), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cur := filepath.Join(base, "current")
	if err := os.Symlink("v1", cur); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, config.Static{StaticMap: []string{"/s=" + cur}})
	if _, body := serve(t, h, "/s/a.txt"); body != "v1" {
		t.Fatalf("before the swap: %q", body)
	}
	if err := os.Symlink("v2", cur+".new"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(cur+".new", cur); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(cacheTTL + time.Second)
	for {
		_, body := serve(t, h, "/s/a.txt")
		if body == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving %q %v after the swap", body, cacheTTL+time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSiblingAppears adds a .gz sibling to a file already served: the
// response varies, and gzip is served, within cacheTTL.
func TestSiblingAppears(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.css"), []byte("css"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, config.Static{StaticMap: []string{"/s=" + root}})
	get := func() (string, bool) {
		r := reply(t, h, "GET /s/a.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
		defer r.Release()
		f := string(r.fields)
		return f, r.status == 200
	}
	if f, ok := get(); !ok || contains(f, "Vary") || contains(f, "Content-Encoding") {
		t.Fatalf("without a sibling: %q", f)
	}
	if err := os.WriteFile(filepath.Join(root, "a.css.gz"), []byte("gz"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(cacheTTL + time.Second)
	for {
		f, _ := get()
		if contains(f, "Content-Encoding: gzip\r\n") && contains(f, "Vary: Accept-Encoding\r\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new sibling is not served after %v: %q", cacheTTL+time.Second, f)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
