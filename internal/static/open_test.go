package static

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/internal/httpwire"
)

// tree makes root/ (served) and outside/ (not) with the links the
// confinement rules are about.
func tree(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "a.txt"), "inside")
	write(filepath.Join(root, "sub", "b.txt"), "sub inside")
	write(filepath.Join(outside, "secret.txt"), "secret")
	links := map[string]string{
		"rel-inside":  "a.txt",
		"abs-inside":  filepath.Join(root, "a.txt"),
		"up-inside":   "sub/../a.txt",
		"rel-escape":  "../outside/secret.txt",
		"abs-escape":  filepath.Join(outside, "secret.txt"),
		"dir-escape":  "../outside",
		"loop":        "loop",
		"sub/back-up": "../a.txt",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, outside
}

func newHandler(t *testing.T, o config.Static) *Handler {
	t.Helper()
	h, err := New(o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// serve runs a GET for path through h and returns the status (0: not
// ours, the application gets it) and the body the reply holds.
func serve(t *testing.T, h *Handler, path string) (int, string) {
	t.Helper()
	r := reply(t, h, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
	if r == nil {
		return 0, ""
	}
	defer r.Release()
	if r.fd < 0 {
		return r.status, r.body
	}
	buf := make([]byte, r.length)
	if !preadFull(r.fd, buf, 0) {
		t.Fatalf("%s: cannot read the file the reply holds", path)
	}
	return r.status, string(buf)
}

func TestConfinement(t *testing.T) {
	root, _ := tree(t)
	cases := []struct {
		path           string
		status         int
		body           string
		followedStatus int // with --static-follow-symlinks
	}{
		{"/s/a.txt", 200, "inside", 200},
		{"/s/sub/b.txt", 200, "sub inside", 200},
		{"/s/rel-inside", 200, "inside", 200},
		{"/s/abs-inside", 200, "inside", 200},
		{"/s/up-inside", 200, "inside", 200},
		{"/s/sub/back-up", 200, "inside", 200},
		{"/s/rel-escape", 404, "", 200},
		{"/s/abs-escape", 404, "", 200},
		{"/s/dir-escape/secret.txt", 404, "", 200},
		{"/s/loop", 404, "", 404},
		{"/s/fifo", 0, "", 0}, // not a regular file: the application's, and opening it must not block
		{"/s/missing", 0, "", 0},
		{"/s/a.txt/", 0, "", 0},
		{"/s/../outside/secret.txt", 404, "", 404},
	}
	for _, openat2 := range []bool{true, false} {
		for _, follow := range []bool{false, true} {
			h := newHandler(t, config.Static{StaticMap: []string{"/s=" + root}, StaticFollowSymlinks: follow})
			h.noOpenat2.Store(!openat2)
			for _, c := range cases {
				want := c.status
				if follow {
					want = c.followedStatus
				}
				status, body := serve(t, h, c.path)
				if status != want {
					t.Errorf("openat2=%v follow=%v: %s answered %d, want %d", openat2, follow, c.path, status, want)
				}
				if status == 200 && !follow && body != c.body {
					t.Errorf("openat2=%v: %s served %q, want %q", openat2, c.path, body, c.body)
				}
				if !follow && body == "secret" {
					t.Errorf("openat2=%v: %s served the file outside the root", openat2, c.path)
				}
			}
		}
	}
}

func TestNewRefusesMissingPaths(t *testing.T) {
	dir := t.TempDir()
	_, err := New(config.Static{StaticMap: []string{"/s=" + filepath.Join(dir, "nope")}}, slog.Default())
	if err == nil {
		t.Fatal("a missing static-map path was accepted")
	}
	if h, err := New(config.Static{}, slog.Default()); h != nil || err != nil {
		t.Fatalf("no mappings: got %v, %v; want nil, nil", h, err)
	}
}

// reply runs the raw request head through h; nil when the application gets it.
func reply(t *testing.T, h *Handler, raw string) *Reply {
	t.Helper()
	var req httpwire.Request
	if err := httpwire.Parse([]byte(raw), nil, &req); err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return h.Serve(&req)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
