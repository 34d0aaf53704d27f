"""A module that imports a dependency that is not installed: an
ImportError, but not "not found" for this module itself."""
import fx_no_such_dependency  # noqa: F401
