"""The workloads of `subinterp bench`: one module that every mode runs.

The Go side imports this module in its own-GIL subinterpreters, and
peers.py imports it in threads, worker processes and CPython's own
interpreters, so every mode runs byte-for-byte the same Python code. It
therefore imports only modules that load in an isolated (own-GIL)
subinterpreter: math at import, json and re when a task first needs them,
hashlib only in digest(), which runs in the coordinating process. Keeping
the import light matters: every mode's start-up time includes it.

Everything here is deterministic: the same (name, size, index) gives the
same result string in any process or interpreter of the same CPython build.

API
  WORKLOADS     name -> {"about": what one task does, "cpu_bound": bool}
  task(name, size, index) -> str
                one task of a workload other than "transfer"; the result is
                a short string that starts with the index, and the input
                itself also varies with the index, so a result delivered to
                the wrong task is caught by the digest
  echo(payload) -> payload         the "transfer" task
  payload(size, index) -> bytes    its input: byte i == (i + index) % 256
  FULL_SIZES, QUICK_SIZES          name -> size: about 40 ms resp. 8 ms per
                task for the CPU kernels, measured with the 3.13 release
                build on the 2-core development machine
  digest(results) -> str           sha256 hex of "\\n".join(results)

What "size" means per workload
  nbody          integration steps of a star with four planets
  spectral_norm  n, the matrix order (10 power iterations, O(n^2) each)
  fannkuch       permutations of 10 elements that are pancake-flipped
  json           encode+decode rounds of one ~60 KB API-style document
  regex          web-server log lines parsed and aggregated
  shared_graph   steps of a walk over one large read-only dict (the
                 "graph", built on a worker's first use and then kept)
  private_state  objects a task creates and mutates, all its own
  tiny           ignored (0): the task returns str(index) at once
  transfer       payload bytes echoed
"""

import math

# json and re are imported by the tasks that use them, on first use: the
# start-up time of every mode is measured with the "tiny" task, and a
# worker that never parses JSON should not pay for importing it.

WORKLOADS = {
    "nbody": {
        "about": "integrate a star with four planets for `size` time steps "
                 "(float arithmetic in pure Python)",
        "cpu_bound": True,
    },
    "spectral_norm": {
        "about": "spectral norm of an infinite-matrix section of order "
                 "`size` by 10 power iterations (nested pure-Python loops)",
        "cpu_bound": True,
    },
    "fannkuch": {
        "about": "pancake-flip `size` permutations of 10 elements "
                 "(list slicing and integer work in pure Python)",
        "cpu_bound": True,
    },
    "json": {
        "about": "build a ~60 KB API-response document, then json.dumps "
                 "and json.loads it `size` times",
        "cpu_bound": True,
    },
    "regex": {
        "about": "parse `size` generated web-server log lines (64 distinct "
                 "ones, repeated) with five compiled patterns and aggregate",
        "cpu_bound": True,
    },
    "shared_graph": {
        "about": "walk `size` steps over a read-only dict of 100,000 "
                 "str keys -> (next key, weight) tuples (~20 MB), built once "
                 "per worker interpreter or process on first use, and once "
                 "per process for threads, which share it",
        "cpu_bound": False,
    },
    "private_state": {
        "about": "create `size` objects of one class, then mutate their "
                 "attributes and a dict of counters (all state private to "
                 "the task: nothing is shared but the class and the code)",
        "cpu_bound": False,
    },
    "tiny": {
        "about": "return str(index): the per-task overhead of a mode",
        "cpu_bound": False,
    },
    "transfer": {
        "about": "echo a `size`-byte payload: the cost of moving bytes to "
                 "a worker and back",
        "cpu_bound": False,
    },
}

# Calibrated on the 2-core development machine with the CPython 3.13.15
# release build: the fastest of hundreds of runs of each kernel (the
# machine was shared, so the fastest run stands for an idle machine),
# scaled to ~40 ms per task. The json and regex tasks have a fixed part
# (building the document, generating and summing up the log) of about 1.5
# and 3 ms. `python3.13 workloads.py` prints the current figures.
FULL_SIZES = {
    "nbody": 3600,
    "spectral_norm": 53,
    "fannkuch": 9600,
    "json": 13,
    "regex": 2800,
    "shared_graph": 200000,
    "private_state": 20000,
    "tiny": 0,
    "transfer": 1048576,
}

# ~8 ms per task.
QUICK_SIZES = {
    "nbody": 720,
    "spectral_norm": 25,
    "fannkuch": 1900,
    "json": 2,
    "regex": 400,
    "shared_graph": 40000,
    "private_state": 4000,
    "tiny": 0,
    "transfer": 1048576,
}


# ---------------------------------------------------------------------------
# Deterministic pseudo-random numbers. The random module is avoided: it
# imports a hash module at start-up, and its streams are not promised to
# stay the same across versions.

_MASK64 = (1 << 64) - 1


class _Lcg:
    """A 64-bit linear congruential generator (Knuth's MMIX constants).

    The high bits are used for every draw: the low bits of an LCG have
    short periods.
    """

    __slots__ = ("state",)

    def __init__(self, seed):
        self.state = (seed * 0x9E3779B97F4A7C15 + 1) & _MASK64

    def below(self, n):
        """Return an int in [0, n) for n < 2**32."""
        self.state = (self.state * 6364136223846793005
                      + 1442695040888963407) & _MASK64
        return ((self.state >> 32) * n) >> 32

    def pick(self, seq):
        """Return one element of the sequence seq."""
        return seq[self.below(len(seq))]


def _fold(text):
    """A short deterministic checksum of a string (hash() of a str is
    randomised per process, so it cannot be used)."""
    h = 0
    for b in text.encode("utf-8"):
        h = (h * 131 + b) % 4294967291  # the largest prime below 2**32
    return h


# ---------------------------------------------------------------------------
# nbody


def _nbody(steps, index):
    """A star and four planets under Newtonian gravity, integrated with
    symplectic Euler; returns the total energy at the end.

    Units: AU, years and solar masses, so G * M_star = 4 pi^2. The index
    moves the orbits slightly, which changes the result but not the cost.
    """
    gm_star = 4.0 * math.pi * math.pi
    # Each body is [x, y, z, vx, vy, vz, gm], a list so the loop can update
    # it in place.
    bodies = [[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, gm_star]]
    for k in range(4):
        radius = 1.0 + 1.7 * k + 0.001 * index
        phase = 1.3 * k + 0.01 * index
        tilt = 0.02 * (k + 1)
        speed = math.sqrt(gm_star / radius)
        bodies.append([
            radius * math.cos(phase),
            radius * math.sin(phase) * math.cos(tilt),
            radius * math.sin(phase) * math.sin(tilt),
            -speed * math.sin(phase),
            speed * math.cos(phase) * math.cos(tilt),
            speed * math.cos(phase) * math.sin(tilt),
            gm_star * 1e-3 / (k + 1),
        ])
    # Give the star the momentum that makes the total zero, so the system
    # does not drift.
    star = bodies[0]
    for b in bodies[1:]:
        for axis in range(3):
            star[3 + axis] -= b[3 + axis] * b[6] / gm_star

    pairs = [(bodies[i], bodies[j])
             for i in range(len(bodies)) for j in range(i + 1, len(bodies))]
    dt = 0.001
    sqrt = math.sqrt
    for _ in range(steps):
        for b1, b2 in pairs:
            dx = b1[0] - b2[0]
            dy = b1[1] - b2[1]
            dz = b1[2] - b2[2]
            d2 = dx * dx + dy * dy + dz * dz
            mag = dt / (d2 * sqrt(d2))
            m1 = b1[6] * mag
            m2 = b2[6] * mag
            b1[3] -= dx * m2
            b1[4] -= dy * m2
            b1[5] -= dz * m2
            b2[3] += dx * m1
            b2[4] += dy * m1
            b2[5] += dz * m1
        for b in bodies:
            b[0] += dt * b[3]
            b[1] += dt * b[4]
            b[2] += dt * b[5]

    # The bodies carry G*m, and G = 4 pi^2 = gm_star in these units, so
    # m = gm / gm_star; the energy comes out in solar masses AU^2 / yr^2.
    energy = 0.0
    for i, b1 in enumerate(bodies):
        energy += 0.5 * b1[6] / gm_star * (b1[3] ** 2 + b1[4] ** 2 + b1[5] ** 2)
        for b2 in bodies[i + 1:]:
            dx = b1[0] - b2[0]
            dy = b1[1] - b2[1]
            dz = b1[2] - b2[2]
            energy -= b1[6] * b2[6] / gm_star / sqrt(dx * dx + dy * dy + dz * dz)
    return "%.12e" % energy


# ---------------------------------------------------------------------------
# spectral_norm


def _times_a(u, n, shift):
    """Return A u for A[i][j] = 1 / ((i+j)(i+j+1)/2 + i + 1 + shift)."""
    out = []
    for i in range(n):
        s = 0.0
        base = i + 1 + shift
        for j in range(n):
            ij = i + j
            s += u[j] / ((ij * (ij + 1) >> 1) + base)
        out.append(s)
    return out


def _times_at(u, n, shift):
    """Return A^T u (A as in _times_a)."""
    out = []
    for i in range(n):
        s = 0.0
        for j in range(n):
            ij = i + j
            s += u[j] / ((ij * (ij + 1) >> 1) + j + 1 + shift)
        out.append(s)
    return out


def _spectral_norm(n, index):
    """The largest singular value of the n x n section of A, by 10 power
    iterations of A^T A. The index shifts the matrix entries a little."""
    shift = index % 5
    u = [1.0] * n
    v = u
    for _ in range(10):
        v = _times_at(_times_a(u, n, shift), n, shift)
        u = _times_at(_times_a(v, n, shift), n, shift)
    uv = sum(a * b for a, b in zip(u, v))
    vv = sum(b * b for b in v)
    return "%.12f" % math.sqrt(uv / vv)


# ---------------------------------------------------------------------------
# fannkuch

_FANNKUCH_N = 10
_FANNKUCH_PERMS = math.factorial(_FANNKUCH_N)


def _unrank(rank, n):
    """Return the permutation of range(n) at lexicographic position rank,
    through the factorial number system."""
    pool = list(range(n))
    perm = []
    for k in range(n, 0, -1):
        f = math.factorial(k - 1)
        pos, rank = divmod(rank, f)
        perm.append(pool.pop(pos))
    return perm


def _fannkuch(count, index):
    """Pancake-flip count consecutive permutations of 10 elements, starting
    at a lexicographic rank that depends on the index (wrapping around).

    Each permutation is read back to front, so the element that decides
    the flips changes on every step; read front to back, a run of a few
    thousand permutations would share its first element, and the cost would
    depend on the index. A flip reverses the first p[0] + 1 elements, until
    p[0] == 0. Returns the largest flip count seen and a checksum that
    weighs each permutation's flips by the parity of its position.
    """
    n = _FANNKUCH_N
    perm = _unrank((index * 104729) % _FANNKUCH_PERMS, n)
    max_flips = 0
    checksum = 0
    for seq in range(count):
        p = perm[::-1]
        k = p[0]
        if k:
            flips = 0
            while k:
                p[:k + 1] = p[k::-1]
                flips += 1
                k = p[0]
            if flips > max_flips:
                max_flips = flips
            checksum += flips if seq & 1 == 0 else -flips
        # Step to the next permutation in lexicographic order.
        i = n - 2
        while i >= 0 and perm[i] > perm[i + 1]:
            i -= 1
        if i < 0:
            perm.reverse()  # the last one: wrap around to the first
            continue
        j = n - 1
        while perm[j] < perm[i]:
            j -= 1
        perm[i], perm[j] = perm[j], perm[i]
        perm[i + 1:] = perm[:i:-1]
    return "%d:%d" % (max_flips, checksum)


# ---------------------------------------------------------------------------
# json

_FIRST = ("Ada", "Bruno", "Chloé", "Dmitri", "Emeka", "Fatima", "Grace",
          "Hiro", "Inès", "José", "Kwame", "Łukasz", "Mei", "Nora", "Omar",
          "Priya", "Quinn", "Rosa", "Søren", "Tomás", "Uma", "Viktor",
          "Wen", "Ximena", "Yusuf", "Zoë")
_LAST = ("Abara", "Becker", "Castillo", "Dubois", "Eriksen", "Fujita",
         "García", "Haddad", "Ivanova", "Jensen", "Kowalski", "Lindqvist",
         "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi", "Schmidt",
         "Tanaka", "Ueda", "Vargas", "Weber", "Yilmaz", "Zhang")
_CITIES = ("Amsterdam", "Berlin", "Córdoba", "Dakar", "Edinburgh",
           "Fukuoka", "Göteborg", "Hanoi", "İzmir", "Jakarta", "Kraków",
           "Lagos", "München", "Nairobi", "Osaka", "Porto", "Québec",
           "Reykjavík", "São Paulo", "東京")
_PRODUCTS = ("espresso beans 1 kg", "oat milk, barista", "ceramic mug",
             "pour-over kettle", "burr grinder", "paper filters (100)",
             "milk jug 600 ml", "cold brew bottle", "digital scale",
             "tamper 58 mm", "knock box", "cleaning tablets")
_STATUSES = ("pending", "paid", "shipped", "delivered", "refunded")
_TAGS = ("gift", "express", "fragile", "subscription", "first-order",
         "wholesale", "returning", "eco")


_ORDERS = 75
_SHARED = 12


def _api_document(index):
    """A deterministic API response: a page of 75 orders with nested
    customers, addresses, line items and tags (~60 KB as JSON).

    The orders draw their customers and line items from 12 of each, as a
    real page repeats regular customers and popular baskets; it also keeps
    building the document cheap next to encoding it.
    """
    rng = _Lcg(1000 + index)
    customers = []
    for _ in range(_SHARED):
        first, last = rng.pick(_FIRST), rng.pick(_LAST)
        customers.append({
            "id": rng.below(1000000),
            "name": first + " " + last,
            "email": ("%s.%s@example.com" % (first, last)).lower(),
            "verified": rng.below(2) == 1,
            "address": {
                "street": "%d %s Street" % (1 + rng.below(400), rng.pick(_LAST)),
                "city": rng.pick(_CITIES),
                "postcode": "%05d" % rng.below(100000),
                "geo": [round(rng.below(180000) / 1000 - 90, 3),
                        round(rng.below(360000) / 1000 - 180, 3)],
            },
        })
    baskets = []
    for k in range(_SHARED):
        items = []
        # Fixed counts (here and for tags and notes below) keep the size
        # of the document, and so the cost of a task, nearly the same for
        # every index.
        for _ in range(1 + k % 6):
            qty = 1 + rng.below(4)
            cents = 199 + rng.below(9800)
            items.append({
                "sku": "SKU-%05d" % rng.below(100000),
                "name": rng.pick(_PRODUCTS),
                "quantity": qty,
                "unit_price": cents / 100,
                "total_cents": qty * cents,
                "discount": None if rng.below(3) else rng.below(30) / 100,
            })
        baskets.append(items)
    orders = []
    for o in range(_ORDERS):
        items = rng.pick(baskets)
        orders.append({
            "id": 500000 + index * 1000 + o,
            "status": rng.pick(_STATUSES),
            "created_at": "2024-%02d-%02dT%02d:%02d:%02dZ" % (
                1 + rng.below(12), 1 + rng.below(28), rng.below(24),
                rng.below(60), rng.below(60)),
            "customer": rng.pick(customers),
            "items": items,
            "total_cents": sum(it["total_cents"] for it in items),
            "tags": [rng.pick(_TAGS) for _ in range(o % 4)],
            "notes": None if o % 4 else
                     "Leave at the door; ring twice. Ref %d." % rng.below(10**6),
        })
    return {
        "api_version": "2.4",
        "request_id": "req-%08x" % rng.below(2**32),
        "page": {"number": 1 + index % 50, "size": len(orders),
                 "total": _ORDERS * 50, "next": "/v2/orders?page=%d" % (2 + index % 50)},
        "data": orders,
        "meta": {"generated_by": "subinterp bench", "cache": {"hit": False, "ttl": 300}},
    }


def _json_task(rounds, index):
    """Encode and decode one API document `rounds` times; returns the
    encoded length and a checksum of what was decoded."""
    import json

    doc = _api_document(index)
    checksum = 0
    length = 0
    for r in range(rounds):
        # Touch the document each round, as a server would before it
        # answers, so every round encodes a (slightly) different object.
        doc["meta"]["round"] = r
        text = json.dumps(doc)
        back = json.loads(text)
        length = len(text)
        checksum += sum(o["total_cents"] for o in back["data"]) + back["meta"]["round"]
    return "%d:%d" % (length, checksum)


# ---------------------------------------------------------------------------
# regex

# The patterns are compiled on first use, not at import: compiling them
# takes milliseconds, which every worker would otherwise pay at start-up
# (and the start-up time of each mode is measured with the "tiny" task).
_patterns = None


def _compile_patterns():
    """Compile the log-parsing patterns: a whole combined-format line; ids
    and hex tokens in a path (replaced by placeholders, so requests
    aggregate by route); query parameters; browser and version in the user
    agent; and tell-tale signs of an attack."""
    import re

    global _patterns
    _patterns = (
        re.compile(
            r'^(?P<ip>\d{1,3}(?:\.\d{1,3}){3}) \S+ (?P<user>\S+) '
            r'\[(?P<day>\d{2})/(?P<mon>[A-Z][a-z]{2})/(?P<year>\d{4}):'
            r'(?P<time>\d{2}:\d{2}:\d{2}) (?P<tz>[+-]\d{4})\] '
            r'"(?P<method>[A-Z]+) (?P<path>[^ "?]+)(?:\?(?P<query>[^ "]*))? HTTP/(?P<ver>[\d.]+)" '
            r'(?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<referrer>[^"]*)" "(?P<agent>[^"]*)"$'),
        re.compile(r"/(?:\d+|[0-9a-f]{12,})(?=/|$)"),
        re.compile(r"(?:^|&)([^=&]+)=([^&]*)"),
        re.compile(r"\b(Firefox|Chrome|Safari|Edg|curl|Googlebot)/(\d+)"),
        re.compile(r"(?i)union(?:\s|%20|\+)+select|<script|\.\./|%2e%2e|etc/passwd"),
    )
    return _patterns


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ROUTES = ("/", "/index.html", "/api/v2/orders/%d", "/api/v2/orders/%d/items",
           "/api/v2/users/%d", "/static/app.%x.js", "/static/style.%x.css",
           "/search", "/login", "/products/%d/reviews", "/cart", "/health")
_QUERIES = ("", "", "", "q=coffee+beans&page=%d", "sort=price&dir=asc&page=%d",
            "id=%d%%20UNION%%20SELECT%%20password", "ref=newsletter&utm_source=mail%d",
            "next=../../etc/passwd&n=%d", "lang=de&currency=EUR&v=%d")
_AGENTS = ("Mozilla/5.0 (X11; Linux x86_64; rv:%d.0) Gecko/20100101 Firefox/%d.0",
           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
           "(KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36 Edg/%d.0",
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 "
           "(KHTML, like Gecko) Version/17.1 Safari/%d.1.%d",
           "curl/%d.%d.0",
           "Mozilla/5.0 (compatible; Googlebot/%d.%d; +http://www.google.com/bot.html)")
_STATUS_CODES = (200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 403, 404, 404, 500, 503)
_METHODS = ("GET", "GET", "GET", "POST", "PUT", "DELETE")


_DISTINCT_LINES = 64


def _log_lines(count, index):
    """Return count lines in the combined log format: 64 distinct lines
    generated from the index, then repeated in a scrambled order. The
    regular expressions do the same work for a repeated line, and
    generating every line afresh would cost as much as parsing it."""
    rng = _Lcg(7000 + index)
    distinct = []
    for _ in range(min(count, _DISTINCT_LINES)):
        route = rng.pick(_ROUTES)
        if "%" in route:
            route = route % (rng.below(1 << 48) if "%x" in route else rng.below(100000))
        query = rng.pick(_QUERIES)
        if query:
            query = "?" + query % rng.below(1000)
        agent = rng.pick(_AGENTS)
        agent = agent % (60 + rng.below(70), rng.below(20))
        status = rng.pick(_STATUS_CODES)
        size = "-" if status in (204, 304) else str(rng.below(200000))
        distinct.append('%d.%d.%d.%d - %s [%02d/%s/2024:%02d:%02d:%02d +0000] '
                        '"%s %s%s HTTP/1.1" %d %s "%s" "%s"' % (
                            10 + rng.below(240), rng.below(256), rng.below(256),
                            rng.below(256), rng.pick(("-", "-", "alice", "bob")),
                            1 + rng.below(28), rng.pick(_MONTHS), rng.below(24),
                            rng.below(60), rng.below(60), rng.pick(_METHODS), route,
                            query, status, size,
                            rng.pick(("-", "https://example.com/", "https://search.example/?q=x")),
                            agent))
    # 37 is coprime to 64, so every distinct line comes up equally often.
    return [distinct[(i * 37) % len(distinct)] for i in range(count)]


def _regex_task(count, index):
    """Parse count generated log lines and aggregate them: status classes,
    bytes, requests per route, browsers, query parameters and suspicious
    requests. Returns a short summary with a checksum of the aggregate."""
    line_re, path_id_re, param_re, agent_re, attack_re = _patterns or _compile_patterns()
    status_classes = [0] * 6
    total_bytes = 0
    routes = {}
    agents = {}
    params = 0
    suspicious = 0
    bad = 0
    for line in _log_lines(count, index):
        m = line_re.match(line)
        if m is None:
            bad += 1
            continue
        status_classes[int(m["status"]) // 100] += 1
        if m["bytes"] != "-":
            total_bytes += int(m["bytes"])
        route = m["method"] + " " + path_id_re.sub("/{id}", m["path"])
        routes[route] = routes.get(route, 0) + 1
        a = agent_re.search(m["agent"])
        key = a[1] + "/" + a[2] if a else "other"
        agents[key] = agents.get(key, 0) + 1
        query = m["query"]
        if query:
            params += len(param_re.findall(query))
            if attack_re.search(query):
                suspicious += 1
        elif attack_re.search(m["path"]):
            suspicious += 1
    # Sort before folding: dict order is insertion order, which is
    # deterministic, but sorting makes the summary independent of it.
    top = sorted(routes.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    summary = "%s|%s|%s" % (status_classes, sorted(routes.items()),
                            sorted(agents.items()))
    return "%d:%d:%s:%d:%d:%s:%d" % (
        count - bad, total_bytes, "/".join(str(c) for c in status_classes[2:]),
        params, suspicious, top[0][0] if top else "-", _fold(summary))


# ---------------------------------------------------------------------------
# shared_graph: threads sharing one object graph. Every worker reads the
# same large dict; threads in one process share one copy, while each
# interpreter or worker process has to build and hold its own (isolation
# has a price in memory and set-up). The walk is pure reading: dict
# lookups, tuple unpacking and int adds on objects other threads read too.

_GRAPH_NODES = 100_000
_graph = None
_graph_lock = None


def _build_graph():
    """The graph: "n<i>" -> ("n<j>", weight) for a fixed pseudo-random j."""
    rng = _Lcg(20261201)
    keys = ["n%d" % i for i in range(_GRAPH_NODES)]
    return {k: (keys[rng.below(_GRAPH_NODES)], rng.below(1000)) for k in keys}


def _shared_graph_dict():
    """The process's (interpreter's) one graph, built on first use. A lock
    from _thread (builtin, cheap to import) keeps threads that arrive
    together from building it twice."""
    global _graph, _graph_lock
    if _graph is None:
        if _graph_lock is None:
            import _thread

            _graph_lock = _thread.allocate_lock()
        with _graph_lock:
            if _graph is None:
                _graph = _build_graph()
    return _graph


def _shared_graph(steps, index):
    graph = _shared_graph_dict()
    key = "n%d" % (index * 7919 % _GRAPH_NODES)
    total = 0
    for _ in range(steps):
        key, weight = graph[key]
        total += weight
    return "%s:%d" % (key, total)


# ---------------------------------------------------------------------------
# private_state: workers each mutating their own state. A task makes its
# own objects and mutates them; nothing it writes is seen by another task.
# Threads still share the class, its methods and the module's globals,
# which the free-threaded build reference-counts and locks for them.


class _Account:
    __slots__ = ("owner", "balance", "history")

    def __init__(self, owner):
        self.owner = owner
        self.balance = 0
        self.history = []

    def deposit(self, amount):
        self.balance += amount
        self.history.append(amount)


def _private_state(count, index):
    rng = _Lcg(index + 1)
    accounts = [_Account("a%d" % (i % 97)) for i in range(count)]
    by_owner = {}
    for i in range(count):
        acct = accounts[rng.below(count)]
        acct.deposit(rng.below(100) - 30)
        by_owner[acct.owner] = by_owner.get(acct.owner, 0) + acct.balance
    moves = sum(len(a.history) for a in accounts)
    return "%d:%d:%d" % (moves, sum(a.balance for a in accounts),
                         _fold(str(sorted(by_owner.items()))))


# ---------------------------------------------------------------------------
# The API

_KERNELS = {
    "nbody": _nbody,
    "spectral_norm": _spectral_norm,
    "fannkuch": _fannkuch,
    "json": _json_task,
    "regex": _regex_task,
    "shared_graph": _shared_graph,
    "private_state": _private_state,
}


def task(name, size, index):
    """Run one task of workload `name` with size `size` for task `index`
    and return its result: "<index>:<kernel result>" ("tiny": str(index)).

    Raises ValueError for an unknown workload, for "transfer" (which is
    echo()) and for a negative size.
    """
    if name == "tiny":
        return str(index)
    kernel = _KERNELS.get(name)
    if kernel is None:
        if name == "transfer":
            raise ValueError("transfer is run with echo(payload(size, index)), not task()")
        raise ValueError("unknown workload %r" % (name,))
    if size < 0:
        raise ValueError("size must not be negative, got %d" % size)
    return "%d:%s" % (index, kernel(size, index))


def echo(payload):
    """The transfer task: return the payload unchanged."""
    return payload


_BYTE_CYCLE = bytes(range(256))


def payload(size, index):
    """The transfer payload of task index: size bytes, byte i equal to
    (i + index) % 256. Built from one rotated 256-byte cycle repeated, so
    1 MiB takes well under a millisecond."""
    r = index % 256
    cycle = _BYTE_CYCLE[r:] + _BYTE_CYCLE[:r]
    whole, rest = divmod(size, 256)
    return cycle * whole + cycle[:rest]


def digest(results):
    """The sha256 hex digest of the results (task-index order) joined by
    "\\n" and encoded as UTF-8; the Go side computes the same."""
    import hashlib  # lazily: only the coordinating process needs it

    return hashlib.sha256("\n".join(results).encode("utf-8")).hexdigest()


def _calibrate(argv):
    """`python workloads.py [NAME ...]`: print the milliseconds one task of
    each CPU kernel takes at FULL_SIZES and QUICK_SIZES (fastest and median
    of 11 runs, over varying indexes), to re-check the calibration on
    another machine or build."""
    import time

    names = argv or list(_KERNELS)
    for name in names:
        for label, sizes in (("full", FULL_SIZES), ("quick", QUICK_SIZES)):
            times = []
            for i in range(11):
                t0 = time.perf_counter()
                task(name, sizes[name], i)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            print("%-14s %-5s size %-6d fastest %6.1f ms  median %6.1f ms"
                  % (name, label, sizes[name], times[0], times[5]))


if __name__ == "__main__":
    import sys

    _calibrate(sys.argv[1:])
