package cli

// The deployment files in examples/, the Dockerfile, compose.yaml and the
// ini table of docs/CONFIG.md are checked here against the real flags, so
// the documentation cannot drift from the program.

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/gowsgi/gowsgi/config"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod in %s: %v", root, err)
	}
	return root
}

// realFlags is gowsgi's own flag set, parsed from args.
func realFlags(t *testing.T, args ...string) (*pflag.FlagSet, *config.Options) {
	t.Helper()
	o := config.Defaults()
	fs := pflag.NewFlagSet("gowsgi", pflag.ContinueOnError)
	bindFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs, &o
}

// flagValue is a flag's value as text, lists as "[a,b]".
func flagValue(t *testing.T, fs *pflag.FlagSet, name string) string {
	t.Helper()
	fl := fs.Lookup(name)
	if fl == nil {
		t.Fatalf("no --%s flag", name)
	}
	return fl.Value.String()
}

// loadExample reads an example through the configuration loaders with a
// clean environment, requires every option in it to take effect (ignored
// ones aside: the ini example has some on purpose, as real ones do), and
// validates the result.
func loadExample(t *testing.T, src config.Sources) (*pflag.FlagSet, *config.Options) {
	t.Helper()
	fs, o := realFlags(t)
	src.Environ = []string{}
	src.Getenv = func(string) string { return "" }
	rep, err := config.Load(fs, src)
	if err != nil {
		t.Fatalf("loading the example: %v", err)
	}
	for _, n := range rep.Notes {
		if n.Kind != config.NoteIgnored {
			t.Errorf("the example has an option that does not work: %s", n)
		}
	}
	o.Normalize()
	if err := o.Validate(); err != nil {
		t.Errorf("the example's options are invalid: %v", rep.Explain(err))
	}
	return fs, o
}

func TestExampleDjangoIni(t *testing.T) {
	ini := filepath.Join(repoRoot(t), "examples", "django", "mysite.ini")
	fs, o := loadExample(t, config.Sources{Ini: ini})
	for name, want := range map[string]string{
		"module":         "mysite.wsgi",
		"callable":       "application",
		"home":           "/srv/mysite/venv",
		"chdir":          "/srv/mysite/src",
		"env":            "[DJANGO_SETTINGS_MODULE=mysite.settings.production,LANG=C.UTF-8]",
		"processes":      "4",
		"threads":        "8",
		"harakiri":       "1m0s",
		"max-requests":   "5000",
		"socket":         "[/run/mysite/mysite.sock]",
		"chmod-socket":   "660",
		"http":           "[127.0.0.1:8001]",
		"buffer-size":    "32768",
		"limit-post":     "104857600",
		"static-map":     "[/static=/srv/mysite/static]",
		"pidfile":        "/run/mysite/mysite.pid",
		"touch-reload":   "[/srv/mysite/reload]",
		"stats":          "127.0.0.1:9191",
		"post-buffering": "65536",
	} {
		if got := flagValue(t, fs, name); got != want {
			t.Errorf("--%s = %q, want %q", name, got, want)
		}
	}
	if o.Module != "mysite.wsgi" || o.Callable != "application" {
		t.Errorf("normalized app %s:%s", o.Module, o.Callable)
	}
}

func TestExampleYAML(t *testing.T) {
	yaml := filepath.Join(repoRoot(t), "examples", "gowsgi.yaml")
	fs, _ := loadExample(t, config.Sources{ConfigFile: yaml})
	for name, want := range map[string]string{
		"module":              "app", // normalized: app:app is module app, callable app
		"callable":            "app",
		"home":                "/srv/flaskapp/venv",
		"http":                "[127.0.0.1:8000]",
		"forwarded-allow-ips": "[127.0.0.1,::1]",
		"processes":           "2",
		"threads":             "8",
		"harakiri":            "1m0s",
		"limit-post":          "16777216",
		"static-map":          "[/static=/srv/flaskapp/static]",
		"static-expires":      "86400",
	} {
		if got := flagValue(t, fs, name); got != want {
			t.Errorf("--%s = %q, want %q", name, got, want)
		}
	}
}

// nginxBinary finds nginx (Debian's nginx-light, installed by
// scripts/setup.sh); /usr/sbin is not on every PATH.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	t.Skip("nginx is not installed (scripts/setup.sh installs nginx-light)")
	return ""
}

// nginxCheck runs `nginx -t` on site, included from a generated main
// configuration in a temporary directory that holds every file nginx
// would write (pid, logs, temporary files), with Debian's uwsgi_params
// and mime.types next to it as in /etc/nginx.
func nginxCheck(t *testing.T, site string) {
	t.Helper()
	nginx := nginxBinary(t)
	dir := t.TempDir()
	for _, f := range []string{"uwsgi_params", "mime.types"} {
		data, err := os.ReadFile(filepath.Join("/etc/nginx", f))
		if err != nil {
			t.Skipf("nginx's %s is missing: %v", f, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	main := strings.NewReplacer("DIR", dir).Replace(`error_log DIR/error.log;
events { worker_connections 64; }
http {
    include mime.types;
    access_log off;
    client_body_temp_path DIR/body;
    proxy_temp_path DIR/proxy;
    fastcgi_temp_path DIR/fastcgi;
    uwsgi_temp_path DIR/uwsgi;
    scgi_temp_path DIR/scgi;
    include site.conf;
}
`)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nginx, "-t", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf, "-g", "pid "+filepath.Join(dir, "nginx.pid")+";").CombinedOutput()
	if err != nil {
		t.Errorf("nginx -t: %v\n%s", err, out)
	}
}

func readExample(t *testing.T, parts ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{repoRoot(t)}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// nginxSize reads an nginx size such as 100m.
func nginxSize(t *testing.T, s string) int64 {
	t.Helper()
	mult := int64(1)
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult, s = 1<<10, s[:len(s)-1]
	case "m":
		mult, s = 1<<20, s[:len(s)-1]
	case "g":
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("nginx size %q: %v", s, err)
	}
	return n * mult
}

// The nginx sites pass nginx -t, and point at what the matching gowsgi
// example listens on, with a body limit that is gowsgi's.
func TestExampleNginx(t *testing.T) {
	upstream := regexp.MustCompile(`(?m)^\s*server\s+(\S+?);`)
	bodySize := regexp.MustCompile(`client_max_body_size\s+(\S+?);`)

	t.Run("uwsgi_pass", func(t *testing.T) {
		site := readExample(t, "examples", "nginx", "mysite-uwsgi.conf")
		nginxCheck(t, site)
		if !strings.Contains(site, "include uwsgi_params;") || !strings.Contains(site, "uwsgi_pass mysite;") {
			t.Error("the site does not uwsgi_pass with the stock uwsgi_params")
		}
		fs, _ := loadExample(t, config.Sources{Ini: filepath.Join(repoRoot(t), "examples", "django", "mysite.ini")})
		if m := upstream.FindStringSubmatch(site); m == nil || "["+strings.TrimPrefix(m[1], "unix:")+"]" != flagValue(t, fs, "socket") {
			t.Errorf("upstream server %q is not the ini's socket %s", m, flagValue(t, fs, "socket"))
		}
		if m := bodySize.FindStringSubmatch(site); m == nil || strconv.FormatInt(nginxSize(t, m[1]), 10) != flagValue(t, fs, "limit-post") {
			t.Errorf("client_max_body_size %q is not the ini's limit-post %s", m, flagValue(t, fs, "limit-post"))
		}
	})
	t.Run("proxy_pass", func(t *testing.T) {
		site := readExample(t, "examples", "nginx", "mysite-proxy.conf")
		nginxCheck(t, site)
		fs, _ := loadExample(t, config.Sources{ConfigFile: filepath.Join(repoRoot(t), "examples", "gowsgi.yaml")})
		if m := upstream.FindStringSubmatch(site); m == nil || "["+m[1]+"]" != flagValue(t, fs, "http") {
			t.Errorf("upstream server %q is not the YAML's http %s", m, flagValue(t, fs, "http"))
		}
		if m := bodySize.FindStringSubmatch(site); m == nil || strconv.FormatInt(nginxSize(t, m[1]), 10) != flagValue(t, fs, "limit-post") {
			t.Errorf("client_max_body_size %q is not the YAML's limit-post %s", m, flagValue(t, fs, "limit-post"))
		}
	})
	t.Run("compose", func(t *testing.T) {
		site := readExample(t, "examples", "docker", "nginx.conf")
		// The app host exists only on compose's network; nginx -t resolves it.
		if !strings.Contains(site, "uwsgi_pass app:3031;") {
			t.Fatal("the compose site does not uwsgi_pass to app:3031")
		}
		nginxCheck(t, strings.ReplaceAll(site, "app:3031", "127.0.0.1:3031"))
	})
}

// unit is a systemd unit file: section -> key -> values, in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, text string) unit {
	t.Helper()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("unit line %d: %q is not Key=Value in a section", n, line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

// checkCommandLine requires args (a gowsgi command line without the
// program) to use only flags that exist, with a value where one is needed,
// and at most one positional configuration file; it returns the flags.
func checkCommandLine(t *testing.T, args []string) map[string][]string {
	t.Helper()
	fs, _ := realFlags(t)
	flags := map[string][]string{}
	if len(args) > 0 && args[0] == "check" {
		args = args[1:]
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			if !config.IsIniFile(a) && !config.IsConfigFile(a) {
				t.Errorf("argument %q is neither a flag nor a configuration file", a)
			}
			continue
		}
		name, val, hasVal := strings.Cut(a[2:], "=")
		fl := fs.Lookup(name)
		if fl == nil {
			t.Errorf("--%s is not a gowsgi flag", name)
			continue
		}
		if !hasVal && fl.NoOptDefVal == "" {
			if i+1 >= len(args) {
				t.Errorf("--%s has no value", name)
				continue
			}
			i++
			val = args[i]
		}
		if err := fs.Set(name, val); err != nil {
			t.Errorf("--%s %q: %v", name, val, err)
		}
		flags[name] = append(flags[name], val)
	}
	return flags
}

func TestExampleSystemd(t *testing.T) {
	u := parseUnit(t, readExample(t, "examples", "systemd", "mysite.service"))
	svc := u["Service"]
	if svc == nil || u["Unit"] == nil || u["Install"] == nil {
		t.Fatalf("sections %v, want Unit, Service and Install", u)
	}
	for key, want := range map[string]string{"Type": "simple", "KillSignal": "SIGTERM", "ExecReload": "/bin/kill -HUP $MAINPID"} {
		if got := svc[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	// systemd must wait longer than gowsgi's graceful stop.
	_, o := realFlags(t)
	if stop, err := strconv.Atoi(strings.Join(svc["TimeoutStopSec"], "")); err != nil || float64(stop) <= o.GracefulTimeout.Seconds() {
		t.Errorf("TimeoutStopSec=%q must be longer than --graceful-timeout %v", svc["TimeoutStopSec"], o.GracefulTimeout)
	}
	for _, key := range []string{"ExecStartPre", "ExecStart"} {
		if len(svc[key]) != 1 {
			t.Fatalf("%s=%q, want one command", key, svc[key])
		}
		fields := strings.Fields(svc[key][0])
		if !strings.HasSuffix(fields[0], "bin/gowsgi") {
			t.Errorf("%s runs %q, not bin/gowsgi", key, fields[0])
		}
		flags := checkCommandLine(t, fields[1:])
		if ini := flags["ini"]; len(ini) != 1 || filepath.Base(ini[0]) != "mysite.ini" {
			t.Errorf("%s serves %q, want examples/django/mysite.ini's installed copy", key, ini)
		}
	}
	if !strings.HasPrefix(svc["ExecStartPre"][0], "/usr/local/bin/gowsgi check ") {
		t.Errorf("ExecStartPre=%q, want gowsgi check", svc["ExecStartPre"])
	}
	// The socket and pidfile directory is the unit's RuntimeDirectory.
	fs, _ := loadExample(t, config.Sources{Ini: filepath.Join(repoRoot(t), "examples", "django", "mysite.ini")})
	runDir := "/run/" + strings.Join(svc["RuntimeDirectory"], "") + "/"
	if !strings.HasPrefix(flagValue(t, fs, "pidfile"), runDir) || !strings.HasPrefix(flagValue(t, fs, "socket"), "["+runDir) {
		t.Errorf("the ini's socket %s and pidfile %s are not in the unit's RuntimeDirectory %s", flagValue(t, fs, "socket"), flagValue(t, fs, "pidfile"), runDir)
	}
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
}

func parseDockerfile(t *testing.T, text string) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// The Dockerfile's references agree with the repository: what it copies
// exists and is not excluded, it builds cmd/gowsgi (and every package
// that needs), it runs the binary it built as a non-root user, with flags
// and GOWSGI_ variables that exist, and it exposes the port gowsgi
// listens on by default, with the libpython gowsgi embeds.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	ins := parseDockerfile(t, readExample(t, "Dockerfile"))
	var froms []string
	copied := map[string]bool{}
	built, installed, binary := "", "", ""
	var cmd []string
	var expose, user, stop string
	env := map[string]string{}
	stage := 0
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			froms = append(froms, in.args)
			stage++
		case "COPY":
			fields := strings.Fields(in.args)
			var from string
			var srcs []string
			for _, f := range fields[:len(fields)-1] {
				if v, ok := strings.CutPrefix(f, "--from="); ok {
					from = v
				} else if !strings.HasPrefix(f, "--") {
					srcs = append(srcs, f)
				}
			}
			if from != "" {
				if from != "build" || srcs[0] != binary || fields[len(fields)-1] != "/usr/local/bin/gowsgi" {
					t.Errorf("COPY %s: want the build stage's %s as /usr/local/bin/gowsgi", in.args, binary)
				}
				continue
			}
			for _, src := range srcs {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("COPY %s: %v", src, err)
				}
				copied[filepath.Clean(src)] = true
			}
		case "RUN":
			if m := regexp.MustCompile(`go build .*-o (\S+) (\./\S+)`).FindStringSubmatch(in.args); m != nil {
				binary, built = m[1], m[2]
			}
			if strings.Contains(in.args, "apt-get install") {
				installed += fmtStage(stage) + in.args + "\n"
			}
		case "CMD":
			if err := json.Unmarshal([]byte(in.args), &cmd); err != nil {
				t.Errorf("CMD %s is not in exec form: %v", in.args, err)
			}
		case "EXPOSE":
			expose = in.args
		case "USER":
			user = in.args
		case "STOPSIGNAL":
			stop = in.args
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
	}
	if len(froms) != 2 || froms[0] != "golang:1.26-bookworm AS build" || froms[1] != "debian:bookworm-slim" {
		t.Errorf("stages %q, want golang:1.26-bookworm AS build then debian:bookworm-slim", froms)
	}
	if built != "./cmd/gowsgi" {
		t.Errorf("the build stage builds %q, want ./cmd/gowsgi", built)
	}
	// Every package of this module that cmd/gowsgi needs is copied in.
	list := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", "./cmd/gowsgi")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a dependency from the module cache, fetched by go mod download
		}
		if top := strings.Split(rel, string(filepath.Separator))[0]; !copied[top] {
			t.Errorf("cmd/gowsgi needs %s, which the Dockerfile does not COPY", rel)
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if !copied[f] {
			t.Errorf("%s is not copied", f)
		}
	}
	// What is copied must not be excluded from the build context.
	if data, err := os.ReadFile(filepath.Join(root, ".dockerignore")); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			pat := strings.TrimSuffix(strings.TrimSpace(line), "/")
			if pat == "" || strings.HasPrefix(pat, "#") {
				continue
			}
			for src := range copied {
				if ok, _ := filepath.Match(pat, strings.Split(src, "/")[0]); ok {
					t.Errorf(".dockerignore excludes %s, which the Dockerfile copies", src)
				}
			}
		}
	}
	// Debian's packages: python3-dev to build, the libpython gowsgi embeds to run.
	pyMajorMinor := strings.Join(strings.SplitN(pythonVersion(), ".", 3)[:2], ".")
	if !strings.Contains(installed, "stage 1: ") || !regexp.MustCompile(`stage 1: .*python3-dev`).MatchString(installed) {
		t.Errorf("the build stage does not install python3-dev:\n%s", installed)
	}
	if !regexp.MustCompile(`stage 2: .*libpython` + regexp.QuoteMeta(pyMajorMinor) + `\b`).MatchString(installed) {
		t.Errorf("the run stage does not install libpython%s:\n%s", pyMajorMinor, installed)
	}
	if user == "" || user == "root" || user == "0" {
		t.Errorf("USER %q: want a non-root user", user)
	}
	if stop != "SIGTERM" {
		t.Errorf("STOPSIGNAL %q, want SIGTERM", stop)
	}
	if len(cmd) == 0 || cmd[0] != "gowsgi" || !strings.HasSuffix(binary, "/gowsgi") {
		t.Fatalf("CMD %q does not run the gowsgi binary %s", cmd, binary)
	}
	flags := checkCommandLine(t, cmd[1:])
	_, defPort, _ := net.SplitHostPort(config.DefaultHTTP)
	if expose != defPort {
		t.Errorf("EXPOSE %q, want gowsgi's default port %s", expose, defPort)
	}
	if http := flags["http"]; len(http) != 1 || !strings.HasSuffix(http[0], ":"+expose) || strings.HasPrefix(http[0], "127.") {
		t.Errorf("CMD listens on %q: want all interfaces on the exposed port %s", http, expose)
	}
	checkEnvOptions(t, env)
	if env["GOWSGI_CHDIR"] != "/app" {
		t.Errorf("GOWSGI_CHDIR=%q, want /app where the application is copied", env["GOWSGI_CHDIR"])
	}
}

func fmtStage(n int) string { return "stage " + strconv.Itoa(n) + ": " }

// checkEnvOptions requires every GOWSGI_ variable in env to set an option,
// through the real loader.
func checkEnvOptions(t *testing.T, env map[string]string) {
	t.Helper()
	fs, _ := realFlags(t)
	environ := []string{} // not nil: nil would mean this process's environment
	for k, v := range env {
		if strings.HasPrefix(k, config.EnvPrefix) {
			environ = append(environ, k+"="+v)
		}
	}
	rep, err := config.Load(fs, config.Sources{Environ: environ})
	if err != nil {
		t.Errorf("the GOWSGI_ variables: %v", err)
		return
	}
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		found := false
		for _, o := range rep.Origins {
			found = found || o.Kind == config.KindEnv && o.Name == k
		}
		if !found {
			t.Errorf("%s sets no option", k)
		}
	}
}

// compose.yaml builds this Dockerfile, runs gowsgi with flags and
// variables that exist, and puts nginx in front with the example site,
// on the port gowsgi's uwsgi socket has.
func TestCompose(t *testing.T) {
	root := repoRoot(t)
	v := viper.New()
	v.SetConfigFile(filepath.Join(root, "compose.yaml"))
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	if b := v.GetString("services.app.build"); b != "." {
		t.Errorf("app builds %q, want . (the Dockerfile)", b)
	}
	cmd := v.GetStringSlice("services.app.command")
	if len(cmd) == 0 || cmd[0] != "gowsgi" {
		t.Fatalf("app command %q does not run gowsgi", cmd)
	}
	flags := checkCommandLine(t, cmd[1:])
	env := map[string]string{}
	for k, val := range v.GetStringMapString("services.app.environment") {
		env[strings.ToUpper(k)] = val // viper folds keys to lower case
	}
	checkEnvOptions(t, env)
	if s := v.GetString("services.app.stop_signal"); s != "SIGTERM" {
		t.Errorf("stop_signal %q, want SIGTERM", s)
	}
	site := readExample(t, "examples", "docker", "nginx.conf")
	m := regexp.MustCompile(`uwsgi_pass app:(\d+);`).FindStringSubmatch(site)
	if m == nil || len(flags["socket"]) != 1 || !strings.HasSuffix(flags["socket"][0], ":"+m[1]) {
		t.Errorf("nginx passes to app:%v, gowsgi's --socket is %q", m, flags["socket"])
	}
	// The uwsgi socket admits the compose network, where nginx is.
	subnet := v.Get("networks.web.ipam.config")
	if !strings.Contains(fmtAny(subnet), env["GOWSGI_UWSGI_ALLOW_IPS"]) || env["GOWSGI_UWSGI_ALLOW_IPS"] == "" {
		t.Errorf("GOWSGI_UWSGI_ALLOW_IPS %q is not the compose network %v", env["GOWSGI_UWSGI_ALLOW_IPS"], subnet)
	}
	found := false
	for _, vol := range v.GetStringSlice("services.nginx.volumes") {
		src, _, _ := strings.Cut(vol, ":")
		if _, err := os.Stat(filepath.Join(root, src)); err != nil {
			t.Errorf("nginx volume %s: %v", src, err)
		}
		found = found || filepath.Clean(src) == filepath.Join("examples", "docker", "nginx.conf")
	}
	if !found {
		t.Error("nginx does not mount examples/docker/nginx.conf")
	}
}

func fmtAny(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The ini option table in docs/CONFIG.md says what the code does, for
// every uWSGI option the code knows.
func TestConfigDocIniTable(t *testing.T) {
	doc := readExample(t, "docs", "CONFIG.md")
	key := regexp.MustCompile("`([^`]+)`")
	type docRow struct{ gowsgi, notes string }
	rows := map[string]docRow{}
	for _, line := range strings.Split(doc, "\n") {
		// Table rows: | `opt`, `alias` | `--flag` or ignored or not supported | notes |
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			t.Errorf("docs/CONFIG.md table row %q does not have 3 cells", line)
			continue
		}
		for _, k := range key.FindAllStringSubmatch(cells[0], -1) {
			if _, dup := rows[k[1]]; dup {
				t.Errorf("docs/CONFIG.md lists %s twice", k[1])
			}
			rows[k[1]] = docRow{strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2])}
		}
	}
	fs, _ := realFlags(t)
	var known []string
	for _, m := range config.IniOptions(fs) {
		known = append(known, m.Key)
		r, ok := rows[m.Key]
		if !ok {
			t.Errorf("docs/CONFIG.md does not list the uWSGI option %s (%s %s%s)", m.Key, m.Kind, m.Flag, m.Reason)
			continue
		}
		switch m.Kind {
		case config.MapFlag:
			if r.gowsgi != "`--"+m.Flag+"`" {
				t.Errorf("docs: %s -> %s, the code maps it to --%s", m.Key, r.gowsgi, m.Flag)
			}
		case config.MapIgnored, config.MapUnsupported:
			want := map[string]string{config.MapIgnored: "ignored", config.MapUnsupported: "not supported"}[m.Kind]
			if r.gowsgi != want || !strings.Contains(r.notes, m.Reason) {
				t.Errorf("docs: %s is %q (%s), the code: %s (%s)", m.Key, r.gowsgi, r.notes, want, m.Reason)
			}
		default:
			t.Errorf("%s: %s %s: the flag it maps to is missing from this build", m.Key, m.Kind, m.Reason)
		}
	}
	for k := range rows {
		if !slices.Contains(known, k) {
			t.Errorf("docs/CONFIG.md lists %s, which the code does not know", k)
		}
	}
}
