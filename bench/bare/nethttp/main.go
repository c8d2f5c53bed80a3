// Command nethttp is a ceiling for the benchmark: the responses of the bench
// apps served by Go's net/http, with no Python and no WSGI bridge.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"

	"github.com/gowsgi/gowsgi/bench/internal/bareapp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "listen address")
	mode := flag.String("mode", "hello", "response to serve: hello, echo, big, sleepy, json")
	flag.Parse()
	if err := bareapp.Check(*mode); err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: handler(*mode)}
	log.Fatal(srv.ListenAndServe())
}

func handler(mode string) http.HandlerFunc {
	switch mode {
	case "echo":
		return func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			write(w, "application/octet-stream", body)
		}
	case "big":
		size := strconv.Itoa(len(bareapp.BigChunk) * bareapp.BigChunks)
		return func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["Content-Type"] = []string{"application/octet-stream"}
			h["Content-Length"] = []string{size}
			for range bareapp.BigChunks {
				if _, err := w.Write(bareapp.BigChunk); err != nil {
					return
				}
			}
		}
	case "sleepy":
		return func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(bareapp.Sleep)
			write(w, "text/plain", bareapp.Slept)
		}
	case "json":
		return func(w http.ResponseWriter, r *http.Request) {
			write(w, "application/json", bareapp.JSON)
		}
	default:
		return func(w http.ResponseWriter, r *http.Request) {
			write(w, "text/plain", bareapp.Hello)
		}
	}
}

func write(w http.ResponseWriter, contentType string, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{contentType}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	_, _ = w.Write(body) // an error means the client is gone: nothing to do
}
