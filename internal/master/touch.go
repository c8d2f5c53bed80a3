package master

import (
	"context"
	"log/slog"
	"os"
	"time"
)

// fileState is what touch-reload compares: a change of any of it counts.
type fileState struct {
	exists bool
	mtime  int64 // nanoseconds, so states compare with ==
	size   int64
}

func statFile(path string) fileState {
	fi, err := os.Stat(path)
	if err != nil {
		return fileState{}
	}
	return fileState{exists: true, mtime: fi.ModTime().UnixNano(), size: fi.Size()}
}

// watchTouch polls files every interval and calls changed with the name of
// one that was modified, created or removed since the last poll, until ctx
// ends. Polling (rather than inotify) also works for files replaced by
// rename, on network file systems and inside containers with bind mounts.
func watchTouch(ctx context.Context, files []string, interval time.Duration, log *slog.Logger, changed func(file string)) {
	states := make([]fileState, len(files))
	for i, f := range files {
		states[i] = statFile(f)
		if !states[i].exists {
			log.Warn("touch-reload file does not exist; creating it will reload", "file", f)
		}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for i, f := range files {
			st := statFile(f)
			if st != states[i] {
				states[i] = st
				changed(f)
			}
		}
	}
}
