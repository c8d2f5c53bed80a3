package e2e

import (
	"encoding/json"
	"net"
	"sort"
	"strings"
	"testing"
)

// envValue is one environ entry as environ_app.py describes it.
type envValue struct {
	Type     string   `json:"type"`
	Value    any      `json:"value"`
	Methods  []string `json:"methods"`
	Callable bool     `json:"callable"`
}

// fetchEnviron sends a raw request to environ_app and returns the environ
// it saw, and the client's port (for REMOTE_PORT).
func fetchEnviron(t *testing.T, s *server, request string) (map[string]envValue, string) {
	t.Helper()
	c := dialRaw(t, s.addr)
	defer c.close()
	c.send(request)
	r := c.mustResponse("GET")
	if r.status != 200 {
		t.Fatalf("environ request failed: %v", r)
	}
	checkDate(t, r)
	env := map[string]envValue{}
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("bad JSON from environ_app: %v\n%s", err, r.body)
	}
	return env, c.localPort()
}

// checkEnviron requires the CGI and HTTP_* keys to be exactly want (all of
// type str, with these values) and the wsgi.* keys to be PEP 3333's.
// Other dotted keys (server extensions) are allowed.
func checkEnviron(t *testing.T, env map[string]envValue, want map[string]string, multithread bool) {
	t.Helper()
	var extra []string
	for k, v := range env {
		if strings.Contains(k, ".") {
			continue
		}
		w, ok := want[k]
		if !ok {
			extra = append(extra, k)
			continue
		}
		if v.Type != "str" {
			t.Errorf("%s has type %s, want str", k, v.Type)
		}
		if v.Value != w {
			t.Errorf("%s = %q, want %q", k, v.Value, w)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("unexpected environ keys %q", extra)
	}
	for k := range want {
		if _, ok := env[k]; !ok {
			t.Errorf("environ lacks %s", k)
		}
	}

	wsgi := func(key, typ string, value any) {
		t.Helper()
		v, ok := env[key]
		if !ok {
			t.Errorf("environ lacks %s", key)
			return
		}
		if v.Type != typ {
			t.Errorf("%s has type %s, want %s", key, v.Type, typ)
		}
		if value != nil {
			got, _ := json.Marshal(v.Value)
			exp, _ := json.Marshal(value)
			if string(got) != string(exp) {
				t.Errorf("%s = %s, want %s", key, got, exp)
			}
		}
	}
	wsgi("wsgi.version", "tuple", []int{1, 0})
	wsgi("wsgi.url_scheme", "str", "http")
	wsgi("wsgi.multithread", "bool", multithread)
	wsgi("wsgi.multiprocess", "bool", false) // one process
	wsgi("wsgi.run_once", "bool", false)
	wsgi("wsgi.input_terminated", "bool", true)
	wsgi("wsgi.input", env["wsgi.input"].Type, nil)
	wsgi("wsgi.errors", env["wsgi.errors"].Type, nil)
	if got := strings.Join(env["wsgi.input"].Methods, ","); got != "read,readline,readlines,__iter__" {
		t.Errorf("wsgi.input offers %s, want read,readline,readlines,__iter__", got)
	}
	if got := strings.Join(env["wsgi.errors"].Methods, ","); got != "write,writelines,flush" {
		t.Errorf("wsgi.errors offers %s, want write,writelines,flush", got)
	}
	if fw, ok := env["wsgi.file_wrapper"]; !ok || !fw.Callable {
		t.Errorf("wsgi.file_wrapper missing or not callable: %+v", fw)
	}
}

func TestEnviron(t *testing.T) {
	t.Parallel()
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "environ_app", m, 4)
			_, port, _ := net.SplitHostPort(s.addr)

			t.Run("get with headers", func(t *testing.T) {
				env, clientPort := fetchEnviron(t, s, ""+
					"GET /caf%C3%A9/a%2Fb%20c?x=%20y&z=%C3%A9&q=a+b HTTP/1.1\r\n"+
					"Host: Example.test:8080\r\n"+
					"User-Agent: e2e/1\r\n"+
					"X-Multi: a\r\n"+
					"x-multi: b\r\n"+
					"Cookie: a=1\r\n"+
					"Cookie: b=2\r\n"+
					"X-User: good\r\n"+
					"X_User: evil\r\n"+ // dropped: it must not pose as X-User
					"Proxy: http://evil.example:3128\r\n"+ // httpoxy: never HTTP_PROXY
					"X-Custom-Thing: v1 , v2\r\n"+
					"\r\n")
				checkEnviron(t, env, map[string]string{
					"REQUEST_METHOD": "GET",
					"SCRIPT_NAME":    "",
					// Percent-decoded, %2F included, then decoded as latin-1 (PEP 3333's bytes-as-str).
					"PATH_INFO":           "/caf\u00c3\u00a9/a/b c",
					"QUERY_STRING":        "x=%20y&z=%C3%A9&q=a+b",
					"REQUEST_URI":         "/caf%C3%A9/a%2Fb%20c?x=%20y&z=%C3%A9&q=a+b",
					"SERVER_NAME":         "Example.test",
					"SERVER_PORT":         port, // the port the request came in on (CGI, RFC 3875 §4.1.16)
					"SERVER_PROTOCOL":     "HTTP/1.1",
					"REMOTE_ADDR":         "127.0.0.1",
					"REMOTE_PORT":         clientPort,
					"HTTP_HOST":           "Example.test:8080",
					"HTTP_USER_AGENT":     "e2e/1",
					"HTTP_X_MULTI":        "a, b",
					"HTTP_COOKIE":         "a=1; b=2",
					"HTTP_X_USER":         "good",
					"HTTP_X_CUSTOM_THING": "v1 , v2",
				}, true)
			})

			t.Run("post with body, HTTP/1.0", func(t *testing.T) {
				env, clientPort := fetchEnviron(t, s, ""+
					"POST /submit?a=1 HTTP/1.0\r\n"+
					"Host: [::1]:9000\r\n"+
					"Content-Type: application/x-www-form-urlencoded\r\n"+
					"Content-Length: 7\r\n"+
					"\r\n"+
					"a=b&c=d")
				checkEnviron(t, env, map[string]string{
					"REQUEST_METHOD":  "POST",
					"SCRIPT_NAME":     "",
					"PATH_INFO":       "/submit",
					"QUERY_STRING":    "a=1",
					"REQUEST_URI":     "/submit?a=1",
					"CONTENT_TYPE":    "application/x-www-form-urlencoded",
					"CONTENT_LENGTH":  "7",
					"SERVER_NAME":     "::1",
					"SERVER_PORT":     port,
					"SERVER_PROTOCOL": "HTTP/1.0",
					"REMOTE_ADDR":     "127.0.0.1",
					"REMOTE_PORT":     clientPort,
					"HTTP_HOST":       "[::1]:9000",
				}, true)
			})

			t.Run("no host, no query", func(t *testing.T) {
				// HTTP/1.0 allows no Host: SERVER_NAME falls back to the server's address.
				env, clientPort := fetchEnviron(t, s, "GET / HTTP/1.0\r\n\r\n")
				checkEnviron(t, env, map[string]string{
					"REQUEST_METHOD":  "GET",
					"SCRIPT_NAME":     "",
					"PATH_INFO":       "/",
					"QUERY_STRING":    "",
					"REQUEST_URI":     "/",
					"SERVER_NAME":     "127.0.0.1",
					"SERVER_PORT":     port,
					"SERVER_PROTOCOL": "HTTP/1.0",
					"REMOTE_ADDR":     "127.0.0.1",
					"REMOTE_PORT":     clientPort,
				}, true)
			})
		})
	}
}

// TestEnvironSingleThread: wsgi.multithread reflects --threads.
func TestEnvironSingleThread(t *testing.T) {
	t.Parallel()
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "environ_app", m, 1)
			env, _ := fetchEnviron(t, s, "GET / HTTP/1.1\r\nHost: e2e.test\r\n\r\n")
			if v := env["wsgi.multithread"]; v.Type != "bool" || v.Value != false {
				t.Errorf("wsgi.multithread = %+v with --threads 1, want False", v)
			}
		})
	}
}
