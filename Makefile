# gowsgi: `make run` serves the demo, `make test` runs every test.
# Both start with `setup`, which installs the Debian packages needed.

GO      ?= go
BIN     := bin/gowsgi
HOST    ?= 127.0.0.1
PORT    ?= 8000
FUZZTIME ?= 10s

.PHONY: all setup build run test unit fuzz vet bench bench-test clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	$(GO) build -o $(BIN) ./cmd/gowsgi

# The demo: the hello app on 127.0.0.1:8000.
run: build
	./$(BIN) --chdir testapps --module demo:application --http $(HOST):$(PORT) --threads 4

test: setup vet unit fuzz bench-test
	@echo "make test: all passed"

vet:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || { echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

# Unit and end-to-end tests with the race detector (e2e builds its own race-enabled binary).
unit:
	$(GO) test -race -count=1 -timeout 15m ./...

# A short run of every fuzz target; found inputs stay in testdata/fuzz as regression cases.
fuzz:
	@bash scripts/fuzz.sh $(FUZZTIME)

bench-test:
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...

# Side-by-side throughput against uWSGI, gunicorn and waitress (see bench/README.md).
bench: build
	cd bench && $(GO) run ./cmd/benchrun -targets $(BENCHFLAGS)

clean:
	rm -rf bin
