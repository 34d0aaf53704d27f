// Command subinterp runs Python code in many CPython subinterpreters at
// once, each with its own GIL and its own OS thread, and measures what that
// buys.
//
// Usage:
//
//	subinterp run -n N [--shared-gil] [--timeout D] (-c CODE | FILE) [args...]
//	subinterp python [python3 options] [-c CMD | -m MOD | FILE | -] [args...]   (or python3 -> subinterp)
//	subinterp compat [MODULE ...] [--stdlib] [--site-packages] [--path DIR] [--jobs N] [--timeout D]
//	                 [--json FILE|-] [--markdown FILE] [--html FILE] [--quiet]
//	subinterp doctor [--json]
//	subinterp bench [--quick] [--workers N,...] [--workload NAME ...] [--mode NAME ...] [--repeat K]
//	                [--json FILE|-] [--plot FILE.png|FILE.svg] [--markdown FILE] [--quiet]
//	subinterp microbench [--json] [--quick]
//	subinterp soak [--scenario NAME ...] [--duration D | --calls N] [--scale F] [--no-site] [--json FILE|-]
//	subinterp --version
//
// run runs the code in N fresh interpreters in parallel and prefixes every
// line they print with the interpreter's id. python runs a program as
// python3 does, in the main interpreter, with the subinterp module
// importable; called through a symlink named python*, the binary is that
// command. doctor describes the CPython
// build in use and checks that own-GIL interpreters really run in parallel.
// bench runs the same workloads with this project's pools, Python threads,
// multiprocessing and CPython's own interpreters API side by side (bench
// --quick is `make demo`). microbench measures create+close and Call
// latency next to CPython's own peers, and the parallel speedup of own-GIL
// interpreters against Python threads and shared-GIL interpreters. All the
// measuring is package bench's; these commands parse flags, start the
// runtime and call it. soak runs the long scenarios that keep leaks and
// hangs fixed (docs/soak.md).
//
// Every command takes --help. Exit status: 0 success, 1 failure, 2 bad
// usage, 130 interrupted (Ctrl-C).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Exit codes shared by every command.
const (
	exitOK          = 0   // success
	exitFailed      = 1   // the command ran and something failed
	exitUsage       = 2   // bad flags or arguments
	exitInterrupted = 130 // stopped by Ctrl-C (128 + SIGINT)
)

// command is one subcommand: its name, a one-line summary for the overall
// usage, and its entry point, which parses args (the arguments after the
// command name) and returns the exit code.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order the usage shows them.
var commands = []command{
	{"run", "run Python code in N subinterpreters in parallel", cmdRun},
	{"python", "run a program as python3 does, in the main interpreter, with subinterp importable", cmdPython},
	{"compat", "which extension modules import in own-GIL subinterpreters", cmdCompat},
	{"doctor", "describe the CPython build and check per-interpreter GILs", cmdDoctor},
	{"bench", "subinterpreters against threads, multiprocessing and CPython's interpreters", cmdBench},
	{"microbench", "latency microbenchmarks (create+close, Call) next to CPython's peers", cmdMicroBench},
	{"soak", "soak scenarios: RSS growth, lost interrupts, replacements, leftover channels", cmdSoak},
	{"bundle", "a self-contained directory or single file: the program, its libpython and stdlib", cmdBundle},
}

// main runs the command named on the command line and exits with its status.
// Called through a symlink named python* (python3 -> subinterp), it is
// `subinterp python`, busybox-style.
func main() {
	if invokedAsPython(os.Args[0]) {
		os.Exit(runPython(os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs the subcommand named by args[0] and returns its exit code.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "-version", "--version", "version":
		if len(rest) > 0 {
			return usageError(stderr, "--version", "takes no arguments (got %q)", rest[0])
		}
		return printVersion(stdout)
	case "help":
		if len(rest) == 0 {
			usage(stdout)
			return exitOK
		}
		name, rest = rest[0], []string{"--help"}
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(rest, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "subinterp: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

// usage prints the list of commands.
func usage(w io.Writer) {
	fmt.Fprintln(w, "subinterp runs Python in many CPython subinterpreters at once, each with its own GIL.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: subinterp COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "subinterp COMMAND --help" for a command's flags, "subinterp --version" for the build.`)
}

// newFlagSet makes the flag set of one command. synopsis is the usage line
// after "subinterp", about the paragraph printed under it by --help. Flags
// whose names start with "internal-" are left out of the help.
func newFlagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("subinterp "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: subinterp %s\n\n%s\n", synopsis, strings.TrimSpace(about))
		var visible bool
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.HasPrefix(f.Name, "internal-") {
				visible = true
			}
		})
		if !visible {
			return
		}
		fmt.Fprintln(w, "\nFlags:")
		fs.VisitAll(func(f *flag.Flag) {
			if strings.HasPrefix(f.Name, "internal-") {
				return
			}
			argName, text := flag.UnquoteUsage(f)
			line := "  --" + f.Name
			if len(f.Name) == 1 {
				line = "  -" + f.Name
			}
			if argName != "" {
				line += " " + argName
			}
			fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(text, "\n", "\n    \t"))
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				fmt.Fprintf(w, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(w)
		})
	}
	return fs
}

// parseFlags parses args with fs. done is true when the command should
// stop at once with the returned code: 0 after --help (which prints the
// usage), 2 on a bad flag, for which it prints one line saying what is
// wrong and how to get help, not the whole usage.
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case err == nil:
		return exitOK, false
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return exitOK, true
	}
	name := strings.TrimPrefix(fs.Name(), "subinterp ")
	return usageError(out, name, "%s", explainFlagError(fs, err)), true
}

// explainFlagError rewords the flag package's error where it is cryptic:
// a bad duration says what a duration looks like.
func explainFlagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	var name string
	if _, after, ok := strings.Cut(msg, " for flag -"); ok {
		name, _, _ = strings.Cut(after, ":")
	}
	if f := fs.Lookup(name); f != nil {
		if g, ok := f.Value.(flag.Getter); ok {
			if _, isDuration := g.Get().(time.Duration); isDuration {
				value := msg
				if _, v, ok := strings.Cut(msg, `invalid value "`); ok {
					value, _, _ = strings.Cut(v, `"`)
				}
				return fmt.Sprintf("%s%s wants a duration with a unit, like 5s, 1m30s or 250ms (got %q)", dashes(name), name, value)
			}
		}
	}
	if _, unknown, ok := strings.Cut(msg, "flag provided but not defined: -"); ok {
		return "unknown flag: " + dashes(unknown) + unknown
	}
	return msg
}

// dashes is how the usage writes a flag: -n, --timeout.
func dashes(name string) string {
	if len(name) == 1 {
		return "-"
	}
	return "--"
}

// isSet reports whether the flag name was given on the command line (not
// left at its default).
func isSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// usageError prints a usage error for the command and returns exitUsage.
func usageError(stderr io.Writer, name, format string, args ...any) int {
	fmt.Fprintf(stderr, "subinterp %s: %s\n", name, fmt.Sprintf(format, args...))
	fmt.Fprintf(stderr, "Run \"subinterp %s --help\" for usage.\n", name)
	return exitUsage
}
