package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// fileTypes maps the configuration file extensions to viper's formats.
var fileTypes = map[string]string{".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}

// IsConfigFile reports whether path names a YAML, TOML or JSON file, by
// its extension.
func IsConfigFile(path string) bool {
	_, ok := fileTypes[strings.ToLower(filepath.Ext(path))]
	return ok
}

// IsIniFile reports whether path (optionally with a :section suffix) names
// a uWSGI ini file.
func IsIniFile(spec string) bool {
	path, _ := splitIniSpec(spec)
	return strings.EqualFold(filepath.Ext(path), ".ini")
}

// fileLayer reads a YAML, TOML or JSON file whose top-level keys are flag
// names ('_' may stand for '-'), and whose values are what the flag takes
// on the command line; a repeatable flag takes a list or a single value.
// Unlike an ini file, which uWSGI lets define placeholder variables, every
// key must be an option: a typo here is an error, with a suggestion.
func fileLayer(f *Flags, path string) (*layer, error) {
	format, ok := fileTypes[strings.ToLower(filepath.Ext(path))]
	if !ok {
		return nil, fmt.Errorf("%s: unknown configuration format %q: want .yaml, .yml, .toml or .json (or --ini for a uWSGI .ini file)", path, filepath.Ext(path))
	}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType(format)
	if err := v.ReadInConfig(); err != nil {
		if strings.Contains(err.Error(), path) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return viperLayer(f, v, KindFile, path)
}

// settingsLayer reads Report.Settings: the options a master read from its
// configuration files, handed to its workers.
func settingsLayer(f *Flags, settings []byte) (*layer, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(settings)); err != nil {
		return nil, fmt.Errorf("%s: %v", settingsName, err)
	}
	return viperLayer(f, v, KindFile, settingsName)
}

// settingsName is where a worker's options from Sources.Settings come from.
const settingsName = "the master's configuration"

// viperLayer turns the keys viper read from path into a layer of kind.
func viperLayer(f *Flags, v *viper.Viper, kind, path string) (*layer, error) {
	l := newLayer(kind, path)
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{path}, args...)...))
	}
	seen := map[string]string{} // canonical flag -> key that set it
	var names []string
	f.fs.VisitAll(func(fl *pflag.Flag) {
		if settable(fl.Name) {
			names = append(names, fl.Name)
		}
	})
	keys := v.AllKeys() // lower case, nested keys joined by '.'
	sort.Strings(keys)  // for messages in a stable order
	for _, key := range keys {
		name := strings.ReplaceAll(key, "_", "-")
		flag := f.Canonical(name)
		switch {
		case flag == "":
			msg := fmt.Sprintf("unknown option %q", key)
			if s := suggest(name, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			if strings.Contains(key, ".") {
				msg += "; options are top-level keys"
			}
			bad("%s", msg)
			continue
		case !settable(flag):
			bad("option %q cannot be set in a configuration file", key)
			continue
		case seen[flag] != "":
			bad("options %q and %q both set --%s: keep one", seen[flag], key, flag)
			continue
		}
		seen[flag] = key
		items, list, err := fileValue(v.Get(key))
		if err != nil {
			bad("option %q: %v", key, err)
			continue
		}
		fl := f.Lookup(flag)
		if !Repeatable(fl) {
			if list {
				bad("option %q takes one value, not a list", key)
				continue
			}
			l.set(flag, Setting{Key: key, Value: items[0]})
			continue
		}
		if len(items) == 0 {
			l.set(flag, Setting{Key: key, Clear: true})
		}
		for _, it := range items {
			l.add(flag, Setting{Key: key, Value: it})
		}
	}
	return l, errors.Join(errs...)
}

// fileValue converts a decoded YAML/TOML/JSON value to command-line
// strings; list reports whether it was a list.
func fileValue(x any) (items []string, list bool, err error) {
	if xs, ok := x.([]any); ok {
		for _, e := range xs {
			s, err := scalar(e)
			if err != nil {
				return nil, true, fmt.Errorf("list item: %v", err)
			}
			items = append(items, s)
		}
		return items, true, nil
	}
	s, err := scalar(x)
	if err != nil {
		return nil, false, err
	}
	return []string{s}, false, nil
}

func scalar(x any) (string, error) {
	switch v := x.(type) {
	case nil:
		return "", errors.New("no value")
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v), nil
	case float64:
		// JSON numbers arrive as float64; 1048576 must not become "1.048576e+06".
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), nil
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), nil
	case time.Time:
		return v.Format(time.RFC3339Nano), nil
	case map[string]any:
		return "", errors.New("a table/mapping is not a value: options are top-level keys")
	case []any:
		return "", errors.New("a nested list is not a value")
	}
	return "", fmt.Errorf("unsupported value %v (%T)", x, x)
}
