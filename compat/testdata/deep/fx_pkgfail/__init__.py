"""A package whose own import needs a shared-GIL-only extension: in an
own-GIL interpreter, every module inside it fails with the package."""
from fx_pkgfail import _core  # noqa: F401
