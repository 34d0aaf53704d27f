"""A package with a C accelerator it can do without, as PyYAML and many
"speedups" packages do: when the extension cannot load, the ImportError
is caught and a pure-Python version takes its place."""
try:
    from fx_fallback._speedups import answer

    HAS_C = True
except ImportError:
    HAS_C = False

    def answer():
        return 42
