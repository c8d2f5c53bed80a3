// Package download is the load generator for large responses: a few clients
// that download the same URL over and over with Go's net/http for a fixed
// time and discard the bodies. h2load suits small responses; for a 256 MiB
// body its per-request figures say little, while what matters is the
// throughput, that every download arrives whole, and that no client waits.
package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Config describes one load.
type Config struct {
	URL string
	// Clients is the number of concurrent downloads (each on its own
	// keep-alive connection).
	Clients int
	// Duration is how long the clients keep starting downloads; the
	// download in progress at the end is cut off and counts only its bytes.
	Duration time.Duration
	// WantBytes is the body length every download must have, both as
	// Content-Length and as bytes received (negative: not checked).
	WantBytes int64
}

// Result is what the clients measured.
type Result struct {
	// Elapsed is the wall time from the start to the moment the last client
	// stopped.
	Elapsed time.Duration
	// Bytes counts every body byte received, including those of downloads
	// cut off by the end of the run.
	Bytes int64
	// Completed counts whole, correct downloads; Failed counts downloads
	// that went wrong (error, non-200, wrong length) before the end.
	Completed, Failed int64
	// Errors holds the distinct failure messages (at most maxErrors).
	Errors []string
	// ClientBytes is Bytes per client: a 0 means a client got nothing.
	ClientBytes []int64
	// MeanDownload and MaxDownload are the times of the completed
	// downloads, from sending the request to the last byte.
	MeanDownload, MaxDownload time.Duration
	// MaxTTFB is the longest wait from sending a request to its response
	// head, over every download that got one; a download still waiting
	// for its head at the end counts with the time it waited.
	MaxTTFB time.Duration
}

const (
	maxErrors = 5
	// readBuffer is large so that a download takes few read calls: the
	// client shares the cores with the server it measures.
	readBuffer = 256 << 10
	// failurePause keeps a client that fails at once (connection refused)
	// from spinning through the whole run.
	failurePause = 10 * time.Millisecond
)

// MBPerSec is the throughput in MB (10^6 bytes) per second.
func (r Result) MBPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds()
}

// DownloadsPerSec is completed downloads per second.
func (r Result) DownloadsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Completed) / r.Elapsed.Seconds()
}

// SlowestClientMBPerSec is the throughput of the worst-served client.
func (r Result) SlowestClientMBPerSec() float64 {
	if r.Elapsed <= 0 || len(r.ClientBytes) == 0 {
		return 0
	}
	return float64(slices.Min(r.ClientBytes)) / 1e6 / r.Elapsed.Seconds()
}

// client is one client's tally.
type client struct {
	bytes, completed, failed int64
	total, slowest, maxTTFB  time.Duration
	errs                     []string
}

// Run downloads cfg.URL with cfg.Clients concurrent clients for
// cfg.Duration (or until ctx ends) and returns what they measured.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Clients < 1 || cfg.Duration <= 0 {
		return Result{}, fmt.Errorf("download: need clients >= 1 and a positive duration, got %d and %v", cfg.Clients, cfg.Duration)
	}
	req, err := http.NewRequest(http.MethodGet, cfg.URL, nil)
	if err != nil {
		return Result{}, fmt.Errorf("download: %w", err)
	}
	transport := &http.Transport{
		Proxy:               nil, // loopback: never a proxy from the environment
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: cfg.Clients,
		DisableCompression:  true,
		ReadBufferSize:      64 << 10,
	}
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: transport}

	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	tallies := make([]client, cfg.Clients)
	var wg sync.WaitGroup
	for i := range tallies {
		wg.Go(func() { tallies[i].loop(ctx, hc, req, cfg.WantBytes) })
	}
	wg.Wait()

	res := Result{Elapsed: time.Since(start), ClientBytes: make([]int64, cfg.Clients)}
	var total time.Duration
	for i, c := range tallies {
		res.Bytes += c.bytes
		res.ClientBytes[i] = c.bytes
		res.Completed += c.completed
		res.Failed += c.failed
		total += c.total
		res.MaxDownload = max(res.MaxDownload, c.slowest)
		res.MaxTTFB = max(res.MaxTTFB, c.maxTTFB)
		for _, e := range c.errs {
			if len(res.Errors) < maxErrors && !slices.Contains(res.Errors, e) {
				res.Errors = append(res.Errors, e)
			}
		}
	}
	if res.Completed > 0 {
		res.MeanDownload = total / time.Duration(res.Completed)
	}
	return res, nil
}

// loop downloads until ctx ends.
func (c *client) loop(ctx context.Context, hc *http.Client, req *http.Request, want int64) {
	buf := make([]byte, readBuffer)
	for ctx.Err() == nil {
		t0 := time.Now()
		n, ttfb, err := fetch(ctx, hc, req.WithContext(ctx), want, buf)
		c.bytes += n
		if ttfb > 0 {
			c.maxTTFB = max(c.maxTTFB, ttfb)
		} else if ctx.Err() != nil {
			// Still waiting for the head when the run ended.
			c.maxTTFB = max(c.maxTTFB, time.Since(t0))
		}
		switch {
		case err == nil:
			d := time.Since(t0)
			c.completed++
			c.total += d
			c.slowest = max(c.slowest, d)
		case ctx.Err() != nil:
			// Cut off by the end of the run: its bytes count, it is
			// neither a success nor a failure.
		default:
			c.failed++
			if len(c.errs) < maxErrors && !slices.Contains(c.errs, err.Error()) {
				c.errs = append(c.errs, err.Error())
			}
			select {
			case <-ctx.Done():
			case <-time.After(failurePause):
			}
		}
	}
}

// errLength reports a body whose length is not the expected one.
var errLength = errors.New("wrong body length")

// fetch does one download and returns the body bytes received, the time to
// the response head (0 if none came) and why it is not a whole download.
func fetch(ctx context.Context, hc *http.Client, req *http.Request, want int64, buf []byte) (int64, time.Duration, error) {
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	ttfb := time.Since(t0)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		n, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return n, ttfb, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if want >= 0 && resp.ContentLength != want {
		// Not read: a wrong length already makes the download useless.
		return 0, ttfb, fmt.Errorf("%w: content-length %d, want %d", errLength, resp.ContentLength, want)
	}
	var n int64
	for {
		m, err := resp.Body.Read(buf)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return n, ttfb, ctx.Err()
			}
			return n, ttfb, fmt.Errorf("after %d body bytes: %w", n, err)
		}
	}
	if want >= 0 && n != want {
		return n, ttfb, fmt.Errorf("%w: %d body bytes, want %d", errLength, n, want)
	}
	return n, ttfb, nil
}
