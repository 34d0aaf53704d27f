package cpython

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrInvalidOptions is wrapped by the errors Initialize returns for
// RuntimeOptions it refuses before starting CPython.
var ErrInvalidOptions = errors.New("subinterp: invalid runtime options")

// venvExecutable checks that dir is a virtual environment made by a CPython
// of the same major.minor version as linked (the version this program
// links, "3.13.15") and returns the program path CPython's path
// configuration is given, so that it finds dir/pyvenv.cfg as it does for
// dir/bin/python3: sys.prefix becomes dir and site adds its site-packages.
func venvExecutable(dir, linked string) (string, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: Venv %s: %s", ErrInvalidOptions, dir, fmt.Sprintf(format, args...))
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", bad("%v", err)
	}
	cfg, err := readPyvenvCfg(filepath.Join(abs, "pyvenv.cfg"))
	if errors.Is(err, os.ErrNotExist) {
		return "", bad("no pyvenv.cfg: not a virtual environment (make one with python3 -m venv DIR, using the CPython this program links)")
	}
	if err != nil {
		return "", bad("%v", err)
	}
	made := cfg["version_info"]
	if made == "" {
		made = cfg["version"]
	}
	if made == "" {
		return "", bad("pyvenv.cfg names no version")
	}
	if MajorMinor(made) != MajorMinor(linked) {
		return "", bad("made by CPython %s (pyvenv.cfg), but this program links CPython %s: extension modules built for one do not load in the other; make the venv with python%s", made, linked, MajorMinor(linked))
	}
	if cfg["home"] == "" {
		return "", bad("pyvenv.cfg names no home")
	}
	return filepath.Join(abs, "bin", "python3"), nil
}

// readPyvenvCfg reads the key = value lines of a pyvenv.cfg, keys lowered.
func readPyvenvCfg(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "=")
		if ok {
			cfg[strings.ToLower(strings.TrimSpace(key))] = strings.TrimSpace(value)
		}
	}
	return cfg, sc.Err()
}
