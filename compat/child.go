package compat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"syscall"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// request is what the parent asks one child to do, passed as the last
// command-line argument (JSON). Module names travel as values here and
// into Python; they are never spliced into source code.
type request struct {
	// Op is opCheck or opList.
	Op string `json:"op"`
	// Module and Mode: what opCheck imports, and where.
	Module string `json:"module,omitempty"`
	Mode   Mode   `json:"mode,omitempty"`
	// Paths go first on sys.path; for opList their modules are listed.
	Paths []string `json:"paths,omitempty"`
	// NoSite skips `import site` in the child.
	NoSite bool `json:"no_site,omitempty"`
	// Venv is the virtual environment the child runs in
	// (cpython.RuntimeOptions.Venv); opList lists its site-packages.
	Venv string `json:"venv,omitempty"`
	// Stdlib and SitePackages: what opList enumerates.
	Stdlib       bool `json:"stdlib,omitempty"`
	SitePackages bool `json:"site_packages,omitempty"`
	// Named are the modules named on the command line, whose extension
	// modules opList finds; Dists are distributions asked for by name,
	// which makes it read the distributions of every sys.path directory.
	Named []string `json:"named,omitempty"`
	Dists []string `json:"dists,omitempty"`
}

const (
	opCheck = "check"
	opList  = "list"
)

// resultFD is the file descriptor a child writes its one JSON result to:
// the first of exec.Cmd.ExtraFiles. Not stdout, because C code in an
// extension module may print there.
const resultFD = 3

// ChildMain is the child side of a check. A program that passes itself as
// Options.Command must call it when started with the request argument
// Check appends (the last argument), and then exit at once with the code
// it returns, without finalizing CPython: the child ends as soon as its
// result is written, so that whatever state the imported module left
// behind cannot turn a result into a crash at exit.
func ChildMain(arg string) int {
	// Check's children get a pipe there; anything else means a person
	// started the hidden mode by hand.
	var st syscall.Stat_t
	if err := syscall.Fstat(resultFD, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		fmt.Fprintln(os.Stderr, "subinterp compat child: file descriptor 3 is not a result pipe: this mode is only for `subinterp compat` itself")
		return 1
	}
	if err := child(arg, os.NewFile(resultFD, "compat-result")); err != nil {
		fmt.Fprintf(os.Stderr, "subinterp compat child: %v\n", err)
		return 1
	}
	return 0
}

func child(arg string, out *os.File) error {
	var req request
	if err := json.Unmarshal([]byte(arg), &req); err != nil {
		return fmt.Errorf("bad request: %w", err)
	}
	var (
		res any
		err error
	)
	switch req.Op {
	case opCheck:
		if !ValidModuleName(req.Module) {
			return fmt.Errorf("bad module name %q", req.Module)
		}
		res, err = childCheck(req)
	case opList:
		res, err = childList(req)
	default:
		return fmt.Errorf("bad request op %q", req.Op)
	}
	if err != nil {
		return err
	}
	data, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encoding the result: %w", err)
	}
	if _, err := out.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	return out.Close()
}

// modeConfig is the interpreter configuration of each subinterpreter mode.
func modeConfig(m Mode) (cpython.Config, bool) {
	switch m {
	case ModeLegacy:
		return cpython.LegacyConfig(), true
	case ModeIsolatedSharedGIL:
		c := cpython.IsolatedConfig()
		c.OwnGIL = false
		return c, true
	case ModeIsolatedOwnGIL:
		return cpython.IsolatedConfig(), true
	}
	return cpython.Config{}, false
}

// childCheck imports req.Module in a fresh interpreter of req.Mode and
// returns what checkSource's function returned (a childResult's JSON
// shape), or a childResult saying why it could not.
func childCheck(req request) (any, error) {
	rt, err := cpython.Initialize(cpython.RuntimeOptions{NoSite: req.NoSite, ModulePaths: req.Paths, Venv: req.Venv})
	if err != nil {
		return nil, err
	}
	in := rt.Main()
	if req.Mode != ModeMain {
		cfg, ok := modeConfig(req.Mode)
		if !ok {
			return nil, fmt.Errorf("bad mode %q", req.Mode)
		}
		in, err = rt.NewInterpreter(cfg)
		if err != nil {
			return childResult{Status: StatusError, Message: "cannot create the interpreter: " + err.Error()}, nil
		}
	}
	ctx := context.Background()
	if err := in.Exec(ctx, checkSource); err != nil {
		return childResult{Status: StatusError, Message: "setting up the check: " + err.Error()}, nil
	}
	v, err := in.Call(ctx, checkFunc, req.Module)
	if err != nil {
		var rf *cpython.RunFailedError
		if errors.As(err, &rf) {
			return childResult{Status: StatusError, Message: rf.Type + ": " + rf.Message}, nil
		}
		return childResult{Status: StatusError, Message: err.Error()}, nil
	}
	return plain(v), nil
}

// childList describes the Python in use and lists the modules to check.
func childList(req request) (any, error) {
	// The directories go on sys.path, where named modules are looked up.
	rt, err := cpython.Initialize(cpython.RuntimeOptions{NoSite: req.NoSite, ModulePaths: req.Paths, Venv: req.Venv})
	if errors.Is(err, cpython.ErrInvalidOptions) {
		// A venv CPython refuses (no pyvenv.cfg, another version): the
		// caller's mistake, reported as such.
		return map[string]string{"invalid": err.Error()}, nil
	}
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	in := rt.Main()
	if err := in.Exec(ctx, listSource); err != nil {
		return nil, err
	}
	paths := pyList(req.Paths)
	v, err := in.Call(ctx, listFunc, req.Stdlib, req.SitePackages, paths, req.Venv != "", pyList(req.Named), pyList(req.Dists))
	if err != nil {
		return nil, err
	}
	return plain(v), nil
}

// pyList makes a []string something the channel package converts to a
// Python list.
func pyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// plain turns a value decoded from Python into one encoding/json writes
// as Python would (dicts with string keys become objects, tuples arrays).
func plain(v any) any {
	switch v := v.(type) {
	case channel.Dict:
		m := make(map[string]any, len(v))
		for _, it := range v {
			m[fmt.Sprint(it.Key)] = plain(it.Value)
		}
		return m
	case channel.Tuple:
		return plainList(v)
	case []any:
		return plainList(v)
	case *big.Int:
		return v.String()
	case []byte:
		return string(v)
	}
	return v
}

func plainList(v []any) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = plain(x)
	}
	return out
}

// childResult is what a check child reports.
type childResult struct {
	Status  Status `json:"status"`
	Message string `json:"message"`
	// The rest is set when the import succeeded.
	Preloaded bool   `json:"preloaded,omitempty"`
	Kind      string `json:"kind,omitempty"`
	File      string `json:"file,omitempty"`
	// Def is subinterp._module_def(module): nil for Python modules.
	Def *struct {
		MultiPhase           bool    `json:"multi_phase"`
		MultipleInterpreters *string `json:"multiple_interpreters"`
		GIL                  *string `json:"gil"`
		MSize                int64   `json:"m_size"`
	} `json:"def,omitempty"`
	// GILSlot: the Python has Py_mod_gil (3.13+).
	GILSlot bool `json:"gil_slot,omitempty"`
	// ExtErrors: what loading extension modules raised during the import.
	ExtErrors []ExtensionError `json:"ext_errors,omitempty"`
}

// info turns what a child saw of an imported module into Module fields.
func (r childResult) info() info {
	in := info{Kind: r.Kind, File: r.File, Preloaded: r.Preloaded}
	switch {
	case r.Def == nil && r.Kind == KindPython:
		in.Init, in.Multi, in.GIL = InitNA, SlotNA, SlotNA
	case r.Def == nil:
		// A Py_mod_create slot returned something that is not a module:
		// its definition cannot be read back.
	case !r.Def.MultiPhase:
		in.Init, in.Multi, in.GIL = InitSinglePhase, SlotNA, SlotNA
	default:
		in.Init, in.Multi, in.GIL = InitMultiPhase, SlotAbsent, SlotAbsent
		if r.Def.MultipleInterpreters != nil {
			in.Multi = *r.Def.MultipleInterpreters
		}
		if r.Def.GIL != nil {
			in.GIL = *r.Def.GIL
		}
	}
	if !r.GILSlot {
		in.GIL = ""
	}
	return in
}

// listResult is what the list child reports.
type listResult struct {
	Python       string              `json:"python"`
	Build        string              `json:"build"`
	Platform     string              `json:"platform"`
	Include      string              `json:"include"`
	ExtSuffix    string              `json:"ext_suffix"`
	Stdlib       []string            `json:"stdlib"`
	SitePackages []string            `json:"site_packages"`
	Paths        map[string][]string `json:"paths"`
	// Extensions maps a listed or named package to the extension modules
	// in its directories.
	Extensions map[string][]string `json:"extensions"`
	Dists      []distInfo          `json:"dists"`
	Executable string              `json:"executable"`
	// Invalid says why CPython refused the options (a bad venv).
	Invalid string `json:"invalid"`
}

// distInfo is one .dist-info or .egg-info the list child read.
type distInfo struct {
	// Dir is the sys.path directory it is in, Path its own path.
	Dir  string `json:"dir"`
	Path string `json:"path"`
	// Name and Version are from its metadata.
	Name    string `json:"name"`
	Version string `json:"version"`
	// TopLevel are the top-level modules it installs that exist in Dir
	// (from RECORD, installed-files.txt and top_level.txt).
	TopLevel []string `json:"top_level"`
	// Error says what is wrong with the metadata.
	Error string `json:"error"`
	// Listed: Dir is a directory whose modules were listed (site-packages,
	// a venv, --path), not one only searched for named distributions.
	Listed bool `json:"listed"`
}
