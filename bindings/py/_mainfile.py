"""Objects of a script's __main__ between interpreters, as CPython 3.14
does it (Python/crossinterp.c, _PyPickle_Loads).

A function defined in the script run as __main__ pickles by reference
("__main__.spam"), and another interpreter's __main__ has no such name. So
the codec (bindings/codec.c: make_pickle) wraps a pickle that names
__main__ in a MainPickle with the sender's __main__.__file__; load() in the
receiving interpreter first unpickles it as it is, and only if __main__
lacks the name runs the file once, under the name '<fake __main__>' (its
`if __name__ == '__main__':` block stays quiet), caches that namespace per
interpreter and file, and unpickles against it. The functions then use
that namespace as their globals; the interpreter's own __main__ is left
alone.
"""

import sys



def _names_missing_main_attr(exc):
    """Whether pickle failed on a name __main__ lacks: CPython 3.14's
    message, or 3.12's and 3.13's."""
    msg = str(exc)
    return (msg.startswith("module '__main__' has no attribute '")
            or (msg.startswith("Can't get attribute '") and " on <module '__main__'" in msg))


# file -> the fake __main__ module, or the exception running it raised
# (this module is per interpreter, so the cache is too).
_loaded = {}


class MainPickle:
    """A pickle that names __main__, with the file __main__ ran from."""

    __slots__ = ('data', 'file')

    def __init__(self, data, file):
        self.data = data
        self.file = file

    def __reduce__(self):
        return (load, (self.data, self.file))


def _fake_main(file):
    try:
        found = _loaded[file]
    except KeyError:
        import runpy
        import types
        try:
            module = types.ModuleType('__main__')
            module.__dict__.update(runpy.run_path(file, run_name='<fake __main__>'))
            found = module
        except Exception as exc:
            found = exc
        _loaded[file] = found
    if isinstance(found, BaseException):
        raise found
    return found


def load(data, file):
    """Unpickle data; if it names what this interpreter's __main__ lacks,
    unpickle it against the fake __main__ run from file."""
    import pickle
    try:
        return pickle.loads(data)
    except AttributeError as exc:
        if not _names_missing_main_attr(exc):
            raise
        missing = exc
    try:
        fake = _fake_main(file)
    except Exception as exc:
        raise missing from exc
    modules = sys.modules
    real = modules.get('__main__')
    modules['__main__'] = fake
    try:
        return pickle.loads(data)
    except Exception as exc:
        # As CPython: the original error, the retry's as its context.
        raise missing from exc
    finally:
        if real is None:
            modules.pop('__main__', None)
        else:
            modules['__main__'] = real
