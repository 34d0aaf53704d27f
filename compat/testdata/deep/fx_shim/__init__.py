"""A shim package in the image of PyYAML's _yaml: it re-exports another
package's extension, and when that package fell back to pure Python it
raises an ImportError of its own that hides why."""
import fx_fallback

if not fx_fallback.HAS_C:
    raise ModuleNotFoundError("No module named 'fx_shim'")
from fx_fallback._speedups import *  # noqa: E402,F401,F403
