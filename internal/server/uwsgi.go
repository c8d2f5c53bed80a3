package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"time"

	"github.com/gowsgi/gowsgi/internal/httpwire"
	"github.com/gowsgi/gowsgi/internal/uwsgiproto"
	"github.com/gowsgi/gowsgi/pyembed"
)

// The uwsgi protocol (--socket), as nginx's uwsgi_pass speaks it: one
// packet (a 4-byte header and a block of CGI variables) and exactly
// CONTENT_LENGTH body bytes per connection, answered with a plain HTTP
// response that ends when the connection closes. The variables are the
// environ: the front end has already parsed, decoded and checked the
// HTTP request, so nothing here parses HTTP.

// lingerTimeout bounds how long a uwsgi connection waits for the front end
// to close its side after the response (see lingerClose).
const lingerTimeout = time.Second

var (
	errUwsgiNoMethod  = &httpwire.Error{Status: 400, Reason: "uwsgi packet without REQUEST_METHOD"}
	errUwsgiHTTP      = &httpwire.Error{Status: 400, Reason: "this is a uwsgi socket for nginx uwsgi_pass, not http: use an --http listener"}
	errUwsgiMalformed = &httpwire.Error{Status: 400, Reason: "malformed uwsgi packet"}
	errVarsTooLarge   = &httpwire.Error{Status: 431, Reason: "request header fields too large for --buffer-size"}
)

// serveUwsgi serves the one request of a uwsgi connection.
func (c *conn) serveUwsgi() {
	defer c.srv.untrack(c)
	defer c.nc.Close()
	if !c.waitForPacket() {
		return
	}
	c.obsStart()
	o := &c.srv.opts
	c.nc.SetReadDeadline(time.Now().Add(o.HeaderTimeout))
	if b, err := c.br.Peek(uwsgiproto.HeaderLen); err == nil {
		if looksLikeHTTP(b) {
			c.srv.log.Warn("uwsgi packet refused: the client speaks http; nginx needs uwsgi_pass for --socket, proxy_pass for --http", "remote", c.remoteIP, "listener", c.localIP)
			c.reject(errUwsgiHTTP)
			return
		}
		if n := int(binary.LittleEndian.Uint16(b[1:3])); b[0] == 0 && b[3] == 0 && n > o.BufferSize {
			// A well-formed packet that is only too big still gets an
			// answer, which nginx passes on: a 431 names the cause where a
			// bare close would show as a 502.
			c.srv.log.Warn("uwsgi packet refused: vars block larger than --buffer-size", "remote", c.remoteIP, "size", n, "buffer_size", o.BufferSize)
			c.reject(errVarsTooLarge)
			return
		}
	}
	var pkt uwsgiproto.Packet
	// The vars land in a buffer of their own (not the reader's), so they
	// stay valid while the body is read behind them.
	if _, err := uwsgiproto.ReadHead(c.br, nil, o.BufferSize, &pkt); err != nil {
		c.refusePacket(err)
		return
	}
	if c.srv.static != nil && c.serveUwsgiStatic(&pkt) {
		c.lingerClose() // an unread body, if any, is drained there
		return
	}
	https, err := c.buildUwsgiEnviron(&pkt)
	if err != nil {
		c.srv.log.Warn("uwsgi packet refused", "remote", c.remoteIP, "err", err)
		c.reject(err)
		return
	}
	if o.LimitPost > 0 && pkt.ContentLength > o.LimitPost {
		c.srv.log.Info("uwsgi request refused: body larger than --limit-post", "content_length", pkt.ContentLength, "limit_post", o.LimitPost)
		c.reject(errBodyTooLarge)
		return
	}
	ex := &c.ex
	ex.begin(&c.req)
	ex.https = https
	c.run(ex) // the connection closes either way: one request per connection
	c.lingerClose()
}

// waitForPacket waits for the first byte of the packet. A connection
// still waiting when Shutdown begins is woken, like an idle HTTP
// keep-alive connection, but first gets firstRequestGrace for a packet
// that is already on its way (nginx connected just before the listener
// closed).
func (c *conn) waitForPacket() bool {
	wait := c.srv.opts.HeaderTimeout
	c.mu.Lock()
	if c.srv.draining.Load() {
		wait = firstRequestGrace
	} else {
		c.idle = true // Shutdown sets the deadline to now
	}
	c.mu.Unlock()
	c.nc.SetReadDeadline(time.Now().Add(wait))
	_, err := c.br.Peek(1)
	c.mu.Lock()
	c.idle = false
	c.mu.Unlock()
	if err != nil && wait != firstRequestGrace && c.srv.draining.Load() && isTimeout(err) {
		c.nc.SetReadDeadline(time.Now().Add(firstRequestGrace))
		_, err = c.br.Peek(1)
	}
	if err != nil {
		if isTimeout(err) && !c.srv.draining.Load() {
			c.srv.log.Info("uwsgi connection closed: no packet in time", "remote", c.remoteIP, "header_timeout", c.srv.opts.HeaderTimeout)
		}
		return false
	}
	return true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// refusePacket logs why a packet head was not accepted. A malformed packet
// leaves the stream unreadable, so the connection closes after a 400.
func (c *conn) refusePacket(err error) {
	var pe *uwsgiproto.Error
	switch {
	case errors.As(err, &pe):
		c.srv.log.Warn("uwsgi packet refused", "remote", c.remoteIP, "err", err)
		c.reject(errUwsgiMalformed)
	case isTimeout(err):
		c.srv.log.Info("uwsgi packet refused: not received in time", "remote", c.remoteIP, "header_timeout", c.srv.opts.HeaderTimeout)
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.srv.log.Info("uwsgi packet refused: the connection closed inside it", "remote", c.remoteIP)
	}
}

// looksLikeHTTP reports whether b starts like an HTTP request line: a
// modifier1 of 'G', 'P', 'H', ... is a browser or an nginx proxy_pass
// pointed at a uwsgi socket, the classic mix-up when moving from uWSGI.
func looksLikeHTTP(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for _, m := range []string{"GET ", "POST", "HEAD", "PUT ", "DELE", "OPTI", "PATC", "CONN", "TRAC", "PRI "} {
		if string(b[:4]) == m {
			return true
		}
	}
	return false
}

// lingerClose ends a uwsgi connection without losing the response: closing
// a socket with unread input makes the kernel send a reset, and a front end
// that gets one before it has read the whole response answers 502. So the
// write side is shut first, and input is read and thrown away until the
// front end closes too, within lingerTimeout and drainLimit bytes. nginx
// closes at once, having sent everything before the response began.
func (c *conn) lingerClose() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.CopyN(io.Discard, c.br, drainLimit)
}

// uwsgiCGI holds the variables the server itself needs or fills in; the
// last occurrence of a variable wins, as in uWSGI.
type uwsgiCGI struct {
	method, uri, pathInfo, query, scriptName   []byte
	contentType, contentLength                 []byte
	protocol, serverName, serverPort           []byte
	remoteAddr, remotePort                     []byte
	https, scheme, host                        []byte
	havePath, haveQuery, haveScript            bool
	haveServerName, haveServerPort, haveRemote bool
}

func varSeenBefore(vars []uwsgiproto.Var, key []byte) bool {
	for i := range vars {
		if bytes.Equal(vars[i].Key, key) {
			return true
		}
	}
	return false
}

// joinedVar is the value of vars[i] joined with every later variable of the same name.
func joinedVar(vars []uwsgiproto.Var, i int, sep string) []byte {
	return joinLater(len(vars), i, sep, func(k int) []byte { return vars[k].Value },
		func(k int) bool { return bytes.Equal(vars[k].Key, vars[i].Key) })
}

// buildUwsgiEnviron turns the packet's variables into c.env and a request
// head for the exchange, and reports whether the client used https.
//
// What is dropped: UWSGI_* variables (in uWSGI they let the front end
// choose the code to load; here they are never interpreted, nor shown to
// the application), HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH (nginx sends
// the headers that way too, but CGI has CONTENT_TYPE and CONTENT_LENGTH
// and wsgiref.validate refuses the HTTP_ forms), HTTP_TRANSFER_ENCODING
// (the front end has framed the body by CONTENT_LENGTH), HTTP_PROXY
// (httpoxy), and empty CONTENT_TYPE and CONTENT_LENGTH (nginx sends them
// empty for requests without them; an HTTP listener leaves them out).
func (c *conn) buildUwsgiEnviron(p *uwsgiproto.Packet) (bool, error) {
	var v uwsgiCGI
	e := &c.env
	e.Reset()
	for i := range p.Vars {
		key, val := p.Vars[i].Key, p.Vars[i].Value
		switch string(key) {
		case "REQUEST_METHOD":
			v.method = val
		case "REQUEST_URI":
			v.uri = val
		case "PATH_INFO":
			v.pathInfo, v.havePath = val, true
		case "QUERY_STRING":
			v.query, v.haveQuery = val, true
		case "SCRIPT_NAME":
			v.scriptName, v.haveScript = val, true
		case "CONTENT_TYPE":
			v.contentType = val
		case "CONTENT_LENGTH":
			v.contentLength = val
		case "SERVER_PROTOCOL":
			v.protocol = val
		case "SERVER_NAME":
			v.serverName, v.haveServerName = val, true
		case "SERVER_PORT":
			v.serverPort, v.haveServerPort = val, true
		case "REMOTE_ADDR":
			v.remoteAddr, v.haveRemote = val, true
		case "REMOTE_PORT":
			v.remotePort = val
		case "HTTPS":
			v.https = val
		case "REQUEST_SCHEME":
			v.scheme = val
			e.AddNamed(key, val)
		case "HTTP_HOST":
			v.host = val
			e.Add(pyembed.HeaderKey(key), val)
		case "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING", "HTTP_PROXY":
		default:
			if bytes.HasPrefix(key, []byte("UWSGI_")) {
				break
			}
			if bytes.HasPrefix(key, []byte("HTTP_")) {
				// nginx (1.22) sends a repeated header line as a repeated
				// variable: join them as the HTTP listener does, or the
				// application would see only the last Cookie line.
				if varSeenBefore(p.Vars[:i], key) {
					continue
				}
				sep := ", "
				if string(key) == "HTTP_COOKIE" {
					sep = "; " // RFC 6265 §5.4
				}
				val = joinedVar(p.Vars, i, sep)
			}
			e.AddNamed(key, val)
		}
	}
	if len(v.method) == 0 {
		return false, errUwsgiNoMethod
	}
	https := isOn(v.https) || equalFold(v.scheme, "https")

	e.Add(pyembed.KeyRequestMethod, v.method)
	if v.uri != nil {
		e.Add(pyembed.KeyRequestURI, v.uri)
	}
	if !v.havePath {
		// PATH_INFO is the decoded path of REQUEST_URI: what nginx's stock
		// uwsgi_params send as $document_uri, and what a front end without
		// it (Apache's mod_proxy_uwsgi, a bare uwsgi_pass) leaves to us.
		raw := v.uri
		if i := bytes.IndexByte(raw, '?'); i >= 0 {
			raw = raw[:i]
		}
		path, err := httpwire.PercentDecodePath(c.scratch[:0], raw)
		if err != nil {
			return false, err
		}
		c.scratch = path
		v.pathInfo = path
	}
	e.Add(pyembed.KeyPathInfo, v.pathInfo)
	if v.haveScript {
		e.Add(pyembed.KeyScriptName, v.scriptName)
	}
	if !v.haveQuery {
		if i := bytes.IndexByte(v.uri, '?'); i >= 0 {
			v.query = v.uri[i+1:]
		}
	}
	e.Add(pyembed.KeyQueryString, v.query)
	if len(v.contentType) > 0 {
		e.Add(pyembed.KeyContentType, v.contentType)
	}
	if len(v.contentLength) > 0 {
		e.Add(pyembed.KeyContentLength, v.contentLength)
	}
	if len(v.protocol) == 0 {
		v.protocol = []byte("HTTP/1.1")
	}
	e.Add(pyembed.KeyServerProtocol, v.protocol)
	// PEP 3333 requires SERVER_NAME and SERVER_PORT; a front end that does
	// not send them gets what the Host says (the port of this socket is
	// the front end's business, not part of the URL the client used).
	if !v.haveServerName {
		if v.serverName = hostOnly(v.host); len(v.serverName) == 0 {
			v.serverName = []byte(c.localIP)
		}
	}
	e.Add(pyembed.KeyServerName, v.serverName)
	if !v.haveServerPort {
		switch port := hostPort(v.host); {
		case port != "":
			v.serverPort = []byte(port)
		case https:
			v.serverPort = []byte("443")
		default:
			v.serverPort = []byte("80")
		}
	}
	e.Add(pyembed.KeyServerPort, v.serverPort)
	if !v.haveRemote {
		v.remoteAddr, v.remotePort = []byte(c.remoteIP), []byte(c.remotePort)
	}
	e.Add(pyembed.KeyRemoteAddr, v.remoteAddr)
	if len(v.remotePort) > 0 {
		e.Add(pyembed.KeyRemotePort, v.remotePort)
	}
	if len(v.https) > 0 {
		e.Add(pyembed.KeyHTTPS, v.https)
	}

	target := v.uri
	if target == nil {
		target = v.pathInfo
	}
	// The request as the exchange sees it. ProtoMinor 0: the front end
	// reads the response like an HTTP/1.0 upstream's, so a response of
	// unknown length ends with the connection, never chunked, and
	// KeepAlive false adds "Connection: close".
	c.req = httpwire.Request{
		Method:        v.method,
		Target:        target,
		ProtoMinor:    0,
		ContentLength: p.ContentLength,
		KeepAlive:     false,
	}
	return https, nil
}

// isOn reads the CGI HTTPS variable: "on" from nginx and Apache, "1" or
// "yes" from some others.
func isOn(v []byte) bool {
	return equalFold(v, "on") || equalFold(v, "1") || equalFold(v, "yes") || equalFold(v, "true")
}

// staticHeaderVars are the request headers a static reply depends on, as
// the uwsgi variables nginx sends them in.
var staticHeaderVars = [...]struct{ key, name string }{
	{"HTTP_IF_MATCH", "If-Match"},
	{"HTTP_IF_NONE_MATCH", "If-None-Match"},
	{"HTTP_IF_MODIFIED_SINCE", "If-Modified-Since"},
	{"HTTP_IF_UNMODIFIED_SINCE", "If-Unmodified-Since"},
	{"HTTP_IF_RANGE", "If-Range"},
	{"HTTP_RANGE", "Range"},
	{"HTTP_ACCEPT_ENCODING", "Accept-Encoding"},
}

// serveUwsgiStatic answers from --static-map when the request names a
// mapped file, as uWSGI does on every kind of socket, and reports whether
// it did. The map matches the raw path of REQUEST_URI, as for HTTP.
func (c *conn) serveUwsgiStatic(p *uwsgiproto.Packet) bool {
	method, _ := p.Get("REQUEST_METHOD")
	uri, ok := p.Get("REQUEST_URI")
	if !ok || len(uri) == 0 {
		return false
	}
	req := httpwire.Request{Method: method, Target: uri, Path: uri, ContentLength: p.ContentLength}
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		req.Path, req.Query, req.HasQuery = uri[:i], uri[i+1:], true
	}
	for i := range p.Vars {
		v := &p.Vars[i]
		if !bytes.HasPrefix(v.Key, []byte("HTTP_")) {
			continue
		}
		for _, h := range staticHeaderVars {
			if string(v.Key) == h.key {
				req.Headers = append(req.Headers, httpwire.Header{Name: []byte(h.name), Value: v.Value})
			}
		}
	}
	rep := c.srv.static.Serve(&req)
	if rep == nil {
		return false
	}
	defer rep.Release()
	rep.Write(c.nc, httpDate(), false, false, c.srv.opts.WriteTimeout)
	return true
}
