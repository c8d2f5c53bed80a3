// Command fasthttp is a ceiling for the benchmark: the responses of the bench
// apps served by github.com/valyala/fasthttp, with no Python and no WSGI
// bridge.
package main

import (
	"flag"
	"log"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gowsgi/gowsgi/bench/internal/bareapp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "listen address")
	mode := flag.String("mode", "hello", "response to serve: hello, echo, big, sleepy, json")
	flag.Parse()
	if err := bareapp.Check(*mode); err != nil {
		log.Fatal(err)
	}
	srv := &fasthttp.Server{
		Handler:               handler(*mode),
		NoDefaultServerHeader: true,
	}
	log.Fatal(srv.ListenAndServe(*addr))
}

func handler(mode string) fasthttp.RequestHandler {
	switch mode {
	case "echo":
		return func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("application/octet-stream")
			ctx.SetBody(ctx.PostBody())
		}
	case "big":
		big := make([]byte, 0, len(bareapp.BigChunk)*bareapp.BigChunks)
		for range bareapp.BigChunks {
			big = append(big, bareapp.BigChunk...)
		}
		return func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("application/octet-stream")
			ctx.Response.SetBodyRaw(big)
		}
	case "sleepy":
		return func(ctx *fasthttp.RequestCtx) {
			time.Sleep(bareapp.Sleep)
			ctx.SetContentType("text/plain")
			ctx.SetBody(bareapp.Slept)
		}
	case "json":
		return func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("application/json")
			ctx.SetBody(bareapp.JSON)
		}
	default:
		return func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("text/plain")
			ctx.SetBody(bareapp.Hello)
		}
	}
}
