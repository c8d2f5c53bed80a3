package static

import (
	"mime"
	"path"
	"strings"
	"sync"
)

// defaultType is sent for names without a known extension (nginx's
// shipped configuration does the same): browsers then do not render it.
const defaultType = "application/octet-stream"

// typeCache memoizes contentType per lower-case extension.
var typeCache sync.Map // string -> string

// contentType is the Content-Type for a file name, from its extension
// (Go's table, then the system's mime.types). Text types, and JavaScript,
// are declared UTF-8, the encoding of nearly every such file today.
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ext == "" {
		return defaultType
	}
	if t, ok := typeCache.Load(ext); ok {
		return t.(string)
	}
	t := mime.TypeByExtension(ext)
	switch {
	case t == "":
		t = defaultType
	case strings.Contains(t, "charset="):
	case strings.HasPrefix(t, "text/"), t == "application/javascript", t == "application/x-javascript":
		t += "; charset=utf-8"
	}
	typeCache.Store(ext, t)
	return t
}
