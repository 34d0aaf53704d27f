package compat

// checkFunc is the function checkSource defines in __main__; the child
// calls it with the module name as an argument.
const checkFunc = "__subinterp_compat_check"

// checkSource imports one module and describes it. It imports nothing
// before the module under test but sys and _imp, which every interpreter
// has loaded already (not even importlib: checking importlib, or anything
// it imports, must not find it loaded), and uses __import__, as the
// import statement does. After the import, anything goes.
//
// During the import it records every exception an extension module's
// loading raised, caught later or not: importlib loads each extension
// file through _imp.create_dynamic (where CPython refuses a module an
// interpreter cannot take) and then _imp.exec_dynamic, looking both up on
// the _imp module at each call (ExtensionFileLoader in
// Lib/importlib/_bootstrap_external.py), so wrapping them there sees
// every extension loaded from a file, however deep in the import, and
// changes nothing else. A package that catches the ImportError and falls
// back to pure Python (a "speedups" module) shows up here and nowhere
// else.
const checkSource = `
def __subinterp_compat_check(name):
    import sys, _imp
    preloaded = name in sys.modules

    def describe(exc):
        t = type(exc)
        tname = t.__qualname__
        if t.__module__ not in ("builtins", "__main__"):
            tname = t.__module__ + "." + tname
        try:
            text = str(exc)
        except BaseException:
            text = "(str() of the exception failed)"
        return tname + ": " + text if text else tname

    ext_errors = []

    def recording(load, what):
        def wrapper(arg, *rest):
            try:
                return load(arg, *rest)
            except BaseException as exc:
                mod = getattr(arg, "name", None) if what == "create" else getattr(arg, "__name__", None)
                ext_errors.append({"module": mod if isinstance(mod, str) else "?", "message": describe(exc)})
                raise
        return wrapper

    create, execute = _imp.create_dynamic, _imp.exec_dynamic
    _imp.create_dynamic = recording(create, "create")
    _imp.exec_dynamic = recording(execute, "exec")
    try:
        __import__(name)
        mod = sys.modules[name]
    except BaseException as exc:
        status = "error"
        if isinstance(exc, ImportError):
            status = "import_error"
            missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
            if isinstance(missing, str) and (name == missing or name.startswith(missing + ".")):
                status = "not_found"
        return {"status": status, "message": describe(exc), "ext_errors": ext_errors}
    finally:
        _imp.create_dynamic, _imp.exec_dynamic = create, execute
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
        "ext_errors": ext_errors,
    }
`

// listFunc is the function listSource defines in __main__.
const listFunc = "__subinterp_compat_list"

// listSource describes the Python in use and lists modules: the stdlib's
// builtin and extension modules, the top-level modules of site
// directories that contain an extension, every top-level importable name
// in the given directories, and, for each top-level module and each named
// module, the extension module files it ships (a package's submodules
// that are extension modules, found on disk: nothing is imported). It
// also reads the installed distributions' metadata (.dist-info and
// .egg-info) in the directories it lists, and in every sys.path
// directory when distributions are asked for by name (dists), whose
// packages' extension modules it finds too: name, version, and the top-level modules
// each installs, from RECORD, installed-files.txt or top_level.txt, else
// from dpkg's file list of the package that installed it (Debian drops
// the others), else its name if a module has it.
//
// A site directory's modules are those that are or contain an extension,
// plus the other top-level modules of the distributions they belong to
// (PyYAML installs yaml, which has the extension, and _yaml, a shim that
// imports it).
const listSource = `
def __subinterp_compat_list(stdlib, site_packages, paths, venv, named, dists):
    import csv, importlib.machinery, io, os, re, sys, sysconfig
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

    def walk(d):
        # Directories an import can reach: identifiers, not __pycache__.
        for root, dirs, files in os.walk(d):
            dirs[:] = sorted(x for x in dirs if x.isidentifier() and x != "__pycache__")
            yield root, sorted(files)

    def has_ext(d):
        return any(ext_name(f) for _, files in walk(d) for f in files)

    def exts_under(prefix, d):
        out = []
        for root, files in walk(d):
            rel = os.path.relpath(root, d)
            parts = [prefix] + ([] if rel == "." else rel.split(os.sep))
            for f in files:
                n = ext_name(f)
                if n and n.isidentifier():
                    out.append(".".join(parts + [n]))
        return out

    def top_modules(d):
        # name -> whether it is or contains an extension, for every
        # importable top-level name in d.
        found = {}
        for fn in listdir(d):
            full = os.path.join(d, fn)
            n = ext_name(fn)
            if n is not None:
                if n.isidentifier():
                    found[n] = True
                continue
            if fn.endswith(".py") and os.path.isfile(full) and fn[:-3].isidentifier():
                found.setdefault(fn[:-3], False)
            elif fn.isidentifier() and fn != "__pycache__" and os.path.isdir(full):
                ext = has_ext(full)
                if ext or os.path.isfile(os.path.join(full, "__init__.py")):
                    found[fn] = found.get(fn, False) or ext
        return found

    def read_text(path):
        with open(path, encoding="utf-8", errors="strict") as f:
            return f.read()

    def headers(text):
        out = {}
        for line in text.splitlines():
            if not line.strip():
                break
            if line[:1] in " \t" or ":" not in line:
                continue
            k, v = line.split(":", 1)
            out.setdefault(k.strip().lower(), v.strip())
        return out

    def first_part(rel):
        rel = rel.replace("\\", "/")
        if rel.startswith("/") or rel.startswith(".."):
            return None
        part = rel.split("/", 1)[0]
        if "/" not in rel:
            if part.endswith(".py"):
                part = part[:-3]
            else:
                part = ext_name(part) or ""
        if part.isidentifier() and part != "__pycache__":
            return part
        return None

    def dist_of(d, fn):
        full = os.path.join(d, fn)
        info = {"dir": d, "path": full, "name": "", "version": "", "top_level": [], "error": ""}
        egg = fn.endswith(".egg-info")
        if os.path.isdir(full):
            meta = os.path.join(full, "PKG-INFO" if egg else "METADATA")
        else:
            meta = full  # an .egg-info file is the PKG-INFO itself
        try:
            h = headers(read_text(meta))
        except FileNotFoundError:
            info["error"] = "no %s file" % os.path.basename(meta)
            return info
        except (OSError, UnicodeDecodeError) as exc:
            info["error"] = "cannot read %s: %s" % (os.path.basename(meta), exc)
            return info
        info["name"], info["version"] = h.get("name", ""), h.get("version", "")
        missing = [f for f in ("Name", "Version") if not info[f.lower()]]
        if missing:
            info["error"] = "%s has no %s field" % (os.path.basename(meta), " or ".join(missing))
            return info
        tops = []
        if os.path.isdir(full):
            try:
                record = read_text(os.path.join(full, "RECORD"))
                for row in csv.reader(io.StringIO(record)):
                    if row:
                        tops.append(first_part(row[0]))
            except (OSError, UnicodeDecodeError, csv.Error):
                pass
            try:
                for line in read_text(os.path.join(full, "installed-files.txt")).splitlines():
                    rel = os.path.relpath(os.path.normpath(os.path.join(full, line.strip())), d)
                    tops.append(first_part(rel))
            except (OSError, UnicodeDecodeError):
                pass
            try:
                tops += [first_part(x.strip()) for x in read_text(os.path.join(full, "top_level.txt")).splitlines()]
            except (OSError, UnicodeDecodeError):
                pass
        present = top_modules_cache(d)
        tops = sorted({t for t in tops if t and t in present})
        if not tops:
            tops = sorted({t for t in dpkg_tops(full, d) if t in present})
        if not tops:
            guess = info["name"].lower().replace("-", "_").replace(".", "_")
            if guess in present:
                tops = [guess]
        info["top_level"] = tops
        return info

    tops_cache = {}
    dpkg = {}

    def dpkg_tops(meta, d):
        # Debian's packages drop RECORD and top_level.txt; what dpkg
        # installed with the .dist-info, in the same directory, is the
        # distribution's (/var/lib/dpkg/info/PACKAGE.list).
        if not dpkg:
            dpkg["owner"], dpkg["files"] = {}, {}
            info = "/var/lib/dpkg/info"
            for fn in listdir(info):
                if not fn.endswith(".list"):
                    continue
                try:
                    lines = read_text(os.path.join(info, fn)).splitlines()
                except (OSError, UnicodeDecodeError):
                    continue
                dpkg["files"][fn] = lines
                for line in lines:
                    if line.endswith((".dist-info", ".egg-info")):
                        dpkg["owner"][line] = fn
        pkg = dpkg["owner"].get(meta) or dpkg["owner"].get(os.path.realpath(meta))
        if pkg is None:
            return []
        prefix = d.rstrip("/") + "/"
        return [first_part(line[len(prefix):]) for line in dpkg["files"][pkg] if line.startswith(prefix)]

    def top_modules_cache(d):
        if d not in tops_cache:
            tops_cache[d] = top_modules(d)
        return tops_cache[d]

    def dists_in(d):
        return [dist_of(d, fn) for fn in listdir(d) if fn.endswith((".dist-info", ".egg-info"))]

    out = {
        "python": sys.version.split()[0],
        "build": "debug" if sysconfig.get_config_var("Py_DEBUG") else "release",
        "platform": sys.platform + " " + os.uname().machine,
        "include": sysconfig.get_paths()["include"],
        "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX") or suffixes[0],
        # Not sys.executable: in an embedding program that is not this
        # installation's python.
        "executable": os.path.join(sysconfig.get_config_var("BINDIR") or sys.base_prefix + "/bin",
                                   "python%d.%d" % sys.version_info[:2]),
        "stdlib": [],
        "site_packages": [],
        "paths": {},
        "extensions": {},
        "dists": [],
    }
    if stdlib:
        # subinterp is the checker's own module, built into this program.
        out["stdlib"] += [n for n in sys.builtin_module_names if n not in ("__main__", "subinterp")]
        dynload = sysconfig.get_config_var("DESTSHARED") or os.path.join(sysconfig.get_path("platstdlib"), "lib-dynload")
        for fn in listdir(dynload):
            n = ext_name(fn)
            if n and n.isidentifier():
                out["stdlib"].append(n)

    scanned = []  # directories whose distributions are read
    exts = out["extensions"]

    def add_exts(name, locations):
        found = []
        for loc in locations:
            found += exts_under(name, loc)
        exts[name] = sorted(set(found) - {name})

    def site_dir(d):
        # Modules that are or contain an extension, and the other
        # top-level modules of their distributions.
        present = top_modules_cache(d)
        names = {n for n, ext in present.items() if ext}
        for info in dists_in(d):
            if names.intersection(info["top_level"]):
                names.update(info["top_level"])
        for n in sorted(names):
            full = os.path.join(d, n)
            if os.path.isdir(full):
                add_exts(n, [full])
        scanned.append(d)
        return sorted(names)

    sdirs = []
    if venv:
        # site set the venv up (sys.prefix is the venv): its own
        # site-packages, not the base installation's it may include.
        import site
        sdirs += [d for d in site.getsitepackages() if d.startswith(sys.prefix.rstrip(os.sep) + os.sep)]
    if site_packages:
        import site
        sdirs += list(site.getsitepackages())
        if site.ENABLE_USER_SITE:
            sdirs.append(site.getusersitepackages())
    for d in sdirs:
        if os.path.isdir(d) and d not in scanned:
            out["site_packages"] += site_dir(d)
    for d in paths:
        names = sorted(top_modules_cache(d))
        for n in names:
            full = os.path.join(d, n)
            if os.path.isdir(full):
                add_exts(n, [full])
        out["paths"][d] = names
        if d not in scanned:
            scanned.append(d)
    listed = set(scanned)
    if dists:
        for d in sys.path:
            if d and os.path.isdir(d) and d not in scanned:
                scanned.append(d)

    # Named modules: found on sys.path without importing anything (a
    # dotted name is looked up in its parent's directories).
    for name in named:
        if name in exts:
            continue
        locations, spec = None, None
        parts = name.split(".")
        for i in range(len(parts)):
            spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]), locations)
            if spec is None:
                break
            locations = spec.submodule_search_locations
        if spec is not None and spec.submodule_search_locations:
            add_exts(name, list(spec.submodule_search_locations))

    def norm(n):
        return "-".join(x for x in re.split(r"[-_.]+", n.lower()) if x)

    wanted = {norm(n) for n in dists}
    for d in scanned:
        for info in dists_in(d):
            info["listed"] = d in listed
            out["dists"].append(info)
            if not info["error"] and norm(info["name"]) in wanted:
                # The extension modules of a requested distribution's packages.
                for n in info["top_level"]:
                    full = os.path.join(d, n)
                    if n not in exts and os.path.isdir(full):
                        add_exts(n, [full])
    return out
`
