package compat

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// venv is a virtual environment's site-packages directory and the Python
// version it is for.
type venv struct {
	dir     string // .../lib/pythonX.Y/site-packages
	version string // "3.13", from the directory's name
}

var venvLib = regexp.MustCompile(`^python(\d+\.\d+)t?$`)

// venvSitePackages finds the site-packages directory of the virtual
// environment dir: dir must hold a pyvenv.cfg (python -m venv writes one),
// and lib/pythonX.Y/site-packages, the version pyvenv.cfg names if it
// names one.
func venvSitePackages(dir string) (venv, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return venv{}, fmt.Errorf("venv %s: %w", dir, err)
	}
	cfg, err := os.Open(filepath.Join(abs, "pyvenv.cfg"))
	if err != nil {
		return venv{}, fmt.Errorf("venv %s: not a virtual environment (no readable pyvenv.cfg: %w)", dir, err)
	}
	defer cfg.Close()
	want := ""
	sc := bufio.NewScanner(cfg)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "version", "version_info":
			parts := strings.Split(strings.TrimSpace(v), ".")
			if len(parts) >= 2 && want == "" {
				want = parts[0] + "." + parts[1]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return venv{}, fmt.Errorf("venv %s: reading pyvenv.cfg: %w", dir, err)
	}
	libs, _ := filepath.Glob(filepath.Join(abs, "lib", "python*", "site-packages"))
	var found []venv
	for _, sp := range libs {
		m := venvLib.FindStringSubmatch(filepath.Base(filepath.Dir(sp)))
		if m == nil {
			continue
		}
		if st, err := os.Stat(sp); err == nil && st.IsDir() && (want == "" || m[1] == want) {
			found = append(found, venv{dir: sp, version: m[1]})
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0 && want != "":
		return venv{}, fmt.Errorf("venv %s: no lib/python%s/site-packages directory (pyvenv.cfg says Python %s)", dir, want, want)
	case len(found) == 0:
		return venv{}, fmt.Errorf("venv %s: no lib/pythonX.Y/site-packages directory", dir)
	}
	return venv{}, fmt.Errorf("venv %s: %d lib/python*/site-packages directories and pyvenv.cfg names no version", dir, len(found))
}

// checkVenvVersion refuses a venv site-packages directory made for
// another Python than the one the children run (version "3.13.1"): its
// extension modules would not even be found (their file names carry the
// version).
func checkVenvVersion(siteDir, version string) error {
	m := venvLib.FindStringSubmatch(filepath.Base(filepath.Dir(siteDir)))
	parts := strings.Split(version, ".")
	if m == nil || len(parts) < 2 {
		return nil
	}
	if mm := parts[0] + "." + parts[1]; m[1] != mm {
		return fmt.Errorf("venv %s is for Python %s, and this checker runs CPython %s: check it with a subinterp built against Python %s",
			filepath.Dir(filepath.Dir(filepath.Dir(siteDir))), m[1], version, m[1])
	}
	return nil
}
