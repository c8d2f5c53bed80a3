package master

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one worker process. Its fields are the master's (Run's
// goroutine, mu held).
type proc struct {
	index, gen, pid int
	cause           string // why it was started; "" for the first start
	cmd             *exec.Cmd
	control         string // its control socket path
	started         time.Time
	readyAt         time.Time
	ready           bool   // it said so
	stable          bool   // ready for Config.StableAfter: its death is a crash, not a failed start
	retiring        string // it asked to be replaced, for this cause
	stopping        bool   // the master signalled it to stop
	exited          bool
	readsFor        *reloadState // started without EnvSettings to read the files for this reload
	settings        []byte       // what it read, from msgSettings
	staleSettings   bool         // started during a reload, before the files were read again
}

// spawn starts a worker process for s.
func (m *Master) spawn(s *slot, cause string) (*proc, error) {
	s.gen++
	p := &proc{index: s.index, gen: s.gen, cause: cause}
	p.control = filepath.Join(m.controlDir, fmt.Sprintf("worker-%d-%d.sock", s.index, s.gen))
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	cmd := exec.Command(m.cfg.Exe, m.cfg.Args...)
	cmd.Args[0] = m.cfg.Argv0
	cmd.Dir = m.cfg.Dir
	cmd.Stdout, cmd.Stderr = m.cfg.Stdout, m.cfg.Stderr
	// Descriptors 3.. are the listeners, then the pipe.
	specs := make([]inheritedSpec, len(m.cfg.Listeners))
	for i, l := range m.cfg.Listeners {
		cmd.ExtraFiles = append(cmd.ExtraFiles, l.File)
		specs[i] = inheritedSpec{fd: 3 + i, proto: l.Proto, addr: l.Addr}
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, w)
	cmd.Env = append(workerEnv(m.cfg.Env),
		EnvWorker+"="+strconv.Itoa(s.index),
		EnvGeneration+"="+strconv.Itoa(s.gen),
		EnvListenFDs+"="+formatListenFDs(specs),
		EnvMasterFD+"="+strconv.Itoa(3+len(m.cfg.Listeners)),
		EnvControlSocket+"="+p.control,
	)
	if r := m.reload; m.settings != nil {
		if cause == CauseReload && r != nil && r.reread {
			p.readsFor = r
		} else {
			cmd.Env = append(cmd.Env, EnvSettings+"="+string(m.settings))
			p.staleSettings = r != nil && r.reread // a crash or retire meanwhile: the reload replaces it too
		}
	}
	// A worker must not outlive the master, whatever kills the master.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.started = time.Now()
	err = m.spawner.start(cmd)
	w.Close() // the worker has its copy; EOF on r then means it is gone
	if err != nil {
		r.Close()
		return nil, err
	}
	p.cmd = cmd
	p.pid = cmd.Process.Pid
	m.live[p] = struct{}{}
	if cause == "" {
		// The first start is logged when the worker is ready: a failing
		// application's own error is then the first line of the log.
		m.log.Debug("worker started", "worker", p.index, "pid", p.pid, "generation", p.gen)
	} else {
		m.log.Info("worker started", "worker", p.index, "pid", p.pid, "generation", p.gen, "cause", cause)
	}
	go m.watch(p, r)
	if d := m.cfg.StartTimeout; d > 0 {
		time.AfterFunc(d, func() { m.post(func() { m.startTimedOut(p) }) })
	}
	return p, nil
}

// startTimedOut kills p if it is still not ready: its exit is then a
// failed start like any other (onExit).
func (m *Master) startTimedOut(p *proc) {
	if p.ready || p.exited || p.stopping {
		return
	}
	m.log.Error("worker not ready in time; killing it", "worker", p.index, "pid", p.pid, "generation", p.gen, "worker_start_timeout", m.cfg.StartTimeout)
	p.cmd.Process.Signal(syscall.SIGKILL)
}

// workerEnv is env without the master's variables, which spawn sets.
func workerEnv(env []string) []string {
	out := make([]string, 0, len(env)+5)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case EnvWorker, EnvGeneration, EnvListenFDs, EnvMasterFD, EnvControlSocket, EnvSettings:
			continue
		}
		out = append(out, kv)
	}
	return out
}

// watch reads p's messages until its pipe closes and reports its exit
// after them. A descendant that kept the pipe open (a fork without exec)
// must not hide the exit, so the pipe gets only a moment once the process
// is gone.
func (m *Master) watch(p *proc, r *os.File) {
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 4<<20) // a settings line carries a whole configuration
		for sc.Scan() {
			line := sc.Text()
			m.post(func() { m.onMessage(p, line) })
		}
	}()
	p.cmd.Wait()
	select {
	case <-read:
	case <-time.After(200 * time.Millisecond):
		r.Close()
		<-read
	}
	r.Close()
	ps := p.cmd.ProcessState
	m.post(func() { m.onExit(p, ps) })
}

// spawner starts processes from one OS thread that lives as long as the
// master: Linux sends a child its Pdeathsig when the thread that forked
// it exits, not the process, and Go may end idle threads.
type spawner struct {
	reqs chan spawnRequest
}

type spawnRequest struct {
	cmd *exec.Cmd
	err chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnRequest)}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, after the last worker
		for r := range s.reqs {
			r.err <- r.cmd.Start()
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	s.reqs <- spawnRequest{cmd: cmd, err: errc}
	return <-errc
}

// close ends the spawner's thread; call it only when no worker is left.
func (s *spawner) close() { close(s.reqs) }
