"""A package whose extension declares per-interpreter GIL support; it also
ships an extension that needs a library that is not installed (as test or
optional modules do), which must not decide its verdict."""
from fx_good._core import answer  # noqa: F401
