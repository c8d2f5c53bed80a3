package download

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

const size = 1 << 20

var payload = bytes.Repeat([]byte("0123456789abcdef"), size/16)

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func run(t *testing.T, url string, clients int, d time.Duration, want int64) Result {
	t.Helper()
	res, err := Run(context.Background(), Config{URL: url, Clients: clients, Duration: d, WantBytes: want})
	if err != nil {
		t.Fatal(err)
	}
	if res.Elapsed < d || res.Elapsed > d+5*time.Second {
		t.Fatalf("elapsed %v for a %v run", res.Elapsed, d)
	}
	return res
}

func whole(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Length", strconv.Itoa(size))
	_, _ = w.Write(payload)
}

func TestWholeDownloads(t *testing.T) {
	t.Parallel()
	res := run(t, serve(t, whole), 3, 300*time.Millisecond, size)
	if res.Completed == 0 || res.Failed != 0 || len(res.Errors) != 0 {
		t.Fatalf("completed %d, failed %d (%v)", res.Completed, res.Failed, res.Errors)
	}
	// Completed downloads are whole; a cut-off one adds less than a body.
	if res.Bytes < res.Completed*size || res.Bytes >= (res.Completed+3)*size {
		t.Fatalf("%d bytes for %d completed downloads of %d", res.Bytes, res.Completed, size)
	}
	if len(res.ClientBytes) != 3 || res.SlowestClientMBPerSec() <= 0 {
		t.Fatalf("client bytes %v", res.ClientBytes)
	}
	var sum int64
	for _, b := range res.ClientBytes {
		sum += b
	}
	if sum != res.Bytes {
		t.Fatalf("client bytes %v do not add up to %d", res.ClientBytes, res.Bytes)
	}
	if res.MeanDownload <= 0 || res.MaxDownload < res.MeanDownload || res.MaxTTFB <= 0 || res.MaxTTFB > res.MaxDownload {
		t.Fatalf("times: mean %v, max %v, ttfb %v", res.MeanDownload, res.MaxDownload, res.MaxTTFB)
	}
	if res.MBPerSec() <= 0 || res.DownloadsPerSec() <= 0 {
		t.Fatalf("rates %v MB/s, %v/s", res.MBPerSec(), res.DownloadsPerSec())
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		h    http.HandlerFunc
		want int64
		msg  string
	}{
		{"server error", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}, size, "HTTP 500"},
		{"content-length not the expected one", whole, size + 1, "content-length 1048576, want 1048577"},
		{"body shorter than its content-length", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			_, _ = w.Write(payload[:size/2])
			// The handler returns early: net/http closes the connection.
		}, size, "after 524288 body bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, serve(t, c.h), 2, 200*time.Millisecond, c.want)
			if res.Failed == 0 || res.Completed != 0 {
				t.Fatalf("completed %d, failed %d", res.Completed, res.Failed)
			}
			// The pause after a failure keeps the count bounded.
			if res.Failed > 2*int64(200*time.Millisecond/failurePause)+2 {
				t.Fatalf("%d failures in 200 ms: the client spins", res.Failed)
			}
			if len(res.Errors) == 0 || !strings.Contains(strings.Join(res.Errors, "|"), c.msg) {
				t.Fatalf("errors %q, want one with %q", res.Errors, c.msg)
			}
		})
	}
}

func TestLengthNotChecked(t *testing.T) {
	t.Parallel()
	res := run(t, serve(t, whole), 1, 100*time.Millisecond, -1)
	if res.Completed == 0 || res.Failed != 0 {
		t.Fatalf("completed %d, failed %d (%v)", res.Completed, res.Failed, res.Errors)
	}
}

// A download still running at the end is cut off: its bytes count, and it is
// neither completed nor failed.
func TestCutOffAtTheEnd(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = w.Write(payload[:4096])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	res := run(t, url, 2, 200*time.Millisecond, size)
	if res.Completed != 0 || res.Failed != 0 || res.Bytes != 2*4096 {
		t.Fatalf("completed %d, failed %d, bytes %d (%v)", res.Completed, res.Failed, res.Bytes, res.Errors)
	}
	if res.MeanDownload != 0 || res.SlowestClientMBPerSec() <= 0 {
		t.Fatalf("mean %v, slowest %v MB/s", res.MeanDownload, res.SlowestClientMBPerSec())
	}
}

// A client whose response head never comes got nothing and waited the whole
// run for its first byte.
func TestNoHead(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	res := run(t, url, 2, 150*time.Millisecond, size)
	if res.Bytes != 0 || res.Failed != 0 || res.SlowestClientMBPerSec() != 0 {
		t.Fatalf("bytes %d, failed %d", res.Bytes, res.Failed)
	}
	// The wait is counted from each request's own start, a little after
	// the run's, so allow for scheduling on a busy machine.
	if res.MaxTTFB < 100*time.Millisecond {
		t.Fatalf("max ttfb %v, want about the whole 150 ms run", res.MaxTTFB)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{URL: "http://127.0.0.1:1/", Clients: 0, Duration: time.Second},
		{URL: "http://127.0.0.1:1/", Clients: 1, Duration: 0},
		{URL: "://nope", Clients: 1, Duration: time.Second},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%+v: want an error", cfg)
		}
	}
}

func TestRates(t *testing.T) {
	r := Result{Elapsed: 2 * time.Second, Bytes: 3e9, Completed: 10, ClientBytes: []int64{2e9, 1e9}}
	if r.MBPerSec() != 1500 || r.DownloadsPerSec() != 5 || r.SlowestClientMBPerSec() != 500 {
		t.Fatalf("got %v MB/s, %v/s, slowest %v", r.MBPerSec(), r.DownloadsPerSec(), r.SlowestClientMBPerSec())
	}
	if (Result{}).MBPerSec() != 0 || (Result{}).SlowestClientMBPerSec() != 0 {
		t.Fatal("zero result")
	}
}
