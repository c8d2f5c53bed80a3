package cli

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

func TestChownLogTo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file away")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	path := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	owner := func() (int, int) {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		s := st.Sys().(*syscall.Stat_t)
		return int(s.Uid), int(s.Gid)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	if err := chownLogTo(path, "nobody", ""); err != nil {
		t.Fatal(err)
	}
	if u, g := owner(); u != uid || g != gid {
		t.Fatalf("owner %d:%d, want nobody's %d:%d", u, g, uid, gid)
	}
	if err := chownLogTo(path, "0", "0"); err != nil {
		t.Fatal(err)
	}
	if u, g := owner(); u != 0 || g != 0 {
		t.Fatalf("owner %d:%d, want 0:0", u, g)
	}
	if err := chownLogTo(path, "no-such-user-gowsgi", ""); err == nil {
		t.Fatal("an unknown user was accepted")
	}
	if err := chownLogTo(path, "nobody", "no-such-group-gowsgi"); err == nil {
		t.Fatal("an unknown group was accepted")
	}
}
