// Package accesslog writes one line per request, in a format made of named
// atoms (docs/LOGGING.md), as text or as JSON. Lines are formatted into a
// buffer reused per connection and handed to a buffered writer, so logging
// costs no allocation per request.
package accesslog

import (
	"bytes"
	"fmt"
	"strings"
)

// DefaultFormat is the combined log format plus the request time in
// seconds, e.g.
//
//	127.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /x?y HTTP/1.1" 200 13 "-" "curl/7.88" 0.000412
const DefaultFormat = `%(addr) - - [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(bytes) "%(referer)" "%(uagent)" %(duration)`

type atomKind uint8

const (
	atomLiteral atomKind = iota
	atomAddr             // client address (REMOTE_ADDR)
	atomPort             // client port
	atomLtime            // request start, CLF local time: 22/Nov/2026:10:00:00 +0000
	atomISO              // request start, RFC 3339 with milliseconds
	atomEpoch            // request start, Unix seconds
	atomMethod
	atomURI   // request target as received: path and query
	atomPath  // path part of the target, still percent-encoded
	atomQuery // query string without '?', empty if none
	atomProto // HTTP/1.1
	atomStatus
	atomBytes    // response body bytes
	atomBytesIn  // bytes read from the client for the request
	atomBytesOut // bytes written to the client for the request
	atomDuration // seconds with microseconds: 0.000412
	atomMsecs    // milliseconds, integer
	atomUsecs    // microseconds, integer
	atomReferer
	atomUagent
	atomWorker
	atomPID
	atomReqHeader  // %{Name}i
	atomRespHeader // %{Name}o
)

// atomNames maps %(name) to its atom; the names are also the JSON keys.
var atomNames = map[string]atomKind{
	"addr":      atomAddr,
	"port":      atomPort,
	"ltime":     atomLtime,
	"iso":       atomISO,
	"epoch":     atomEpoch,
	"method":    atomMethod,
	"uri":       atomURI,
	"path":      atomPath,
	"query":     atomQuery,
	"proto":     atomProto,
	"status":    atomStatus,
	"bytes":     atomBytes,
	"bytes_in":  atomBytesIn,
	"bytes_out": atomBytesOut,
	"duration":  atomDuration,
	"msecs":     atomMsecs,
	"usecs":     atomUsecs,
	"referer":   atomReferer,
	"uagent":    atomUagent,
	"worker":    atomWorker,
	"pid":       atomPID,
}

type atom struct {
	kind atomKind
	text string // literal text, or the JSON key
	hdr  int    // index into Format.reqNames or Format.respNames
}

// Format is a compiled access log format.
type Format struct {
	src       string
	atoms     []atom
	reqNames  [][]byte // lower-case request header names to capture
	respNames [][]byte // lower-case response header names to capture
}

// String is the format as given.
func (f *Format) String() string { return f.src }

// Compile parses a format: %(name) for a named atom, %{Name}i and %{Name}o
// for a request or response header value, %% for a percent sign; any
// other text is copied as is.
func Compile(s string) (*Format, error) {
	f := &Format{src: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			f.atoms = append(f.atoms, atom{kind: atomLiteral, text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			lit.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("log format %q: lone %% at the end (write %%%% for a percent sign)", s)
		}
		switch s[i+1] {
		case '%':
			lit.WriteByte('%')
			i += 2
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				return nil, fmt.Errorf("log format %q: unclosed %%( at offset %d", s, i)
			}
			name := s[i+2 : i+2+end]
			kind, ok := atomNames[name]
			if !ok {
				return nil, fmt.Errorf("log format %q: unknown atom %%(%s); known: %s", s, name, knownAtoms())
			}
			flush()
			f.atoms = append(f.atoms, atom{kind: kind, text: name})
			i += 2 + end + 1
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 || i+2+end+1 >= len(s) {
				return nil, fmt.Errorf("log format %q: %%{ at offset %d needs the form %%{Header-Name}i or %%{Header-Name}o", s, i)
			}
			name := s[i+2 : i+2+end]
			if !validHeaderName(name) {
				return nil, fmt.Errorf("log format %q: %q is not a header name", s, name)
			}
			lower := []byte(strings.ToLower(name))
			flush()
			switch s[i+2+end+1] {
			case 'i':
				f.atoms = append(f.atoms, atom{kind: atomReqHeader, text: "req_" + string(lower), hdr: indexOrAdd(&f.reqNames, lower)})
			case 'o':
				f.atoms = append(f.atoms, atom{kind: atomRespHeader, text: "resp_" + string(lower), hdr: indexOrAdd(&f.respNames, lower)})
			default:
				return nil, fmt.Errorf("log format %q: %%{%s} must be followed by i (request header) or o (response header)", s, name)
			}
			i += 2 + end + 2
		default:
			return nil, fmt.Errorf("log format %q: unknown directive %%%c at offset %d (atoms are %%(name); write %%%% for a percent sign)", s, s[i+1], i)
		}
	}
	flush()
	// %(referer) and %(uagent) read request headers like %{Name}i.
	for i := range f.atoms {
		switch f.atoms[i].kind {
		case atomReferer:
			f.atoms[i].hdr = indexOrAdd(&f.reqNames, []byte("referer"))
		case atomUagent:
			f.atoms[i].hdr = indexOrAdd(&f.reqNames, []byte("user-agent"))
		}
	}
	return f, nil
}

// MustCompile is Compile for formats known to be valid.
func MustCompile(s string) *Format {
	f, err := Compile(s)
	if err != nil {
		panic(err)
	}
	return f
}

func indexOrAdd(list *[][]byte, name []byte) int {
	for i, n := range *list {
		if bytes.Equal(n, name) {
			return i
		}
	}
	*list = append(*list, name)
	return len(*list) - 1
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func knownAtoms() string {
	order := []string{"addr", "port", "ltime", "iso", "epoch", "method", "uri", "path", "query", "proto", "status", "bytes", "bytes_in", "bytes_out", "duration", "msecs", "usecs", "referer", "uagent", "worker", "pid"}
	return strings.Join(order, ", ")
}

// WantsResponseHeaders reports whether the format logs response headers,
// so the server captures them only then.
func (f *Format) WantsResponseHeaders() bool { return len(f.respNames) > 0 }
