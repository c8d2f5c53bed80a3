// Command gowsgi serves a WSGI application from an embedded CPython.
package main

import (
	"os"

	"github.com/gowsgi/gowsgi/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
