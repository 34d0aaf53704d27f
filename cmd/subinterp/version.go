package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/subinterp/subinterp/cpython"
)

// buildVersion says which subinterp this binary is: the module version
// (or "(devel)" for a build from a checkout), the commit it was built
// from and whether the checkout had uncommitted changes, the Go that built
// it and the CPython it links.
type buildVersion struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"revision_time,omitempty"`
	Dirty    bool   `json:"dirty,omitempty"`
	Go       string `json:"go"`
	CPython  string `json:"cpython"`
}

// readBuildVersion reads buildVersion from the binary's build information.
func readBuildVersion() buildVersion {
	v := buildVersion{Version: "unknown", Go: runtime.Version(), CPython: cpython.LinkedVersion()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Module, v.Version = info.Main.Path, info.Main.Version
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Dirty = s.Value == "true"
		}
	}
	return v
}

// String is the line `subinterp --version` prints, e.g.
// "subinterp (devel) 1a2b3c4d5e6f+dirty, go1.26.8, CPython 3.13.15".
func (v buildVersion) String() string {
	s := "subinterp " + v.Version
	if v.Revision != "" {
		rev := v.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " " + rev
		if v.Dirty {
			s += "+dirty"
		}
	}
	return fmt.Sprintf("%s, %s, CPython %s", s, v.Go, v.CPython)
}

// printVersion is `subinterp --version`.
func printVersion(w io.Writer) int {
	fmt.Fprintln(w, readBuildVersion())
	return exitOK
}
