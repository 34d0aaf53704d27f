"""Document scoring for the httpservice example.

score(text, top) tokenises a document, weights its terms by tf-idf against a
small built-in corpus and returns, as JSON, the corpus documents it is most
similar to (cosine similarity), the terms the match rests on, and the
document's own keywords. Pure Python and CPU-bound on purpose: a request
costs a few milliseconds of interpreter time, which is what the pool spreads
over the cores.

It is run once as the prelude of every pool interpreter: the index is built
at import time, each request only scores.
"""

import json
import math
import re
from collections import Counter

CORPUS = {
    "astronomy": """Astronomers measure the light of distant stars and galaxies with
        telescopes on mountains and in orbit. Spectra reveal the chemical composition,
        temperature and motion of a star; the redshift of galaxies shows that the
        universe is expanding. Planets around other stars are found when they dim
        their star during a transit or make it wobble.""",
    "cooking": """A good sauce starts with a reduction: wine or stock simmered until
        the flavour concentrates, then finished with butter whisked in off the heat.
        Roasting vegetables at high temperature caramelises their sugars. Season in
        layers, taste often, and let meat rest after cooking so the juices settle.""",
    "finance": """Interest rates set by the central bank move bond prices in the
        opposite direction. Investors diversify a portfolio across stocks, bonds and
        cash to reduce risk; an index fund tracks the market at low cost. Inflation
        erodes the real return of savings, and compounding rewards patience.""",
    "networking": """Packets travel between routers that forward them by the longest
        matching prefix of the destination address. TCP provides reliable ordered
        delivery with acknowledgements, retransmission and congestion control, while
        UDP sends datagrams without guarantees. Latency, bandwidth and packet loss
        decide how fast a connection feels.""",
    "gardening": """Tomatoes need full sun, steady watering and rich soil with plenty
        of compost. Prune the side shoots, stake the stems and mulch to keep moisture
        in. Rotate crops each season so pests and diseases do not build up, and sow
        beans to return nitrogen to the soil.""",
    "football": """The midfielder controls the tempo of the match, passing between the
        lines to the striker, who times the run to beat the offside trap. A high press
        wins the ball near the opponent's goal. Set pieces, corners and free kicks
        decide many tight games; the goalkeeper organises the defence.""",
    "medicine": """Vaccines train the immune system to recognise a pathogen without
        causing the disease. Antibiotics treat bacterial infections but not viruses,
        and their overuse breeds resistance. Clinical trials compare a treatment with
        a placebo in randomised, blinded groups to measure whether it works.""",
    "music": """A symphony orchestra groups strings, woodwinds, brass and percussion
        under a conductor who shapes tempo and dynamics. Harmony stacks notes into
        chords; a melody moves over them, and rhythm organises time into bars.
        Musicians rehearse passages slowly before playing them at full speed.""",
    "law": """A contract needs an offer, acceptance and consideration to be binding.
        Courts interpret statutes and follow precedent set by higher courts. In a
        criminal trial the prosecution must prove guilt beyond reasonable doubt, while
        civil cases are decided on the balance of probabilities.""",
    "geology": """Rocks record the history of the earth: igneous rock cools from magma,
        sedimentary rock forms from layers of sediment pressed over millions of years,
        and metamorphic rock is transformed by heat and pressure. Plate tectonics moves
        continents and raises mountains where plates collide.""",
    "programming": """A compiler translates source code into machine instructions after
        parsing it into a syntax tree and checking its types. Functions, modules and
        interfaces keep large programs manageable. Tests catch regressions, profilers
        find the hot loops, and concurrency lets a program use every processor core.""",
    "climate": """Greenhouse gases such as carbon dioxide and methane trap heat in the
        atmosphere, warming the planet. Rising temperatures melt glaciers and sea ice,
        raise sea levels and shift rainfall. Renewable energy from wind and solar power
        cuts emissions, and forests store carbon.""",
    "sailing": """A sailing boat can move upwind by tacking, the sails trimmed so air
        flows over them like a wing. The keel resists sideways drift. Sailors read the
        wind on the water, watch the tide and the weather forecast, and reef the sails
        before a squall arrives.""",
    "photography": """Exposure depends on aperture, shutter speed and sensor
        sensitivity. A wide aperture blurs the background, a fast shutter freezes
        motion, and a tripod allows long exposures at night. Composition places the
        subject with care, and good light at dawn or dusk makes the picture.""",
    "chess": """Chess openings fight for the centre and develop the knights and bishops
        quickly. In the middlegame players look for tactics such as forks, pins and
        discovered attacks; in the endgame the king becomes active and passed pawns
        race to promote. Engines evaluate millions of positions per second.""",
    "architecture": """Architects balance structure, function and beauty. Load travels
        from the roof through beams and columns to the foundations; arches and vaults
        carry it in compression. Daylight, ventilation and the choice of materials such
        as timber, brick, steel and concrete shape how a building feels.""",
    "beekeeping": """A honeybee colony has one queen, thousands of workers and, in
        summer, drones. Workers forage for nectar and pollen, build wax comb and turn
        nectar into honey. Beekeepers inspect the hive for disease, add boxes as the
        colony grows and leave enough honey for the bees to survive winter.""",
    "coffee": """Coffee beans are the roasted seeds of a cherry grown on highland farms.
        A light roast keeps fruity acidity, a dark roast brings bitterness and body.
        Grind size, water temperature and brewing time control extraction, whether
        the coffee is made as espresso, filter or in a French press.""",
    "railways": """Trains run on steel rails that carry heavy loads with little rolling
        resistance. Signalling keeps trains apart in blocks of track, and timetables
        coordinate connections at stations. Electric locomotives draw power from
        overhead wires, and high speed lines need gentle curves.""",
    "volcanoes": """A volcano erupts when magma rises through the crust and gas
        pressure builds. Runny basalt lava flows gently, while sticky magma traps gas
        and explodes, throwing ash high into the atmosphere. Scientists monitor
        earthquakes, ground swelling and gas emissions to forecast eruptions.""",
}

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because
been before being below between both but by can could did do does doing down
during each either few for from further had has have having he her here hers
him his how i if in into is it its itself just like made make many may me might
more most much must my no nor not now of off often on once only or other our
out over own same she should so some such than that the their them then there
these they this those through to too under until up very was we were what when
where which while who whom why will with without would you your
""".split())

_WORD = re.compile(r"[a-z]+")
_SUFFIXES = ("ations", "ation", "ments", "ment", "ness", "ingly", "ings", "ing",
             "edly", "ies", "ied", "ers", "er", "ed", "ly", "es", "s")


def stem(word):
    """A light suffix stripper: folds plurals and common endings."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                word += "y"
            break
    if len(word) > 4 and word[-1] == "e":
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    return word


def terms(text):
    """Stemmed words (no stopwords, no words shorter than 3) and bigrams."""
    words = [stem(w) for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in STOPWORDS]
    bigrams = [a + " " + b for a, b in zip(words, words[1:])]
    return words, bigrams


def _vector(counts, idf, default_idf):
    vec = {}
    for term, n in counts.items():
        vec[term] = (1.0 + math.log(n)) * idf.get(term, default_idf)
    norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
    return {t: w / norm for t, w in vec.items()}


def _build_index():
    counts = {}
    df = Counter()
    for title, text in CORPUS.items():
        words, bigrams = terms(text)
        c = Counter(words)
        c.update(bigrams)
        counts[title] = c
        df.update(c.keys())
    n = len(CORPUS)
    idf = {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items()}
    default_idf = math.log(1 + n) + 1.0  # a term no corpus document has
    vectors = {title: _vector(c, idf, default_idf) for title, c in counts.items()}
    return idf, default_idf, vectors


IDF, DEFAULT_IDF, VECTORS = _build_index()


def score(text, top=3):
    """Scores a document against the corpus; returns a JSON string.

    Raises ValueError for a document without any indexable word.
    """
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    words, bigrams = terms(text)
    if not words:
        raise ValueError("the document has no indexable words (only stopwords, digits or punctuation?)")
    counts = Counter(words)
    counts.update(bigrams)
    vec = _vector(counts, IDF, DEFAULT_IDF)
    matches = []
    for title, dvec in VECTORS.items():
        shared = [(vec[t] * w, t) for t, w in dvec.items() if t in vec]
        sim = sum(s for s, _ in shared)
        if sim > 0:
            shared.sort(reverse=True)
            matches.append((sim, title, [t for _, t in shared[:5]]))
    matches.sort(reverse=True)
    keywords = sorted(((w, t) for t, w in vec.items() if " " not in t and t in IDF), reverse=True)
    return json.dumps({
        "words": len(words),
        "distinct_terms": len(counts),
        "matches": [
            {"topic": title, "similarity": round(sim, 4), "because_of": because}
            for sim, title, because in matches[:top]
        ],
        "keywords": [t for _, t in keywords[:8]],
    })
