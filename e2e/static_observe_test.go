package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// A file answered from the static map never reaches Python, but it must
// still be in the access log (and so in the metrics, which count the same
// hook), with its request line, status and body size.
func TestStaticFileIsAccessLogged(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "note.txt"), []byte("twelve bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "hello", plain, 1, "--static-map", "/files="+root)
	c := dialRaw(t, s.addr)
	defer c.close()
	c.send("GET /files/note.txt?v=1 HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.mustResponse("GET"); r.status != 200 || string(r.body) != "twelve bytes" {
		t.Fatalf("static file: %s", r)
	}
	c.send("HEAD /files/note.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.mustResponse("HEAD"); r.status != 200 {
		t.Fatalf("static HEAD: %s", r)
	}
	s.waitLog(t, `"GET /files/note.txt?v=1 HTTP/1.1" 200 12 `)
	s.waitLog(t, `"HEAD /files/note.txt HTTP/1.1" 200 0 `)
}
