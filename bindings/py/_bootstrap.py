# Installs the finder that serves subinterp's Python submodules
# (subinterp.interpreters, ...) from the sources compiled into the Go
# binary. Run by the subinterp module's exec with _source and _is_package
# (its lookups into those sources) in the namespace; nothing here is kept
# but the finder in sys.meta_path.
import sys


class _Loader:
    """Loads a subinterp submodule from the source shipped in the binary."""

    @staticmethod
    def create_module(spec):
        return None

    @staticmethod
    def exec_module(module, _source=_source):
        name = module.__spec__.name
        src = _source(name)
        if src is None:
            raise ImportError(f"no embedded source for {name}", name=name)
        code = compile(src, module.__spec__.origin, "exec", dont_inherit=True)
        exec(code, module.__dict__)

    @staticmethod
    def get_source(name, _source=_source):
        return _source(name)


class _Finder:
    """sys.meta_path finder for subinterp.* Python submodules."""

    @staticmethod
    def find_spec(fullname, path=None, target=None, _source=_source, _is_package=_is_package):
        if not fullname.startswith("subinterp."):
            return None
        if _source(fullname) is None:
            return None
        from importlib.machinery import ModuleSpec
        pkg = _is_package(fullname)
        spec = ModuleSpec(fullname, _Loader, origin=f"<subinterp>/{fullname.replace('.', '/')}"
                          + ("/__init__.py" if pkg else ".py"), is_package=pkg)
        spec.has_location = False
        if pkg:
            spec.submodule_search_locations = []
        return spec

    @staticmethod
    def invalidate_caches():
        pass


if not any(getattr(f, "__name__", None) == "_SubinterpFinder" for f in sys.meta_path):
    _Finder.__name__ = "_SubinterpFinder"
    sys.meta_path.insert(0, _Finder)
