package e2e

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runToExit runs the binary with args (and testapps as --chdir when
// chdir is set) and requires it to exit within 5 s: start-up failures
// must be quick, never a server left running.
func runToExit(t *testing.T, chdir bool, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if chdir {
		args = append([]string{"--chdir", appsDir, "--http", "127.0.0.1:0"}, args...)
	}
	return runExit(t, 5*time.Second, "", nil, args...)
}

// checkStartupFailure requires a bad app to stop the server at once with
// a non-zero status, a message whose first line names what was being
// loaded (name), the Python traceback, and no listening line.
func checkStartupFailure(t *testing.T, args []string, name string, wants ...string) {
	t.Helper()
	code, _, stderr := runToExit(t, true, args...)
	if code == 0 {
		t.Errorf("exit status 0, want non-zero")
	}
	if first, _, _ := strings.Cut(stderr, "\n"); !strings.Contains(first, name) {
		t.Errorf("the error's first line %q does not name %q", first, name)
	}
	if strings.Contains(stderr, "msg=listening") {
		t.Errorf("the server started listening despite the bad app")
	}
	for _, w := range append([]string{"Traceback (most recent call last):"}, wants...) {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", stderr)
	}
}

func TestStartupModuleNotFound(t *testing.T) {
	t.Parallel()
	checkStartupFailure(t, []string{"--module", "no_such_module_e2e"},
		"no_such_module_e2e", "ModuleNotFoundError: No module named 'no_such_module_e2e'")
}

func TestStartupMissingAttribute(t *testing.T) {
	t.Parallel()
	checkStartupFailure(t, []string{"--module", "startup", "--callable", "no_such_callable"},
		"startup", "module 'startup' has no attribute 'no_such_callable'")
}

func TestStartupNotCallable(t *testing.T) {
	t.Parallel()
	checkStartupFailure(t, []string{"--module", "startup:settings"},
		"startup", "module 'startup':settings is not callable (it is dict)")
}

func TestStartupSyntaxError(t *testing.T) {
	t.Parallel()
	checkStartupFailure(t, []string{"--module", "broken_syntax"},
		"broken_syntax", "broken_syntax.py\", line 3", "SyntaxError: expected ':'")
}

func TestStartupImportException(t *testing.T) {
	t.Parallel()
	checkStartupFailure(t, []string{"--module", "broken_import"},
		"broken_import", "RuntimeError: broken_import refuses to be imported")
}

func TestStartupMissingWSGIFile(t *testing.T) {
	t.Parallel()
	checkStartupFailure(t, []string{"--wsgi-file", "no_such_file_e2e.py"},
		"no_such_file_e2e.py", "FileNotFoundError: wsgi file 'no_such_file_e2e.py' does not exist")
}

func TestWSGIFile(t *testing.T) {
	t.Parallel()
	s := launch(t, "--wsgi-file", "startup.py")
	c := dialRaw(t, s.addr)
	c.send(get("/"))
	r := c.mustResponse("GET")
	if r.status != 200 || !strings.HasPrefix(string(r.body), "started from ") {
		t.Errorf("unexpected response from the --wsgi-file app: %v", r)
	}
}

// TestBadFlags: command-line mistakes exit with status 2 and one line on stderr.
func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--module", "hello", "--threads", "0"},
		{"--module", "hello", "--http", "no-port"},
		{"--module", "hello", "--underscore-headers", "sometimes"},
		{"--module", "hello", "--threads", "many"},
		{}, // no application at all
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runToExit(t, false, args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if !strings.HasPrefix(stderr, "gowsgi:") || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Errorf("want one line starting with \"gowsgi:\" on stderr, got %q", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runToExit(t, false, "version")
	if code != 0 || stderr != "" {
		t.Errorf("exit status %d, stderr %q", code, stderr)
	}
	// The python line must be the embedded interpreter: Debian's 3.11.
	want := regexp.MustCompile(`\Agowsgi \S+\ngo 1\.\d+(\.\d+)?\S*\npython 3\.11\.\d+\n\z`)
	if !want.MatchString(stdout) {
		t.Errorf("version output %q does not match %s", stdout, want)
	}
	py, err := exec.Command("/usr/bin/python3", "-c", "import platform; print(platform.python_version())").Output()
	if err == nil && !strings.Contains(stdout, "python "+strings.TrimSpace(string(py))+"\n") {
		t.Errorf("version output %q does not name /usr/bin/python3's version %s", stdout, py)
	}
}
