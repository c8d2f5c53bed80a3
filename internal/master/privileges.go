package master

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// credentials is the user and groups the master switches to.
type credentials struct {
	uid, gid int
	groups   []int // supplementary groups
	name     string
}

// lookupCredentials resolves --uid and --gid (names or numbers). A user
// without --gid takes its primary group and, like login, its
// supplementary groups; a bare number that is no user needs --gid.
func lookupCredentials(uidSpec, gidSpec string) (*credentials, error) {
	var u *user.User
	var err error
	if n, convErr := strconv.Atoi(uidSpec); convErr == nil {
		if n < 0 {
			return nil, fmt.Errorf("--uid %q: not a user id", uidSpec)
		}
		u, err = user.LookupId(uidSpec)
		if err != nil {
			u = &user.User{Uid: uidSpec, Username: uidSpec}
		}
	} else if u, err = user.Lookup(uidSpec); err != nil {
		return nil, fmt.Errorf("--uid %q: %v", uidSpec, err)
	}
	c := &credentials{name: u.Username}
	c.uid, _ = strconv.Atoi(u.Uid)
	switch {
	case gidSpec != "":
		if n, convErr := strconv.Atoi(gidSpec); convErr == nil && n >= 0 {
			c.gid = n
		} else if g, err := user.LookupGroup(gidSpec); err != nil {
			return nil, fmt.Errorf("--gid %q: %v", gidSpec, err)
		} else {
			c.gid, _ = strconv.Atoi(g.Gid)
		}
		c.groups = []int{c.gid}
	case u.Gid != "":
		c.gid, _ = strconv.Atoi(u.Gid)
		c.groups = []int{c.gid}
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if n, err := strconv.Atoi(id); err == nil && n != c.gid {
					c.groups = append(c.groups, n)
				}
			}
		}
	default:
		return nil, fmt.Errorf("--uid %s is not in the user database, so it has no group: give --gid too", uidSpec)
	}
	return c, nil
}

// dropPrivileges switches the whole process (every thread) to c:
// supplementary groups, then group, then user, the order in which each
// step is still allowed.
func dropPrivileges(c *credentials) error {
	if os.Getuid() == c.uid && os.Geteuid() == c.uid && os.Getgid() == c.gid && os.Getegid() == c.gid {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("cannot switch to user %s (uid %d, gid %d): the master runs as uid %d, not root", c.name, c.uid, c.gid, os.Geteuid())
	}
	if err := syscall.Setgroups(c.groups); err != nil {
		return fmt.Errorf("setgroups %v: %w", c.groups, err)
	}
	if err := syscall.Setgid(c.gid); err != nil {
		return fmt.Errorf("setgid %d: %w", c.gid, err)
	}
	if err := syscall.Setuid(c.uid); err != nil {
		return fmt.Errorf("setuid %d: %w", c.uid, err)
	}
	if os.Getuid() != c.uid || os.Geteuid() != c.uid || os.Getgid() != c.gid || os.Getegid() != c.gid {
		return fmt.Errorf("switching to uid %d gid %d did not take effect", c.uid, c.gid)
	}
	return nil
}
