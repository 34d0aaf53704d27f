package compat

// checkFunc is the function checkSource defines in __main__; the child
// calls it with the module name as an argument.
const checkFunc = "__subinterp_compat_check"

// checkSource imports one module and describes it. It imports nothing
// before the module under test but sys and _imp, which every interpreter
// has loaded already (not even importlib: checking importlib, or anything
// it imports, must not find it loaded), and uses __import__, as the
// import statement does. After the import, anything goes.
const checkSource = `
def __subinterp_compat_check(name):
    import sys, _imp
    preloaded = name in sys.modules
    try:
        __import__(name)
        mod = sys.modules[name]
    except BaseException as exc:
        t = type(exc)
        tname = t.__qualname__
        if t.__module__ not in ("builtins", "__main__"):
            tname = t.__module__ + "." + tname
        try:
            text = str(exc)
        except BaseException:
            text = "(str() of the exception failed)"
        status = "error"
        if isinstance(exc, ImportError):
            status = "import_error"
            missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
            if isinstance(missing, str) and (name == missing or name.startswith(missing + ".")):
                status = "not_found"
        return {"status": status, "message": tname + ": " + text if text else tname}
    f = getattr(mod, "__file__", None)
    if not isinstance(f, str):
        f = ""
    if name in sys.builtin_module_names:
        kind = "builtin"
    elif f.endswith(tuple(_imp.extension_suffixes())):
        kind = "extension"
    else:
        kind = "python"
    import subinterp
    return {
        "status": "ok",
        "message": "",
        "preloaded": preloaded,
        "kind": kind,
        "file": f,
        "def": subinterp._module_def(mod),
        "gil_slot": sys.version_info >= (3, 13),
    }
`

// listFunc is the function listSource defines in __main__.
const listFunc = "__subinterp_compat_list"

// listSource describes the Python in use and lists modules: the stdlib's
// builtin and extension modules, the top-level modules of site-packages
// that contain an extension, and every top-level importable name in the
// given directories.
const listSource = `
def __subinterp_compat_list(stdlib, site_packages, paths):
    import importlib.machinery, os, sys, sysconfig
    suffixes = importlib.machinery.EXTENSION_SUFFIXES

    def ext_name(fn):
        for s in suffixes:
            if fn.endswith(s):
                return fn[:-len(s)]
        return None

    def listdir(d):
        try:
            return sorted(os.listdir(d))
        except OSError:
            return []

    def has_ext(d):
        for _, _, files in os.walk(d):
            if any(ext_name(f) for f in files):
                return True
        return False

    out = {
        "python": sys.version.split()[0],
        "build": "debug" if sysconfig.get_config_var("Py_DEBUG") else "release",
        "platform": sys.platform + " " + os.uname().machine,
        "include": sysconfig.get_paths()["include"],
        "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX") or suffixes[0],
        "stdlib": [],
        "site_packages": [],
        "paths": {},
    }
    if stdlib:
        # subinterp is the checker's own module, built into this program.
        out["stdlib"] += [n for n in sys.builtin_module_names if n not in ("__main__", "subinterp")]
        dynload = sysconfig.get_config_var("DESTSHARED") or os.path.join(sysconfig.get_path("platstdlib"), "lib-dynload")
        for fn in listdir(dynload):
            n = ext_name(fn)
            if n and n.isidentifier():
                out["stdlib"].append(n)
    if site_packages:
        import site
        dirs = list(site.getsitepackages())
        if site.ENABLE_USER_SITE:
            dirs.append(site.getusersitepackages())
        for d in dirs:
            for fn in listdir(d):
                full = os.path.join(d, fn)
                n = ext_name(fn)
                if n is not None:
                    if n.isidentifier():
                        out["site_packages"].append(n)
                elif fn.isidentifier() and os.path.isdir(full) and has_ext(full):
                    out["site_packages"].append(fn)
    for d in paths:
        names = []
        for fn in listdir(d):
            full = os.path.join(d, fn)
            n = ext_name(fn)
            if n is None and fn.endswith(".py") and os.path.isfile(full):
                n = fn[:-3]
            if n is None and os.path.isdir(full) and (
                os.path.isfile(os.path.join(full, "__init__.py")) or has_ext(full)
            ):
                n = fn
            if n and n.isidentifier():
                names.append(n)
        out["paths"][d] = names
    return out
`
