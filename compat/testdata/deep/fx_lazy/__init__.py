"""A package that imports its extension lazily, on first use, as
cryptography does with its hazmat bindings: importing the package alone
succeeds everywhere."""


def native():
    from fx_lazy import _native

    return _native
