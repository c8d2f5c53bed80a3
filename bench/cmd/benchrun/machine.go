package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Machine describes where the numbers come from.
type Machine struct {
	NProc       int    `json:"nproc"`
	CPU         string `json:"cpu_model"`
	Kernel      string `json:"kernel"`
	MemTotalMiB int64  `json:"mem_total_mib"`
	// LoadBefore and LoadAfter are /proc/loadavg (1, 5, 15 min): a busy
	// shared host shows here.
	LoadBefore string            `json:"loadavg_before"`
	LoadAfter  string            `json:"loadavg_after"`
	Versions   map[string]string `json:"versions"`
	// Gowsgi identifies the measured gowsgi build.
	Gowsgi *BinaryInfo `json:"gowsgi_binary,omitempty"`
	// GitCommit is the checkout's commit ("+dirty" when modified).
	GitCommit string `json:"git_commit,omitempty"`
}

// BinaryInfo pins down a binary without a version flag.
type BinaryInfo struct {
	Path     string    `json:"path"`
	SHA256   string    `json:"sha256"`
	Modified time.Time `json:"modified"`
}

func (b *bench) machine() Machine {
	m := Machine{
		NProc:      runtime.NumCPU(),
		Kernel:     strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
		LoadBefore: loadavg(),
		Versions:   map[string]string{"go": runtime.Version()},
	}
	m.CPU = procField("/proc/cpuinfo", "model name")
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		var n int64
		for _, c := range strings.TrimSuffix(kb, " kB") {
			if c >= '0' && c <= '9' {
				n = n*10 + int64(c-'0')
			}
		}
		m.MemTotalMiB = n / 1024
	}
	v := m.Versions
	v["h2load"] = strings.TrimPrefix(firstLine(cmdOutput(b.cfg.h2load, "--version")), "h2load ")
	v["python"] = strings.TrimPrefix(firstLine(cmdOutput(b.cfg.python, "--version")), "Python ")
	for _, s := range b.cfg.servers {
		switch s.base() {
		case "nginx":
			// nginx -v writes "nginx version: nginx/1.22.1" to stderr.
			v["nginx"] = strings.TrimPrefix(firstLine(cmdOutput(b.cfg.nginx, "-v")), "nginx version: nginx/")
		case "uwsgi":
			v["uwsgi"] = firstLine(cmdOutput(b.cfg.uwsgi, "--version"))
		case "gunicorn":
			out := firstLine(cmdOutput(b.cfg.gunicorn, "--version"))
			if m := regexp.MustCompile(`[0-9]+\.[0-9.]+`).FindString(out); m != "" {
				out = m
			}
			v["gunicorn"] = out
		case "waitress":
			v["waitress"] = b.pyVersion("waitress")
		case "fasthttp":
			out := cmdOutputIn(b.cfg.benchDir, "go", "list", "-m", "github.com/valyala/fasthttp")
			v["fasthttp"] = strings.TrimPrefix(firstLine(out), "github.com/valyala/fasthttp ")
		case "gowsgi":
			if info, err := binaryInfo(b.cfg.gowsgi); err == nil {
				m.Gowsgi = info
				v["gowsgi"] = firstLine(cmdOutput(b.cfg.gowsgi, "version"))
				if v["gowsgi"] == "" {
					v["gowsgi"] = firstLine(cmdOutput(b.cfg.gowsgi, "--version"))
				}
				v["gowsgi"] = strings.TrimPrefix(v["gowsgi"], "gowsgi ")
				if v["gowsgi"] == "" {
					v["gowsgi"] = "unknown; sha256 " + info.SHA256[:12]
				}
			} else {
				v["gowsgi"] = "not built"
			}
		}
	}
	for _, sc := range b.cfg.scenarios {
		if sc.App == "flaskjson" {
			v["flask"] = b.pyVersion("flask")
		}
	}
	if out := cmdOutputIn(b.cfg.benchDir, "git", "rev-parse", "--short", "HEAD"); out != "" {
		m.GitCommit = firstLine(out)
		if cmdOutputIn(b.cfg.benchDir, "git", "status", "--porcelain", "--untracked-files=no") != "" {
			m.GitCommit += "+dirty"
		}
	}
	return m
}

func (b *bench) pyVersion(dist string) string {
	return firstLine(cmdOutput(b.cfg.python, "-c",
		"import importlib.metadata as m; print(m.version('"+dist+"'))"))
}

func binaryInfo(path string) (*BinaryInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(path)
	return &BinaryInfo{Path: abs, SHA256: hex.EncodeToString(h.Sum(nil)), Modified: st.ModTime().UTC()}, nil
}

// cmdOutput runs a short command and returns its combined output, or "" if
// it fails or takes more than 3 s.
func cmdOutput(name string, args ...string) string {
	return cmdOutputIn("", name, args...)
}

func cmdOutputIn(dir, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	// Own process group, killed whole on timeout: a binary that ignores
	// --version might start serving instead.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}

func readFile(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

func loadavg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// procField returns the value of the first "key : value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadavg1 is the 1-minute load average.
func loadavg1() float64 {
	var v float64
	_, _ = fmt.Sscan(readFile("/proc/loadavg"), &v)
	return v
}
