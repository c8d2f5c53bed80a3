package config

import (
	"fmt"
	"strings"
)

// Static holds the options of the static file map: files served by the Go
// front end (with sendfile) without ever reaching Python.
type Static struct {
	// StaticMap lists "MOUNT=PATH" mappings, searched in order (uWSGI's
	// --static-map). PATH is a directory whose files appear under the URL
	// prefix MOUNT, or a single file served at exactly MOUNT (such as
	// /favicon.ico=static/favicon.ico). A file none of them has goes to
	// the application. Relative paths are relative to --chdir. Default none.
	StaticMap []string
	// StaticIndex lists the files tried, in order, for a request naming a
	// mapped directory with a trailing slash. Default none.
	StaticIndex []string
	// StaticExpires, when positive, adds "Cache-Control: max-age=N" and an
	// Expires header N seconds ahead to every static response. Default 0
	// (no caching headers).
	StaticExpires int64
	// StaticSkipExt lists file name suffixes (case-insensitive) that are
	// never served from the static map; such requests go to the
	// application. Default [".py", ".pyc", ".pyo"].
	StaticSkipExt []string
	// StaticFollowSymlinks lets symbolic links under a mapped directory
	// lead outside it. Otherwise such links answer 404. Default false.
	StaticFollowSymlinks bool
	// StaticDotfiles serves files and directories whose name starts with a
	// dot; otherwise requests for them go to the application. Default false.
	StaticDotfiles bool
}

// staticDefaults returns the Static defaults (called from Defaults).
func staticDefaults() Static {
	return Static{StaticSkipExt: []string{".py", ".pyc", ".pyo"}}
}

// StaticMapping is one parsed --static-map entry.
type StaticMapping struct {
	Mount string // URL path prefix: starts with "/", no trailing slash except for "/" itself
	Path  string // file system path as given
}

// ParseStaticMap parses one --static-map value, "MOUNT=PATH". The mount
// must be a clean absolute URL path: no empty, "." or ".." segments, no
// percent sign or backslash, because it is compared with the decoded
// request path.
func ParseStaticMap(s string) (StaticMapping, error) {
	mount, path, ok := strings.Cut(s, "=")
	if !ok || path == "" {
		return StaticMapping{}, fmt.Errorf("--static-map %q: want MOUNT=PATH, like /static=/srv/app/static", s)
	}
	if !strings.HasPrefix(mount, "/") {
		return StaticMapping{}, fmt.Errorf("--static-map %q: the mount %q must start with /", s, mount)
	}
	if strings.ContainsAny(mount, "%\\?#\x00") {
		return StaticMapping{}, fmt.Errorf("--static-map %q: the mount %q must be a plain path, without %%, \\, ? or #", s, mount)
	}
	if mount != "/" {
		mount = strings.TrimSuffix(mount, "/")
		for _, seg := range strings.Split(mount[1:], "/") {
			if seg == "" || seg == "." || seg == ".." {
				return StaticMapping{}, fmt.Errorf("--static-map %q: the mount %q has an empty, . or .. segment", s, mount)
			}
		}
	}
	return StaticMapping{Mount: mount, Path: path}, nil
}

// StaticMappings returns the parsed StaticMap. Validate has checked it;
// an entry that does not parse is left out.
func (s *Static) StaticMappings() []StaticMapping {
	out := make([]StaticMapping, 0, len(s.StaticMap))
	for _, v := range s.StaticMap {
		if m, err := ParseStaticMap(v); err == nil {
			out = append(out, m)
		}
	}
	return out
}

func (s *Static) validate() []error {
	var errs []error
	for _, v := range s.StaticMap {
		if _, err := ParseStaticMap(v); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range s.StaticIndex {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
			errs = append(errs, fmt.Errorf("--static-index %q: want a plain file name such as index.html", name))
		}
	}
	if s.StaticExpires < 0 {
		errs = append(errs, fmt.Errorf("--static-expires %d: want 0 (no caching headers) or more seconds", s.StaticExpires))
	}
	if s.StaticExpires > 10*365*24*3600 {
		errs = append(errs, fmt.Errorf("--static-expires %d: want at most ten years (%d seconds)", s.StaticExpires, 10*365*24*3600))
	}
	for _, ext := range s.StaticSkipExt {
		if strings.ContainsAny(ext, "/\\\x00") {
			errs = append(errs, fmt.Errorf("--static-skip-ext %q: want a file name suffix such as .py", ext))
		}
	}
	return errs
}
