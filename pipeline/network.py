"""Network stage: nominations -> directed staff networks per school -> metrics and key figures.

Plain functions over DataFrames; nothing here reads or writes files (``io.py`` loads the
cohort, ``report.py`` saves what these functions return).

A nomination ``ego -> alter`` ("who do you talk to about the PLG?") is an arc: it is an
*outgoing* tie of ``ego`` and an *incoming* tie of ``alter``. A pair that nominated each
other is a *reciprocal* tie. Every school is its own graph: there are no ties across
schools, and every measure (betweenness, PageRank, density, ...) is computed per school.

Functions (each returns a table with documented columns):

``check_nominations``  data-quality checks: self, duplicate, unknown, cross-school and
                       off-scale nominations, dropped and counted (or refused)
``symmetrize_nonrespondents``  add the reverse of every tie that points at a non-respondent
``person_metrics``     one row per staff member: degrees, reciprocity, strength,
                       betweenness, PageRank, Gould-Fernandez brokerage, boundary versions
``school_metrics``     one row per school: size, response rate, density, dyad census,
                       reciprocity, Freeman degree centralisation
``key_figures``        the top-k people per school by a configured measure, with reasons
``school_graph``       one school as a ``networkx.DiGraph`` with the metrics as attributes
``graphml_bytes``      GraphML that Gephi opens (typed attributes, no missing values)
``pajek_text``         Pajek ``.net`` text (``*Vertices`` and ``*Arcs``)

The per-school measures that need whole-graph algorithms (betweenness, PageRank,
brokerage) run on dense adjacency matrices, many schools at once (schools are small:
tens to a few hundred staff), so a cohort of a thousand schools takes seconds. Memory per
school is O(n^2); a single "school" of many thousands of people would need a sparse
method instead.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import networkx as nx
import numpy as np
import pandas as pd

from pipeline.io import MAX_LINES_SHOWN, PLG_SEPARATOR, InputError, line_list

__all__ = [
    "ISSUES",
    "PERSON_COLUMNS",
    "SCHOOL_COLUMNS",
    "KEY_FIGURE_COLUMNS",
    "QUALITY_COLUMNS",
    "check_nominations",
    "nonrespondent_nominations",
    "symmetrize_nonrespondents",
    "tie_shares",
    "plg_memberships",
    "first_lines",
    "other_strength_notes",
    "unknown_school_notes",
    "unknown_person_notes",
    "plg_notes",
    "person_metrics",
    "school_metrics",
    "key_figures",
    "school_graph",
    "graphml_bytes",
    "pajek_text",
    "betweenness_dense",
]

#: Data-quality issues, in the order they are tested; a row gets the first that applies.
ISSUES = ("unknown_person", "self_nomination", "cross_school", "strength_off_scale",
          "duplicate")

QUALITY_COLUMNS = ["school_id", "issue", "count", "lines"]

PERSON_COLUMNS = [
    "person_id", "school_id", "responded",
    "out_ties", "in_ties", "reciprocal_ties", "contacts", "reciprocity_ratio",
    "out_strength", "in_strength", "mean_strength",
    "betweenness", "pagerank",
    "brokerage_coordinator", "brokerage_gatekeeper", "brokerage_representative",
    "brokerage_consultant", "brokerage_liaison",
    "boundary_out_ties", "boundary_in_ties", "boundary_reciprocal_ties",
    "boundary_contacts", "boundary_mean_strength",
    "out_share", "boundary_reciprocity_ratio", "boundary_out_share",
]

SCHOOL_COLUMNS = [
    "school_id", "staff", "respondents", "response_rate", "ties", "density", "reciprocity",
    "mutual_dyads", "asymmetric_dyads", "null_dyads", "degree_centralisation",
]

KEY_FIGURE_COLUMNS = ["school_id", "rank", "person_id", "measure", "value", "responded",
                      "reason"]

BROKERAGE_ROLES = ("coordinator", "gatekeeper", "representative", "consultant", "liaison")

_STAFF_REQUIRED = ["person_id", "school_id", "plg_id", "responded"]
_NOMINATION_REQUIRED = ["school_id", "ego", "alter", "strength"]
_NOMINATIONS_FILE = "nominations.csv"
_PAGERANK_ALPHA = 0.85
# dense batches: at most this many adjacency entries (B * P * P) per batch
_BATCH_ENTRIES = 2_000_000


# ====================================================================== helpers
def _require(df: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(missing)}; found: "
                         f"{', '.join(map(str, df.columns)) or '(none)'}")


def _text(series: pd.Series) -> np.ndarray:
    """A column as an object array of stripped strings ('' for missing)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)   # strip each value once
    clean = np.array([str(x).strip() for x in np.asarray(uniques, dtype=object)] + [""],
                     dtype=object)
    return clean[codes]                                           # code -1 (missing) -> ''


def _codes(values: np.ndarray) -> np.ndarray:
    """Integer codes of string values; '' (missing) becomes -1."""
    codes, _ = pd.factorize(values, sort=True)
    codes = codes.astype(np.int64)
    codes[values == ""] = -1
    return codes


def first_lines(lines: str, limit: int = MAX_LINES_SHOWN) -> str:
    """The first ``limit`` of a ``lines`` text of :func:`check_nominations` (for a warning:
    ``data_quality.csv`` has them all).

    >>> first_lines("2, 3, 4", 2)
    '2, 3, ...'
    """
    parts = str(lines).split(", ")
    return ", ".join(parts[:limit]) + (", ..." if len(parts) > limit else "")


# ====================================================================== data quality
def check_nominations(staff: pd.DataFrame, nominations: pd.DataFrame, meta: Any = None,
                      policy: str = "drop") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check nominations against the staff list and the cohort's tie-strength scale.

    Every nomination row is tested, in this order, and gets the first issue that applies
    (so each bad row is counted once):

    ``unknown_person``      ego or alter is not in ``staff``
    ``self_nomination``     ego == alter
    ``cross_school``        ego and alter belong to different schools, or the row's
                            ``school_id`` disagrees with the school of ego and alter in
                            ``staff``
    ``strength_off_scale``  a strength outside ``meta.strength_min .. meta.strength_max``
                            (a missing strength is never off-scale; with no scale in
                            ``cohort.yaml`` nothing is checked)
    ``duplicate``           the same ego -> alter again, among rows without an earlier
                            issue: the first (by ``line``) is kept, the others are reported

    Parameters
    ----------
    staff, nominations : DataFrame
        Tables as returned by :func:`pipeline.io.load_cohort` (``nominations`` needs
        ``school_id, ego, alter``; ``strength`` and ``line`` are optional: without
        ``line`` a row's position + 2 is reported, as if read from a CSV with a header).
    meta : CohortMeta or None
        Anything with ``strength_min`` / ``strength_max`` (``None`` = no scale).
    policy : {"drop", "fail"}
        ``drop`` removes the bad rows (they are always listed in ``quality``); ``fail``
        raises :class:`pipeline.io.InputError` naming ``nominations.csv``, the first bad
        line and its field.

    Returns
    -------
    clean : DataFrame
        The nominations without the bad rows, same columns, in line order, index reset.
    quality : DataFrame
        ``school_id, issue, count, lines``: one row per school and issue found; ``lines``
        lists every source line number (:func:`first_lines` shortens it for a warning).
        Empty when all is well. ``attrs["other_strength"]``: the duplicates whose strength
        differs from the nomination kept (records of ``school_id, line, strength, kept_line,
        kept_strength``).

    Examples
    --------
    >>> staff = pd.DataFrame({"person_id": ["a", "b"], "school_id": ["s", "s"],
    ...                       "plg_id": ["", ""], "responded": [True, True]})
    >>> noms = pd.DataFrame({"school_id": ["s", "s", "s"], "ego": ["a", "a", "a"],
    ...                      "alter": ["b", "b", "a"], "strength": [float("nan")] * 3,
    ...                      "line": [2, 3, 4]})
    >>> clean, quality = check_nominations(staff, noms)
    >>> len(clean)
    1
    >>> quality[["issue", "count", "lines"]].values.tolist()
    [['self_nomination', 1, '4'], ['duplicate', 1, '3']]
    """
    if policy not in ("drop", "fail"):
        raise ValueError(f"policy must be 'drop' or 'fail', got {policy!r}")
    _require(staff, ["person_id", "school_id"], "staff")
    _require(nominations, ["school_id", "ego", "alter"], "nominations")
    noms = nominations.reset_index(drop=True)
    n = len(noms)
    if "line" in noms.columns and (np.diff(noms["line"].to_numpy(dtype=np.int64)) < 0).any():
        # rows put together out of order (a table built in Python): in line order, so the
        # first of a duplicate pair, which is kept, is the one written first
        noms = noms.sort_values("line", kind="stable").reset_index(drop=True)
    lines = (noms["line"].to_numpy(dtype=np.int64) if "line" in noms.columns
             else np.arange(2, n + 2, dtype=np.int64))
    strength = (pd.to_numeric(noms["strength"], errors="coerce").to_numpy(dtype=float)
                if "strength" in noms.columns else np.full(n, np.nan))

    pids = pd.Index(_text(staff["person_id"]))
    if not pids.is_unique:
        raise ValueError("staff has duplicate person_id values")
    school_of = _text(staff["school_id"])
    ego, alter, row_school = (_text(noms[c]) for c in ("ego", "alter", "school_id"))
    ui, vi = pids.get_indexer(ego), pids.get_indexer(alter)

    issue = np.full(n, -1, dtype=np.int8)
    field = np.empty(n, dtype=object)

    def mark(mask: np.ndarray, code: int, fld: np.ndarray | str) -> None:
        new = mask & (issue < 0)
        issue[new] = code
        field[new] = fld[new] if isinstance(fld, np.ndarray) else fld

    mark((ui < 0) | (vi < 0), 0, np.where(ui < 0, "ego", "alter"))
    mark(ego == alter, 1, "alter")
    known = (ui >= 0) & (vi >= 0)
    es = np.where(known, school_of[np.where(known, ui, 0)], "")
    as_ = np.where(known, school_of[np.where(known, vi, 0)], "")
    mark(known & (es != as_), 2, "alter")
    mark(known & (row_school != es), 2, "school_id")
    lo = getattr(meta, "strength_min", None) if meta is not None else None
    hi = getattr(meta, "strength_max", None) if meta is not None else None
    if lo is not None or hi is not None:
        off = np.zeros(n, dtype=bool)
        with np.errstate(invalid="ignore"):
            if lo is not None:
                off |= strength < lo
            if hi is not None:
                off |= strength > hi
        mark(off, 3, "strength")
    ok = issue < 0
    # each row's ego -> alter, numbered in order of first appearance among the rows without
    # an earlier issue (so a number's first row is where the numbers so far reach a new
    # high); a duplicate repeats the first row of its number, which is kept
    e_codes, a_codes = pd.factorize(ego[ok])[0], pd.factorize(alter[ok])[0]
    pair = pd.factorize(e_codes * (int(a_codes.max(initial=0)) + 1) + a_codes)[0]
    first = np.flatnonzero(pair > np.maximum.accumulate(np.concatenate([[-1], pair[:-1]])))
    kept_row = np.full(n, -1, dtype=np.int64)
    kept_row[ok] = np.flatnonzero(ok)[first[pair]]
    dup = kept_row != np.arange(n)
    dup[~ok] = False
    mark(dup, 4, "alter")

    bad = issue >= 0
    quality = _quality_table(row_school[bad], issue[bad], lines[bad])
    quality.attrs["other_strength"] = _other_strength(dup, kept_row, strength, lines,
                                                      row_school)
    if bad.any() and policy == "fail":
        first = int(np.argmin(np.where(bad, lines, np.iinfo(np.int64).max)))
        what = ISSUES[issue[first]].replace("_", " ")
        detail = {
            0: f"{(ego if field[first] == 'ego' else alter)[first]!r} is not in staff.csv",
            1: f"{ego[first]!r} nominated themselves",
            2: (f"{ego[first]!r} ({es[first]}) -> {alter[first]!r} ({as_[first]}) on a row "
                f"for school {row_school[first]!r}"),
            3: f"strength {strength[first]:g} outside the scale {lo:g}..{hi:g}"
               if lo is not None and hi is not None else f"strength {strength[first]:g}",
            4: f"{ego[first]!r} -> {alter[first]!r} already nominated on line "
               f"{lines[kept_row[first]]}",
        }[int(issue[first])]
        raise InputError(_NOMINATIONS_FILE, f"{what}: {detail} ({int(bad.sum())} bad "
                         "nomination(s) in all; data_quality_policy is 'fail')",
                         line=int(lines[first]), field=str(field[first]))
    clean = noms.loc[~bad].reset_index(drop=True)
    return clean, quality


def other_strength_notes(quality: pd.DataFrame, limit: int = MAX_LINES_SHOWN) -> list[str]:
    """Per school, the duplicate nominations dropped although their strength differs from
    the one kept (:func:`check_nominations`): the tie's strength is the first row's, which
    may not be the one the respondent meant.

    >>> q = pd.DataFrame(columns=QUALITY_COLUMNS)
    >>> q.attrs["other_strength"] = [{"school_id": "s", "line": 9, "strength": 3.0,
    ...                                "kept_line": 4, "kept_strength": 1.0}]
    >>> other_strength_notes(q)  # doctest: +ELLIPSIS
    ['nominations.csv: school s: 1 duplicate nomination dropped with another strength than ...']
    """
    other = pd.DataFrame(quality.attrs.get("other_strength", []))
    if other.empty:
        return []
    notes = []
    for school, grp in other.groupby("school_id", sort=True):
        shown = [f"line {r.line}: {_strength_text(r.strength)}, kept line {r.kept_line}: "
                 f"{_strength_text(r.kept_strength)}" for r in grp.head(limit).itertuples()]
        n = len(grp)
        notes.append(f"nominations.csv: school {school}: {n} duplicate nomination"
                     f"{'s' if n > 1 else ''} dropped with another strength than the first of "
                     f"the same ego -> alter, which is kept ({'; '.join(shown)}"
                     f"{'; ...' if n > limit else ''}): remove the row that was not meant")
    return notes


def _strength_text(value: float) -> str:
    return "no strength" if np.isnan(value) else f"{value:g}"


def _loose(ids: pd.Series) -> pd.Series:
    """Ids as typed but for letter case and spaces (``DT1``, ``dt 1`` -> ``dt1``): to tell
    an id typed two ways from two ids."""
    return ids.str.replace(r"\s+", "", regex=True).str.casefold()


def unknown_school_notes(staff: pd.DataFrame, nominations: pd.DataFrame) -> list[str]:
    """Nomination rows under a ``school_id`` that ``staff`` does not have (dropped as
    ``cross_school``), with the school it differs from only by letter case or spaces, if any.

    >>> staff = pd.DataFrame({"school_id": ["Lyceum"]})
    >>> noms = pd.DataFrame({"school_id": ["lyceum", "Lyceum", "x"], "line": [2, 3, 4]})
    >>> like, other = unknown_school_notes(staff, noms)
    >>> like  # doctest: +ELLIPSIS
    "nominations.csv: school_id 'lyceum' (1 row, lines 2) is no school ...; 'Lyceum' is: ..."
    >>> other
    "nominations.csv: school_id 'x' (1 row, lines 4) is no school of staff.csv"
    """
    return [f"nominations.csv: school_id {school!r} ({_rows(lines)}) is no school of staff.csv"
            + (f"; {like!r} is: the same school?" if like else "")
            for school, lines, like in _unknown_ids(staff["school_id"], [nominations["school_id"]],
                                                    nominations)]


def unknown_person_notes(staff: pd.DataFrame, nominations: pd.DataFrame) -> list[str]:
    """Ids of nominations' ego or alter that are no ``person_id`` of ``staff`` but differ
    from one only by letter case or spaces (dropped as ``unknown_person``): the same person,
    typed another way?

    >>> staff = pd.DataFrame({"person_id": ["W05", "W06"]})
    >>> noms = pd.DataFrame({"ego": ["W06", "w06", "W06"], "alter": ["w05", "W05", "zz"],
    ...                      "line": [2, 3, 4]})
    >>> unknown_person_notes(staff, noms)  # doctest: +NORMALIZE_WHITESPACE
    ["nominations.csv: person id 'w05' (1 row, lines 2) is no person_id of staff.csv; 'W05'
    is: the same person?", "nominations.csv: person id 'w06' (1 row, lines 3) is no
    person_id of staff.csv; 'W06' is: the same person?"]
    """
    return [f"nominations.csv: person id {pid!r} ({_rows(lines)}) is no person_id of "
            f"staff.csv; {like!r} is: the same person?"
            for pid, lines, like in _unknown_ids(staff["person_id"],
                                                 [nominations["ego"], nominations["alter"]],
                                                 nominations) if like]


def _unknown_ids(known_ids: pd.Series, columns: list[pd.Series], rows: pd.DataFrame
                 ) -> list[tuple[str, np.ndarray, str | None]]:
    """Per id in ``columns`` that is none of ``known_ids``: the lines of the rows holding it
    (``rows``' ``line``, else position + 2) and the known id it differs from only by letter
    case or spaces (None if none)."""
    known = pd.unique(_text(known_ids))
    folded = dict(zip(_loose(pd.Series(known)), known, strict=True))
    lines = (rows["line"].to_numpy() if "line" in rows.columns
             else np.arange(len(rows)) + 2)
    found: dict[str, list] = {}
    for column in columns:
        ids = pd.Series(_text(column), index=column.index)
        unknown = ~ids.isin(known).to_numpy()
        for value, line in zip(ids[unknown], lines[unknown], strict=True):
            found.setdefault(value, []).append(line)
    return [(value, np.unique(found[value]), folded.get(_loose(pd.Series([value])).iloc[0]))
            for value in sorted(found)]


def _rows(lines: np.ndarray) -> str:
    return f"{len(lines)} row{'s' if len(lines) > 1 else ''}, lines {line_list(lines)}"


def _other_strength(dup: np.ndarray, kept_row: np.ndarray, strength: np.ndarray,
                    lines: np.ndarray, schools: np.ndarray) -> list[dict]:
    """The duplicates whose strength is not that of the nomination kept (``school_id, line,
    strength, kept_line, kept_strength``): dropping them changed a tie's strength, unless
    the first was the one meant. Plain records: pandas compares ``attrs`` when it combines
    tables, which a table in them would make fail."""
    rows = np.flatnonzero(dup)
    kept = kept_row[rows]
    theirs, first = strength[rows], strength[kept]
    other = ~((theirs == first) | (np.isnan(theirs) & np.isnan(first)))
    return [{"school_id": str(schools[r]), "line": int(lines[r]), "strength": float(strength[r]),
             "kept_line": int(lines[k]), "kept_strength": float(strength[k])}
            for r, k in zip(rows[other].tolist(), kept[other].tolist(), strict=True)]


def _quality_table(schools: np.ndarray, issues: np.ndarray, lines: np.ndarray) -> pd.DataFrame:
    if len(issues) == 0:
        return pd.DataFrame({"school_id": pd.Series(dtype=object),
                             "issue": pd.Series(dtype=object),
                             "count": pd.Series(dtype=np.int64),
                             "lines": pd.Series(dtype=object)})
    df = pd.DataFrame({"school_id": schools, "code": issues, "line": lines})
    rows = []
    for (school, code), grp in df.groupby(["school_id", "code"], sort=True):
        rows.append({"school_id": school, "issue": ISSUES[int(code)], "count": len(grp),
                     "lines": line_list(grp["line"].to_numpy(), limit=None)})
    out = pd.DataFrame(rows, columns=QUALITY_COLUMNS)
    out["count"] = out["count"].astype(np.int64)
    return out


def nonrespondent_nominations(staff: pd.DataFrame, nominations: pd.DataFrame) -> pd.DataFrame:
    """Nominations made by staff marked ``responded = false``: a contradiction in the data
    (the flag, or the rows, is wrong). They are kept as ties; this says where they are.

    Returns
    -------
    DataFrame
        ``school_id, people, count, lines``: per school, how many such people and
        nominations, and the source lines (as :func:`check_nominations`). Empty when none.

    Examples
    --------
    >>> staff = pd.DataFrame({"person_id": ["a", "b"], "responded": [True, False]})
    >>> noms = pd.DataFrame({"school_id": ["s", "s"], "ego": ["a", "b"], "alter": ["b", "a"],
    ...                      "line": [2, 3]})
    >>> nonrespondent_nominations(staff, noms).values.tolist()
    [['s', 1, 1, '3']]
    """
    _require(staff, ["person_id", "responded"], "staff")
    _require(nominations, ["school_id", "ego"], "nominations")
    silent = _text(staff["person_id"])[~staff["responded"].to_numpy(dtype=bool)]
    noms = nominations.reset_index(drop=True)
    lines = (noms["line"].to_numpy(dtype=np.int64) if "line" in noms.columns
             else np.arange(2, len(noms) + 2, dtype=np.int64))
    # pandas' hashed isin: np.isin compares object arrays one value of ``silent`` at a time
    # (1M nominations x 10k non-respondents at 1,000 schools: minutes)
    by = noms.assign(line=lines).loc[pd.Series(_text(noms["ego"])).isin(silent).to_numpy()]
    rows = [{"school_id": school, "people": grp["ego"].nunique(), "count": len(grp),
             "lines": line_list(grp["line"].to_numpy())}
            for school, grp in by.groupby("school_id", sort=True)]
    return pd.DataFrame(rows, columns=["school_id", "people", "count", "lines"])


def symmetrize_nonrespondents(staff: pd.DataFrame, nominations: pd.DataFrame) -> pd.DataFrame:
    """Add ``alter -> ego`` for every tie ``ego -> alter`` whose alter did not respond.

    A non-respondent has no outgoing ties because they never answered, not because they
    talk to nobody. A common remedy in survey network analysis is to assume that a tie
    reported by a respondent to a non-respondent is mutual (e.g. Huisman 2009, "Imputation
    of missing network data", *Journal of Social Structure* 10). The added arc gets the same
    strength and the same source ``line`` as the tie it mirrors; arcs already present are
    not duplicated. Ties between two respondents are untouched. Column ``imputed`` says
    which arcs were added (kept as it is when the nominations have one already, so a
    completed network given again stays the same).

    Parameters
    ----------
    staff : DataFrame
        Needs ``person_id`` and ``responded``.
    nominations : DataFrame
        Clean nominations (see :func:`check_nominations`).

    Returns
    -------
    DataFrame
        The nominations followed by the added arcs, index reset, with ``imputed``.

    Examples
    --------
    >>> staff = pd.DataFrame({"person_id": ["a", "b"], "responded": [True, False]})
    >>> noms = pd.DataFrame({"school_id": ["s"], "ego": ["a"], "alter": ["b"],
    ...                      "strength": [3.0], "line": [2]})
    >>> done = symmetrize_nonrespondents(staff, noms)
    >>> done[["ego", "alter", "strength", "imputed"]].values.tolist()
    [['a', 'b', 3.0, False], ['b', 'a', 3.0, True]]
    >>> len(symmetrize_nonrespondents(staff, done))
    2
    """
    _require(staff, ["person_id", "responded"], "staff")
    _require(nominations, ["ego", "alter"], "nominations")
    silent = _text(staff["person_id"])[~staff["responded"].to_numpy(dtype=bool)]
    noms = nominations.reset_index(drop=True)
    if "imputed" not in noms.columns:
        noms["imputed"] = False
    if len(silent) == 0 or noms.empty:
        return noms
    ego, alter = _text(noms["ego"]), _text(noms["alter"])
    codes, uniques = pd.factorize(np.concatenate([ego, alter]))
    k = len(uniques)
    e, a = codes[:len(ego)].astype(np.int64), codes[len(ego):].astype(np.int64)
    to_silent = pd.Series(alter).isin(silent).to_numpy()  # hashed (nonrespondent_nominations)
    reverse_key = a[to_silent] * k + e[to_silent]
    new = ~np.isin(reverse_key, e * k + a)                 # not nominated already
    new &= ~pd.Series(reverse_key).duplicated().to_numpy()  # and added once
    rev = noms.loc[to_silent].loc[new].copy()
    rev["ego"], rev["alter"] = rev["alter"].to_numpy(), rev["ego"].to_numpy()
    rev["imputed"] = True
    return pd.concat([noms, rev], ignore_index=True)


# ====================================================================== indexing
@dataclass
class _Net:
    """The cohort as integer arrays: people ordered by (school_id, person_id)."""

    staff: pd.DataFrame          # sorted staff (index reset)
    school: np.ndarray           # school code per person
    schools: np.ndarray          # school ids, sorted
    offsets: np.ndarray          # first person of each school, plus the total
    u: np.ndarray                # arc sources (global person index), arcs sorted by (u, v)
    v: np.ndarray                # arc targets
    s: np.ndarray                # arc strengths (NaN = unknown)
    mutual: np.ndarray           # arc is reciprocated
    plg_keys: np.ndarray         # sorted person * n_plgs + PLG code, one per membership
    n_plgs: int                  # number of distinct PLG ids

    @property
    def n(self) -> int:
        return len(self.school)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)


def _index(staff: pd.DataFrame, nominations: pd.DataFrame) -> _Net:
    _require(staff, _STAFF_REQUIRED, "staff")
    _require(nominations, _NOMINATION_REQUIRED[:3], "nominations")
    pid_all, sid_all = _text(staff["person_id"]), _text(staff["school_id"])
    order = np.lexsort((pid_all, sid_all))
    st = staff.iloc[order].reset_index(drop=True)
    pid, sid = pid_all[order], sid_all[order]
    index = pd.Index(pid)
    if not index.is_unique:
        raise ValueError("staff has duplicate person_id values")
    schools, school = np.unique(sid, return_inverse=True)
    school = school.astype(np.int64)
    offsets = np.searchsorted(school, np.arange(len(schools) + 1)).astype(np.int64)

    u = index.get_indexer(_text(nominations["ego"])).astype(np.int64)
    v = index.get_indexer(_text(nominations["alter"])).astype(np.int64)
    strength = (pd.to_numeric(nominations["strength"], errors="coerce").to_numpy(dtype=float)
                if "strength" in nominations.columns else np.full(len(u), np.nan))
    hint = " (run check_nominations first)"
    if (u < 0).any() or (v < 0).any():
        raise ValueError(f"nominations name people who are not in staff{hint}")
    if (u == v).any():
        raise ValueError(f"nominations contain self-nominations{hint}")
    if (school[u] != school[v]).any() or (
            _text(nominations["school_id"]) != schools[school[u]]).any():
        raise ValueError(f"nominations contain cross-school ties{hint}")
    n = len(pid)
    key = u * n + v
    arc_order = np.argsort(key, kind="stable")
    key = key[arc_order]
    if len(key) > 1 and (key[1:] == key[:-1]).any():
        raise ValueError(f"nominations contain duplicate ego -> alter pairs{hint}")
    u, v, strength = u[arc_order], v[arc_order], strength[arc_order]
    rev = v * n + u
    pos = np.minimum(np.searchsorted(key, rev), max(len(key) - 1, 0))
    mutual = key[pos] == rev if len(key) else np.zeros(0, dtype=bool)
    person, plg = plg_memberships(st["plg_id"])
    codes, uniques = pd.factorize(plg, sort=True)
    k = max(len(uniques), 1)
    return _Net(staff=st, school=school, schools=schools, offsets=offsets, u=u, v=v,
                s=strength, mutual=mutual, plg_keys=np.sort(person * k + codes), n_plgs=k)


def plg_memberships(plg_id: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(row position, PLG id) per membership: a ``plg_id`` may name several PLGs separated by
    :data:`PLG_SEPARATOR` (a team leader in two data teams); empty means none."""
    ids = pd.Series(_text(plg_id))
    parts = ids.str.split(PLG_SEPARATOR, regex=False).explode().str.strip()
    parts = parts[parts != ""]
    return parts.index.to_numpy(dtype=np.int64), parts.to_numpy(dtype=object)


def plg_notes(staff: pd.DataFrame) -> list[str]:
    """What to check in the PLG columns of ``staff.csv``: per school, PLG ids that differ only
    in letter case or spaces (``DT1`` / ``dt1``: one PLG typed twice? They count as two, so
    ties between their members count as boundary-spanning), and one PLG id given two types.

    >>> staff = pd.DataFrame({"school_id": ["s"] * 3, "plg_id": ["DT1", "dt1", "dt1;ls1"],
    ...                       "plg_type": ["", "lesson_study", "data_team;lesson_study"],
    ...                       "line": [2, 3, 4]})
    >>> case, kinds = plg_notes(staff)
    >>> case  # doctest: +ELLIPSIS
    "staff.csv: school s: plg_id 'DT1' (line 2) and 'dt1' (line 3) differ only in letter ..."
    >>> kinds
    "staff.csv: school s: plg_id 'dt1' has plg_type lesson_study (line 3) and data_team (line 4)"
    """
    _require(staff, ["school_id", "plg_id"], "staff")
    person, plg = plg_memberships(staff["plg_id"])
    if not len(plg):
        return []
    types = (pd.Series(_text(staff["plg_type"])).str.split(PLG_SEPARATOR, regex=False)
             if "plg_type" in staff.columns else pd.Series([[""]] * len(staff)))
    lines = (staff["line"].to_numpy() if "line" in staff.columns
             else np.arange(2, len(staff) + 2))
    nth = pd.Series(person).groupby(person).cumcount().to_numpy()
    kind = [t[i].strip() if i < len(t) else (t[0].strip() if len(t) == 1 else "")
            for t, i in zip(types.to_numpy()[person], nth, strict=True)]
    m = pd.DataFrame({"school": _text(staff["school_id"])[person], "plg": plg,
                      "key": _loose(pd.Series(plg)),
                      "type": kind, "line": lines[person]})
    notes = []
    # first spelling of each PLG id; only the few (school, id) with two are looked at closer
    spellings = m.drop_duplicates(["school", "key", "plg"])
    for (school, _), grp in spellings[spellings.duplicated(["school", "key"], keep=False)
                                      ].groupby(["school", "key"], sort=True):
        shown = " and ".join(f"{r.plg!r} (line {r.line})" for r in grp.itertuples())
        notes.append(f"staff.csv: school {school}: plg_id {shown} differ only in letter "
                     "case or spaces: one PLG? They count as different PLGs")
    kinds = m[m["type"] != ""].drop_duplicates(["school", "plg", "type"])
    for (school, plg), grp in kinds[kinds.duplicated(["school", "plg"], keep=False)
                                    ].groupby(["school", "plg"], sort=True):
        shown = " and ".join(f"{r.type} (line {r.line})" for r in grp.itertuples())
        notes.append(f"staff.csv: school {school}: plg_id {plg!r} has plg_type {shown}")
    return notes


def _share_plg(net: _Net, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether each arc's two people share a PLG (boundary-spanning ties are the others)."""
    k = net.n_plgs
    member, code = net.plg_keys // k, net.plg_keys % k
    first = np.searchsorted(member, np.arange(net.n + 1))
    count = np.diff(first)[u]                       # memberships of each arc's ego
    arc = np.repeat(np.arange(len(u)), count)
    within = np.arange(len(arc)) - np.repeat(np.cumsum(count) - count, count)
    candidate = v[arc] * k + code[np.repeat(first[u], count) + within]
    pos = np.minimum(np.searchsorted(net.plg_keys, candidate), max(len(net.plg_keys) - 1, 0))
    shared = np.zeros(len(u), dtype=bool)
    if len(net.plg_keys):
        shared[arc[net.plg_keys[pos] == candidate]] = True
    return shared


def tie_shares(out_ties: Any, in_ties: Any, reciprocal_ties: Any) -> dict[str, np.ndarray]:
    """``contacts`` (out + in - reciprocal), ``reciprocity_ratio`` (reciprocal / contacts) and
    ``out_share`` (out / (out + in); both 0 without ties) of tie counts (arrays or columns).

    The pipeline's one definition of these measures (``synthetic.tie_summary``, which builds
    the demo, stays a separate check of it): ``network_metrics.csv`` has them per scope of ties
    and the profile criteria (pipeline/profile.py) take them from a features table, so that
    a reason's value is the table's.

    >>> {k: v.tolist() for k, v in tie_shares([3, 0], [1, 0], [1, 0]).items()}
    {'contacts': [3, 0], 'reciprocity_ratio': [0.3333333333333333, 0.0], 'out_share': [0.75, 0.0]}
    """
    out, inn, rec = (np.asarray(x) for x in (out_ties, in_ties, reciprocal_ties))
    contacts, ties = out + inn - rec, out + inn
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(contacts > 0, rec / np.where(contacts > 0, contacts, 1), 0.0)
        share = np.where(ties > 0, out / np.where(ties > 0, ties, 1), 0.0)
    return {"contacts": contacts, "reciprocity_ratio": ratio.astype(float),
            "out_share": share.astype(float)}


def _degrees(net: _Net, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """out/in/reciprocal ties, :func:`tie_shares` and strength sums over the arcs selected by
    ``mask``."""
    u, v, s, mutual = net.u, net.v, net.s, net.mutual
    if mask is not None:
        u, v, s, mutual = u[mask], v[mask], s[mask], mutual[mask]
    n = net.n
    out = np.bincount(u, minlength=n).astype(np.int64)
    inn = np.bincount(v, minlength=n).astype(np.int64)
    rec = np.bincount(u[mutual], minlength=n).astype(np.int64)
    known = ~np.isnan(s)
    s0 = np.where(known, s, 0.0)
    sum_out = np.bincount(u, weights=s0, minlength=n)
    sum_in = np.bincount(v, weights=s0, minlength=n)
    cnt = np.bincount(u, weights=known, minlength=n) + np.bincount(v, weights=known, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, (sum_out + sum_in) / np.where(cnt > 0, cnt, 1), np.nan)
    return {"out": out, "in": inn, "rec": rec, **tie_shares(out, inn, rec),
            "sum_out": sum_out, "sum_in": sum_in, "mean": mean}


# ====================================================================== dense batches
def _batches(net: _Net, budget: int = _BATCH_ENTRIES):
    """Yield (school codes, padded size P, adjacency B x P x P) for groups of similar size."""
    sizes = net.sizes
    order = np.argsort(sizes, kind="stable")
    arc_school = net.school[net.u]
    arc_bounds = np.searchsorted(arc_school, np.arange(len(sizes) + 1))
    i = 0
    while i < len(order):
        j = i + 1
        while j < len(order) and (j - i + 1) * int(sizes[order[j]]) ** 2 <= budget:
            j += 1
        group = order[i:j]
        P = max(int(sizes[group].max()), 1)
        A = np.zeros((len(group), P, P))
        for b, sc in enumerate(group):
            lo, hi = arc_bounds[sc], arc_bounds[sc + 1]
            base = net.offsets[sc]
            A[b, net.u[lo:hi] - base, net.v[lo:hi] - base] = 1.0
        yield group, P, A
        i = j


def betweenness_dense(A: np.ndarray) -> np.ndarray:
    """Unnormalised directed betweenness of unweighted graphs given as dense adjacency.

    Brandes' (2001) algorithm, run from all sources at once and level by level: the
    breadth-first search and the dependency accumulation are matrix products, so a batch
    of small graphs costs a few dozen BLAS calls. Ulrik Brandes (2001), "A faster
    algorithm for betweenness centrality", *Journal of Mathematical Sociology* 25(2);
    betweenness itself is from Freeman (1977), *Sociometry* 40(1).

    Parameters
    ----------
    A : ndarray, shape (n, n) or (B, n, n)
        0/1 adjacency (``A[u, v] = 1`` for an arc u -> v), no self-loops. Isolated padding
        nodes do not change the result for the others.

    Returns
    -------
    ndarray, shape (n,) or (B, n)
        ``sum over s != v != t of sigma_st(v) / sigma_st`` (ordered pairs), as
        ``networkx.betweenness_centrality(G, normalized=False)`` for a DiGraph.

    Examples
    --------
    >>> A = np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=float)  # a -> b -> c
    >>> betweenness_dense(A).tolist()
    [0.0, 1.0, 0.0]
    """
    A = np.asarray(A, dtype=float)
    squeeze = A.ndim == 2
    if squeeze:
        A = A[None]
    B, P, _ = A.shape
    eye = np.broadcast_to(np.eye(P, dtype=bool), (B, P, P))
    visited = eye.copy()
    sigma = eye.astype(float)
    front = sigma.copy()
    levels = [eye]
    while True:
        nxt = front @ A                       # shortest paths reaching v via the frontier
        new = (nxt > 0) & ~visited
        if not new.any():
            break
        sigma = np.where(new, nxt, sigma)
        visited |= new
        front = np.where(new, nxt, 0.0)
        levels.append(new)
    delta = np.zeros_like(sigma)
    At = A.swapaxes(1, 2)
    coeff = np.zeros_like(sigma)
    for L in range(len(levels) - 1, 1, -1):
        coeff[:] = 0.0
        np.divide(1.0 + delta, sigma, out=coeff, where=levels[L])
        contrib = coeff @ At                  # sum over successors w at level L
        delta += np.where(levels[L - 1], sigma * contrib, 0.0)
    bc = delta.sum(axis=1)
    return bc[0] if squeeze else bc


def _pagerank_dense(A: np.ndarray, real: np.ndarray, alpha: float = _PAGERANK_ALPHA
                    ) -> np.ndarray:
    """Exact PageRank per graph in a padded batch (solves the linear system)."""
    B, P, _ = A.shape
    n = real.sum(axis=1).astype(float)
    outdeg = A.sum(axis=2)
    Q = np.divide(A, outdeg[:, :, None], out=np.zeros_like(A), where=outdeg[:, :, None] > 0)
    dangling = real & (outdeg == 0)
    Q += (dangling[:, :, None] & real[:, None, :]) / n[:, None, None]
    M = np.broadcast_to(np.eye(P), (B, P, P)) - alpha * Q.swapaxes(1, 2)
    b = np.where(real, (1.0 - alpha) / n[:, None], 0.0)
    x = np.linalg.solve(M, b[:, :, None])[:, :, 0]
    return x / x.sum(axis=1, keepdims=True)


def _brokerage_dense(A: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Gould-Fernandez role counts (B, P, 5) for group codes ``g`` (-1 = unknown)."""
    B, P, _ = A.shape
    known = g >= 0
    both = known[:, :, None] & known[:, None, :]
    eq = g[:, :, None] == g[:, None, :]
    same = (eq & both).astype(float)
    diff = (~eq & both).astype(float)
    M = 1.0 - A                              # open: no a -> c ...
    idx = np.arange(P)
    M[:, idx, idx] = 0.0                     # ... and a != c
    SA, DA = A * same, A * diff
    X1 = SA.swapaxes(1, 2) @ M               # [b, c]: in-neighbours a of b in b's group
    X2 = DA.swapaxes(1, 2) @ M               # ... outside b's group
    X3 = DA.swapaxes(1, 2) @ (M * same)      # ... outside b's group, a and c in one group
    coord = (X1 * SA).sum(axis=2)
    gate = (X2 * SA).sum(axis=2)
    rep = (X1 * DA).sum(axis=2)
    cons = (X3 * DA).sum(axis=2)
    liaison = (X2 * DA).sum(axis=2) - cons
    return np.stack([coord, gate, rep, cons, liaison], axis=2)


def _single_threaded_blas():
    """Many small matrix products: BLAS threads only add synchronisation, and on a busy
    machine they collapse (measured 8x slower on 2 shared cores). One thread is steady."""
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:                                # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _dense_measures(net: _Net, groups: np.ndarray | None, btw: np.ndarray, pr: np.ndarray,
                    brok: np.ndarray) -> None:
    """Betweenness, PageRank and (when ``groups`` is given) brokerage, written in place."""
    sizes = net.sizes
    for group, P, A in _batches(net):
        rows = np.arange(P)[None, :]
        real = rows < sizes[group][:, None]
        gidx = net.offsets[group][:, None] + rows      # global index (valid where real)
        bc = betweenness_dense(A)
        k = sizes[group].astype(float)
        scale = np.where(k > 2, 1.0 / np.maximum((k - 1) * (k - 2), 1.0), 1.0)
        btw[gidx[real]] = (bc * scale[:, None])[real]
        pr[gidx[real]] = _pagerank_dense(A, real)[real]
        if groups is not None:
            g = np.full((len(group), P), -1, dtype=np.int64)
            g[real] = groups[gidx[real]]
            brok[gidx[real]] = _brokerage_dense(A, g)[real]


# ====================================================================== person metrics
def person_metrics(staff: pd.DataFrame, nominations: pd.DataFrame, config: Any = None
                   ) -> pd.DataFrame:
    """Network position of every staff member, per school.

    Parameters
    ----------
    staff : DataFrame
        ``person_id, school_id, plg_id, responded`` (+ the brokerage attribute column).
    nominations : DataFrame
        Clean nominations (``school_id, ego, alter, strength``): run
        :func:`check_nominations` first; unknown people, self-nominations, cross-school
        ties and duplicates raise ``ValueError``.
    config : NetworkConfig, optional
        Uses ``symmetrize_nonrespondents`` (default False) and ``brokerage_attribute``
        (default ``"role"``).

    Returns
    -------
    DataFrame
        One row per staff member (isolates included), ordered by ``school_id`` then
        ``person_id``, with exactly the columns in :data:`PERSON_COLUMNS`:

        - ``out_ties``, ``in_ties``: arcs sent / received (always all ties);
          ``reciprocal_ties``: colleagues tied both ways; ``contacts``: distinct colleagues
          tied either way (= out + in - reciprocal, the study's key-figure measure);
          ``reciprocity_ratio`` = reciprocal_ties / contacts (0 without contacts);
          ``out_share`` = out_ties / (out_ties + in_ties) (0 without ties): both
          :func:`tie_shares`, the profile criteria's measures.
        - ``out_strength``, ``in_strength``: sums of the known strengths of outgoing /
          incoming arcs (NaN when the cohort has no strengths at all); ``mean_strength``:
          mean strength over every arc the person is in, either direction (a reciprocal
          pair counts as its two arcs); NaN when none of them has a strength.
        - ``betweenness``: Freeman (1977) betweenness on the school's directed, unweighted
          graph, normalised by (n-1)(n-2) as networkx and igraph do (Brandes 2001).
        - ``pagerank``: Brin & Page (1998) PageRank per school, alpha 0.85, unweighted,
          dangling nodes spread uniformly (as ``networkx.pagerank``), solved exactly.
        - ``brokerage_*``: Gould & Fernandez (1989), "Structures of mediation: a formal
          approach to brokerage in transaction networks", *Sociological Methodology* 19.
          Counts the open two-paths a -> b -> c (a != c, no arc a -> c) in which b brokers,
          by the groups of a, b, c in the ``brokerage_attribute`` column: coordinator
          (all in one group), gatekeeper (a outside, b and c together), representative
          (a and b together, c outside), consultant (a and c together, b outside), liaison
          (three different groups). Two-paths involving someone whose group is empty are
          not counted. If the column is empty for everyone all counts are 0 and a note is
          added to ``result.attrs["notes"]``.
        - ``boundary_*``: the same degree measures, ratio and share on *boundary-spanning*
          ties only, i.e. ties between two people who do not share a PLG (van den
          Boom-Muilenburg et al. 2022); a ``plg_id`` may name several, ``dt1;ls1``
          (:func:`plg_memberships`). ``out_share`` and the boundary ratio and share come
          last, so that the columns before them stay where they were.

        ``result.attrs["notes"]`` is a list of plain-English notes (possibly empty).

    Notes
    -----
    With ``config.symmetrize_nonrespondents`` every tie ego -> alter whose alter did not
    respond gets its reverse alter -> ego added first (same strength; see
    :func:`symmetrize_nonrespondents`), and all measures use the completed network. Give
    :func:`school_metrics` and :func:`school_graph` that completed network too (``pipeline
    run`` does), so that school and person figures describe one network.
    Without it non-respondents keep zero outgoing ties: they are counted from incoming
    ties only.

    Examples
    --------
    >>> staff = pd.DataFrame({"person_id": ["a", "b", "c"], "school_id": ["s"] * 3,
    ...                       "plg_id": ["p", "p", ""], "responded": [True, True, False],
    ...                       "role": ["teacher", "teacher", "leader"]})
    >>> noms = pd.DataFrame({"school_id": ["s"] * 3, "ego": ["a", "b", "b"],
    ...                      "alter": ["b", "a", "c"], "strength": [float("nan")] * 3})
    >>> m = person_metrics(staff, noms)
    >>> m[["person_id", "contacts", "reciprocal_ties", "boundary_contacts"]].values.tolist()
    [['a', 1, 1, 0], ['b', 2, 1, 1], ['c', 1, 0, 1]]
    >>> m["brokerage_representative"].tolist()   # a -> b -> c crosses from teachers to leader
    [0, 1, 0]
    """
    symmetrize = bool(getattr(config, "symmetrize_nonrespondents", False))
    attribute = getattr(config, "brokerage_attribute", "role") if config is not None else "role"
    _require(staff, _STAFF_REQUIRED, "staff")
    _require(nominations, _NOMINATION_REQUIRED[:3], "nominations")
    if attribute not in staff.columns:
        raise ValueError(f"brokerage_attribute {attribute!r} is not a staff column; found: "
                         f"{', '.join(map(str, staff.columns))}")
    notes: list[str] = []
    if symmetrize:
        if "imputed" not in nominations.columns:   # not completed yet (pipeline run does it)
            nominations = symmetrize_nonrespondents(staff, nominations)
        notes.append(f"{int(nominations['imputed'].sum())} tie(s) to non-respondents were "
                     "made mutual (symmetrize_nonrespondents)")
    net = _index(staff, nominations)
    n = net.n
    alld = _degrees(net)
    boundary = ~_share_plg(net, net.u, net.v)
    bd = _degrees(net, boundary)
    has_strength = bool((~np.isnan(net.s)).any())

    values = _text(net.staff[attribute])
    groups = _codes(values)
    do_brokerage = bool((groups >= 0).any())
    several = int(pd.Series(values).str.contains(PLG_SEPARATOR, regex=False).sum())
    if several:
        notes.append(f"{several} person(s) have several values in {attribute!r} (such as "
                     f"'dt1{PLG_SEPARATOR}ls1'): in brokerage each such combination is a group "
                     "of its own")
    if not do_brokerage:
        notes.append(f"brokerage columns are 0: staff column {attribute!r} is empty for "
                     "everyone")
    elif (groups < 0).any():
        notes.append(f"{int((groups < 0).sum())} person(s) have no {attribute!r}: two-paths "
                     "through them are not counted in brokerage")

    btw = np.zeros(n)
    pr = np.zeros(n)
    brok = np.zeros((n, len(BROKERAGE_ROLES)))
    with _single_threaded_blas():
        _dense_measures(net, groups if do_brokerage else None, btw, pr, brok)

    st = net.staff
    data = {
        "person_id": st["person_id"].to_numpy(),
        "school_id": st["school_id"].to_numpy(),
        "responded": st["responded"].to_numpy(dtype=bool),
        "out_ties": alld["out"], "in_ties": alld["in"], "reciprocal_ties": alld["rec"],
        "contacts": alld["contacts"], "reciprocity_ratio": alld["reciprocity_ratio"],
        "out_strength": alld["sum_out"] if has_strength else np.full(n, np.nan),
        "in_strength": alld["sum_in"] if has_strength else np.full(n, np.nan),
        "mean_strength": alld["mean"],
        "betweenness": btw, "pagerank": pr,
    }
    for i, role in enumerate(BROKERAGE_ROLES):
        data[f"brokerage_{role}"] = np.rint(brok[:, i]).astype(np.int64)
    data.update({
        "boundary_out_ties": bd["out"], "boundary_in_ties": bd["in"],
        "boundary_reciprocal_ties": bd["rec"], "boundary_contacts": bd["contacts"],
        "boundary_mean_strength": bd["mean"],
        "out_share": alld["out_share"], "boundary_reciprocity_ratio": bd["reciprocity_ratio"],
        "boundary_out_share": bd["out_share"],
    })
    out = pd.DataFrame(data, columns=PERSON_COLUMNS)
    out.attrs["notes"] = notes
    return out


# ====================================================================== school metrics
def school_metrics(staff: pd.DataFrame, nominations: pd.DataFrame) -> pd.DataFrame:
    """Whole-network description of every school.

    Parameters
    ----------
    staff, nominations : DataFrame
        As for :func:`person_metrics` (clean nominations).

    Returns
    -------
    DataFrame
        One row per school (sorted), columns :data:`SCHOOL_COLUMNS`:

        - ``staff``, ``respondents``, ``response_rate`` (respondents / staff);
        - ``ties``: arcs; ``density`` = ties / (n(n-1)) (NaN for n < 2: no pair to tie);
        - ``reciprocity`` = arcs that are reciprocated / arcs, as
          ``networkx.overall_reciprocity`` (NaN without arcs: undefined, not 0);
        - ``mutual_dyads``, ``asymmetric_dyads``, ``null_dyads``: the MAN dyad census
          (Holland & Leinhardt 1970; Wasserman & Faust 1994, ch. 13), M + A + N = n(n-1)/2;
        - ``degree_centralisation``: Freeman (1979) centralisation of total degree
          d_i = in_i + out_i in the directed graph:
          ``sum_i (max_j d_j - d_i) / (2 (n-1) (n-2))``. The denominator is the largest
          possible sum, reached by a star whose centre is tied both ways to everyone
          (centre 2(n-1), others 2). NaN for n < 3 (no star to compare with: undefined,
          not 0); 1 for that star, 0 when all degrees are equal.

    Examples
    --------
    >>> staff = pd.DataFrame({"person_id": list("abc"), "school_id": ["s"] * 3,
    ...                       "plg_id": [""] * 3, "responded": [True, True, False]})
    >>> noms = pd.DataFrame({"school_id": ["s"] * 3, "ego": list("aab"), "alter": list("bca")})
    >>> school_metrics(staff, noms)[["ties", "mutual_dyads", "asymmetric_dyads",
    ...                              "null_dyads"]].values.tolist()
    [[3, 1, 1, 1]]
    """
    net = _index(staff, nominations)
    sizes = net.sizes.astype(np.int64)
    k = len(net.schools)
    arc_school = net.school[net.u]
    ties = np.bincount(arc_school, minlength=k).astype(np.int64)
    mutual_arcs = np.bincount(arc_school[net.mutual], minlength=k).astype(np.int64)
    M = mutual_arcs // 2
    A = ties - mutual_arcs
    pairs = sizes * (sizes - 1)
    N = pairs // 2 - M - A
    responded = net.staff["responded"].to_numpy(dtype=bool)
    respondents = np.bincount(net.school, weights=responded, minlength=k).astype(np.int64)
    deg = (np.bincount(net.u, minlength=net.n) + np.bincount(net.v, minlength=net.n))
    dmax = np.maximum.reduceat(deg, net.offsets[:-1]) if net.n else np.zeros(0)
    dsum = np.add.reduceat(deg, net.offsets[:-1]) if net.n else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(pairs > 0, ties / np.maximum(pairs, 1), np.nan)
        recip = np.where(ties > 0, mutual_arcs / np.maximum(ties, 1), np.nan)
        cmax = 2.0 * (sizes - 1) * (sizes - 2)
        central = np.where(sizes > 2, (sizes * dmax - dsum) / np.maximum(cmax, 1), np.nan)
    return pd.DataFrame({
        "school_id": net.schools.astype(object), "staff": sizes, "respondents": respondents,
        "response_rate": respondents / np.maximum(sizes, 1), "ties": ties,
        "density": density.astype(float), "reciprocity": recip.astype(float),
        "mutual_dyads": M, "asymmetric_dyads": A, "null_dyads": N,
        "degree_centralisation": central.astype(float),
    }, columns=SCHOOL_COLUMNS)


# ====================================================================== key figures
_LABELS = {
    "contacts": "contacts", "in_ties": "incoming ties", "out_ties": "outgoing ties",
    "betweenness": "betweenness",
    "boundary_contacts": "boundary contacts", "boundary_in_ties": "boundary incoming ties",
    "boundary_out_ties": "boundary outgoing ties",
}


def _fmt(x: float) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "no strength"
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.3g}" if abs(x) < 1 else f"{x:.2f}"


def key_figures(metrics: pd.DataFrame, config: Any,
                nominators: Iterable[str] | None = None) -> pd.DataFrame:
    """The top-k people per school: the study's *sleutelfiguren*.

    Ranked by ``config.key_figures.measure`` (``contacts``, ``in_ties``, ``out_ties`` or
    ``betweenness``). With ``config.tie_scope == "boundary"`` the degree measures are taken
    on boundary-spanning ties (``contacts`` -> ``boundary_contacts`` etc.), as in van den
    Boom-Muilenburg et al. (2022); betweenness is always on all ties (a path measure has no
    boundary version). The study identified key figures by number of contacts, three per
    school.

    Ties on the measure are broken by, in turn: higher mean strength (of the same tie
    scope; a missing strength ranks below any known one), more reciprocal ties (same
    scope), then ``person_id`` ascending. People whose value is 0 are never key figures, so
    a school can have fewer than k. Non-respondents are eligible and flagged (without
    symmetrisation their outgoing ties are unknown, so they are counted from incoming ties
    only).

    Parameters
    ----------
    metrics : DataFrame
        Output of :func:`person_metrics`.
    config : NetworkConfig
        Uses ``tie_scope``, ``key_figures.k``, ``key_figures.measure`` and
        ``symmetrize_nonrespondents``.
    nominators : iterable of str, optional
        Who nominated colleagues in the survey data (the egos of the nominations, before
        symmetrisation): a key figure marked non-respondent among them is named as such
        (:func:`nonrespondent_nominations`). By default, those with ``out_ties`` > 0, which
        under symmetrisation cannot tell imputed ties from nominations.

    Returns
    -------
    DataFrame
        :data:`KEY_FIGURE_COLUMNS`: ``school_id, rank`` (1..k), ``person_id``, ``measure``
        (the column used, e.g. ``boundary_contacts``), ``value``, ``responded`` and
        ``reason`` in plain English, e.g. ``"rank 1 of 74 by boundary contacts (23);
        non-respondent: counted from incoming ties only"``.
    """
    kf = config.key_figures
    measure = kf.measure
    boundary = config.tie_scope == "boundary" and measure != "betweenness"
    prefix = "boundary_" if config.tie_scope == "boundary" else ""
    column = f"boundary_{measure}" if boundary else measure
    strength_col, recip_col = f"{prefix}mean_strength", f"{prefix}reciprocal_ties"
    _require(metrics, ["person_id", "school_id", "responded", column, strength_col,
                       recip_col], "metrics")
    symmetrized = bool(getattr(config, "symmetrize_nonrespondents", False))
    label = _LABELS[column]
    if measure == "betweenness" and config.tie_scope == "boundary":
        label = "betweenness (all ties)"

    df = pd.DataFrame({
        "school_id": metrics["school_id"].to_numpy(),
        "person_id": metrics["person_id"].astype(str).to_numpy(),
        "value": pd.to_numeric(metrics[column]).to_numpy(dtype=float),
        "strength": pd.to_numeric(metrics[strength_col]).to_numpy(dtype=float),
        "recip": pd.to_numeric(metrics[recip_col]).to_numpy(dtype=float),
        "responded": metrics["responded"].to_numpy(dtype=bool),
        # a non-respondent's own nominations (a data error: nonrespondent_nominations)
        "nominated": _nominated(metrics, nominators, symmetrized),
    })
    df["strength_key"] = df["strength"].fillna(-np.inf)
    df = df.sort_values(["school_id", "value", "strength_key", "recip", "person_id"],
                        ascending=[True, False, False, False, True], kind="stable")
    rows = []
    for school, grp in df.groupby("school_id", sort=True):
        n_staff = len(grp)
        recs = grp.to_dict("records")
        eligible = [r for r in recs if r["value"] > 0]
        for rank, r in enumerate(eligible[:kf.k], start=1):
            reason = f"rank {rank} of {n_staff} by {label} ({_fmt(r['value'])})"
            tie = _tie_note(recs, recs.index(r), prefix)
            if tie:
                reason += f"; {tie}"
            if not r["responded"] and r["nominated"]:
                reason += ("; marked non-respondent, but nominated colleagues (kept as ties: "
                           "check responded in staff.csv)")
            elif not r["responded"]:
                reason += ("; non-respondent: outgoing ties imputed from incoming ties "
                           "(symmetrised)" if symmetrized
                           else "; non-respondent: counted from incoming ties only")
            rows.append({"school_id": school, "rank": rank, "person_id": r["person_id"],
                         "measure": column, "value": r["value"],
                         "responded": r["responded"], "reason": reason})
    out = pd.DataFrame(rows, columns=KEY_FIGURE_COLUMNS)
    out["rank"] = out["rank"].astype(np.int64)
    out["value"] = out["value"].astype(float)
    out["responded"] = out["responded"].astype(bool)
    return out


def _nominated(metrics: pd.DataFrame, nominators: Iterable[str] | None,
               symmetrized: bool) -> np.ndarray:
    """Whether each person nominated colleagues (see :func:`key_figures`)."""
    if nominators is not None:
        return metrics["person_id"].astype(str).isin(pd.Index(nominators)).to_numpy()
    if "out_ties" in metrics and not symmetrized:   # symmetrised: imputed arcs look the same
        return pd.to_numeric(metrics["out_ties"]).to_numpy() > 0
    return np.zeros(len(metrics), bool)


def _tie_note(recs: list[dict], i: int, prefix: str) -> str:
    """Why person i is placed relative to a neighbour with the same value, if any."""
    me = recs[i]
    for j, ahead in ((i + 1, True), (i - 1, False)):
        if not 0 <= j < len(recs) or recs[j]["value"] != me["value"]:
            continue
        other = recs[j]
        a, b = (me, other) if ahead else (other, me)
        scope = "boundary " if prefix else ""
        if a["strength_key"] != b["strength_key"]:
            crit, mine, theirs = f"{scope}mean strength", me["strength"], other["strength"]
        elif a["recip"] != b["recip"]:
            crit, mine, theirs = f"{scope}reciprocal ties", me["recip"], other["recip"]
        else:
            return (f"tied with {other['person_id']}, ranked {'above' if ahead else 'below'} "
                    "it by person_id (all else equal)")
        return (f"tied with {other['person_id']}, ranked {'above' if ahead else 'below'} it "
                f"on {crit} ({_fmt(mine)} vs {_fmt(theirs)})")
    return ""


# ====================================================================== graphs and exports
def school_graph(staff: pd.DataFrame, nominations: pd.DataFrame, metrics: pd.DataFrame,
                 school_id: str, reveal_names: bool = False,
                 key_figures: pd.DataFrame | None = None,
                 profiles: Mapping[str, str] | None = None) -> nx.DiGraph:
    """One school as a directed graph, metrics attached.

    Parameters
    ----------
    staff, nominations : DataFrame
        The cohort tables (clean nominations; ties of other schools are ignored).
    metrics : DataFrame
        Output of :func:`person_metrics` (its columns become node attributes).
    school_id : str
        Which school.
    reveal_names : bool
        Add the ``name`` attribute (off by default: graphs are shared without names).
    key_figures : DataFrame, optional
        Output of :func:`key_figures`: every node gets ``key_figure`` (bool), a key figure
        also its ``key_figure_rank``, so Gephi can colour and filter by them.
    profiles : mapping person_id -> profile, optional
        A key figure's profile, as node attribute ``profile``.

    Returns
    -------
    networkx.DiGraph
        Nodes = the school's staff (sorted by ``person_id``), attributes ``role``,
        ``plg_id``, ``plg_type``, ``responded`` and every metric column; edges ego -> alter
        with attribute ``strength`` (NaN when not asked), the same as ``weight`` where known
        (the name Gephi's GraphML import and networkx take an edge's weight from; without it
        Gephi weighs every tie 1), and ``imputed`` when the nominations have that column
        (:func:`symmetrize_nonrespondents`).
        ``G.graph["school_id"]`` is set.

    Examples
    --------
    >>> staff = pd.DataFrame({"person_id": ["a", "b"], "school_id": ["s", "s"],
    ...                       "name": ["Ann", "Bo"], "role": ["teacher"] * 2,
    ...                       "plg_id": ["", ""], "responded": [True, True]})
    >>> noms = pd.DataFrame({"school_id": ["s"], "ego": ["a"], "alter": ["b"],
    ...                      "strength": [2.0]})
    >>> G = school_graph(staff, noms, person_metrics(staff, noms), "s")
    >>> list(G.edges(data="strength")), "name" in G.nodes["a"]
    ([('a', 'b', 2.0)], False)
    """
    _require(staff, ["person_id", "school_id"], "staff")
    _require(nominations, ["school_id", "ego", "alter"], "nominations")
    _require(metrics, ["person_id"], "metrics")
    sid = _text(staff["school_id"])
    if school_id not in set(sid):
        raise ValueError(f"school {school_id!r} is not in staff")
    st = staff.loc[sid == school_id]
    st = st.iloc[np.argsort(_text(st["person_id"]), kind="stable")]
    mine = metrics.loc[np.isin(_text(metrics["person_id"]), _text(st["person_id"]))]
    metric_cols = [c for c in metrics.columns if c not in ("person_id",)]
    metric_of = {str(rec.pop("person_id")): rec for rec in mine.to_dict("records")}
    rank_of: dict[str, int] = {}
    if key_figures is not None:
        kf = key_figures.loc[_text(key_figures["school_id"]) == school_id]
        rank_of = dict(zip(_text(kf["person_id"]), map(int, kf["rank"]), strict=True))
    G = nx.DiGraph(school_id=school_id)
    for rec in st.to_dict("records"):
        pid = str(rec["person_id"]).strip()
        attrs: dict[str, Any] = {}
        for col in ("role", "plg_id", "plg_type"):
            if col in rec:
                attrs[col] = "" if pd.isna(rec[col]) else str(rec[col])
        attrs["responded"] = bool(rec["responded"]) if "responded" in rec else True
        if reveal_names and "name" in rec:
            attrs["name"] = "" if pd.isna(rec["name"]) else str(rec["name"])
        if pid in metric_of:
            attrs.update((col, _py(metric_of[pid][col])) for col in metric_cols)
        if key_figures is not None:
            attrs["key_figure"] = pid in rank_of
            if pid in rank_of:
                attrs["key_figure_rank"] = rank_of[pid]
                if profiles and pid in profiles:
                    attrs["profile"] = str(profiles[pid])
        G.add_node(pid, **attrs)
    nm = nominations.loc[_text(nominations["school_id"]) == school_id]
    strength = (pd.to_numeric(nm["strength"], errors="coerce").to_numpy(dtype=float)
                if "strength" in nm.columns else np.full(len(nm), np.nan))
    imputed = (nm["imputed"].to_numpy(dtype=bool) if "imputed" in nm.columns else None)
    for i, (e, a, s) in enumerate(zip(_text(nm["ego"]), _text(nm["alter"]), strength,
                                      strict=True)):
        if e in G and a in G:
            G.add_edge(e, a, strength=float(s), **({"weight": float(s)} if s == s else {}),
                       **({"imputed": bool(imputed[i])} if imputed is not None else {}))
    return G


def _py(x: Any) -> Any:
    """numpy scalars -> Python scalars."""
    if isinstance(x, np.generic):
        return x.item()
    return x


def _clean_value(x: Any) -> Any:
    x = _py(x)
    if x is None:
        return None
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, (bool, int, float, str)):
        return x
    return str(x)


def _clean_attrs(items: list[dict]) -> list[dict]:
    """Drop missing values; one type per attribute (int + float -> float, other mixes -> str)."""
    cleaned = [{k: v for k, v in ((k, _clean_value(v)) for k, v in d.items()) if v is not None}
               for d in items]
    types: dict[str, set] = {}
    for d in cleaned:
        for k, v in d.items():
            types.setdefault(k, set()).add(type(v))
    for k, ts in types.items():
        if len(ts) == 1:
            continue
        conv = float if ts <= {int, float} else str
        for d in cleaned:
            if k in d:
                d[k] = conv(d[k])
    return cleaned


def graphml_bytes(G: nx.DiGraph) -> bytes:
    """GraphML (UTF-8) of a graph, safe for Gephi.

    Only ``str``, ``int``, ``float`` and ``bool`` attributes are written; missing values
    (None, NaN) are left out (GraphML has no NaN, and Gephi rejects it); an attribute with
    both int and float values is written as float, any other mix as string. Node and edge
    order is the graph's, so the same graph gives the same bytes. Written directly rather
    than with ``nx.write_graphml`` (ElementTree, ~60 ms per school: a minute for a national
    cohort); ``tests/test_network.py`` reads it back with ``nx.read_graphml``.

    Examples
    --------
    >>> G = nx.DiGraph()
    >>> G.add_edge("a", "b", strength=float("nan"))
    >>> b"strength" in graphml_bytes(G)
    False
    """
    graph_attrs = _clean_attrs([dict(G.graph)])[0]
    nodes = list(G.nodes)
    node_attrs = _clean_attrs([dict(G.nodes[n]) for n in nodes])
    edges = list(G.edges)
    edge_attrs = _clean_attrs([dict(G.edges[e]) for e in edges])
    keys: dict[tuple[str, str], str] = {}   # (domain, name) -> key id, in order of first use
    key_lines = []
    for domain, items in (("graph", [graph_attrs]), ("node", node_attrs), ("edge", edge_attrs)):
        for d in items:
            for name, value in d.items():
                if (domain, name) not in keys:
                    keys[domain, name] = kid = f"d{len(keys)}"
                    key_lines.append(f'  <key id="{kid}" for="{domain}" attr.name='
                                     f'{quoteattr(str(name))} '
                                     f'attr.type="{_XML_TYPE[type(value)]}" />')

    def data(domain: str, attrs: dict, indent: str) -> list[str]:
        return [f'{indent}<data key="{keys[domain, k]}">{escape(_xml_value(v))}</data>'
                for k, v in attrs.items()]

    out = [GRAPHML_HEAD, *key_lines, '  <graph edgedefault="directed">',
           *data("graph", graph_attrs, "    ")]
    for node, attrs in zip(nodes, node_attrs, strict=True):
        out += [f"    <node id={quoteattr(str(node))}>", *data("node", attrs, "      "),
                "    </node>"]
    for (a, b), attrs in zip(edges, edge_attrs, strict=True):
        out += [f"    <edge source={quoteattr(str(a))} target={quoteattr(str(b))}>",
                *data("edge", attrs, "      "), "    </edge>"]
    out += ["  </graph>", "</graphml>", ""]
    return "\n".join(out).encode("utf-8")


GRAPHML_HEAD = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">')
_XML_TYPE = {bool: "boolean", int: "long", float: "double", str: "string"}


def _xml_value(v: bool | int | float | str) -> str:
    """GraphML text of a value: XML Schema booleans are lower case ("true"/"false")."""
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def pajek_text(G: nx.DiGraph) -> str:
    """Pajek ``.net`` text: ``*Vertices n`` with the node ids as quoted labels, then
    ``*Arcs`` ``i j [strength]`` (1-based; the strength is written when known).

    Examples
    --------
    >>> G = nx.DiGraph()
    >>> G.add_edge("a", "b", strength=3.0)
    >>> print(pajek_text(G), end="")
    *Vertices 2
    1 "a"
    2 "b"
    *Arcs
    1 2 3
    """
    nodes = list(G.nodes)
    pos = {n: i for i, n in enumerate(nodes, start=1)}
    out = [f"*Vertices {len(nodes)}"]
    out += [f'{i} "{str(n).replace(chr(34), chr(39))}"' for n, i in pos.items()]
    out.append("*Arcs")
    for a, b, s in G.edges(data="strength"):
        w = "" if s is None or (isinstance(s, float) and math.isnan(s)) else f" {s:g}"
        out.append(f"{pos[a]} {pos[b]}{w}")
    return "\n".join(out) + "\n"
