package master

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// writePidFile writes pid to path: to a temporary file in the same
// directory first, renamed into place, so that a reader never sees a
// partial pid.
func writePidFile(path string, pid int) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("pidfile %s: %w", path, err)
	}
	_, err = tmp.WriteString(strconv.Itoa(pid) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("pidfile %s: %w", path, err)
	}
	return nil
}

// removePidFile removes path if it still holds pid: a newer master may
// have written its own pid there since.
func removePidFile(path string, pid int) error {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if string(bytes.TrimSpace(b)) != strconv.Itoa(pid) {
		return nil
	}
	return os.Remove(path)
}
