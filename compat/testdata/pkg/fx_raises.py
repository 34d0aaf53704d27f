"""A module whose import raises something other than ImportError."""
raise ValueError("fx_raises refuses to be imported")
