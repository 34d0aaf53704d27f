"""Writes skips.txt: the tests of CPython's test_interpreters suites that
use CPython's private modules (directly, or through a helper of the suite
that does), with the reason for each. Run by hand when the suites change:

    python3 gen_skips.py 3.13=<suite dir> 3.14=<suite dir> > skips.txt

(scripts/cpython-testsuite.sh prints the suite dirs.)
"""
import ast
import os
import sys

PRIVATE = {
    '_interpreters': 'the private _interpreters module',
    '_interpqueues': 'the private _interpqueues module',
    '_interpchannels': 'the private _interpchannels module',
    '_testinternalcapi': 'CPython\'s _testinternalcapi test module',
    '_testcapi': 'CPython\'s _testcapi test module',
}
FILES = ('test_api', 'test_channels', 'test_queues')
# Helpers that start a separate python process (sys.executable). They stay
# in scope: suite_test.go makes sys.executable `subinterp python` (a python3
# symlink to the subinterp binary), CPython's main interpreter with the
# subinterp module, so the script runs against the drop-in. What the script
# text names is the child's business: CPython's private modules exist in
# that real main interpreter, so a name used only to build the script
# (import {_queues.__name__}) is not a use by the test.
SUBPROCESS = ('run_python', 'assert_python_ok', 'assert_python_failure', 'spawn_python')


def subprocess_args(func):
    """The ids of the nodes inside the arguments of a SUBPROCESS call."""
    inside = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, 'id', None)
            if name in SUBPROCESS:
                for arg in list(node.args) + [k.value for k in node.keywords]:
                    inside.update(id(n) for n in ast.walk(arg))
    return inside


def private_aliases(tree):
    """Module-level names bound to a private module (x = import_module('_interpqueues'), import _x)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            for arg in node.value.args:
                if isinstance(arg, ast.Constant) and arg.value in PRIVATE:
                    for t in node.targets:
                        if isinstance(t, ast.Name):
                            names[t.id] = arg.value
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                if a.name in PRIVATE:
                    names[a.asname or a.name] = a.name
    for n in PRIVATE:
        names.setdefault(n, n)
    return names


def body_nodes(func):
    """Every node of func's body (not its decorators: requires_test_modules
    only skips a test when a module is missing)."""
    for stmt in func.body:
        yield from ast.walk(stmt)


def uses(func, aliases, tainted):
    """The first private module or tainted helper func refers to, or None."""
    skip = subprocess_args(func)
    for node in body_nodes(func):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Name) and node.id in aliases:
            return PRIVATE[aliases[node.id]]
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            # Scripts the test runs in another interpreter.
            for mod in PRIVATE:
                if f'import {mod}' in node.value:
                    return PRIVATE[mod] + ' (in a script it runs in another interpreter)'
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == 'self' \
                and node.attr in tainted:
            return tainted[node.attr].split(' (through')[0] \
                + f' (through {node.attr}())'
        if isinstance(node, ast.Name) and node.id in tainted:
            return tainted[node.id].split(' (through')[0] + f' (through {node.id}())'
    return None


def top_functions(tree):
    """Module-level functions and the methods of module-level classes."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield node
        elif isinstance(node, ast.ClassDef):
            yield from (n for n in node.body if isinstance(n, ast.FunctionDef))


def helpers(tree, aliases, tainted):
    """Add the helpers of tree (not tests) that use a private module."""
    changed = True
    while changed:
        changed = False
        for node in top_functions(tree):
            if not node.name.startswith('test') \
                    and node.name not in tainted and node.name not in ('setUp', 'tearDown'):
                why = uses(node, aliases, tainted)
                if why:
                    tainted[node.name] = why
                    changed = True


def main():
    print(__doc__.strip().replace('\n', '\n# ').join(['# ', '']))
    print('#\n# <suite version> <file.Class.test> <reason>')
    for arg in sys.argv[1:]:
        version, d = arg.split('=', 1)
        tainted = {}
        utils = ast.parse(open(os.path.join(d, 'utils.py'), encoding='utf-8').read())
        helpers(utils, private_aliases(utils), tainted)
        for f in FILES:
            tree = ast.parse(open(os.path.join(d, f + '.py'), encoding='utf-8').read())
            aliases = private_aliases(tree)
            local = dict(tainted)
            helpers(tree, aliases, local)
            for cls in tree.body:
                if not isinstance(cls, ast.ClassDef):
                    continue
                for fn in cls.body:
                    if isinstance(fn, ast.FunctionDef) and fn.name.startswith('test'):
                        why = uses(fn, aliases, local)
                        if why:
                            print(f'{version} {f}.{cls.name}.{fn.name} uses {why}')


main()
