package cli

import (
	"log/slog"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/internal/static"
)

// bindStaticFlags binds the static file map options (uWSGI's names).
func bindStaticFlags(f *pflag.FlagSet, o *config.Options) {
	f.StringArrayVar(&o.StaticMap, "static-map", o.StaticMap,
		"serve files from PATH under the URL prefix MOUNT, as MOUNT=PATH; PATH may be one file (repeatable, searched in order; files not found go to the application)")
	f.StringArrayVar(&o.StaticIndex, "static-index", o.StaticIndex,
		"file served for a request naming a mapped directory with a trailing slash, like index.html (repeatable, tried in order)")
	f.Int64Var(&o.StaticExpires, "static-expires", o.StaticExpires,
		"seconds static files may be cached: adds Cache-Control max-age and Expires (0 for none)")
	f.StringSliceVar(&o.StaticSkipExt, "static-skip-ext", o.StaticSkipExt,
		"file name suffixes never served from the static map but passed to the application (comma list; empty for none)")
	f.BoolVar(&o.StaticFollowSymlinks, "static-follow-symlinks", o.StaticFollowSymlinks,
		"let symbolic links under a mapped directory lead outside it (otherwise they answer 404)")
	f.BoolVar(&o.StaticDotfiles, "static-dotfiles", o.StaticDotfiles,
		"serve files and directories whose name starts with a dot (otherwise they go to the application)")
}

// openStaticMap checks the --static-map paths (relative to the working
// directory, so after --chdir) and logs the mappings; false if one is bad.
func openStaticMap(o config.Options, log *slog.Logger) (*static.Handler, bool) {
	h, err := static.New(o.Static, log)
	if err != nil {
		log.Error("cannot use the static map", "err", err)
		return nil, false
	}
	if h != nil {
		log.Info("static map", "mappings", strings.Join(h.Mounts(), " "), "index", strings.Join(o.StaticIndex, " "), "follow_symlinks", o.StaticFollowSymlinks)
	}
	return h, true
}
