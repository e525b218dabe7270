"""Synthetic cohorts: staff tables and nomination networks with planted key figures.

Used by ``data/demo/generate_network.py`` (the demo cohort, with fixed named people) and by
``bench/generate_cohort.py`` (cohorts of any size for benchmarks). Every function is pure:
it returns DataFrames, reads and writes no files, and takes all its randomness from the
:class:`numpy.random.Generator` the caller passes, so one seed gives one cohort.

How a school is made (:func:`generate_school`)

1. **Staff** (:func:`generate_staff`): ids ``<school>-p001`` ..., roles (teachers; ~5% team
   leaders; 2-3 school leaders; ~12% support), a subject or function, a fictional Dutch
   name unique within the school, years in education and at the school, PLG membership
   (each PLG 3-8 members, drawn from non-support staff) and whether the person responded
   to the survey (~85%; key figures and fixed people always do).
2. **Background network** among ordinary staff (:func:`background_ties`): every respondent
   nominates a Poisson number of colleagues, chosen with weights that favour members of the
   own PLG (x10) and leaders (x1.3), disfavour support staff (x0.6) and vary per person
   (log-normal popularity). Ties inside a PLG are stronger. A nominee who responded
   returns the nomination with probability 0.45 inside the PLG, 0.18 outside it.
3. **Key figures** (:func:`plant_key_figures`): each gets a planned number of reciprocal,
   outgoing-only and incoming-only ties (:data:`PROFILE_SHAPES`), a few with PLG mates and
   the rest boundary-spanning (with colleagues outside their PLG), and tie strengths whose
   mean hits the profile's target. Key figures are linked to each other: a sender sends to
   the others, other pairs are reciprocal.

Tables returned (columns)

``staff``        person_id, school_id, name, role, years_in_education, years_at_school,
                 plg_id ('' when none), plg_type ('' | data_team | lesson_study), responded,
                 school_name, subject  (the cohort folder contract, see DESIGN.md)
``nominations``  school_id, ego, alter, strength (int 1-5)
``key_figures``  school_id, person_id, profile, contacts, reciprocal, out_only, in_only,
                 strength, plg_ties  (the plan, not the outcome: see :func:`tie_summary`)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations

import numpy as np
import pandas as pd

__all__ = [
    "PROFILE_SHAPES",
    "ProfileShape",
    "SchoolSpec",
    "FixedPerson",
    "KeyFigureSpec",
    "key_figure_spec",
    "draw_school_sizes",
    "random_schools",
    "generate_staff",
    "background_ties",
    "plant_key_figures",
    "generate_school",
    "generate_cohort",
    "add_data_quality_problems",
    "clean_nominations",
    "tie_summary",
    "STAFF_COLUMNS",
    "NOMINATION_COLUMNS",
]

STAFF_COLUMNS = ["person_id", "school_id", "name", "role", "years_in_education",
                 "years_at_school", "plg_id", "plg_type", "responded", "school_name", "subject"]
NOMINATION_COLUMNS = ["school_id", "ego", "alter", "strength"]
KEY_FIGURE_COLUMNS = ["school_id", "person_id", "profile", "contacts", "reciprocal",
                      "out_only", "in_only", "strength", "plg_ties"]
ROLES = ("teacher", "team_leader", "school_leader", "support")
PLG_TYPES = {"dt": "data_team", "ls": "lesson_study"}


# ---------------------------------------------------------------- profiles
@dataclass(frozen=True)
class ProfileShape:
    """The network position a key figure of a profile is planted with.

    ``contacts`` distinct colleagues, of whom ``reciprocity`` (a share) nominate each other
    with the key figure; of the remaining one-way ties a share ``in_share`` are incoming.
    ``strength`` is the target mean tie strength over every nomination the person is in.
    """

    contacts: int
    reciprocity: float
    in_share: float
    strength: float
    plg_ties: int = 3


#: Planted shapes. Sender: out_share ~0.88, reciprocity 0.10. Basic / advanced interactive:
#: reciprocity 0.66 / 0.68. Super-sharer: most reciprocal ties (0.78) and strongest (4.3).
PROFILE_SHAPES: dict[str, ProfileShape] = {
    "sender": ProfileShape(contacts=30, reciprocity=0.10, in_share=0.06, strength=3.0),
    "basic_interactive": ProfileShape(contacts=26, reciprocity=0.66, in_share=0.5,
                                      strength=3.2),
    "advanced_interactive": ProfileShape(contacts=30, reciprocity=0.68, in_share=0.45,
                                         strength=3.4),
    "super_sharer": ProfileShape(contacts=38, reciprocity=0.78, in_share=0.45, strength=4.3),
}


@dataclass(frozen=True)
class KeyFigureSpec:
    """Planned ties of one key figure: counts of distinct colleagues per kind of tie."""

    person_id: str
    profile: str
    reciprocal: int
    out_only: int
    in_only: int
    strength: float
    plg_ties: int = 3

    @property
    def contacts(self) -> int:
        return self.reciprocal + self.out_only + self.in_only


def _round(x: float) -> int:
    """Round half up (Python's round() rounds half to even)."""
    return int(np.floor(x + 0.5))


def key_figure_spec(profile: str, person_id: str, rng: np.random.Generator | None = None, *,
                    scale: float = 1.0, jitter: int = 1) -> KeyFigureSpec:
    """The planned ties of a key figure with ``profile`` (see :data:`PROFILE_SHAPES`).

    ``scale`` multiplies the number of contacts (denser networks need more to stand out).
    With ``rng`` the plan varies a little: contacts by up to ``jitter`` either way, the
    reciprocal share by up to 0.02, the incoming share of one-way ties by up to 30% and the
    mean strength by up to 0.08.
    """
    if profile not in PROFILE_SHAPES:
        raise ValueError(f"unknown profile {profile!r}; expected one of "
                         f"{', '.join(PROFILE_SHAPES)}")
    shape = PROFILE_SHAPES[profile]
    contacts = _round(shape.contacts * scale)
    reciprocity, in_share, strength = shape.reciprocity, shape.in_share, shape.strength
    if rng is not None:
        if jitter:
            contacts += int(rng.integers(-jitter, jitter + 1))
        reciprocity += float(rng.uniform(-0.02, 0.02))
        in_share = float(np.clip(in_share * rng.uniform(0.7, 1.3), 0.0, 1.0))
        strength = round(strength + float(rng.uniform(-0.08, 0.08)), 2)
    contacts = max(contacts, 1)
    reciprocal = _round(reciprocity * contacts)
    one_way = contacts - reciprocal
    in_only = _round(in_share * one_way)
    return KeyFigureSpec(person_id=person_id, profile=profile, reciprocal=reciprocal,
                         out_only=one_way - in_only, in_only=in_only, strength=strength,
                         plg_ties=shape.plg_ties)


# ---------------------------------------------------------------- school specs
@dataclass(frozen=True)
class SchoolSpec:
    """A school to generate: id, name, number of staff and its PLGs as (plg_id, plg_type).

    ``plg_sizes`` fixes the number of members of some PLGs (others get 3-8 at random).
    """

    school_id: str
    name: str
    n_staff: int
    plgs: tuple[tuple[str, str], ...] = ()
    plg_sizes: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class FixedPerson:
    """A person whose attributes are given (the demo's named people).

    ``number`` is the person's number in the school (1 -> ``<school>-p001``). ``plg_id``
    None lets the generator decide, '' means no PLG. ``years`` is (in education, at school)
    or None to draw them. ``profile`` makes the person a key figure of that profile.
    """

    number: int
    name: str
    role: str
    subject: str = ""
    years: tuple[int, int] | None = None
    plg_id: str | None = None
    profile: str | None = None
    responded: bool = True


FIRST_NAMES = (
    "Aafke Aart Adriaan Agnes Albert Alie Amber Amira Anja Annelies Annemarie Arjen Arnoud "
    "Astrid Babette Bart Bastiaan Berend Bernadette Bert Bianca Carla Casper Caroline Chantal "
    "Christiaan Corine Cor Danielle Dennis Dirk Dorien Edwin Eline Els Emma Evert Eva "
    "Fleur Floor Frans Frederike Geert Gerben Gerrit Gertjan Hanneke Harm Hein Hendrik "
    "Hilde Iris Ivo Jacqueline Jaap Janneke Jasper Jeroen Joke Jolanda Joris Judith "
    "Karel Karlijn Kim Koen Laura Leon Lieke Loes Lucas Maaike Maarten Manon Mark Martijn "
    "Max Merel Michiel Monique Niels Nienke Olaf Paul Petra Quinten Renate Richard Rik "
    "Rianne Roel Rosa Ruben Samira Saskia Sem Simone Stefan Suzanne Tamara Teun Tim Tineke "
    "Vera Victor Wouter Yara Youssef Zeynep Ilona Jesse Khadija Levi Mustafa Naomi Okke "
    "Pim Sevda Thomas Ursula Wilma Hidde Jorien Ralf Marloes Arie Dewi"
).split()

LAST_NAMES = (
    "Aalbers|Achterberg|Alkema|van Asten|Baars|van Beek|Beekman|Bergsma|Blom|Boersma|"
    "van den Bosch|Bosman|Brands|van Bree|Bruins|Buitenhuis|Claessens|Coenen|Dam|van Dam|"
    "Dijkstra|Doornbos|van Dongen|Driessen|Dubbeldam|van Eck|Eijkelenboom|Evers|Faber|"
    "Franken|Gerritsen|Goossens|de Groot|de Haan|Haverkamp|Heijnen|Hendriksen|Heuvelmans|"
    "Hoogland|Huisman|van Houten|Jacobsen|de Jong|Jonker|Kamphuis|van Kampen|Keizer|"
    "Klaassen|Kloosterman|Knol|de Koning|Kortekaas|Kramer|Kroon|Kuijpers|Lambregts|"
    "van der Laan|Langeveld|Lemmens|van Loon|Luijten|van der Meer|Meulenbroek|Michels|"
    "Molenaar|Mol|van Nes|Nijhof|Nijland|Oosterhout|van Oort|Otten|Peeters|Post|Pronk|"
    "Raaijmakers|van Rijn|Rietveld|Roelofs|Rutten|Schipper|Schuurman|van Schaik|Sijbesma|"
    "Smeets|Spijkerman|Steenbergen|Stoffels|van der Sluis|Terpstra|Teunissen|Thijssen|"
    "Tromp|van Veen|Veenstra|Verhagen|Verhoef|Verschuren|Vink|de Vries|van Vliet|"
    "Vogels|van der Wal|Wagenaar|Westerhof|Wiersma|Wijnands|de Wilde|Witteveen|Wolters|"
    "Zandbergen|van Zanten|Zijlstra|Zwart|Aydin|Bakkali|Demir|El Idrissi|Kaya|Ouali|"
    "Tahiri|Öztürk|Nguyen|Santos|Kowalski|Pinas|Gravenberch|de Ruiter|Hoekman|Bouwman"
).split("|")

SUBJECTS = (
    "Nederlands", "Engels", "wiskunde", "geschiedenis", "aardrijkskunde", "biologie",
    "natuurkunde", "scheikunde", "economie", "Frans", "Duits", "lichamelijke opvoeding",
    "maatschappijleer", "informatica", "tekenen", "muziek", "Latijn", "Grieks", "NaSk",
    "levensbeschouwing", "techniek", "bedrijfseconomie", "Spaans", "drama",
)
# weights: the core subjects have more teachers
SUBJECT_WEIGHTS = np.array([8, 7, 8, 4, 3, 4, 3, 3, 3, 3, 3, 4, 2, 2, 2, 2, 1, 1, 2, 1, 2, 2,
                            1, 1], dtype=float)
SUPPORT_FUNCTIONS = (
    "administratie", "conciërge", "onderwijsassistent", "TOA", "ICT", "roostermaker",
    "decaan", "zorgcoördinator", "mediathecaris", "receptie", "financiële administratie",
    "verzuimcoördinator", "leerlingcoördinator", "facilitair medewerker",
)
TEAM_LEADER_FUNCTIONS = ("onderbouw", "bovenbouw", "havo", "vwo", "vmbo", "leerjaar 1-2",
                         "leerjaar 3-4", "tweetalig onderwijs")
SCHOOL_LEADER_FUNCTIONS = ("rector", "conrector", "directeur", "adjunct-directeur",
                           "locatiedirecteur")
SCHOOL_WORDS = ("College", "Lyceum", "Scholengemeenschap", "Stedelijk College",
                "Christelijk College", "Montessori College", "Gymnasium")
PLACE_WORDS = ("Meer", "Oost", "West", "Zand", "Beek", "Linde", "Heide", "Dal", "Berg",
               "Wiel", "Kempen", "Grift", "Hove", "Horst", "Veld", "Bosch", "Waard", "Rijn")
PLACE_ENDS = ("wijk", "hove", "horst", "grift", "oord", "dal", "veen", "dijk", "hem",
              "broek", "haven", "lo")


def draw_school_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Staff per school, 40-150 with mean ~100 (triangular, mode 110), like the demo's."""
    return np.rint(rng.triangular(40, 110, 150, size=n)).astype(int)


def random_schools(rng: np.random.Generator, n: int, *, width: int | None = None
                   ) -> list[SchoolSpec]:
    """``n`` schools with fictional names, drawn sizes and 1-5 PLGs each (3-8 members)."""
    width = width or max(2, len(str(n)))
    sizes = draw_school_sizes(rng, n)
    schools = []
    for i, size in enumerate(sizes, 1):
        sid = f"sch{i:0{width}d}"
        name = (f"{SCHOOL_WORDS[rng.integers(len(SCHOOL_WORDS))]} "
                f"{PLACE_WORDS[rng.integers(len(PLACE_WORDS))]}"
                f"{PLACE_ENDS[rng.integers(len(PLACE_ENDS))]}")
        n_plg = int(np.clip(1 + size // 40 + rng.integers(-1, 2), 1, 5))
        counts = {"dt": 0, "ls": 0}
        plgs = []
        for _ in range(n_plg):
            kind = "dt" if rng.random() < 0.55 else "ls"
            counts[kind] += 1
            plgs.append((f"{sid}-{kind}{counts[kind]}", PLG_TYPES[kind]))
        schools.append(SchoolSpec(sid, name, int(size), tuple(plgs)))
    return schools


# ---------------------------------------------------------------- staff
def _role_counts(rng: np.random.Generator, n: int) -> dict[str, int]:
    leaders = int(rng.integers(2, 4))
    team = max(1, _round(0.05 * n))
    support = _round(0.12 * n)
    return {"school_leader": leaders, "team_leader": team, "support": support,
            "teacher": n - leaders - team - support}


def _years(rng: np.random.Generator, roles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Years in education and at this school (integers, at school <= in education)."""
    total = rng.gamma(2.4, 6.5, size=len(roles))
    total += np.where(roles == "school_leader", 12, np.where(roles == "team_leader", 7, 0))
    total_i = np.clip(np.floor(total + 0.5), 0, 44).astype(np.int64)
    at_school = np.floor(total_i * rng.beta(2.2, 1.8, size=len(roles)) + 0.5).astype(np.int64)
    return total_i, np.minimum(at_school, total_i)


def generate_staff(rng: np.random.Generator, school: SchoolSpec,
                   fixed: Sequence[FixedPerson] = (), *, always_respond: Sequence[int] = (),
                   response_rate: float = 0.85,
                   reserved_names: Sequence[str] = ()) -> pd.DataFrame:
    """The staff table of one school (columns :data:`STAFF_COLUMNS`).

    ``fixed`` people keep their given attributes; ``always_respond`` are person numbers that
    must be respondents (key figures); ``reserved_names`` are never drawn (so generated
    people do not share a name with anyone fixed elsewhere in the cohort).
    """
    n = school.n_staff
    numbers = {f.number for f in fixed}
    if len(numbers) != len(fixed) or any(not 1 <= k <= n for k in numbers):
        raise ValueError(f"{school.school_id}: fixed person numbers must be unique and 1..{n}")
    plg_ids = [p for p, _ in school.plgs]
    if len(set(plg_ids)) != len(plg_ids) or any(t not in PLG_TYPES.values()
                                                for _, t in school.plgs):
        raise ValueError(f"{school.school_id}: PLG ids must be unique and types one of "
                         f"{sorted(PLG_TYPES.values())}")
    by_number = {f.number: f for f in fixed}

    # roles: the fixed people's, then the rest drawn to reach the target counts
    counts = _role_counts(rng, n)
    for f in fixed:
        if f.role not in ROLES:
            raise ValueError(f"{school.school_id}: unknown role {f.role!r} for {f.name}")
    fixed_roles = [f.role for f in fixed]
    counts["school_leader"] = max(counts["school_leader"], fixed_roles.count("school_leader"))
    pool: list[str] = []
    for role in ("school_leader", "team_leader", "support"):
        pool += [role] * max(0, counts[role] - fixed_roles.count(role))
    free = n - len(fixed)
    pool = (pool + ["teacher"] * free)[:free]
    free_roles = list(rng.permutation(np.array(pool, dtype=object)))

    roles = np.array([by_number[k].role if k in by_number else free_roles.pop()
                      for k in range(1, n + 1)], dtype=object)

    # subject (teachers) or function (others), drawn for all then picked by role
    p_subject = SUBJECT_WEIGHTS / SUBJECT_WEIGHTS.sum()
    options = {"teacher": np.array(SUBJECTS, dtype=object)[rng.choice(len(SUBJECTS), size=n,
                                                                      p=p_subject)]}
    for role, names in (("support", SUPPORT_FUNCTIONS), ("team_leader", TEAM_LEADER_FUNCTIONS),
                        ("school_leader", SCHOOL_LEADER_FUNCTIONS)):
        options[role] = np.array(names, dtype=object)[rng.integers(len(names), size=n)]
    subjects = np.empty(n, dtype=object)
    for role, drawn in options.items():
        subjects[roles == role] = drawn[roles == role]

    # names: unique within the school, never a reserved (fixed) name
    reserved = set(reserved_names) | {f.name for f in fixed}
    first = rng.integers(len(FIRST_NAMES), size=n)
    last = rng.integers(len(LAST_NAMES), size=n)
    names = []
    for k in range(n):
        if k + 1 in by_number:
            names.append(by_number[k + 1].name)
            continue
        name = f"{FIRST_NAMES[first[k]]} {LAST_NAMES[last[k]]}"
        while name in reserved:
            name = (f"{FIRST_NAMES[rng.integers(len(FIRST_NAMES))]} "
                    f"{LAST_NAMES[rng.integers(len(LAST_NAMES))]}")
        reserved.add(name)
        names.append(name)

    yie, yas = _years(rng, roles)
    for f in fixed:
        if f.subject:
            subjects[f.number - 1] = f.subject
        if f.years:
            if not 0 <= f.years[1] <= f.years[0]:
                raise ValueError(f"{school.school_id}: {f.name}: years at school must be "
                                 "0..years in education")
            yie[f.number - 1], yas[f.number - 1] = f.years

    # PLGs: fixed members first, then drawn from non-support staff not in a PLG yet
    plg = np.array([""] * n, dtype=object)
    for f in fixed:
        if f.plg_id:
            if f.plg_id not in plg_ids:
                raise ValueError(f"{school.school_id}: unknown PLG {f.plg_id!r} for {f.name}")
            plg[f.number - 1] = f.plg_id
    no_plg = np.array([k + 1 in by_number and by_number[k + 1].plg_id == "" for k in range(n)])
    eligible = (roles != "support") & ~no_plg
    for plg_id, _ in school.plgs:
        have = int((plg == plg_id).sum())
        if have > 8:
            raise ValueError(f"{school.school_id}: PLG {plg_id} has {have} fixed members (max 8)")
        drawn = int(rng.integers(3, 9))
        size = max(have, dict(school.plg_sizes).get(plg_id, drawn))
        if not 3 <= size <= 8:
            raise ValueError(f"{school.school_id}: PLG {plg_id} must have 3-8 members")
        free_idx = np.flatnonzero(eligible & (plg == ""))
        take = rng.choice(free_idx, size=min(size - have, len(free_idx)), replace=False)
        plg[np.sort(take)] = plg_id
    type_of = dict(school.plgs)
    plg_type = [type_of.get(p, "") for p in plg]

    # survey response: a share around response_rate, forced for fixed people and key figures
    must = np.zeros(n, dtype=bool)
    for k in [*always_respond, *(f.number for f in fixed if f.responded)]:
        must[k - 1] = True
    rate = float(np.clip(response_rate + rng.normal(0, 0.02), 0.5, 1.0))
    n_resp = max(int(must.sum()), _round(rate * n))
    others = np.flatnonzero(~must)
    extra = rng.choice(others, size=min(n_resp - int(must.sum()), len(others)), replace=False)
    responded = must.copy()
    responded[extra] = True
    for f in fixed:
        if not f.responded:
            responded[f.number - 1] = False
    return pd.DataFrame({
        "person_id": [f"{school.school_id}-p{k:03d}" for k in range(1, n + 1)],
        "school_id": school.school_id, "name": names, "role": roles.astype(str),
        "years_in_education": yie, "years_at_school": yas, "plg_id": plg.astype(str),
        "plg_type": plg_type, "responded": responded, "school_name": school.name,
        "subject": subjects.astype(str)}, columns=STAFF_COLUMNS)


# ---------------------------------------------------------------- networks
#: strength distributions (1..5) for ordinary ties outside and inside one's PLG
P_STRENGTH_OUT = np.array([0.22, 0.32, 0.26, 0.13, 0.07])
P_STRENGTH_IN = np.array([0.03, 0.10, 0.27, 0.35, 0.25])
W_SAME_PLG = 10.0
P_RECIPROCATE_IN = 0.45
P_RECIPROCATE_OUT = 0.18


def _school_arrays(staff: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(PLG code per person, -1 when none; responded; same-PLG matrix)."""
    plg_ids = staff["plg_id"].to_numpy(dtype=str)
    _, plg_codes = np.unique(plg_ids, return_inverse=True)
    plg_codes = np.where(plg_ids == "", -1, plg_codes)
    resp = staff["responded"].to_numpy(dtype=bool)
    same = (plg_codes[:, None] == plg_codes[None, :]) & (plg_codes[:, None] >= 0)
    return plg_codes, resp, same


def background_ties(rng: np.random.Generator, staff: pd.DataFrame, *, mean_out: float = 4.0,
                    exclude: Sequence[int] = (), planned_in: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Nominations among ordinary staff of one school, as (adjacency, strength) matrices.

    ``A[i, j]`` is True when person ``i`` (row ``i`` of ``staff``) nominates ``j``; ``S``
    holds the strengths (0 where no tie). People at positions ``exclude`` (key figures) are
    left out on both sides. ``planned_in`` is the number of nominations ordinary staff will
    also make to key figures, so that the mean out-degree over all is about ``mean_out``.
    """
    n = len(staff)
    _, resp, same = _school_arrays(staff)
    is_kf = np.zeros(n, dtype=bool)
    is_kf[list(exclude)] = True
    egos = resp & ~is_kf
    n_egos = max(1, int(egos.sum()))
    # Expected extra nominations from reciprocation (~20% of ties), then Poisson rate.
    lam = max(0.0, (mean_out * n_egos - planned_in) / n_egos / 1.16)

    role = staff["role"].to_numpy()
    pop = rng.lognormal(0.0, 0.25, size=n)
    pop = pop * np.where(np.isin(role, ["school_leader", "team_leader"]), 1.3,
                         np.where(role == "support", 0.6, 1.0))
    w = np.broadcast_to(pop[None, :], (n, n)) * np.where(same, W_SAME_PLG, 1.0)
    w = w.copy()
    np.fill_diagonal(w, 0.0)
    w[:, is_kf] = 0.0
    w[~egos, :] = 0.0
    k = np.minimum(rng.poisson(lam, size=n), (w > 0).sum(axis=1))
    k[~egos] = 0
    with np.errstate(divide="ignore"):
        keys = np.log(w) + rng.gumbel(size=(n, n))  # Gumbel top-k = weighted sampling
    order = np.argsort(-keys, axis=1, kind="stable")
    rows, ranks = np.nonzero(np.arange(n)[None, :] < k[:, None])
    adj = np.zeros((n, n), dtype=bool)
    adj[rows, order[rows, ranks]] = True

    strength = np.zeros((n, n), dtype=np.int64)
    src, dst = np.nonzero(adj)
    inside = same[src, dst]
    cum_in, cum_out = np.cumsum(P_STRENGTH_IN), np.cumsum(P_STRENGTH_OUT)
    u = rng.random(len(src))
    strength[src, dst] = 1 + np.where(inside, np.searchsorted(cum_in, u, side="right"),
                                      np.searchsorted(cum_out, u, side="right")).clip(0, 4)

    # reciprocity: a respondent nominee names the nominator back, with a similar strength
    ok = ~adj[dst, src] & egos[dst]
    src, dst, inside = src[ok], dst[ok], inside[ok]
    back = rng.random(len(src)) < np.where(inside, P_RECIPROCATE_IN, P_RECIPROCATE_OUT)
    src, dst = src[back], dst[back]
    noise = rng.choice(np.array([-1, 0, 0, 0, 1]), size=len(src))
    strength[dst, src] = np.clip(strength[src, dst] + noise, 1, 5)
    adj[dst, src] = True
    return adj, strength


def _weighted_sample(rng: np.random.Generator, candidates: np.ndarray, weights: np.ndarray,
                     size: int) -> np.ndarray:
    """``size`` of ``candidates`` (indices) without replacement, chance ~ weights."""
    size = min(size, len(candidates))
    if size <= 0:
        return np.array([], dtype=int)
    keys = np.log(weights[candidates]) + rng.gumbel(size=len(candidates))
    return candidates[np.argsort(-keys, kind="stable")[:size]]


def _largest_remainder(total: int, quotas: Sequence[int]) -> list[int]:
    """Split ``total`` over categories in proportion to ``quotas`` (never above a quota)."""
    s = sum(quotas)
    if s == 0 or total <= 0:
        return [0] * len(quotas)
    total = min(total, s)
    exact = [total * q / s for q in quotas]
    out = [int(np.floor(x)) for x in exact]
    for i in sorted(range(len(quotas)), key=lambda i: (out[i] - exact[i], i)):
        if sum(out) >= total:
            break
        if out[i] < quotas[i]:
            out[i] += 1
    return out


def _draw_strengths(rng: np.random.Generator, n: int, mean: float) -> np.ndarray:
    return np.clip(np.rint(rng.normal(mean, 0.8, size=n)), 1, 5).astype(np.int64)


def _hit_total(rng: np.random.Generator, values: np.ndarray, total: int) -> np.ndarray:
    """Move entries by +-1 (staying in 1..5) until they sum to ``total`` (as near as can)."""
    values = values.copy()
    total = int(np.clip(total, len(values), 5 * len(values)))
    diff = total - int(values.sum())
    while diff != 0:
        ok = np.flatnonzero(values < 5) if diff > 0 else np.flatnonzero(values > 1)
        step = min(abs(diff), len(ok))
        pick = rng.choice(ok, size=step, replace=False)
        values[pick] += 1 if diff > 0 else -1
        diff = total - int(values.sum())
    return values


def plant_key_figures(rng: np.random.Generator, staff: pd.DataFrame, adj: np.ndarray,
                      strength: np.ndarray, specs: Sequence[tuple[int, KeyFigureSpec]], *,
                      favoured: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Add the key figures' ties to a school's (adjacency, strength) matrices.

    ``specs`` pairs each key figure's row position with its plan. Ties between key figures
    come first (a sender sends to the others; any other pair is reciprocal), then each key
    figure is tied to ordinary staff: up to ``plg_ties`` PLG mates, the rest colleagues
    outside its PLG (boundary-spanning). Reciprocal and incoming ties need a respondent on
    the other side. ``favoured`` people (the demo's named colleagues) are 4x as likely to
    be chosen. Returns new matrices; the inputs are not changed.
    """
    adj, strength = adj.copy(), strength.copy()
    n = len(staff)
    _, resp, same = _school_arrays(staff)
    is_kf = np.zeros(n, dtype=bool)
    is_kf[[i for i, _ in specs]] = True
    weights = np.ones(n)
    weights[list(favoured)] = 4.0

    for (a, sa), (b, sb) in combinations(specs, 2):
        s = _round((sa.strength + sb.strength) / 2)
        if sa.profile == "sender" or sb.profile == "sender":
            src, dst = (a, b) if sa.profile == "sender" else (b, a)
            adj[src, dst], strength[src, dst] = True, s
        else:
            adj[a, b] = adj[b, a] = True
            strength[a, b] = strength[b, a] = s

    for a, spec in specs:
        out_a, in_a = adj[a].copy(), adj[:, a].copy()
        have = {"r": int((out_a & in_a).sum()), "o": int((out_a & ~in_a).sum()),
                "i": int((in_a & ~out_a).sum())}
        need = {"r": max(0, spec.reciprocal - have["r"]), "o": max(0, spec.out_only - have["o"]),
                "i": max(0, spec.in_only - have["i"])}
        linked = out_a | in_a
        linked[a] = True
        free = ~is_kf & ~linked
        plg_have = int((linked & same[a]).sum()) - int(same[a, a])
        mates = np.flatnonzero(free & same[a])
        n_plg = min(max(0, spec.plg_ties - plg_have), len(mates))
        split = _largest_remainder(n_plg, [need["r"], need["o"], need["i"]])
        chosen: dict[str, list[int]] = {"r": [], "o": [], "i": []}
        mate_pick = _weighted_sample(rng, mates, weights, n_plg)
        # respondents can take any kind of tie, non-respondents only an outgoing one
        mate_pick = sorted(mate_pick.tolist(), key=lambda x: (not resp[x], x))
        for kind, cnt in zip("roi", split, strict=True):
            for _ in range(cnt):
                ok = [x for x in mate_pick if kind == "o" or resp[x]]
                if ok:
                    x = ok[-1] if kind == "o" else ok[0]
                    chosen[kind].append(x)
                    mate_pick.remove(x)
        for kind in "roi":
            need[kind] -= len(chosen[kind])
        boundary = free & ~same[a]
        two_way = _weighted_sample(rng, np.flatnonzero(boundary & resp), weights,
                                   need["r"] + need["i"])
        chosen["r"] += two_way[: need["r"]].tolist()
        chosen["i"] += two_way[need["r"]:].tolist()
        boundary[two_way] = False
        chosen["o"] += _weighted_sample(rng, np.flatnonzero(boundary), weights,
                                        need["o"]).tolist()

        new_edges = ([(a, x) for x in chosen["r"] + chosen["o"]]
                     + [(x, a) for x in chosen["r"] + chosen["i"]])
        fixed_sum = int(strength[a][adj[a]].sum() + strength[:, a][adj[:, a]].sum())
        n_fixed = int(adj[a].sum() + adj[:, a].sum())
        if new_edges:
            src, dst = np.array(new_edges).T
            values = _draw_strengths(rng, len(new_edges), spec.strength)
            total = _round(spec.strength * (n_fixed + len(new_edges))) - fixed_sum
            values = _hit_total(rng, values, total)
            adj[src, dst] = True
            strength[src, dst] = values
    return adj, strength


def _edges_frame(staff: pd.DataFrame, adj: np.ndarray, strength: np.ndarray) -> pd.DataFrame:
    ego, alt = np.nonzero(adj)  # row-major: sorted by ego, then alter (ids are zero-padded)
    ids = staff["person_id"].to_numpy()
    return pd.DataFrame({"school_id": staff["school_id"].iloc[0] if len(staff) else "",
                         "ego": ids[ego], "alter": ids[alt],
                         "strength": strength[ego, alt].astype(np.int64)},
                        columns=NOMINATION_COLUMNS)


def generate_school(rng: np.random.Generator, school: SchoolSpec,
                    fixed: Sequence[FixedPerson] = (), *,
                    key_profiles: Mapping[int, str] | None = None, mean_out: float = 4.0,
                    kf_scale: float = 1.0, kf_jitter: int = 1, response_rate: float = 0.85,
                    reserved_names: Sequence[str] = ()
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One school: (staff, nominations, key_figures) - see the module docstring.

    Key figures are the ``fixed`` people with a ``profile`` plus ``key_profiles`` (person
    number -> profile). ``mean_out`` is the mean number of nominations per respondent
    among ordinary staff; ``kf_scale`` scales the key figures' planned contacts.
    """
    kf = {f.number: f.profile for f in fixed if f.profile}
    kf.update(key_profiles or {})
    staff = generate_staff(rng, school, fixed, always_respond=sorted(kf),
                           response_rate=response_rate, reserved_names=reserved_names)
    specs = [(k - 1, key_figure_spec(p, f"{school.school_id}-p{k:03d}", rng, scale=kf_scale,
                                     jitter=kf_jitter)) for k, p in sorted(kf.items())]
    specs = [(i, _fit_spec(s, staff, i)) for i, s in specs]
    planned_in = sum(s.reciprocal + s.in_only for _, s in specs)
    adj, strength = background_ties(rng, staff, mean_out=mean_out,
                                    exclude=[i for i, _ in specs], planned_in=planned_in)
    favoured = [f.number - 1 for f in fixed if not f.profile]
    adj, strength = plant_key_figures(rng, staff, adj, strength, specs, favoured=favoured)
    noms = _edges_frame(staff, adj, strength)
    key = pd.DataFrame([[school.school_id, s.person_id, s.profile, s.contacts, s.reciprocal,
                         s.out_only, s.in_only, s.strength, s.plg_ties] for _, s in specs],
                       columns=KEY_FIGURE_COLUMNS)
    return staff, noms, key


def _fit_spec(spec: KeyFigureSpec, staff: pd.DataFrame, pos: int) -> KeyFigureSpec:
    """Shrink a plan that a small school cannot hold (at most 85% of the colleagues)."""
    n_resp = int(staff["responded"].sum()) - 1
    room = int(0.85 * (len(staff) - 1))
    room_two_way = int(0.85 * n_resp)
    c = spec.contacts
    if c <= room and spec.reciprocal + spec.in_only <= room_two_way:
        return spec
    f = min(room / c, room_two_way / max(1, spec.reciprocal + spec.in_only))
    r, i = int(spec.reciprocal * f), int(spec.in_only * f)
    return replace(spec, reciprocal=r, in_only=i, out_only=int(spec.out_only * f))


def generate_cohort(rng: np.random.Generator, schools: Sequence[SchoolSpec],
                    fixed: Mapping[str, Sequence[FixedPerson]] | None = None, *,
                    key_profiles: Mapping[str, Mapping[int, str]] | None = None,
                    **kwargs) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`generate_school` for each school, concatenated (same three tables)."""
    fixed = fixed or {}
    key_profiles = key_profiles or {}
    reserved = sorted({f.name for people in fixed.values() for f in people})
    parts = [generate_school(rng, s, fixed.get(s.school_id, ()),
                             key_profiles=key_profiles.get(s.school_id),
                             reserved_names=reserved, **kwargs) for s in schools]
    return tuple(pd.concat([p[i] for p in parts], ignore_index=True)  # type: ignore[return-value]
                 for i in range(3))


# ---------------------------------------------------------------- data quality
@dataclass(frozen=True)
class _Problem:
    kind: str
    school_id: str
    ego: str
    alter: str
    strength: int
    note: str = field(default="")


def add_data_quality_problems(rng: np.random.Generator, staff: pd.DataFrame,
                              nominations: pd.DataFrame, *, self_nominations: int = 2,
                              duplicates: int = 3, typo_of: Sequence[str] = (),
                              protect: Sequence[str] = ()
                              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add realistic survey errors on purpose; return (nominations, problems).

    ``self_nominations`` respondents name themselves, ``duplicates`` existing nominations
    are entered again (sometimes with another strength), and for each id in ``typo_of`` a
    respondent names a mistyped id (``1`` typed as ``l``, ``0`` as ``O``) that is in no
    staff list. Nobody in ``protect`` (key figures) is involved. Rows are spread over
    different schools where possible and sorted in with the others (by school, ego, alter).
    ``problems`` has one row per added row: kind, school_id, ego, alter, strength, note.
    """
    protected = set(protect)
    ok_staff = staff[staff["responded"] & ~staff["person_id"].isin(protected)]
    schools = sorted(ok_staff["school_id"].unique())
    problems: list[_Problem] = []

    order = rng.permutation(len(schools))
    for j in range(self_nominations):
        sid = schools[order[j % len(schools)]]
        people = ok_staff.loc[ok_staff["school_id"] == sid, "person_id"].to_numpy()
        p = str(people[rng.integers(len(people))])
        problems.append(_Problem("self_nomination", sid, p, p, int(rng.integers(1, 6)),
                                 "respondent named themselves"))

    ordinary = nominations[~nominations["ego"].isin(protected)
                           & ~nominations["alter"].isin(protected)]
    order = rng.permutation(len(schools))
    for j in range(duplicates):
        sid = schools[order[j % len(schools)]]
        rows = ordinary[ordinary["school_id"] == sid]
        row = rows.iloc[int(rng.integers(len(rows)))]
        s = int(row["strength"]) if j == 0 else int(np.clip(row["strength"] + (1 if j % 2 else -1),
                                                            1, 5))
        note = ("same nomination entered twice" if s == row["strength"]
                else f"entered again with strength {s} instead of {int(row['strength'])}")
        problems.append(_Problem("duplicate", sid, row["ego"], row["alter"], s, note))

    for real in typo_of:
        sid = staff.loc[staff["person_id"] == real, "school_id"]
        if sid.empty:
            raise ValueError(f"typo_of: {real!r} is not in staff")
        sid = sid.iloc[0]
        head, num = real.rsplit("-p", 1)
        if "1" in num:  # a lower-case L for a one, else a capital O for a zero
            i = num.rindex("1")
            typo = f"{head}-p{num[:i]}l{num[i + 1:]}"
        else:
            typo = f"{head}-p{num.replace('0', 'O', 1)}"
        people = ok_staff.loc[(ok_staff["school_id"] == sid) & (ok_staff["person_id"] != real),
                              "person_id"].to_numpy()
        p = str(people[rng.integers(len(people))])
        problems.append(_Problem("unknown_person", sid, p, typo, int(rng.integers(1, 6)),
                                 f"{typo} is not a person id (typo of {real}?)"))

    prob = pd.DataFrame([p.__dict__ for p in problems],
                        columns=["kind", "school_id", "ego", "alter", "strength", "note"])
    extra = prob[NOMINATION_COLUMNS].copy()
    both = pd.concat([nominations[NOMINATION_COLUMNS].assign(_o=0),
                      extra.assign(_o=1)], ignore_index=True)
    # sorted in by (school, ego, alter): a duplicate lands right after the row it repeats
    school_order = {s: i for i, s in enumerate(dict.fromkeys(nominations["school_id"]))}
    both["_s"] = both["school_id"].map(school_order).fillna(len(school_order))
    both = both.sort_values(["_s", "ego", "alter", "_o"], kind="stable")
    both = both.drop(columns=["_o", "_s"]).reset_index(drop=True)
    both["strength"] = both["strength"].astype(np.int64)
    return both, prob


def clean_nominations(staff: pd.DataFrame, nominations: pd.DataFrame
                      ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop self-nominations, nominations of people not in the school, duplicates (keep first).

    Returns the clean nominations and the number of rows dropped per reason.
    """
    for col in ("school_id", "ego", "alter"):
        if col not in nominations.columns:
            raise KeyError(f"nominations: missing column {col!r}")
    known = set(zip(staff["school_id"], staff["person_id"], strict=True))
    ego_ok = [k in known for k in zip(nominations["school_id"], nominations["ego"], strict=True)]
    alt_ok = [k in known for k in zip(nominations["school_id"], nominations["alter"],
                                      strict=True)]
    unknown = ~(np.array(ego_ok, dtype=bool) & np.array(alt_ok, dtype=bool))
    self_ = (nominations["ego"] == nominations["alter"]).to_numpy() & ~unknown
    dup = (nominations.duplicated(["school_id", "ego", "alter"], keep="first").to_numpy()
           & ~unknown & ~self_)
    keep = ~(unknown | self_ | dup)
    return (nominations[keep].reset_index(drop=True),
            {"self_nomination": int(self_.sum()), "duplicate": int(dup.sum()),
             "unknown_person": int(unknown.sum())})


# ---------------------------------------------------------------- measures
def tie_summary(staff: pd.DataFrame, nominations: pd.DataFrame, *, scope: str = "all"
                ) -> pd.DataFrame:
    """Per person: out_ties, in_ties, reciprocal_ties, contacts, mean_strength and ratios.

    ``nominations`` must be clean (see :func:`clean_nominations`). ``scope='boundary'``
    keeps only ties between people who do not share a (non-empty) PLG. ``contacts`` is the
    number of distinct colleagues tied either way; ``mean_strength`` is the mean strength
    over every nomination the person is in (ego or alter); ``reciprocity_ratio`` is
    reciprocal / contacts and ``out_share`` is out / (out + in).

    >>> import pandas as pd
    >>> staff = pd.DataFrame({"person_id": ["a", "b", "c"], "school_id": ["s"] * 3,
    ...                       "plg_id": ["", "", ""]})
    >>> noms = pd.DataFrame({"school_id": ["s"] * 3, "ego": ["a", "b", "a"],
    ...                      "alter": ["b", "a", "c"], "strength": [4, 2, 3]})
    >>> t = tie_summary(staff, noms).set_index("person_id")
    >>> t.loc["a", ["out_ties", "in_ties", "reciprocal_ties", "contacts"]].tolist()
    [2, 1, 1, 2]
    >>> float(t.loc["a", "mean_strength"])
    3.0
    """
    if scope not in ("all", "boundary"):
        raise ValueError("scope must be 'all' or 'boundary'")
    for col in ("person_id", "school_id", "plg_id"):
        if col not in staff.columns:
            raise KeyError(f"staff: missing column {col!r}")
    for col in ("ego", "alter", "strength"):
        if col not in nominations.columns:
            raise KeyError(f"nominations: missing column {col!r}")
    e = nominations[["ego", "alter", "strength"]]
    if scope == "boundary":
        plg = dict(zip(staff["person_id"], staff["plg_id"], strict=True))
        pe, pa = e["ego"].map(plg).fillna(""), e["alter"].map(plg).fillna("")
        e = e[~((pe == pa) & (pe != ""))]
    pairs = set(zip(e["ego"], e["alter"], strict=True))
    recip = np.array([(b, a) in pairs for a, b in zip(e["ego"], e["alter"], strict=True)],
                     dtype=bool)
    out = e.groupby("ego").size()
    inn = e.groupby("alter").size()
    rec = e[recip].groupby("ego").size()
    strength = pd.concat([e[["ego", "strength"]].rename(columns={"ego": "p"}),
                          e[["alter", "strength"]].rename(columns={"alter": "p"})])
    mean_s = strength.groupby("p")["strength"].mean()
    t = staff[["person_id", "school_id"]].copy()
    pid = t["person_id"]
    t["out_ties"] = pid.map(out).fillna(0).astype(int)
    t["in_ties"] = pid.map(inn).fillna(0).astype(int)
    t["reciprocal_ties"] = pid.map(rec).fillna(0).astype(int)
    t["contacts"] = t["out_ties"] + t["in_ties"] - t["reciprocal_ties"]
    t["mean_strength"] = pid.map(mean_s).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t["reciprocity_ratio"] = t["reciprocal_ties"] / t["contacts"].where(t["contacts"] > 0)
        deg = t["out_ties"] + t["in_ties"]
        t["out_share"] = t["out_ties"] / deg.where(deg > 0)
    return t.reset_index(drop=True)
