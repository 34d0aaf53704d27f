"""The program part of `subinterp python`: what CPython's own main does
once the runtime is up (Modules/main.c: pymain_run_python), in Python,
because CPython's C entry points for it (Py_RunMain, PyRun_SimpleFile,
PyErr_Print) end the process on SystemExit, before Go can end the
interpreters it runs.

python.go loads this file as the module _subinterp_python in the main
interpreter and calls main(); main returns the exit status. Every frame of
this file is left out of the tracebacks it prints.
"""

import sys

_DRIVER = __file__ if '__file__' in globals() else '<subinterp python>'


def _user_traceback(tb):
    """tb without the leading frames of this file."""
    while tb is not None and tb.tb_frame.f_code.co_filename == _DRIVER:
        tb = tb.tb_next
    return tb


def _report(exc):
    """Print an uncaught exception as python3 does: through sys.excepthook
    (SystemExit is handled by the caller)."""
    tb = _user_traceback(exc.__traceback__)
    exc = exc.with_traceback(tb)
    hook = getattr(sys, 'excepthook', None)
    try:
        if hook is None:
            raise RuntimeError('lost sys.excepthook')
        hook(type(exc), exc, tb)
    except BaseException as hook_exc:
        print('Error in sys.excepthook:', file=sys.stderr)
        sys.__excepthook__(type(hook_exc), hook_exc, _user_traceback(hook_exc.__traceback__))
        print('\nOriginal exception was:', file=sys.stderr)
        sys.__excepthook__(type(exc), exc, tb)


def exit_status(exc):
    """The exit status of an uncaught SystemExit, as python3 computes it:
    None is 0, an int is itself (the OS keeps its low byte), anything else
    is printed to stderr and gives 1."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xff
    try:
        print(code, file=sys.stderr)
    except BaseException:
        pass
    return 1


def _flush():
    for f in (sys.stdout, sys.stderr):
        try:
            if f is not None:
                f.flush()
        except Exception:
            pass


def _main_module():
    return sys.modules['__main__']


def _run_source(source, filename, skip_first_line=False):
    """Compile source (bytes: a coding cookie is honoured) as filename and
    run it in __main__, as python3 runs -c, a FILE and stdin."""
    if skip_first_line:
        nl = source.find(b'\n')
        source = b'' if nl < 0 else source[nl + 1:]
    code = compile(source, filename, 'exec')
    exec(code, _main_module().__dict__)


def _run_file(path, skip_first_line):
    main = _main_module().__dict__
    import importlib.machinery
    import os
    path = os.path.abspath(path)  # as python3 >= 3.9 does
    main['__file__'] = path
    main['__cached__'] = None
    main['__loader__'] = importlib.machinery.SourceFileLoader('__main__', path)
    with open(path, 'rb') as f:
        source = f.read()
    _run_source(source, path, skip_first_line)


def _run_module(name):
    import runpy
    # As python3 -m: runpy replaces sys.argv[0] with the module's file and
    # says "No module named ..." through sys.exit() when there is none.
    runpy._run_module_as_main(name, alter_argv=True)


def _run_importer():
    """A directory or zip file with a __main__.py (python.go put it first
    on sys.path): python3 runs __main__ from it."""
    import runpy
    runpy._run_module_as_main('__main__', alter_argv=False)


def _interactive_stdin():
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except Exception:
        return False


def _console(banner):
    """python3's interactive mode, through the code module's console: a
    prompt on stderr and a line from stdin when they are not a terminal (as
    CPython's own loop does), input() with line editing when they are."""
    import code

    class Console(code.InteractiveConsole):
        # Ctrl-C keeps raising KeyboardInterrupt until the call ends (Go
        # owns the signals; see python.go): it ends the session instead of
        # being shown and swallowed by the console.
        def showtraceback(self):
            if isinstance(sys.exc_info()[1], KeyboardInterrupt):
                raise
            super().showtraceback()

        def write(self, data):
            if data == '\nKeyboardInterrupt\n':
                raise KeyboardInterrupt
            super().write(data)

        def raw_input(self, prompt=''):
            if _interactive_stdin():
                return input(prompt)
            _flush()
            sys.stderr.write(prompt)
            sys.stderr.flush()
            line = sys.stdin.readline()
            if not line:
                if self.buffer:
                    # CPython's loop runs a statement cut short by the end
                    # of input; an empty line ends it here.
                    return ''
                raise EOFError
            return line[:-1] if line.endswith('\n') else line

    for name, value in (('ps1', '>>> '), ('ps2', '... ')):
        if not hasattr(sys, name):
            setattr(sys, name, value)
    Console(locals=_main_module().__dict__, filename="<stdin>").interact(banner=banner, exitmsg="")


def _run(kind, target, skip_first_line):
    if kind == 'command':
        _run_source(target.encode('utf-8', 'surrogateescape'), '<string>')
    elif kind == 'module':
        _run_module(target)
    elif kind == 'importer':
        _run_importer()
    elif kind == 'file':
        _run_file(target, skip_first_line)
    elif kind == 'stdin':
        _main_module().__dict__['__file__'] = '<stdin>'
        _run_source(sys.stdin.buffer.read(), '<stdin>', skip_first_line)
    else:
        raise ValueError(f'unknown kind of program {kind!r}')


def main(kind, target, executable, inspect, skip_first_line, quiet):
    """Run the program (kind: 'command', 'module', 'file', 'importer' (a
    directory or zip file with a __main__.py), or 'default':
    stdin, or the interactive console when stdin is a terminal or -i was
    given; target: the code, module name or path) and return the exit
    status. inspect (-i) enters interactive mode afterwards; quiet (-q)
    leaves out the banner."""
    sys.executable = sys._base_executable = executable
    banner = ''
    if kind == 'default':
        if inspect or _interactive_stdin():
            kind = 'repl'
            if not quiet:
                banner = (f'Python {sys.version} on {sys.platform}\n'
                          'Type "help", "copyright", "credits" or "license" for more information.')
        else:
            kind = 'stdin'
    status = 0
    if kind != 'repl':
        try:
            _run(kind, target, skip_first_line)
        except SystemExit as exc:
            if not inspect:
                _flush()
                return exit_status(exc)
            _report(exc)
            status = 1
        except KeyboardInterrupt:
            # Go reports it (status 130): Ctrl-C raises it again while this
            # call runs, so nothing more runs here.
            raise
        except BaseException as exc:
            _report(exc)
            status = 1
    if inspect or kind == 'repl':
        try:
            _console(banner)
            status = 0
        except SystemExit as exc:
            status = exit_status(exc)
    _flush()
    return status


def shutdown():
    """What python3 does at exit before it ends the interpreters: wait for
    the non-daemon threads, run the atexit callbacks (they may still use
    the interpreters the program made), and warn about interpreters left
    open, as CPython 3.14 does (Go then closes them)."""
    threading = sys.modules.get('threading')
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException as exc:
            _report(exc)
    import atexit
    atexit._run_exitfuncs()
    si = sys.modules.get('subinterp')
    # CPython warns from 3.14 on; 3.13's own suite expects no warning.
    if si is not None and sys.version_info >= (3, 14):
        main = si.get_main().id
        if any(interp.id != main for interp in si.list_all()):
            import warnings
            warnings.warn_explicit('remaining subinterpreters; close them with Interpreter.close()',
                                   RuntimeWarning, '<sys>', 0)
    _flush()
