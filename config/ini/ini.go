// Package ini reads uWSGI-style ini configuration files, so that deployments
// written for uWSGI (typically Django or Flask behind nginx) can be pointed
// at this server unchanged.
//
// The dialect, as uWSGI documents it:
//
//   - [name] starts a section; only the requested section is read (other
//     tools' sections, e.g. paste deploy's, may share the file). A section
//     may appear several times; every occurrence is read.
//   - key = value, split at the first '='; surrounding blanks are trimmed,
//     so values may themselves contain '='. Keys are case-folded and '_' is
//     read as '-', because uWSGI treats "chmod_socket" and "chmod-socket" as
//     the same option.
//   - Lines whose first non-blank character is ';' or '#' are comments.
//     There are no inline comments: "a = b ; c" has the value "b ; c", as in
//     uWSGI, because values such as URLs or routes legitimately contain those
//     characters.
//   - Repeated keys are kept, in order: uWSGI accumulates multi-value options
//     (pythonpath, env, socket, ...), and it is up to the consumer to decide
//     which options are lists and which take the last value.
//
// Values are expanded in one left-to-right pass; the text an expansion
// produces is never expanded again, so an environment variable cannot inject
// placeholders:
//
//	$(NAME)   environment variable NAME, empty if unset
//	%(name)   the last value so far of option name in this section
//	%d        absolute directory of the ini file, with trailing slash
//	%p        absolute path of the ini file
//	%s        file name
//	%n        file name without its extension
//	%e        extension, without the dot
//	%c        name of the directory containing the file
//	%%        a literal '%'
//
// Any other %X is left as is (uWSGI defines more magic variables, such as %h
// or %k, that this server does not support; leaving them visible makes the
// resulting value obviously wrong rather than silently empty).
package ini

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultSection is the section read when none is requested.
const DefaultSection = "uwsgi"

// Entry is one option occurrence, after expansion. Repeated keys give several
// entries, in file order.
type Entry struct {
	Key   string // normalised: lower case, '_' replaced by '-'
	Value string // expanded
	File  string // path as passed to Load, for error messages
	Line  int    // 1-based
}

// Error is a problem in an ini file. Line is 0 when the problem concerns the
// whole file (such as a missing section).
type Error struct {
	File   string
	Line   int
	Reason string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return e.File + ": " + e.Reason
}

// Load reads section (DefaultSection when empty) of the ini file at path.
// getenv resolves $(NAME); nil means os.Getenv. Injecting it keeps tests
// hermetic and lets a caller expand with a controlled environment.
func Load(path, section string, getenv func(string) string) ([]Entry, error) {
	if section == "" {
		section = DefaultSection
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // *fs.PathError already names the file
	}
	m, err := magicFor(path)
	if err != nil {
		return nil, err
	}
	return parse(data, path, section, m, getenv)
}

// magic holds the values of the %X file variables.
type magic struct {
	d, p, s, n, e, c string
}

// magicFor computes the file variables of path. Like uWSGI, it resolves
// symlinks in the directories leading to the file but not a symlink that is
// the file itself: a vassal linked into an emperor directory should see
// %d/%n of the link, which is where the emperor found it, while a project
// reached through a symlinked directory gets its real location.
func magicFor(path string) (magic, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return magic{}, err
	}
	if fi, err := os.Lstat(abs); err == nil && fi.Mode()&os.ModeSymlink == 0 {
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
	}
	return magicFromAbs(abs), nil
}

// magicFromAbs derives the file variables from an absolute, clean path.
func magicFromAbs(abs string) magic {
	dir, file := filepath.Split(abs)
	m := magic{p: abs, d: dir, s: file, n: file}
	if ext := filepath.Ext(file); ext != "" {
		m.n, m.e = file[:len(file)-len(ext)], ext[1:]
	}
	if c := filepath.Base(dir); c != string(filepath.Separator) && c != "." {
		m.c = c
	}
	return m
}

// literalPlaceholderKeys are options whose %(name) placeholders uWSGI
// resolves per request rather than at load time (log variables such as
// %(status) or %(addr)), so an unknown placeholder there is kept verbatim
// instead of being an error. A known option name is still expanded, which is
// also what uWSGI does.
var literalPlaceholderKeys = map[string]bool{
	"logformat":  true,
	"log-format": true,
}

// parse reads section from the ini text data. file names the source in
// entries and errors.
func parse(data []byte, file, section string, m magic, getenv func(string) string) ([]Entry, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // editors on other systems add a UTF-8 BOM
	var (
		entries []Entry
		last    = map[string]string{} // option -> last expanded value, for %(name)
		in      bool                  // inside a [section] block
		found   bool
	)
	for lineNo := 1; len(data) > 0; lineNo++ {
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		line := strings.TrimSpace(string(raw)) // also drops the '\r' of CRLF files
		if line == "" || line[0] == ';' || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			if line[len(line)-1] != ']' {
				return nil, &Error{file, lineNo, fmt.Sprintf("malformed section header %q: missing ']'", line)}
			}
			in = strings.TrimSpace(line[1:len(line)-1]) == section
			found = found || in
			continue
		}
		if !in {
			continue // lines before any header, or in other sections
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, &Error{file, lineNo, fmt.Sprintf("expected key = value in [%s], got %q", section, line)}
		}
		key := normalizeKey(strings.TrimSpace(k))
		if key == "" {
			return nil, &Error{file, lineNo, fmt.Sprintf("empty option name in %q", line)}
		}
		val, err := expand(strings.TrimSpace(v), key, last, m, getenv)
		if err != nil {
			return nil, &Error{file, lineNo, err.Error()}
		}
		last[key] = val
		entries = append(entries, Entry{Key: key, Value: val, File: file, Line: lineNo})
	}
	if !found {
		return nil, &Error{File: file, Reason: fmt.Sprintf("no [%s] section", section)}
	}
	return entries, nil
}

// normalizeKey folds an option name the way uWSGI matches them.
func normalizeKey(k string) string {
	return strings.ReplaceAll(strings.ToLower(k), "_", "-")
}

// expand performs the single-pass substitution described in the package
// comment on the value of option key.
func expand(v, key string, last map[string]string, m magic, getenv func(string) string) (string, error) {
	if !strings.ContainsAny(v, "%$") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c != '%' && c != '$') || i+1 == len(v) {
			b.WriteByte(c)
			continue
		}
		next := v[i+1]
		if next == '(' {
			end := strings.IndexByte(v[i+2:], ')')
			if end < 0 {
				if c == '%' && literalPlaceholderKeys[key] {
					b.WriteString(v[i:])
					break
				}
				return "", fmt.Errorf("unterminated %c( in value %q", c, v)
			}
			name := v[i+2 : i+2+end]
			whole := v[i : i+3+end]
			i += 2 + end
			if c == '$' {
				b.WriteString(getenv(name))
				continue
			}
			if val, ok := last[normalizeKey(name)]; ok {
				b.WriteString(val)
			} else if literalPlaceholderKeys[key] {
				b.WriteString(whole)
			} else {
				return "", fmt.Errorf("placeholder %s refers to option %q, which is not set earlier in the section", whole, name)
			}
			continue
		}
		if c == '$' {
			b.WriteByte(c)
			continue
		}
		switch next {
		case '%':
			b.WriteByte('%')
		case 'd':
			b.WriteString(m.d)
		case 'p':
			b.WriteString(m.p)
		case 's':
			b.WriteString(m.s)
		case 'n':
			b.WriteString(m.n)
		case 'e':
			b.WriteString(m.e)
		case 'c':
			b.WriteString(m.c)
		default:
			// Unsupported magic variable: keep "%X" and let the next byte be
			// examined on its own, so "%$(HOME)" still expands $(HOME).
			b.WriteByte('%')
			continue
		}
		i++
	}
	return b.String(), nil
}

// SplitSpec splits an --ini argument of the form "file.ini:section" into the
// path and the section name ("" when there is none). The text after the last
// colon is a section only if it is non-empty and contains no '/', so
// "/srv/a:b/app.ini" stays a path. A file whose name itself contains a colon
// followed by such text cannot be named without a section suffix; uWSGI has
// the same ambiguity.
func SplitSpec(spec string) (path, section string) {
	i := strings.LastIndexByte(spec, ':')
	if i <= 0 || i == len(spec)-1 || strings.ContainsRune(spec[i+1:], '/') {
		return spec, ""
	}
	return spec[:i], spec[i+1:]
}
