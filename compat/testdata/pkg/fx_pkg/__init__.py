"""A pure-Python package whose import needs a single-phase extension."""
import fx_single  # noqa: F401
