# gowsgi in a container. Build stage: Go with cgo against Debian bookworm's
# libpython3.11 (python3-dev). Run stage: bookworm-slim with the Python
# 3.11 runtime only, as a non-root user.
#
#   docker build -t gowsgi .
#   docker run --rm -p 8000:8000 gowsgi
#
# An application image starts FROM this one, copies the project to /app,
# and sets GOWSGI_MODULE (or any other GOWSGI_<OPTION>, or a --config /
# --ini file in CMD). compose.yaml puts nginx in front.

FROM golang:1.26-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY config ./config
COPY internal ./internal
COPY pyembed ./pyembed
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/gowsgi ./cmd/gowsgi

FROM debian:bookworm-slim
# python3.11 brings /usr/bin/python3.11 and the standard library next to
# libpython3.11; python3-venv lets derived images make a virtualenv.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpython3.11 python3.11 python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /app --shell /usr/sbin/nologin gowsgi
COPY --from=build /out/gowsgi /usr/local/bin/gowsgi
COPY --chown=gowsgi:gowsgi testapps/demo.py /app/demo.py
USER gowsgi
WORKDIR /app
ENV GOWSGI_CHDIR=/app \
    GOWSGI_MODULE=demo:application \
    GOWSGI_THREADS=4
EXPOSE 8000
# SIGTERM (docker stop) lets requests in flight finish, up to
# --graceful-timeout (30 s): give docker stop --time 35 or more.
STOPSIGNAL SIGTERM
CMD ["gowsgi", "--http", "0.0.0.0:8000"]
