package e2e

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
)

// TestConcurrency: 200 requests from 20 goroutines against 4 Python
// threads. Each carries its own body and must get exactly that body back,
// so a response crossed between requests or connections is caught; the
// race-enabled server catches unsynchronised state on the way.
func TestConcurrency(t *testing.T) {
	t.Parallel()
	const workers, perWorker = 20, 10
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "body_app", m, 4)
			client := s.client(t)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(w), 7))
					for i := range perWorker {
						// Sizes up to 200 KiB: some bodies need several socket reads.
						body := fmt.Appendf(nil, "worker %d request %d ", w, i)
						body = append(body, bytes.Repeat([]byte{byte('a' + r.IntN(26))}, r.IntN(200<<10))...)
						resp, err := client.Post(s.url("/echo"), "application/octet-stream", bytes.NewReader(body))
						if err != nil {
							t.Errorf("worker %d request %d: %v", w, i, err)
							return
						}
						got, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						want := append([]byte("echo:"), body...)
						switch {
						case err != nil:
							t.Errorf("worker %d request %d: reading: %v", w, i, err)
						case resp.StatusCode != http.StatusOK:
							t.Errorf("worker %d request %d: status %d, body %.200q", w, i, resp.StatusCode, got)
						case resp.ContentLength != int64(len(want)) || resp.Header.Get("Content-Type") != "application/octet-stream":
							t.Errorf("worker %d request %d: Content-Length %d (want %d), Content-Type %q",
								w, i, resp.ContentLength, len(want), resp.Header.Get("Content-Type"))
						case !bytes.Equal(got, want):
							t.Errorf("worker %d request %d: got someone else's body %.60q", w, i, got)
						}
					}
				}()
			}
			wg.Wait()
			if log := s.log.String(); bytes.Contains([]byte(log), []byte("Traceback")) {
				t.Errorf("tracebacks under concurrency")
			}
		})
	}
}
