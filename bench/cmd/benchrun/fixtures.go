package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
)

// fileWrapperEnv names the file apps/filewrapper.py sends.
const fileWrapperEnv = "BENCH_FILEWRAPPER_FILE"

// fillPattern is what the generated files hold: printable, not all zeros,
// so no layer can take a shortcut for an empty page.
const fillPattern = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_\n"

// staticDir creates (once per size) a directory holding the static file of
// scenario sc at path.Base(sc.Path) and returns the directory.
func (b *bench) staticDir(sc Scenario) (string, error) {
	dir := filepath.Join(b.tmp, fmt.Sprintf("static-%d", sc.StaticBytes))
	file := filepath.Join(dir, path.Base(sc.Path))
	if _, err := os.Stat(file); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := writeFilled(file, int64(sc.StaticBytes)); err != nil {
		return "", err
	}
	return dir, nil
}

// bigFile creates (once per size) the file the file_wrapper app sends.
func (b *bench) bigFile(size int64) (string, error) {
	file := filepath.Join(b.tmp, fmt.Sprintf("filewrapper-%d.bin", size))
	if st, err := os.Stat(file); err == nil && st.Size() == size {
		return file, nil
	}
	b.logf("  creating a %s file for wsgi.file_wrapper in %s", sizeText(int(size)), b.tmp)
	if err := writeFilled(file, size); err != nil {
		return "", err
	}
	return file, nil
}

// writeFilled writes size bytes of fillPattern to path (mode 0644).
func writeFilled(path string, size int64) error {
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = fillPattern[i%len(fillPattern)]
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	for left := size; left > 0; {
		n := min(left, int64(len(block)))
		if _, err := f.Write(block[:n]); err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("writing %s: %w", path, err)
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
