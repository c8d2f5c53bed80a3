package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/pyembed"
)

// preparePython readies the process for the interpreter, in the order
// uWSGI does it: the --env variables, the working directory (--chdir), then
// the virtualenv (--home, relative to that directory), whose python
// becomes o.PythonExe. It returns the directories to put first on
// sys.path: the working directory, then each --pythonpath (also relative
// to it). serve and check share it so that check imports the application
// exactly as serve would.
func preparePython(o *config.Options) (paths []string, err error) {
	if err := o.PythonEnv.Setenv(); err != nil {
		return nil, err
	}
	if o.Chdir != "" {
		if err := os.Chdir(o.Chdir); err != nil {
			return nil, fmt.Errorf("--chdir: %v", err)
		}
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("cannot read the working directory: %v", err)
	}
	if o.Home != "" {
		exe, err := config.Virtualenv(o.Home, pyembed.PythonVersion())
		if err != nil {
			return nil, err
		}
		o.PythonExe = exe
	}
	// The working directory comes first on sys.path, as with gunicorn and
	// uWSGI, so "--module myproj.wsgi" works from the project root.
	paths = []string{cwd}
	for _, p := range o.PythonPath {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		paths = append(paths, abs)
	}
	return paths, nil
}
