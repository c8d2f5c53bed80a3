package master

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// describeExit says how a worker process ended, the way an operator reads
// it: "exit status 1", or "killed by signal 9 (SIGKILL)" with a note when
// the kernel's OOM killer or a core dump is the likely story.
func describeExit(ps *os.ProcessState) string {
	if ps == nil {
		return "unknown"
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return ps.String()
	}
	switch {
	case ws.Signaled():
		sig := ws.Signal()
		s := fmt.Sprintf("killed by signal %d (%s)", int(sig), signalName(sig))
		if ws.CoreDump() {
			s += ", core dumped"
		}
		return s
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	}
	return ps.String()
}

func signalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return sig.String()
}
