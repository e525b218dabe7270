"""Pseudonymisation of transcripts: roster names and school names out of every output.

Transcripts and rosters are personal data (GDPR). By default every way a roster person is
written in a transcript is replaced in segment texts *before* coding, training and any output:

- the full name, the given name(s), the surname with and without its tussenvoegsel
  ("van Leeuwen", "Van Leeuwen", "Leeuwen"; a bare core shorter than six letters, like the
  "Meer" of "van der Meer", only inside longer forms, as it is usually an everyday word),
  each part of a double surname, an upper-case surname ("BROUWER");
- initials with a surname ("A. Brouwer", "A.Brouwer", "P.J. van Dongen"), dotted initials
  ("A.B.") and dot-less initials as used in observation notes ("AB", "MvL"), except common
  school acronyms (:data:`ACRONYMS`: "CE", "MR", "PLG" ...) unless the roster gives them as
  a nickname; where a school's segments hold such initials, a warning says so
  (:meth:`Pseudonymiser.kept_acronyms`);
- nicknames from a ``nickname`` / ``nicknames`` / ``roepnaam`` / ``alias`` column of
  ``staff.csv`` (several separated by ``;``, ``|`` or ``/``), the usual Dutch short forms of
  formal given names (:data:`SHORT_FORMS`: Johannes -> Hans, Cornelis -> Kees ...) and
  diminutives of given names and nicknames ("Keesje", "Annetje", "Bassie");
- school names from a ``school_name`` column of ``staff.csv``, in full and without generic
  words ("Stedelijk College Zandhove" -> "Zandhove", "Scholengemeenschap De Wielewaal" ->
  "De Wielewaal", "Wielewaal");
- given names, nicknames, short forms and surnames typed in lower case, alone, with the
  tussenvoegsel and after a first name ("kees", "jansen", "van der heijden", "kees de wit"),
  and a name of three letters in capitals ("ELS"), where a word of it is no Dutch word
  (:func:`is_dutch_word`: not in spaCy's lemma table, nor an acronym or abbreviation such as
  "max"); a surname must be missing from spaCy's wider lexicon too, as many surnames are words
  ("post", "de lange", "van houten"). Never initials;
- every form above also without its accents ("Yilmaz" for "Yılmaz", "Celik" for "Çelik");
- every form above hyphenated over two lines, as word-wrap leaves it ("mevrouw Jans-" at a
  line's end, "sen" on the next: :data:`pipeline.io.WORD_BREAK`), read as one word ("Janssen")
  or, where the form has that hyphen, as a double surname ("Zijlstra-" / "de Boer"); the text
  keeps its line break, so offsets stay the transcript's (segmenting never cuts a note or an
  answer there);
- e-mail addresses, whole (``[e-mail]``): "k.dewit@obsdewilg.nl" names a person and a school
  in forms no roster gives;
- the names the transcripts use as speakers ("Marieke de Vries:"), also of people not in the
  roster such as the interviewer, in every form above, where no roster name has that form.

A school subject that is also a name ("Frans", "Engels": :data:`SCHOOL_WORDS`) stays a word,
except in the texts of a school where someone has that name.

A possessive or plural ``s`` after a name stays ("Femkes idee" -> "[persoon-1a2b]s idee").
Matching is case-sensitive, so a name that is also a Dutch word ("Roos", "Bakker", "de Wit")
is only replaced where it is capitalised, or in capitals of four letters or more ("ROOS", not
"JAN"); only a name that is no Dutch word is also known in lower case (above). At a
sentence's start, where capitals tell nothing, a one-word name that is also a Dutch word and
comes right before a subject pronoun ("Wil je nog iets toevoegen?", "Ben jij klaar?") is the
verb it reads as, unless someone of the text's school has that name: her own school's texts
may address her without a comma ("Wil je hebt gelijk"), and a text of no known school keeps
the cohort's reading (privacy first). "Wil zei" and "Wil, je ..." name her anywhere, and so
does a sentence-initial "Roos zei": a bare noun seldom starts a Dutch sentence. A line's
start counts as a sentence's (turns and notes start lines), so in text wrapped by hand
another school's Wil who starts a line right before a pronoun ("... sprak met" / "Wil je kent
haar") stays as written.

Pseudonyms are stable: ``[persoon-xxxx]`` / ``[school-xxxx]`` with ``xxxx`` an HMAC of the
person or school id keyed by :func:`cohort_key` (the cohort's name and the ids and names
of its roster, :func:`roster_fingerprint`, not the file's bytes), so a person gets the same
pseudonym in every run of the same cohort, also after staff.csv is saved again, while the
pseudonyms of two cohorts cannot be linked. Two pseudonyms never coincide within a cohort.
A text is read as its school's: a form is first that school's people's (its roster, then
its transcripts' speakers), so "IV" in one school's observation notes is its Ingrid Verbeek
however many schools have an IV; only a form no one of the school has is resolved over the
cohort. A form shared by several people there (two colleagues called "Jan", initials "AB"
twice) cannot be attributed and becomes the neutral ``[persoon]``. ``--reveal-names`` turns
all of this off, and the manifest records that it did.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from itertools import product

import pandas as pd

from pipeline.io import WORD_BREAK

__all__ = ["Pseudonymiser", "cohort_key", "roster_fingerprint", "is_dutch_word",
           "name_variants", "school_variants", "acronym_initials",
           "ABBREVIATIONS", "ACRONYMS",
           "SHORT_FORMS", "SCHOOL_WORDS", "NICKNAME_COLUMNS", "REVEAL_HINT"]

TUSSENVOEGSELS = {"van", "de", "der", "den", "el", "al", "ter", "ten", "te", "het", "'t", "la",
                  "le", "du", "da", "op", "in", "vd", "v.d.", "v/d", "uit", "aan", "bij", "von",
                  "di", "dos", "das"}
NICKNAME_COLUMNS = ("nickname", "nicknames", "roepnaam", "roepnamen", "alias", "aliases")
NEUTRAL = "[persoon]"
#: said after a warning whose names were pseudonymised: which name to configure is in the file
REVEAL_HINT = " (names pseudonymised: --reveal-names shows them)"

# Upper-case abbreviations common in Dutch school talk: never taken for someone's initials.
ACRONYMS = frozenset("""
AI AM AVG BB BO BSM BTW BV CBS CE CITO CKV CSE CV DC DM DT DUO EN EU GGD GL GMR GT HAVO HBO
HR IB ICT ID IK IQ JA KB KBL KCV KT LB LL LO LS LVS MAVO MBO MC MR MT NB NL NT NU OCW OF OK OP
OPP OV PC PLG PLGS PM PO PR PS PSV PTA PTO PWS QR RT SBO SE SLO SO SOVA SVO TA TL TOA TV UK US
VMBO VO VR VS VT VWO WE WO WT ZE ZO ZAT ZOT
""".split())

# Of those, everyday words typed in capitals ("OK", "JA"): initials that are one are left as
# written without a warning, which would come with nearly every transcript.
CAPITAL_WORDS = frozenset("EN IK JA NU OF OK OP WE ZE ZO".split())

# Capitalised words of Dutch school talk that are also someone's name ("docent Frans", "het
# CE Engels"): a school's texts mean the word, unless someone of that school has that name.
SCHOOL_WORDS = frozenset("""
Arabisch Chinees Duits Engels Frans Fries Grieks Italiaans Latijn Nederlands Russisch Spaans
Turks
""".split())

# Lower-case abbreviations that are also given names ("max twee uur", "tot 3 sep", "mei"): never
# taken for a name typed in lower case or in capitals.
ABBREVIATIONS = frozenset("""
jan feb mrt apr mei jun jul aug sep okt nov dec max min
""".split())

TURKISH_LETTERS = frozenset("çğıöşüÇĞİÖŞÜ")
# an e-mail address, replaced whole: its parts name a person and a school in forms no roster
# gives ("k.dewit", "obsdewilg")
EMAIL = re.compile(r"[\w.%+'’-]+@[\w-]+(?:\.[\w-]+)+")
EMAIL_PSEUDONYM = "[e-mail]"
CAPITALS = re.compile(r"[A-Z]+")
# The fewest letters of a name word known in lower case or, alone, in three-letter capitals:
# shorter ones are initials ("ab") or particles, never added so.
SHORTEST_SPELT = 3

# Formal Dutch given names and the short forms people use for them.
SHORT_FORMS: dict[str, tuple[str, ...]] = {
    "Adrianus": ("Adri", "Arie", "Ad"), "Albertus": ("Albert", "Bert"), "Alexander": ("Alex",
    "Sander"), "Antonius": ("Anton", "Ton", "Toon", "Teun"), "Bartholomeus": ("Bart",),
    "Bastiaan": ("Bas",), "Sebastiaan": ("Bas",), "Catharina": ("Karin", "Trijntje", "Toos",
    "Ineke"), "Christiaan": ("Chris",), "Cornelis": ("Kees", "Cees", "Cor", "Niels"),
    "Cornelia": ("Cor", "Corrie", "Nelleke", "Nel"), "Daniël": ("Daan", "Dani"),
    "Elisabeth": ("Liesbeth", "Lies", "Els", "Elise", "Betty", "Lisa"), "Franciscus": ("Frans",
    "Frank"), "Geertruida": ("Truus", "Geertje"), "Gerardus": ("Gerard", "Gert", "Geert", "Ger"),
    "Hendrik": ("Henk", "Rik", "Henkie"), "Hendrikus": ("Henk", "Rik"), "Jacobus": ("Jaap",
    "Koos", "Co", "Jacco"), "Jacoba": ("Co", "Coby", "Koosje"), "Johannes": ("Hans", "Jan",
    "Johan", "Joop", "Hannes"), "Johanna": ("Hanneke", "Anneke", "Joke", "Jo", "Hanna"),
    "Josephus": ("Jos", "Joop", "Sjef"), "Lambertus": ("Bert",), "Margaretha": ("Greet",
    "Margriet", "Grietje"), "Maria": ("Marie", "Mies", "Ria", "Mieke", "Marieke"),
    "Matthijs": ("Thijs",), "Nicolaas": ("Klaas", "Niek", "Nico"), "Petrus": ("Piet", "Peter"),
    "Pieter": ("Piet",), "Robertus": ("Rob", "Bert"), "Robert": ("Rob", "Bob"),
    "Susanne": ("Sanne", "Suus"), "Suzanne": ("Sanne", "Suus"), "Theodorus": ("Theo", "Dorus",
    "Ruud"), "Wilhelmina": ("Willy", "Mien", "Wilma"), "Willem": ("Wim", "Pim"),
    "Wilhelmus": ("Wim", "Willem"), "Annelies": ("Lies",), "Marinus": ("Rinus", "Rien"),
    "Jozef": ("Jos", "Sjef"), "Hubertus": ("Huub", "Bert"), "Dirk": ("Dick",),
    "Gijsbertus": ("Gijs", "Bert"), "Aaltje": ("Alie",), "Abraham": ("Bram",),
    "Frederik": ("Frits", "Freek"), "Reinier": ("Rein",),
}

# Words that make a school name generic ("Lindenhof College" is known as "Lindenhof").
SCHOOL_GENERIC = {"college", "lyceum", "gymnasium", "atheneum", "scholengemeenschap", "sg",
                  "csg", "osg", "rsg", "pcsg", "school", "scholen", "schoolgemeenschap",
                  "stedelijk", "stedelijke", "christelijk", "christelijke", "openbaar",
                  "openbare", "katholiek", "katholieke", "rooms-katholiek", "rk", "r.k.",
                  "protestants-christelijk", "protestants", "interconfessioneel", "algemeen",
                  "bijzonder", "regionaal", "vmbo", "havo", "vwo", "mavo", "campus", "locatie",
                  "praktijkschool", "praktijkonderwijs", "vakcollege", "onderwijsgroep",
                  "scholengroep", "het", "'t", "voor", "en", "basisschool", "obs", "cbs",
                  "pcbs", "rkbs", "kbs", "ikc", "kindcentrum", "integraal", "sbo",
                  "daltonschool", "jenaplanschool", "montessorischool"}


def cohort_key(cohort_name: str, roster: bytes) -> bytes:
    """The per-cohort key of the pseudonyms: the cohort's name and its roster
    (:func:`roster_fingerprint`); secret as the roster's names are."""
    return hashlib.sha256(cohort_name.encode("utf-8") + b"\0" + roster).digest()


def _nickname_columns(staff: pd.DataFrame) -> list:
    """The columns of ``staff`` that give nicknames (:data:`NICKNAME_COLUMNS`, any case), in
    its order: the names replaced and the pseudonyms' key must read the same ones."""
    return [c for c in staff.columns if str(c).strip().lower() in NICKNAME_COLUMNS]


def roster_fingerprint(staff: pd.DataFrame) -> bytes:
    """What of staff.csv the pseudonyms are made from: each person's id, school and names
    (and the school's name), in person order, the columns named. Not the file's bytes, so
    re-saving it (other line ends, a BOM, columns moved or added, an empty nickname column,
    blank lines, decomposed accents) keeps every pseudonym; a name added or changed (a
    nickname given, a school_name filled in, someone new) makes new ones."""
    nick_cols = sorted(_nickname_columns(staff))
    cols = [c for c in ("person_id", "school_id", "name", "school_name") if c in staff.columns]
    values = staff[cols + nick_cols].fillna("").astype(str).map(
        lambda v: unicodedata.normalize("NFC", v.strip()))   # as a Mac saves them, too
    values = values.loc[:, [c in cols[:1] or values[c].ne("").any() for c in values.columns]]
    rows = values.sort_values(cols[:1], kind="stable")
    return "\x1e".join(["\x1f".join(map(str, rows.columns)),
                        *("\x1f".join(row) for row in rows.itertuples(index=False))]
                       ).encode("utf-8")


def _initial(word: str) -> str:
    return word[0].upper() if word else ""


def _diminutives(name: str) -> set[str]:
    """Dutch diminutives of a given name: Kees -> Keesje, Anne -> Annetje, Bas -> Bassie."""
    if len(name) < 3 or not name.isalpha():
        return set()
    last = name[-1].lower()
    if last in "aeiouy":
        return {name + "tje", name + "ke"}
    return {name + "je", name + "tje", name + "pje", name + "ke", name + "ie", name + last + "ie"}


@cache
def is_dutch_word(word: str, surname: bool = False) -> bool:
    """Whether a lower-case word is Dutch, so that a name typed so is left alone: a form or a
    lemma of spaCy's lemma lookup table ("bakker" is there only as the lemma of "bakkers"),
    also with the plural or possessive ``s`` a name may take ("hui" of "huis"); or a
    tussenvoegsel, a school subject, an acronym or an abbreviation (:data:`ABBREVIATIONS`).

    The table lacks most inflected adjectives ("lieve", "grote"), which spaCy's rule
    lemmatiser lists. A ``surname`` is also a word wherever that lemmatiser's lexicon has it:
    many surnames are words the table lacks ("post", "kamp", "houten", "de wilde", "vogels").
    Not so a given name: that lexicon, gathered from lower-cased text, has most ("kees"), so a
    given name the table lacks is a name, though a rare word too ("els", "mark", "fleur")."""
    from pipeline.nlp import lemmatiser  # loaded once a process, with the first roster

    lem = lemmatiser()
    return (word in TUSSENVOEGSELS or word in ABBREVIATIONS or word.upper() in ACRONYMS
            or word.capitalize() in SCHOOL_WORDS or lem.is_word(word) or lem.is_word(word + "s")
            or word in lem.inflected_adjectives or surname and word in lem.lexicon)


@cache
def _tells_name(form: str, surname: bool = False) -> bool:
    """Whether a name typed in lower case can only be a name: a word of it has letters only
    (a hyphen or apostrophe inside), :data:`SHORTEST_SPELT` or more, and is no Dutch word
    (:func:`is_dutch_word`)."""
    return any(len(w) >= SHORTEST_SPELT and w.replace("-", "").replace("'", "").isalpha()
               and not is_dutch_word(w, surname) for w in form.split())


def _lower_case(firsts: set[str], shorts: set[str], sur_forms: set[str], alone: set[str]
                ) -> tuple[set[str], set[str]]:
    """A person's name as a transcriber may type it in lower case ("ik heb het met kees
    besproken"): the given names and nicknames, the short forms, the surname (``alone``: not a
    short core like "meer") and each of those first names with the surname (``sur_forms``),
    wherever a word tells a name (:func:`_tells_name`): "kees", "jansen", "kees de wit"; not
    "bakker" nor "de wit", as "de boer" and "in 't veld" are phrases. ``(names, short forms)``."""
    def telling(forms: set[str], surname: bool = False) -> set[str]:
        return {f for f in forms if _tells_name(f, surname)}

    firsts = {f.lower() for f in firsts if not f.isupper()}   # not initials ("PJ")
    shorts = {f.lower() for f in shorts} - firsts
    surnames = {f.lower() for f in sur_forms}
    named_first, named_short, named_sur = telling(firsts), telling(shorts), telling(surnames, True)

    def with_surname(forms: set[str], named: set[str]) -> set[str]:
        return {f"{f} {s}" for f in forms for s in surnames if f in named or s in named_sur}

    return (named_first | ({f.lower() for f in alone} & named_sur)
            | with_surname(firsts, named_first), named_short | with_surname(shorts, named_short))


def _split_name(full: str) -> tuple[list[str], list[str], list[str]]:
    """Given names, tussenvoegsels and surname words of a name as written in staff.csv."""
    words = full.split()
    if len(words) == 1:
        return words, [], []
    # a double surname whose second part has a tussenvoegsel: "Margriet Zijlstra-de Boer"
    double = next((i for i in range(1, len(words) - 1) if "-" in words[i]
                   and words[i].rsplit("-", 1)[1].lower() in TUSSENVOEGSELS), None)
    t = next((i for i in range(1, len(words) - 1) if words[i].lower() in TUSSENVOEGSELS), None)
    if double is not None and (t is None or double < t):
        return words[:double], [], words[double:]
    if t is None:
        return words[:-1], [], words[-1:]
    end = t
    while end < len(words) - 1 and words[end].lower() in TUSSENVOEGSELS:
        end += 1
    return words[:t], words[t:end], words[end:]


def name_variants(full: str, nicknames: list[str] | tuple[str, ...] = ()
                  ) -> tuple[set[str], set[str], set[str]]:
    """How a person may be written: ``(names, derived, initials)``.

    ``names``: full name, given names, surnames, initials + surname, nicknames and their
    combinations; ``derived``: short forms of formal given names and diminutives (they yield
    to someone who really has that name); ``initials``: the dot-less initials ("AB", "MvL"),
    used only when they are no school acronym.
    """
    full = " ".join(full.split())
    nicknames = [n.strip() for n in nicknames if n.strip()]
    if not full:
        return set(nicknames), set(), set()
    given, tussen, surname = _split_name(full)
    out: set[str] = {full}
    firsts = set(given) | {" ".join(given)} | set(nicknames)
    stressed = {full} | firsts   # and the surname: written in capitals ("KEES", "DE WIT")
    derived: set[str] = set()
    for g in given:
        derived.update(SHORT_FORMS.get(g, ()))
        if "-" in g:
            derived.update(p for p in g.split("-") if len(p) >= 3)
    shorts = set(derived)   # typed in lower case too; diminutives rarely are
    for f in firsts | derived:
        derived.update(_diminutives(f))
    out.update(firsts)
    derived -= out
    initials: set[str] = set()
    sur_forms: set[str] = set()
    alone: set[str] = set()
    if surname:
        tv = " ".join(tussen)
        core = " ".join(surname)
        sur_forms = {core}
        if tv:
            sur_forms |= {f"{spelt} {core}" for spelt in _tussen_spellings(tv)}
        segments = [part.split() for part in core.split("-") if part.strip()]
        if len(segments) > 1:   # each part of a double surname: "Jong", "Bakker", "de Boer"
            for seg in segments:
                seg_tv, seg_words = _tussen_and_core(seg)
                seg_core = " ".join(seg_words)
                if seg_tv:
                    sur_forms |= {f"{spelt} {seg_core}" for spelt in _tussen_spellings(seg_tv)}
                if len(seg_core) >= (6 if seg_tv else 2):
                    sur_forms.add(seg_core)
        # the bare core of a surname with tussenvoegsel is written alone only when it is long
        # enough not to be an everyday word ("Idrissi", "Leeuwen"; not "Meer", "Groot")
        alone = sur_forms - ({core} if tv and len(core) < 6 else set())
        out.update(alone)
        stressed |= alone
        # Teams writes the surname first: "Vries, Marieke de", where "Vries" alone is no form
        first_surname = tv and core not in alone
        spelt_out = [s for s in sur_forms if "." not in s]   # "v.d. Berg" after initials only
        for f in firsts | {d for d in derived if d[0].isupper()}:
            for s in spelt_out:
                out.add(f"{f} {s}")
            if first_surname:
                out.add(f"{core}, {f} {tv}")
        # initials: "A. Brouwer", "A.Brouwer", "P.J. van Dongen", "P.-J. van Dongen"
        g_parts = [p for g in given for p in g.split("-") if p]
        dotted = ["".join(f"{_initial(p)}." for p in g_parts), f"{_initial(given[0])}."]
        if any("-" in g for g in given):
            dotted.append(".-".join(_initial(p) for p in g_parts) + ".")
        for d in dotted:
            if first_surname:
                out.add(f"{core}, {d} {tv}")   # "Vries, M. de"
            for s in sur_forms:
                out |= {f"{d} {s}", f"{d}{s}"}
        gi, si, ti = _letters(given), _letters(surname), _tussen_letters(tussen)
        out |= {".".join(gi + t + si) + "." for t in {"", ti, ti.upper()}}   # "M.v.d.B."
        initials |= _dotless_initials(given, tussen, surname)
    for n in nicknames:
        n = n.strip()
        if n and n.isupper() and 2 <= len(n) <= 4:
            initials.add(n)
    def short_caps(v: str) -> bool:
        return v.isalpha() and v.isupper() and len(v) <= 4

    # a name typed in capitals for stress ("KEES DE WIT": "KEES", "DE WIT"), unless an acronym;
    # one word of three letters only where it is no Dutch word ("ELS"; not "BAS", "JAN", "MAX")
    shouted = {v.upper() for v in stressed
               if v.upper() != v and (len(v) > SHORTEST_SPELT or " " in v or (
                   len(v) == SHORTEST_SPELT and _tells_name(v.lower(), v in alone)))} - ACRONYMS
    # a Turkish name in capitals has a dotted İ for its i ("ÇELİK"; its ı is I: "YILMAZ")
    if TURKISH_LETTERS & set(full):
        shouted |= {v.replace("i", "İ").upper() for v in stressed
                    if "i" in v and v.upper() in shouted}
    lower, lower_short = _lower_case(firsts, shorts, sur_forms, alone)
    names = {v for v in out if len(v) >= 2 and not short_caps(v)} | {
        v for v in shouted if len(v) >= 2} | lower
    derived = {v for v in (derived | lower_short) - names
               if len(v) >= 2 and not short_caps(v)}
    initials |= {v for v in out if short_caps(v)}
    # a school acronym is no one's initials ("MT"), unless the roster gives it as a nickname
    initials = {i for i in initials if 2 <= len(i) <= (4 if i.isupper() else 6)
                and (i not in ACRONYMS or i in nicknames)}
    return names, derived, initials


def _letters(words: list[str]) -> str:
    """The initials of name words, a hyphenated word giving one per part ("Anne-Marie": AM)."""
    return "".join(_initial(p) for w in words for p in w.split("-") if p)


def _dotless_initials(given: list[str], tussen: list[str], surname: list[str]) -> set[str]:
    """Initials as notes write them without dots: all given names' or the first's, with the
    tussenvoegsel's in lower or upper case or left out ("AB", "MvL", "MVL", "ML", "JvtH"); of
    a double surname both parts' or the first's ("AdJB", "AdJ", "MZdB", "MZ"); and those of
    a hyphenated given name alone ("JW": Jan-Willem)."""
    gi = _letters(given)
    ti = _tussen_letters(tussen)
    per_part = []
    for part in [p for p in " ".join(surname).split("-") if p.strip()] or [""]:
        seg_tv, seg_core = _tussen_and_core(part.split())
        letters = _letters(seg_core)
        seg_ti = _tussen_letters(seg_tv.split())
        per_part.append({letters, seg_ti + letters, seg_ti.upper() + letters} if seg_ti
                        else {letters})
    sis = (per_part[0] if len(per_part) == 1
           else {"".join(p) for p in product(*per_part)} | per_part[0])
    found = {g + t + si for g in {gi, gi[:1]} for t in {"", ti, ti.upper(), ti.capitalize()}
             for si in sis}
    if len(gi) > 1 and any("-" in g for g in given):
        found.add(gi)
    return found


def _tussen_letters(tussen: list[str]) -> str:
    """The tussenvoegsel's letters in initials: "van den" -> "vd", "van 't" -> "vt"."""
    return "".join(next((c for c in w if c.isalpha()), "").lower() for w in tussen)


def _tussen_and_core(words: list[str]) -> tuple[str, list[str]]:
    """A part of a surname as its tussenvoegsel and the rest: "de Boer" -> ("de", ["Boer"])."""
    n = next((k for k, w in enumerate(words) if w.lower() not in TUSSENVOEGSELS), len(words))
    return " ".join(words[:n]), words[n:] or words[-1:]


def _tussen_spellings(tv: str) -> set[str]:
    """How a tussenvoegsel is written: as in the roster, in lower case, its first word
    capitalised or every word ("Van den", "Van Den"), abbreviated ("v.d.", "V.d."), and "'t"
    with Word's curly apostrophe or none ("van ’t", "van t")."""
    words = tv.split()
    cased = {tv, tv.lower(), " ".join([words[0][:1].upper() + words[0][1:], *words[1:]]),
             " ".join(w[:1].upper() + w[1:] for w in words)}
    letters = _tussen_letters(words)
    abbreviated = {".".join(letters) + ".", ".".join(letters.capitalize()) + "."}   # "v.d."
    return cased | abbreviated | {c.replace("'", "’") for c in cased} | {
        c.replace("’", "'") for c in cased} | {c.replace("'t", "t").replace("’t", "t")
                                             for c in cased}


def acronym_initials(full: str, nicknames: Iterable[str] = ()) -> set[str]:
    """A person's dot-less initials that are school acronyms ("MT": Marieke Tol, and the
    management team), which :func:`name_variants` leaves out, so a text keeps them as
    written, unless the roster gives them as a nickname (everyday words in capitals such as
    "OK" are left out here: :data:`CAPITAL_WORDS`)."""
    given, tussen, surname = _split_name(" ".join(full.split()))
    if not surname:
        return set()
    found = _dotless_initials(given, tussen, surname)
    return ((found | {plain_letters(i) for i in found}) & (ACRONYMS - CAPITAL_WORDS)) - {
        n.strip() for n in nicknames}


def school_variants(name: str) -> set[str]:
    """How a school may be written: in full, and without generic words ("Lindenhof")."""
    name = " ".join(str(name).split())
    if not name:
        return set()
    out = {name}
    words = name.split()
    core = [w for w in words if w.lower() not in SCHOOL_GENERIC]
    if len(core) > 1 and core[0].lower() in {"de", "het", "'t"}:   # "OBS De Wilg": "Wilg"
        core = core[1:]
    if core and core != words:
        # keep an article that belongs to the name: "Scholengemeenschap De Brederode"
        i = words.index(core[0])
        if i > 0 and words[i - 1].lower() in {"de", "het", "'t"}:
            art = words[i - 1]
            out |= {" ".join([art, *core]), " ".join([art.capitalize(), *core]),
                    " ".join([art.lower(), *core])}
        out.add(" ".join(core))
    # a school named after someone is known by the surname ("CSG Jan Arentsz": "het Arentsz")
    if len(core) > 1 and len(core[-1]) >= 5 and not is_dutch_word(core[-1].lower()):
        out.add(core[-1])
    return {v for v in out if len(v) >= 3}


def _tag(key: bytes, what: str, taken: set[str]) -> str:
    digest = hmac.new(key, what.encode("utf-8"), hashlib.sha256).hexdigest()
    n = 4
    while digest[:n] in taken:
        n += 1
    taken.add(digest[:n])
    return digest[:n]


_END = ""  # trie key: a form ends here (its value is the replacement)
LOWER_CASE_PREFIX = 4   # letters of a lower-case form that a word must begin with to be tried


def _prefix_pattern(trie: dict, depth: int) -> str:
    """A regular expression for the first ``depth`` characters of the forms in ``trie`` (a
    whole form where shorter), as a trie of alternatives: the regex engine then skips, at C
    speed, every word that begins no form."""
    branches = [re.escape(ch) + (_prefix_pattern(node, depth - 1) if depth > 1 else "")
                for ch, node in sorted(trie.items()) if ch != _END]
    if not branches:
        return ""
    return "(?:" + "|".join(branches) + ")" + ("?" if _END in trie else "")


def _is_word(c: str) -> bool:
    return c.isalnum() or c == "_"


def _free(text: str, k: int) -> bool:
    return k >= len(text) or not _is_word(text[k])


def _ends_ok(text: str, j: int) -> bool:
    """A name may end at ``j``: a non-word character follows, possibly after a possessive or
    plural ``s`` ("Femkes", "Ruud's")."""
    if _free(text, j):
        return True
    if text[j] == "s":
        return _free(text, j + 1)
    return text[j] in "'’" and text[j + 1:j + 2] == "s" and _free(text, j + 2)


# a subject pronoun: a capitalised word right before one is a verb, its sentence a question or
# inverted ("Wil je ...", "Ben jij ...", "Kan ik ..."); a name said to someone has a comma
SUBJECT_PRONOUNS = frozenset("ik je jij u hij zij ze we wij jullie men".split())
NEXT_WORD = re.compile(r"[^\S\n]+(\w+)")
SENTENCE_ENDS = ".?!:…"
# what may come between a sentence's end (or the line's start) and its first word
OPENERS = " \t\u00a0'\"‘’‚“”„«‹([-–—"


def _verb_first(text: str, i: int, e: int, form: str) -> bool:
    """Whether a one-word name at ``text[i:e]`` is rather the Dutch word it also is
    (:func:`is_dutch_word`), capitalised as the first word of a sentence or a line, a verb
    before its subject pronoun (:data:`SUBJECT_PRONOUNS`): "Wil je nog iets toevoegen?"."""
    if not (form.isalpha() and form[0].isupper() and form[1:].islower()):
        return False
    after = NEXT_WORD.match(text, e)
    if after is None or after[1] not in SUBJECT_PRONOUNS:
        return False
    k = i
    while k and text[k - 1] in OPENERS:
        k -= 1
    return ((k == 0 or text[k - 1] in SENTENCE_ENDS or text[k - 1].isspace())
            and is_dutch_word(form.lower()))


# who may be named in a text: people (id, name, nicknames), speakers (id, name) and schools
# (id, name), as :func:`_resolve` reads them
_Named = tuple[list[tuple[str, str, tuple[str, ...]]], list[tuple[str, str]], list[tuple[str, str]]]
SCOPES_KEPT = 64   # schools whose own names a Pseudonymiser keeps resolved at a time


def _resolve(named: _Named, tags: dict[str, str]) -> dict[str, str]:
    """Every form of these people's, speakers' and schools' names -> its replacement.

    A form that is someone's own name beats a short form or diminutive of another's, which
    beats initials, which beat a form typed without its accents, which beats a speaker's name
    (the speakers yield to the roster); a form shared by several at the same tier is neutral.
    A person's name wins over a school's (it is more identifying)."""
    people, speakers, schools = named
    owners: dict[int, dict[str, set[str]]] = {0: {}, 1: {}, 2: {}, 3: {}, 4: {}}
    for pid, name, nicks in people:
        for tier, forms in enumerate(name_variants(name, nicks)):
            for v in forms | _decomposed(forms):
                owners[tier].setdefault(v, set()).add(pid)
            for v in _plain(forms):
                owners[3].setdefault(v, set()).add(pid)
    for sid, speaker in speakers:
        forms = set().union(*name_variants(speaker))
        for v in forms | _decomposed(forms) | _plain(forms):
            owners[4].setdefault(v, set()).add(sid)
    table: dict[str, str] = {}
    for tier in (0, 1, 2, 3, 4):   # each form on its own: their order does not matter
        for v, ids in owners[tier].items():
            if v not in table:
                table[v] = tags[next(iter(ids))] if len(ids) == 1 else NEUTRAL
    school_owner: dict[str, set[str]] = {}
    for sid, sname in schools:
        variants = school_variants(sname)
        for v in variants | _plain(variants):
            school_owner.setdefault(v, set()).add(sid)
    for v, sids in school_owner.items():
        if v not in table:
            table[v] = tags[next(iter(sids))] if len(sids) == 1 else "[school]"
    return table


@dataclass
class Pseudonymiser:
    """Replace roster and school names in text by stable pseudonyms.

    ``table`` maps every form of a name in the cohort to its replacement. Matching walks a
    character trie of the forms from each word start and takes the longest form that ends at
    a word end ("Annelies Brouwer" before "Annelies"); building and matching stay fast for
    rosters of many thousands of people.

    A text of a known school (``school=``) names that school's people first: "IV" in its
    observation notes is its own Ingrid Verbeek, though another school has an Ivo Vos, and
    "Marieke" is its interviewer, though another school has a Marieke on its roster. Only
    forms that no one of the school has are resolved over the whole cohort. ``scopes`` holds
    per school who may be named there (:func:`_resolve`'s input) and ``tags`` the pseudonyms.
    """

    table: dict[str, str]
    scopes: dict[str, _Named] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    _trie: dict = field(default_factory=dict, init=False, repr=False)
    _starts: re.Pattern | None = field(default=None, init=False, repr=False)
    _broken_starts: re.Pattern | None = field(default=None, init=False, repr=False)
    _resolved: dict[str, dict[str, str]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for form, replacement in self.table.items():
            node = self._trie
            for ch in form:
                node = node.setdefault(ch, {})
            node[_END] = replacement
        # where a name may start: a word whose first character starts a form, or, as nearly
        # every word starts with a lower-case letter, whose first letters start a lower-case one
        first = "".join(sorted(k for k in self._trie if k != _END and not k.islower()))
        starts = [f"[{re.escape(first)}]"] if first else []
        lower = _prefix_pattern({k: v for k, v in self._trie.items() if k.islower()},
                                LOWER_CASE_PREFIX)
        if lower:
            starts.append(lower)
        if starts:
            self._starts = re.compile(r"(?<!\w)(?=" + "|".join(starts) + ")")   # zero-width
            # in a text with a word broken over two lines, also a word whose first letters end
            # a line ("ja-\\nnssen"), which the lower-case prefixes do not see
            self._broken_starts = re.compile(r"(?<!\w)(?=" + "|".join(
                [*starts, rf"[^\W\d_]{{1,{LOWER_CASE_PREFIX - 1}}}{WORD_BREAK.pattern}"]) + ")")

    @classmethod
    def from_staff(cls, staff: pd.DataFrame, key: bytes,
                   speakers: Iterable[tuple[str, str]] = ()) -> Pseudonymiser:
        """Every form of every name in ``staff`` (columns ``person_id``, ``name``, optional
        ``school_id`` + ``school_name`` and a nickname column), keyed by ``key``; and of the
        names used as speakers in the transcripts (an interviewer), given as ``(school_id,
        name)``, where no roster name has that form."""
        taken: set[str] = set()
        tags: dict[str, str] = {}
        scopes: dict[str, _Named] = {}

        def scope(school: object) -> _Named:
            return scopes.setdefault(str(school), ([], [], []))

        everyone: _Named = ([], [], [])
        nick_cols = _nickname_columns(staff)
        rows = staff.assign(_order=range(len(staff))).sort_values(["person_id", "_order"],
                                                                  kind="stable")
        for rec in rows.to_dict("records"):
            pid = str(rec["person_id"])
            name = _clean(rec.get("name"))
            nicks = tuple(n for c in nick_cols for n in re.split(r"[;|/]", _clean(rec.get(c)))
                          if n.strip())
            if not name and not nicks:
                continue
            if pid not in tags:
                tags[pid] = f"[persoon-{_tag(key, pid, taken)}]"
            everyone[0].append((pid, name, nicks))
            if "school_id" in rec:
                scope(rec["school_id"])[0].append((pid, name, nicks))
        # after the roster's tags, in name order, so that a speaker's is the same in any school
        for speaker, school in sorted({(name, str(school)) for school, name in speakers}):
            sid = "speaker:" + speaker
            if sid not in tags:
                tags[sid] = f"[persoon-{_tag(key, sid, taken)}]"
                everyone[1].append((sid, speaker))
            scope(school)[1].append((sid, speaker))
        if "school_name" in staff.columns and "school_id" in staff.columns:
            schools = staff[["school_id", "school_name"]].astype(str).drop_duplicates()
            for sid, sname in sorted(schools.itertuples(index=False)):
                sname = _clean(sname)
                if not sname:
                    continue
                if "school:" + sid not in tags:
                    tags["school:" + sid] = f"[school-{_tag(key, 'school:' + sid, taken)}]"
                everyone[2].append(("school:" + sid, sname))
                scope(sid)[2].append(("school:" + sid, sname))
        table = _resolve(everyone, tags)
        # kept as said, except in the texts of a school whose people have them: a subject
        # ("Frans"), and an acronym the roster gives someone as a nickname ("MT", for her
        # school only: elsewhere "het MT" is the management team)
        table.update((word, word) for word in (SCHOOL_WORDS | ACRONYMS) & table.keys())
        return cls(table, scopes, tags)

    def _school_table(self, school: object) -> dict[str, str] | None:
        """The forms as that school's texts mean them (None: an unknown school)."""
        school = str(school)
        if school not in self.scopes:
            return None
        if school not in self._resolved:
            if len(self._resolved) >= SCOPES_KEPT:   # the school resolved longest ago goes
                del self._resolved[next(iter(self._resolved))]
            self._resolved[school] = _resolve(self.scopes[school], self.tags)
        return self._resolved[school]

    def matches(self, text: str, school: object = None):
        """``(start, end, replacement)`` of every name in ``text`` (a text of ``school``, when
        known) and every e-mail address (:data:`EMAIL`: it names a person and a school in
        forms no roster gives, "k.dewit@hetbaken.nl"), left to right."""
        emails = [(m.start(), m.end(), EMAIL_PSEUDONYM) for m in EMAIL.finditer(text)
                  ] if text and "@" in text else []
        k = 0
        for start, end, rep in self._name_matches(text, school):
            while k < len(emails) and emails[k][1] <= start:
                yield emails[k]
                k += 1
            if k < len(emails) and start < emails[k][1] and emails[k][0] < end:
                continue   # a name in the address: the address goes whole
            yield start, end, rep
        yield from emails[k:]

    def _name_matches(self, text: str, school: object = None):
        if self._starts is None or not text:
            return
        own = None if school is None else self._school_table(school)
        # only a text with a word broken over two lines (rare) is read across line ends
        pos, broken = 0, WORD_BREAK.search(text) is not None
        for m in (self._broken_starts if broken else self._starts).finditer(text):
            i = m.start()
            if i < pos:
                continue
            ends = self._forms_at(text, i, broken)
            if not ends:
                continue
            # the longest form the school's own people have ("Frans" is its Fran's with an
            # s where no one there is called Frans), else the longest that names anyone
            # (not a school subject kept as a word)
            best, form, rep = ends[-1]
            owned = False
            if own is not None:
                for e, f, r in reversed(ends):
                    if (mine := own.get(f)) is not None:
                        best, form, rep, owned = e, f, mine, True
                        break
                    if r.startswith("[school"):   # "het Jan Arentsz", though a Jan works here
                        best, form, rep = e, f, r
                        break
            if not owned and rep == form:   # a subject kept as a word: a name in it?
                for e, f, r in reversed(ends[:-1]):
                    if r != f:
                        best, form, rep = e, f, r
                        break
            # "Wil je ...?" starting a question: the verb, unless a Wil of this school
            if rep != form and (owned or own is None or not _verb_first(text, i, best, form)):
                yield i, best, rep
            pos = best

    def _forms_at(self, text: str, i: int, broken: bool) -> list[tuple[int, str, str]]:
        """``(end, form, replacement)`` of every form that starts at ``i`` and ends at a word
        end, shortest first. In a ``broken`` text, a word broken over two lines by a hyphen
        (:data:`WORD_BREAK`, "Jans-\\nsen") is read whole: as one word ("Janssen") or, where a
        form goes on with a hyphen, as a double surname ("Zijlstra-\\nde Boer")."""
        ends: list[tuple[int, str, str]] = []
        todo, n = [(self._trie, i, "")], len(text)
        while todo:   # a node, where the text goes on, the form read before there
            node, j, read = todo.pop()
            k = j
            while j < n:
                if broken and text[j] == "-" and (brk := WORD_BREAK.match(text, j)):
                    if "-" in node:
                        todo.append((node["-"], brk.end(), read + text[k:j] + "-"))
                    todo.append((node, brk.end(), read + text[k:j]))
                    break
                node = node.get(text[j])
                if node is None:
                    break
                j += 1
                if _END in node and _ends_ok(text, j):
                    ends.append((j, read + text[k:j], node[_END]))
        if broken:
            ends.sort(key=lambda end: end[0])
        return ends

    def kept_acronyms(self, school: object, texts: Iterable[str]) -> dict[str, int]:
        """The initials of the school's people that are school acronyms (:func:`acronym_initials`)
        and stay as written in ``texts`` (pseudonymised texts of that school): how often each
        occurs. The acronym is what they usually mean ("het MT"), but where one names the
        person, the researcher must say so (a nickname). ``texts`` is read only where the
        school has such initials."""
        forms = {form for _, name, nicks in self.scopes.get(str(school), ([], [], []))[0]
                 for form in acronym_initials(name, nicks)}
        if not forms:
            return {}
        text = "\n".join(texts)
        held: dict[str, int] = {}
        for m in CAPITALS.finditer(text):   # a scan for capitals is fast; few are words alone
            i, j = m.span()
            if m[0] in forms and not (i and _is_word(text[i - 1])) and not (
                    j < len(text) and _is_word(text[j])):
                held[m[0]] = held.get(m[0], 0) + 1
        return dict(sorted(held.items()))

    def __call__(self, text: str, school: object = None) -> str:
        """``text`` (of ``school``, when known) with every name replaced."""
        if not isinstance(text, str) or not text or (self._starts is None and "@" not in text):
            return text
        return self.with_offsets(text, school)[0]

    def with_offsets(self, text: str, school: object = None
                     ) -> tuple[str, list[tuple[int, int, int]]]:
        """Pseudonymised text and the shifts ``(orig_end, new_end, delta)`` of each
        replacement, to map character offsets of the original onto the new text."""
        out, shifts, last, delta = [], [], 0, 0
        for start, end, rep in self.matches(text, school):
            out.append(text[last:start])
            out.append(rep)
            delta += len(rep) - (end - start)
            shifts.append((end, end + delta, delta))
            last = end
        if not shifts:
            return text, []
        out.append(text[last:])
        return "".join(out), shifts

    @staticmethod
    def map_offset(offset: int, shifts: list[tuple[int, int, int]]) -> int:
        """An offset of the original text in the pseudonymised text (offsets at segment
        boundaries never fall inside a name)."""
        delta = 0
        for orig_end, _, d in shifts:
            if orig_end <= offset:
                delta = d
            else:
                break
        return offset + delta


# letters that Unicode does not decompose into a base letter and an accent
PLAIN = str.maketrans({"ı": "i", "İ": "I", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d",
                       "Đ": "D", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE"})


ACCENTS = re.compile("[\u0300-\u036f]")   # combining diacritical marks, after NFKD


def plain_letters(form: str) -> str:
    """A name as it is often typed without its accents: "Yılmaz" -> "Yilmaz", "Çelik" ->
    "Celik", "Hélène" -> "Helene" (a transcriber's keyboard or an e-mail address)."""
    import unicodedata

    return ACCENTS.sub("", unicodedata.normalize("NFKD", form.translate(PLAIN)))


def _decomposed(forms: set[str]) -> set[str]:
    """The forms as typed with combining accents (NFD: "Çelik" as C + cedilla), as some Mac
    tools save text, where that differs."""
    import unicodedata

    return {d for f in forms if not f.isascii()
            for d in [unicodedata.normalize("NFD", f)] if d != f}


def _plain(forms: set[str]) -> set[str]:
    """The forms' spellings without accents that differ from them; never a school acronym
    ("LÖ", the initials of Lieke Öztürk, stays, but "LO" is lichamelijke opvoeding) nor, in
    lower case, Dutch words only (each judged as strictly as a surname)."""
    return {p for f in forms if not f.isascii() for p in [plain_letters(f)]
            if p != p.lower() or _tells_name(p, True)} - ACRONYMS - forms


def _clean(value: object) -> str:
    if value is None:
        return ""
    s = str(value).strip()
    return "" if s.lower() in {"nan", "none", "<na>"} else s
