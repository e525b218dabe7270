"""Fuse coded material with network position and assign each key figure a profile, with reasons.

Tables
------
``person_codes``  person_id, school_id, source (interview | observation | all), n_segments,
                  n_<code> for every code, n_<activity>.<subtype> for every sub-type,
                  n_activity_kinds (sub-types seen in at least ``min_segments_per_kind``
                  segments of that person and source)
``features``      the profile contract (DESIGN.md): person_id, school_id, out_ties, in_ties,
                  reciprocal_ties, mean_strength, n_<code>..., n_activity_kinds; plus
                  tie_scope, rank, n_segments, n_activity_categories when built by
                  :func:`person_features`
``profiles``      person_id, school_id, profile, reasons, nearest_profile, criteria_met,
                  stable, unstable_when

Profiles come from ``configs/profiles.yaml``: the first profile (in file order) whose criteria
all hold; otherwise ``undetermined`` with the nearest profile named. Nothing forces a profile
to exist in a school. A criterion whose feature no key figure of a school has a value for (no tie
strengths in that school's survey: ``mean_strength`` empty) is left out of its profile for that
school's key figures, said in the reasons and in the table's ``attrs["notes"]``. A key figure
without transcripts (``n_segments`` 0) gets no profile: what they share is unknown, so the
criteria on codes are not evaluated and the nearest profile follows from the network.
"""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd

from pipeline.config import Codebook, Criterion, ProfilesConfig
from pipeline.io import id_list
from pipeline.network import tie_shares

__all__ = ["person_codes", "person_features", "derive_features", "assign_profiles",
           "FEATURE_COLUMNS", "PROFILE_COLUMNS"]

FEATURE_COLUMNS = ["person_id", "school_id", "out_ties", "in_ties", "reciprocal_ties",
                   "mean_strength"]
PROFILE_COLUMNS = ["person_id", "school_id", "profile", "reasons", "nearest_profile",
                   "criteria_met", "stable", "unstable_when"]
OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
       "==": operator.eq}
# features a survey may not measure at all (a column empty for everyone), with the reason for
# the note on a criterion left out; the counts of coded segments are always there (0: nothing
# shared is evidence, and its criteria fail), but for a key figure without transcripts
OPTIONAL_FEATURES = {"mean_strength": " (no tie strengths in the survey?)"}
# the features of network position (the survey's and derive_features'); every other feature
# counts codes, unknown for a key figure without transcripts (n_segments 0)
NETWORK_FEATURES = frozenset({*FEATURE_COLUMNS[2:], "contacts", "reciprocity_ratio",
                              "out_share"})
# features that are no count: shown with 2 decimals also when whole (a mean strength of 3.00)
MEASURES = frozenset({"mean_strength", "reciprocity_ratio", "out_share", "share_of"})


def person_codes(coded: pd.DataFrame, codebook: Codebook, min_segments_per_kind: int
                 ) -> pd.DataFrame:
    """Segment counts per code and sub-type for every person, per source and overall."""
    subs = codebook.subtype_ids
    cols = ([f"n_{c}" for c in codebook.code_ids] + [f"n_{s}" for s in subs])
    if coded.empty:
        return pd.DataFrame(columns=["person_id", "school_id", "source", "n_segments", *cols,
                                     "n_activity_kinds"])
    # one row per distinct combination of assigned codes (a few hundred), then spread out
    combos, distinct = pd.factorize(
        coded["knowledge_types"].fillna("").astype(str) + ";"
        + coded["activities"].fillna("").astype(str) + ";"
        + coded["activity_subtypes"].fillna("").astype(str))
    sets = [set(x.split(";")) for x in distinct]
    onehot = pd.DataFrame({f"n_{c}": np.array([c in a for a in sets], dtype="int64")[combos]
                           for c in codebook.code_ids + subs}, index=coded.index)
    base = pd.concat([coded[["person_id", "school_id", "source"]], onehot], axis=1)
    base["n_segments"] = 1
    per_source = base.groupby(["person_id", "school_id", "source"], sort=True).sum().reset_index()
    overall = base.drop(columns="source").groupby(["person_id", "school_id"], sort=True).sum()
    overall = overall.reset_index().assign(source="all")
    out = pd.concat([per_source, overall], ignore_index=True)
    out["n_activity_kinds"] = (out[[f"n_{s}" for s in subs]] >= min_segments_per_kind).sum(axis=1)
    out = out.sort_values(["school_id", "person_id", "source"], kind="stable")
    return out[["person_id", "school_id", "source", "n_segments", *cols,
                "n_activity_kinds"]].reset_index(drop=True)


def person_features(key_figures: pd.DataFrame, metrics: pd.DataFrame, codes: pd.DataFrame,
                    codebook: Codebook, tie_scope: str, min_for_category: int) -> pd.DataFrame:
    """The profile contract's features table: one row per key figure.

    Network counts come from the same tie scope as the key-figure selection (``boundary``: ties
    outside the person's own PLG, the study's choice; ``all``), recorded in ``tie_scope``.
    ``n_activity_categories`` is there too, so that every measure the reasons name is a
    column of a table the run writes (the network ones are in ``network_metrics.csv``).
    """
    prefix = "boundary_" if tie_scope == "boundary" else ""
    net = metrics[["person_id"]].copy()
    for col in ("out_ties", "in_ties", "reciprocal_ties", "mean_strength"):
        net[col] = metrics[prefix + col] if prefix + col in metrics else metrics[col]
    overall = codes[codes["source"] == "all"].drop(columns=["source", "school_id"])
    kf = key_figures[["person_id", "school_id", "rank"]]
    out = kf.merge(net, on="person_id", how="left").merge(overall, on="person_id", how="left")
    count_cols = [c for c in overall.columns if c.startswith("n_")]
    out[count_cols] = out[count_cols].fillna(0).astype("int64")
    out["tie_scope"] = tie_scope
    out["n_activity_categories"] = _categories_used(out, codebook, min_for_category).sum(axis=1)
    code_cols = [f"n_{c}" for c in codebook.code_ids]
    return out[[*FEATURE_COLUMNS, *code_cols, "n_activity_kinds", "tie_scope", "rank",
                "n_segments", "n_activity_categories"]]


def _categories_used(f: pd.DataFrame, codebook: Codebook, min_for_category: int
                     ) -> np.ndarray:
    """Per row and activity (codebook order): whether it counts as used, coded in at least
    ``min_for_category`` segments."""
    return f[[f"n_{c}" for c in codebook.family_codes("activities")]].to_numpy() >= min_for_category


def derive_features(features: pd.DataFrame, codebook: Codebook, min_for_category: int
                    ) -> pd.DataFrame:
    """Add the derived measures the criteria use: contacts, reciprocity_ratio, out_share (as
    network_metrics.csv has them: :func:`pipeline.network.tie_shares`),
    n_activity_categories (and the names of those categories, activity_categories, for the
    reasons). Fails with a clear message when a contract column is missing."""
    needed = [*FEATURE_COLUMNS, *(f"n_{c}" for c in codebook.code_ids), "n_activity_kinds"]
    missing = [c for c in needed if c not in features.columns]
    if missing:
        raise ValueError(f"features table lacks column(s): {', '.join(missing)}")
    f = features.copy()
    for c in needed[2:]:
        f[c] = pd.to_numeric(f[c], errors="raise").astype("float64")
    f = f.assign(**tie_shares(f["out_ties"], f["in_ties"], f["reciprocal_ties"]))
    acts = codebook.family_codes("activities")
    used = _categories_used(f, codebook, min_for_category)
    f["n_activity_categories"] = used.sum(axis=1).astype("float64")
    f["activity_categories"] = ["+".join(c for c, u in zip(acts, row, strict=True) if u)
                                for row in used]
    return f


def _family_total(f: pd.DataFrame, codes: list[str], codebook: Codebook) -> pd.Series:
    fams = {fam.id: [c.id for c in fam.codes] for fam in codebook.families}
    family = next(k for k, v in fams.items() if codes[0] in v)
    return f[[f"n_{c}" for c in fams[family]]].sum(axis=1)


def _values(f: pd.DataFrame, crit: Criterion, codebook: Codebook) -> pd.Series:
    if crit.feature == "share_of":
        total = _family_total(f, crit.codes or [], codebook)
        part = f[[f"n_{c}" for c in crit.codes or []]].sum(axis=1)
        return (part / total.where(total > 0, 1)).where(total > 0, 0.0)
    if crit.feature not in f.columns:
        raise ValueError(f"profile criterion uses unknown feature {crit.feature!r}")
    return f[crit.feature].astype("float64")


def _holds(f: pd.DataFrame, crit: Criterion, vals: pd.Series, value: float | None
           ) -> np.ndarray:
    """Whether the criterion holds for each row's value ``vals`` (``value`` is the threshold:
    the configured one, or a moved one in the sensitivity check)."""
    if crit.rank_in_school is not None:   # the most of nothing (0 reciprocal ties) is not most
        rank = vals.groupby(f["school_id"]).rank(method="min", ascending=False)
        return ((rank <= crit.rank_in_school) & (vals > 0)).to_numpy()
    return (OPS[crit.op](vals, value) & vals.notna()).to_numpy()


def _name(crit: Criterion) -> str:
    """The criterion's feature as the reasons and notes name it."""
    return crit.feature if crit.feature != "share_of" else f"share of {'+'.join(crit.codes or [])}"


def _column_names(f: pd.DataFrame, crit: Criterion) -> list[str]:
    """The criterion's feature per row, named as the run's tables name it: a network measure
    on boundary ties (``tie_scope``) as ``boundary_...`` (network_metrics.csv), a count of
    codes as person_features.csv does, a share of codes by its codes (their counts are
    there)."""
    boundary = (f["tie_scope"] == "boundary" if "tie_scope" in f.columns
                else pd.Series(False, index=f.index))
    return [("boundary_" if b and crit.feature in NETWORK_FEATURES else "") + _name(crit)
            for b in boundary]


def _phrases(f: pd.DataFrame, crit: Criterion, vals: pd.Series, codebook: Codebook
             ) -> list[str]:
    """The criterion's value per row, in words (for the reasons), named as the tables name
    it (:func:`_column_names`); a derived one with what it is made of."""
    names = _column_names(f, crit)
    values = [_fmt(v, whole=crit.feature not in MEASURES) + part for v, part in
              zip(vals, _made_of(f, crit, codebook), strict=True)]
    if crit.rank_in_school is not None:
        rank = vals.groupby(f["school_id"]).rank(method="min", ascending=False)
        n = f.groupby("school_id")["school_id"].transform("size")
        return [f"{name} = {v} (none, so not the most in the school)" if x == 0 else
                f"{name} = {v} (rank {int(r) if r == r else '-'} of {k} key figures in "
                f"the school, needs rank <= {crit.rank_in_school})"
                for name, v, x, r, k in zip(names, values, vals, rank, n, strict=True)]
    return [f"{name} = {v} (needs {crit.op} {_fmt(crit.value, whole=False)})"
            for name, v in zip(names, values, strict=True)]


def _made_of(f: pd.DataFrame, crit: Criterion, codebook: Codebook) -> list[str]:
    """Per row, what a derived measure is made of (``, 15 of 24 contacts reciprocal``), so
    that its value can be traced to the tables (a count missing: ``n/a``); empty for a
    measure of the tables."""
    def of(part: pd.Series, whole: pd.Series, what: str) -> list[str]:
        return [f", {_fmt(p)} of {_fmt(w)} {what}" for p, w in zip(part, whole, strict=True)]

    if crit.feature == "reciprocity_ratio":
        return of(f["reciprocal_ties"], f["contacts"], "contacts reciprocal")
    if crit.feature == "out_share":
        return of(f["out_ties"], f["out_ties"] + f["in_ties"], "ties outgoing")
    if crit.feature == "share_of":
        codes = crit.codes or []
        return of(f[[f"n_{c}" for c in codes]].sum(axis=1), _family_total(f, codes, codebook),
                  f"{codebook.code(codes[0]).family} codes")
    if crit.feature == "n_activity_categories":
        return [f", {used or 'none'} used" for used in f["activity_categories"]]
    return [""] * len(f)


def _fmt(x: float, *, whole: bool = True) -> str:
    """A count as a whole number (``whole``), a measure (a mean, a share, a threshold) with
    2 decimals."""
    if x != x:
        return "n/a"
    return str(int(x)) if whole and float(x).is_integer() else f"{x:.2f}"


def _evaluable(f: pd.DataFrame, cfg: ProfilesConfig, values: list[list[pd.Series]],
               coded: np.ndarray) -> list[np.ndarray]:
    """Per profile (config order) a rows x criteria matrix: which criteria the data can decide
    for that row. One on a feature a school's survey did not measure
    (:data:`OPTIONAL_FEATURES`: no key figure of the school has a value, as without tie
    strengths) would fail for all of them and silently hand its profile to the next, so it is
    left out there instead. One key figure's missing value among others' is not this: that
    criterion fails for it. One on codes is left out for a key figure without transcripts
    (``coded`` false): what they share is unknown, not nothing."""
    return [np.column_stack([_measured_in_school(f, v) if crit.feature in OPTIONAL_FEATURES
                             else np.ones(len(f), dtype=bool)
                             if crit.feature in NETWORK_FEATURES else coded
                             for crit, v in zip(prof.criteria, vs, strict=True)])
            .reshape(len(f), len(prof.criteria))
            for prof, vs in zip(cfg.profiles, values, strict=True)]


def _measured_in_school(f: pd.DataFrame, vals: pd.Series) -> np.ndarray:
    """Per row: whether any key figure of its school has a value."""
    return vals.notna().groupby(f["school_id"]).transform("any").to_numpy(dtype=bool)


def _coded(f: pd.DataFrame) -> np.ndarray:
    """Per row: whether its codes are known. A key figure without transcripts (``n_segments``
    0, where the table has it) shared nothing we know of; a table without the column (the
    profile contract's) counts as coded."""
    if "n_segments" not in f.columns:
        return np.ones(len(f), dtype=bool)
    return (pd.to_numeric(f["n_segments"], errors="coerce") != 0).to_numpy(dtype=bool)


def _held(f: pd.DataFrame, cfg: ProfilesConfig, values: list[list[pd.Series]],
          evaluable: list[np.ndarray]) -> list[np.ndarray]:
    """Per profile (config order) a rows x criteria matrix: which criteria hold (a criterion
    left out holds for everybody, so the profile is decided on its other criteria)."""
    return [np.column_stack([_holds(f, crit, values[pi][ci], crit.value)
                             for ci, crit in enumerate(prof.criteria)])
            .reshape(len(f), len(prof.criteria)) | ~evaluable[pi]
            for pi, prof in enumerate(cfg.profiles)]


def _choose(held: list[np.ndarray], evaluable: list[np.ndarray], cfg: ProfilesConfig,
            coded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first profile (config order) whose criteria all hold, else ``undetermined``; and the
    nearest profile (the chosen one, or the one with the largest share of criteria holding,
    the first on a tie). Only criteria the data can decide count; a profile with none left
    is never chosen, and nor is any for a key figure whose codes are unknown (``coded``
    false): a profile says what and how someone shares."""
    ids = np.array([p.id for p in cfg.profiles], dtype=object)
    chosen = np.full(held[0].shape[0], "undetermined", dtype=object)
    for pid, h, ev in reversed(list(zip(ids, held, evaluable, strict=True))):
        chosen[h.all(axis=1) & ev.any(axis=1) & coded] = pid
    share = np.column_stack([(h & ev).sum(axis=1) / np.maximum(ev.sum(axis=1), 1)
                             for h, ev in zip(held, evaluable, strict=True)])
    nearest = np.where(chosen == "undetermined", ids[share.argmax(axis=1)], chosen)
    return chosen, nearest


def _decide(f: pd.DataFrame, cfg: ProfilesConfig, values: list[list[pd.Series]],
            held: list[np.ndarray], evaluable: list[np.ndarray], coded: np.ndarray,
            codebook: Codebook) -> tuple[list[str], list[str], list[str], list[str]]:
    """Profile, nearest profile, criteria-met summary and reasons for every row (a criterion
    left out is named as not evaluated, and not counted)."""
    chosen, nearest = _choose(held, evaluable, cfg, coded)
    index = {p.id: pi for pi, p in enumerate(cfg.profiles)}
    phrases = [[np.where(evaluable[pi][:, ci], _phrases(f, crit, values[pi][ci], codebook),
                         [f"not evaluated (no {name} in the data)"
                          for name in _column_names(f, crit)]
                         if crit.feature in NETWORK_FEATURES
                         else "not evaluated (no coded segments)")
                for ci, crit in enumerate(prof.criteria)]
               for pi, prof in enumerate(cfg.profiles)]
    met, reasons = [], []
    for i in range(len(f)):
        near = index[nearest[i]]
        n_met, n_used = held[near][i, evaluable[near][i]].sum(), evaluable[near][i].sum()
        met.append(f"{n_met}/{n_used}")
        parts = []
        for pi, p in enumerate(cfg.profiles):
            ev = evaluable[pi][i]
            said = [f"{crit.why_in('en')}: "
                    + (f"{'holds' if held[pi][i, ci] else 'does not hold'}, " if ev[ci] else "")
                    + phrases[pi][ci][i] for ci, crit in enumerate(p.criteria)]
            if p.id == chosen[i]:
                left_out = f", {(~ev).sum()} not evaluated" if not ev.all() else ""
                parts.append(f"{p.id}: all {ev.sum()} criteria hold{left_out} ("
                             + "; ".join(said) + ")")
                break
            parts.append(f"not {p.id}: " + "; ".join(
                ph for ci, ph in enumerate(said) if not (ev[ci] and held[pi][i, ci])))
        if chosen[i] == "undetermined":
            why = ("no profile's criteria all hold" if coded[i] else "no coded segments "
                   "(no transcripts, or none with a respondent turn), so what this key "
                   "figure shares is unknown")
            parts.append(f"undetermined: {why}; nearest is {nearest[i]} ({n_met} of {n_used} "
                         "criteria)")
        reasons.append(". ".join(parts))
    return chosen.tolist(), nearest.tolist(), met, reasons


def assign_profiles(features: pd.DataFrame, cfg: ProfilesConfig, codebook: Codebook
                    ) -> pd.DataFrame:
    """Profiles with reasons and a sensitivity check for every row of ``features``.

    Every numeric threshold is moved by ``-cfg.sensitivity`` and ``+cfg.sensitivity`` (one at a
    time); a key figure whose profile changes under any of these is ``stable = False`` and
    ``unstable_when`` says which threshold moved where, and what the profile became.

    A criterion whose feature no row of a school has a value for is left out there
    (:func:`_evaluable`); the result's ``attrs["notes"]`` has a line per such criterion, naming
    the schools unless it is all of them, for the caller to warn with. A row without
    transcripts (``n_segments`` 0) gets no profile (:func:`_choose`).
    """
    f = derive_features(features, codebook, cfg.min_segments_for_category).reset_index(drop=True)
    values = [[_values(f, crit, codebook) for crit in prof.criteria] for prof in cfg.profiles]
    coded = _coded(f)
    evaluable = _evaluable(f, cfg, values, coded)
    held = _held(f, cfg, values, evaluable)
    profiles, nearest, met, reasons = _decide(f, cfg, values, held, evaluable, coded,
                                              codebook)
    chosen = np.array(profiles, dtype=object)
    unstable: list[list[str]] = [[] for _ in range(len(f))]
    for pi, prof in enumerate(cfg.profiles):
        for ci, crit in enumerate(prof.criteria):
            used = evaluable[pi][:, ci]
            if crit.value is None or crit.fixed or not used.any():   # a rank, a definition,
                continue                                             # or deciding nothing
            names = _column_names(f, crit)
            for sign in (-1, 1):
                moved = crit.value * (1 + sign * cfg.sensitivity)
                moved_held = [h.copy() if k == pi else h for k, h in enumerate(held)]
                moved_held[pi][:, ci] = _holds(f, crit, values[pi][ci], moved) | ~used
                alt, _ = _choose(moved_held, evaluable, cfg, coded)
                for i in np.flatnonzero(alt != chosen):
                    unstable[i].append(f"{prof.id}.{names[i]} {crit.op} "
                                       f"{_fmt(moved, whole=False)} -> {alt[i]}")
    out = f[["person_id", "school_id"]].copy()
    out["profile"] = profiles
    out["reasons"] = reasons
    out["nearest_profile"] = nearest
    out["criteria_met"] = met
    out["stable"] = [not u for u in unstable]
    out["unstable_when"] = ["; ".join(u) for u in unstable]
    out = out[PROFILE_COLUMNS]
    out.attrs["notes"] = _left_out_notes(f, cfg, values) + _nothing_coded_notes(f, codebook)
    return out


def _nothing_coded_notes(f: pd.DataFrame, codebook: Codebook) -> list[str]:
    """A warning for the key figures of a table without ``n_segments`` (the contract's)
    whose every code count is 0: their criteria on codes fail, as for someone who shared
    nothing; with ``n_segments`` 0 they are not evaluated instead (no transcripts: unknown)."""
    if "n_segments" in f.columns:
        return []
    none = f.loc[(f[[f"n_{c}" for c in codebook.code_ids]] == 0).all(axis=1), "person_id"]
    if none.empty:
        return []
    return [f"profiles: {id_list(sorted(map(str, none)))} {'has' if len(none) == 1 else 'have'} "
            "no segment of any code, so the criteria on codes fail for them, as for someone "
            "who shared nothing; if they have no coded transcripts, give the table an "
            "n_segments column with 0 for them (what they share is then unknown: no profile)"]


def _left_out_notes(f: pd.DataFrame, cfg: ProfilesConfig, values: list[list[pd.Series]]
                    ) -> list[str]:
    """A warning per criterion on a feature some school's survey did not measure
    (:data:`OPTIONAL_FEATURES`), left out there: for the whole table, or for the schools
    named. (A key figure without transcripts has a warning of its own: pipeline/run.py.)"""
    notes = []
    for prof, vals in zip(cfg.profiles, values, strict=True):
        for crit, v in zip(prof.criteria, vals, strict=True):
            left_out = ~_measured_in_school(f, v)
            if crit.feature not in OPTIONAL_FEATURES or not left_out.any():
                continue
            schools = sorted(map(str, f.loc[left_out, "school_id"].unique()))
            where, there = ("no key figure", "") if left_out.all() else (
                f"no key figure of school{'s' if len(schools) > 1 else ''} "
                f"{', '.join(schools)}", " there")
            why = (" (no ties)" if (f.loc[left_out, "contacts"] == 0).all()
                   else OPTIONAL_FEATURES[crit.feature])
            notes.append(f"profiles: {where} has a {_name(crit)}{why}, so "
                         f"'{crit.why_in('en')}' "
                         f"({prof.id}) is left out of that profile{there}")
    return notes
