package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHarakiriResponse(t *testing.T) {
	var m harakiriMark
	body := [][]byte{[]byte("Internal Server Error\n")}
	if h, b := m.response(genericErrorHead, body); string(h) != string(genericErrorHead) || len(b) != 1 {
		t.Errorf("an unmarked request's 500 was changed")
	}
	m.Store(true)
	h, b := m.response(genericErrorHead, body)
	if !strings.HasPrefix(string(h), "504 Gateway Timeout\r\n") || string(b[0]) != "Gateway Timeout\n" {
		t.Errorf("a marked request's generic 500 became %q %q, want the 504", h, b)
	}
	own := []byte("503 Service Unavailable\r\nRetry-After: 5\r\n")
	if h, _ := m.response(own, nil); string(h) != string(own) {
		t.Errorf("the application's own answer to the exception was replaced by %q", h)
	}
}

// requestOn makes a server whose table holds one running request on slot
// 1, on a connection whose client end is returned.
func requestOn(t *testing.T) (*Server, *exchange, net.Conn) {
	t.Helper()
	server, client := net.Pipe()
	t.Cleanup(func() { client.Close() })
	s := &Server{conns: map[*conn]struct{}{}}
	s.requests = &requestTable{slots: make([]runningRequest, 2)}
	c := &conn{srv: s, nc: server}
	c.ex.init(c)
	r := &s.requests.slots[1]
	r.seq, r.ex, r.start, r.desc = 7, &c.ex, time.Now().Add(-time.Minute), "GET /stuck?x=1"
	return s, &c.ex, client
}

func TestForEachRunningAndMark(t *testing.T) {
	s, ex, _ := requestOn(t)
	var got []string
	s.ForEachRunning(func(slot int, seq uint64, start time.Time, desc string) {
		got = append(got, desc)
		if slot != 1 || seq != 7 || time.Since(start) < time.Minute {
			t.Errorf("slot %d seq %d start %v", slot, seq, start)
		}
	})
	if len(got) != 1 || got[0] != "GET /stuck?x=1" {
		t.Errorf("running %q", got)
	}
	if s.MarkHarakiri(1, 6) || s.MarkHarakiri(0, 7) || s.MarkHarakiri(5, 7) || ex.harakiri.Load() {
		t.Errorf("marked a request that is not the one running")
	}
	if !s.MarkHarakiri(1, 7) || !ex.harakiri.Load() {
		t.Errorf("the running request was not marked")
	}
}

func TestAbortRequestAnswers504(t *testing.T) {
	s, ex, client := requestOn(t)
	if found, _ := s.AbortRequest(1, 8); found {
		t.Errorf("aborted another run")
	}
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(client), nil)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	found, answered := s.AbortRequest(1, 7)
	if !found || !answered {
		t.Fatalf("AbortRequest = %v, %v", found, answered)
	}
	resp := <-done
	if resp == nil {
		return
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 504 || string(body) != "Gateway Timeout\n" || !resp.Close || resp.Header.Get("Date") == "" {
		t.Errorf("got %d %q close=%v headers %v", resp.StatusCode, body, resp.Close, resp.Header)
	}
	// Whatever the stuck thread writes later is dropped.
	if rc := ex.Write([]byte("200 OK\r\n"), nil, 1); rc != 2 { // pyembed.Gone
		t.Errorf("a late write returned %d, want Gone", rc)
	}
}

func TestAbortRequestAfterTheResponseBegan(t *testing.T) {
	s, ex, client := requestOn(t)
	ex.mu.Lock()
	ex.started = true
	ex.mu.Unlock()
	found, answered := s.AbortRequest(1, 7)
	if !found || answered {
		t.Errorf("AbortRequest = %v, %v; want found, not answered", found, answered)
	}
	client.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := client.Read(make([]byte, 10)); n != 0 || err == nil {
		t.Errorf("read %d bytes (%v) from a connection that should just be closed", n, err)
	}
}
