"""Inter-annotator and model-versus-human reliability, per code and overall.

Input: a labels table ``segment_id, code, value, annotator`` (``time`` optional). Values are
nominal: any category is allowed (``0``/``1`` for codebook labels). Each annotator's latest
label per segment and code counts (by ``time``, then row order). Adjudicators
(``adjudicator:<name>``) are not annotators here: their labels only enter the reference.

The unit is the segment: for a code, each segment coded by at least two annotators is one
pairable unit. The overall row (code ``(all)``) pools every (segment, code) pair as a unit.

Measures (columns of ``agreement.csv``)
---------------------------------------
n_units              pairable units (coded by two or more annotators)
percent_agreement    share of pairable units on which every annotator gave the same value
krippendorff_alpha   Krippendorff's alpha, nominal, missing values allowed (package
                     ``krippendorff``; Krippendorff 2011, "Computing Krippendorff's
                     alpha-reliability"); NaN when fewer than two values occur
mean_pairwise_kappa  mean of Cohen's kappa (``sklearn.metrics.cohen_kappa_score``) over the
                     annotator pairs with a defined kappa, each pair on the units both coded
n_annotators, n_labels, base_rate (share of ``1`` in the reference, binary codes only)
model_kappa          Cohen's kappa of the model's predictions against the reference (when
                     predictions are given), on ``model_n_units`` segments
shaffer_rho          Shaffer's rho for ``model_kappa`` (see :func:`shaffer_rho`)

The reference label of a segment and code is the latest adjudicated label, else the latest
``gold`` label, else the majority of the annotators' current labels (a tie: no reference).

``pairwise_kappa.csv``: code, annotator_a, annotator_b, n_units, percent_agreement, kappa.
``per_segment.csv``: segment_id, n_annotators, n_codes, percent_agreement (share of codes on
which all annotators agree), disagreements (the codes they differ on).
"""

from __future__ import annotations

import itertools
import warnings

import krippendorff
import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from pipeline.io import ADJUDICATOR, labels_in_time_order

__all__ = [
    "ALL",
    "AGREEMENT_COLUMNS",
    "current_labels",
    "reference_labels",
    "annotator_overlap",
    "spelling_variants",
    "percent_agreement",
    "krippendorff_alpha",
    "pairwise_kappa",
    "kappa_from_counts",
    "codeset_for_kappa",
    "shaffer_rho",
    "agreement",
    "agreement_markdown",
]

ALL = "(all)"
AGREEMENT_COLUMNS = ["code", "n_units", "percent_agreement", "krippendorff_alpha",
                     "mean_pairwise_kappa", "n_annotators", "n_labels", "base_rate",
                     "model_kappa", "model_n_units", "shaffer_rho"]
PAIR_COLUMNS = ["code", "annotator_a", "annotator_b", "n_units", "percent_agreement", "kappa"]


# ====================================================================== tables
def current_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """Each annotator's latest label per segment and code
    (:func:`pipeline.io.labels_in_time_order`); columns ``segment_id, code, value,
    annotator`` (+ ``time``), values as text."""
    need = ["segment_id", "code", "value", "annotator"]
    missing = [c for c in need if c not in labels.columns]
    if missing:
        raise ValueError(f"labels lack column(s): {', '.join(missing)}")
    lab = labels.reset_index(drop=True).copy()
    for c in need:
        lab[c] = lab[c].astype(str).str.strip()
    if "time" in lab.columns:
        lab["time"] = lab["time"].fillna("").astype(str)
    out = labels_in_time_order(lab).groupby(["segment_id", "code", "annotator"],
                                            sort=True).tail(1)
    return out.sort_values(["code", "segment_id", "annotator"]).reset_index(drop=True)


def reference_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """One reference value per segment and code: adjudicated > gold > majority (ties
    dropped). Columns ``segment_id, code, value, source``."""
    cur = current_labels(labels)
    cols = ["segment_id", "code", "value", "source"]
    if cur.empty:
        return pd.DataFrame(columns=cols)
    key = ["segment_id", "code"]
    cur = labels_in_time_order(cur)
    is_adj = cur["annotator"].str.startswith(ADJUDICATOR)
    adj = cur[is_adj].groupby(key)["value"].last().reset_index().assign(source="adjudicated")
    gold = (cur[cur["annotator"] == "gold"].groupby(key)["value"].last().reset_index()
            .assign(source="gold"))
    votes = cur[~is_adj].groupby([*key, "value"]).size().rename("n").reset_index()
    votes = votes.sort_values([*key, "n"], ascending=[True, True, False], kind="stable")
    top = votes.groupby(key).head(2)
    first = top.groupby(key).nth(0).set_index(key)
    second = top.groupby(key).nth(1).set_index(key)["n"]
    clear = first["n"] > second.reindex(first.index).fillna(0)
    major = first[clear].reset_index()[[*key, "value"]].assign(source="majority")
    out = pd.concat([adj, gold, major], ignore_index=True)  # priority in this order
    out = out.drop_duplicates(key, keep="first").sort_values(key, kind="stable")
    return out[cols].reset_index(drop=True)


def annotator_overlap(labels: pd.DataFrame) -> tuple[int, int]:
    """The annotators (adjudicators are none) and the segments two or more of them labelled
    for the same code: inter-annotator agreement needs at least one such segment.

    >>> annotator_overlap(pd.DataFrame({"segment_id": ["s1", "s1", "s2"], "code": "x",
    ...                                 "value": ["1", "0", "1"], "annotator": ["a", "b", "a"]}))
    (2, 1)
    """
    cur = current_labels(labels)
    cur = cur[~cur["annotator"].str.startswith(ADJUDICATOR)]
    per = cur.groupby(["segment_id", "code"])["annotator"].nunique()
    shared = per[per >= 2].index.get_level_values("segment_id").nunique()
    return int(cur["annotator"].nunique()), int(shared)


def spelling_variants(labels: pd.DataFrame) -> list[list[str]]:
    """Groups of annotator names that differ only in letter case or spaces: counted apart
    here (one person would agree with herself and vote twice), so the caller says so.

    >>> spelling_variants(pd.DataFrame({"annotator": ["Anna", "anna ", "bob", "ANNA"]}))
    [['ANNA', 'Anna', 'anna']]
    """
    from pipeline.annotate import name_key

    groups: dict[str, set[str]] = {}
    for name in labels["annotator"].astype(str).str.strip().unique():
        groups.setdefault(name_key(name), set()).add(name)
    return [sorted(g) for _, g in sorted(groups.items()) if len(g) > 1]


def _matrix(cur: pd.DataFrame, unit: list[str]) -> tuple[np.ndarray, list[str], list]:
    """Annotators x units matrix of category indices (NaN = missing), the annotators, the
    categories."""
    annotators = sorted(cur["annotator"].unique())
    cats = sorted(cur["value"].unique())
    idx = {c: float(i) for i, c in enumerate(cats)}
    units = cur[unit].apply(tuple, axis=1) if len(unit) > 1 else cur[unit[0]]
    u_index = {u: i for i, u in enumerate(sorted(set(units)))}
    a_index = {a: i for i, a in enumerate(annotators)}
    M = np.full((len(annotators), len(u_index)), np.nan)
    for a, u, v in zip(cur["annotator"], units, cur["value"], strict=True):
        M[a_index[a], u_index[u]] = idx[v]
    return M, annotators, cats


# ====================================================================== measures
def percent_agreement(M: np.ndarray) -> tuple[float, int]:
    """Share of pairable units (two or more values) on which all values are equal, and the
    number of pairable units.

    >>> percent_agreement(np.array([[0, 1, 1.], [0, 0, np.nan]]))
    (0.5, 2)
    """
    coded = ~np.isnan(M)
    pairable = coded.sum(axis=0) >= 2
    n = int(pairable.sum())
    if n == 0:
        return float("nan"), 0
    sub = M[:, pairable]
    lo = np.nanmin(sub, axis=0)
    hi = np.nanmax(sub, axis=0)
    return float(np.mean(lo == hi)), n


def krippendorff_alpha(M: np.ndarray) -> float:
    """Krippendorff's alpha, nominal, for an annotators x units matrix with NaN as missing.
    NaN when there are no pairable values or only one category among them.

    Krippendorff (2011)'s worked example (4 observers, 12 units) gives 0.743:

    >>> nan = np.nan
    >>> M = np.array([[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...               [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...               [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...               [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]])
    >>> round(krippendorff_alpha(M), 3)
    0.743
    """
    coded = ~np.isnan(M)
    pairable = coded.sum(axis=0) >= 2
    sub = M[:, pairable]
    values = np.unique(sub[~np.isnan(sub)])
    if sub.shape[1] == 0 or len(values) < 2:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=sub, level_of_measurement="nominal"))


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0:
        return float("nan")
    if len(set(a) | set(b)) < 2:  # one category only: chance agreement is 1, kappa undefined
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = cohen_kappa_score(a, b)
    return float(k)


def pairwise_kappa(cur: pd.DataFrame, code: str = ALL) -> pd.DataFrame:
    """Cohen's kappa for every annotator pair on the units both coded (unit: segment, or
    segment x code when ``cur`` holds several codes)."""
    rows = []
    cur = cur.assign(_unit=cur["segment_id"] + "\x1f" + cur["code"])
    by_ann = {a: g.set_index("_unit")["value"] for a, g in cur.groupby("annotator")}
    for a, b in itertools.combinations(sorted(by_ann), 2):
        common = by_ann[a].index.intersection(by_ann[b].index)
        va = by_ann[a].loc[common].to_numpy()
        vb = by_ann[b].loc[common].to_numpy()
        rows.append({"code": code, "annotator_a": a, "annotator_b": b, "n_units": len(common),
                     "percent_agreement": float(np.mean(va == vb)) if len(common) else np.nan,
                     "kappa": _kappa(va, vb)})
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def kappa_from_counts(tp, fp, fn, tn):
    """Cohen's kappa of 2x2 tables given as counts (arrays allowed); NaN where undefined."""
    tp, fp, fn, tn = (np.asarray(x, dtype=float) for x in (tp, fp, fn, tn))
    n = tp + fp + fn + tn
    with np.errstate(invalid="ignore", divide="ignore"):
        po = (tp + tn) / n
        pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / n ** 2
        return np.where(pe < 1, (po - pe) / (1 - pe), np.nan)


def codeset_for_kappa(kappa: float, base_rate: float, precision: float, length: int
                      ) -> tuple[int, int, int, int] | None:
    """Counts (tp, fp, fn, tn) of a simulated codeset of ``length`` pairs with the given
    kappa, base rate (share of positives of the first rater) and precision (tp over the
    second rater's positives); ``None`` when no such codeset exists.

    From kappa = (po - pe) / (1 - pe) with po = 1 - b - r + 2 P r and
    pe = b r + (1 - b)(1 - r): the second rater's positive rate is
    r = kappa b / (2 (P - b) - kappa (1 - 2 b)).
    """
    b, P, k = base_rate, precision, kappa
    denom = 2 * (P - b) - k * (1 - 2 * b)
    if denom <= 0:
        return None
    r = k * b / denom
    tp = P * r
    fp = r - tp
    fn = b - tp
    tn = 1 - b - fp
    if min(tp, fp, fn, tn) < -1e-12 or r > 1:
        return None
    counts = np.round(np.array([tp, fp, fn, tn]) * length).astype(int)
    counts[3] = length - counts[:3].sum()
    return tuple(int(x) for x in counts) if counts.min() >= 0 else None


def shaffer_rho(observed_kappa: float, n_units: int, base_rate: float, *,
                threshold: float = 0.65, replicates: int = 800, codeset_length: int = 10_000,
                precision_range: tuple[float, float] = (0.6, 1.0),
                kappa_min: float | None = None, seed: int = 0) -> float:
    """Shaffer's rho (Eagan et al. 2017; the nCoder / rhoR convention): the chance that a
    test set of ``n_units`` units shows a kappa of at least ``observed_kappa`` when the true
    agreement is only at the ``threshold`` (0.65).

    ``replicates`` simulated codesets of ``codeset_length`` pairs are made with the observed
    ``base_rate``, kappa at the threshold (or, with ``kappa_min``, drawn uniformly from
    ``[kappa_min, threshold]`` as rhoR does by default) and a precision drawn uniformly from
    ``precision_range`` (a draw without a valid codeset is redrawn); from each a test set of
    ``n_units`` pairs is sampled without replacement and its kappa computed. rho is the share
    of these kappas >= ``observed_kappa`` (an undefined simulated kappa counts as below).
    rho < 0.05: the observed kappa generalises (the true kappa exceeds the threshold).
    The codeset is made at least ten times as long as the test set.
    Deterministic for a given ``seed``. NaN when the inputs leave nothing to simulate.
    """
    if not np.isfinite(observed_kappa) or n_units < 2 or not 0 < base_rate < 1:
        return float("nan")
    codeset_length = max(codeset_length, 10 * n_units)  # a test set is at most 10% of it
    rng = np.random.default_rng(seed)
    kappas = np.empty(replicates)
    for i in range(replicates):
        for _ in range(1000):
            k = threshold if kappa_min is None else rng.uniform(kappa_min, threshold)
            counts = codeset_for_kappa(k, base_rate, rng.uniform(*precision_range),
                                       codeset_length)
            if counts is not None:
                break
        else:
            return float("nan")
        tp, fp, fn, tn = rng.multivariate_hypergeometric(np.array(counts), n_units)
        kappas[i] = kappa_from_counts(tp, fp, fn, tn)
    return float(np.mean(np.nan_to_num(kappas, nan=-np.inf) >= observed_kappa))


# ====================================================================== the table
def _is_binary(values) -> bool:
    return set(map(str, values)) <= {"0", "1"}


def agreement(labels: pd.DataFrame, predictions: pd.DataFrame | None = None, *,
              codes: list[str] | None = None, seed: int = 0, threshold: float = 0.65,
              replicates: int = 800) -> dict[str, pd.DataFrame]:
    """Agreement per code and overall (see the module docstring).

    ``labels``: ``segment_id, code, value, annotator`` (+ ``time``); ``predictions``:
    ``segment_id, code, value`` of the model (optional); ``codes``: the order of the rows
    (codes seen but not listed follow, sorted). Returns ``{"agreement", "pairwise",
    "per_segment", "reference"}`` tables.
    """
    cur_all = current_labels(labels)
    ref = reference_labels(cur_all)
    cur = cur_all[~cur_all["annotator"].str.startswith(ADJUDICATOR)]
    seen = list(dict.fromkeys(sorted(cur_all["code"].unique())))
    order = [c for c in (codes or []) if c in set(seen)] + [c for c in seen
                                                           if c not in set(codes or [])]
    pred = None
    if predictions is not None and len(predictions):
        pred = predictions[["segment_id", "code", "value"]].astype(str)
        pred = pred.drop_duplicates(["segment_id", "code"], keep="last")
    rows, pairs = [], []
    for code in [*order, ALL]:
        sub = cur if code == ALL else cur[cur["code"] == code]
        ref_c = ref if code == ALL else ref[ref["code"] == code]
        row = {"code": code, "n_annotators": int(sub["annotator"].nunique()),
               "n_labels": len(sub)}
        if len(sub):
            unit = ["segment_id", "code"] if code == ALL else ["segment_id"]
            M, _, _ = _matrix(sub, unit)
            row["percent_agreement"], row["n_units"] = percent_agreement(M)
            row["krippendorff_alpha"] = krippendorff_alpha(M)
            pk = pairwise_kappa(sub, code)
            pairs.append(pk)
            ks = pk["kappa"].dropna()
            row["mean_pairwise_kappa"] = float(ks.mean()) if len(ks) else np.nan
        else:
            row.update(n_units=0, percent_agreement=np.nan, krippendorff_alpha=np.nan,
                       mean_pairwise_kappa=np.nan)
        binary = len(ref_c) > 0 and _is_binary(ref_c["value"])
        row["base_rate"] = float((ref_c["value"] == "1").mean()) if binary else np.nan
        row.update(model_kappa=np.nan, model_n_units=0, shaffer_rho=np.nan)
        if pred is not None and len(ref_c):
            pc = pred if code == ALL else pred[pred["code"] == code]
            both = ref_c.merge(pc, on=["segment_id", "code"], suffixes=("_ref", "_model"))
            if len(both):
                k = _kappa(both["value_ref"].to_numpy(), both["value_model"].to_numpy())
                row["model_kappa"], row["model_n_units"] = k, len(both)
                if binary and _is_binary(both["value_model"]):
                    br = float((both["value_ref"] == "1").mean())
                    row["shaffer_rho"] = shaffer_rho(k, len(both), br, threshold=threshold,
                                                     replicates=replicates, seed=seed)
        rows.append(row)
    table = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    table["n_units"] = table["n_units"].astype("int64")
    pairwise = (pd.concat(pairs, ignore_index=True) if pairs
                else pd.DataFrame(columns=PAIR_COLUMNS))
    return {"agreement": table, "pairwise": pairwise, "per_segment": _per_segment(cur),
            "reference": ref}


def _per_segment(cur: pd.DataFrame) -> pd.DataFrame:
    cols = ["segment_id", "n_annotators", "n_codes", "percent_agreement", "disagreements"]
    rows = []
    for seg, g in cur.groupby("segment_id", sort=True):
        per_code = g.groupby("code")["value"].agg(["nunique", "size"])
        per_code = per_code[per_code["size"] >= 2]
        if per_code.empty:
            continue
        differ = sorted(per_code.index[per_code["nunique"] > 1])
        rows.append({"segment_id": seg, "n_annotators": int(g["annotator"].nunique()),
                     "n_codes": len(per_code),
                     "percent_agreement": float(1 - len(differ) / len(per_code)),
                     "disagreements": "; ".join(differ)})
    return pd.DataFrame(rows, columns=cols)


def _fmt(x: object) -> str:
    if isinstance(x, float | np.floating):
        return "" if np.isnan(x) else f"{x:.3f}"
    return str(x)


def agreement_markdown(result: dict[str, pd.DataFrame], *, source: str, seed: int,
                       threshold: float = 0.65, replicates: int = 800) -> str:
    """A short report of :func:`agreement` in Markdown."""
    t = result["agreement"]
    cols = ["code", "n_units", "percent_agreement", "krippendorff_alpha",
            "mean_pairwise_kappa", "model_kappa", "shaffer_rho"]
    lines = [f"# Agreement: {source}", "",
             "Unit: the segment (overall: segment x code). Each annotator's latest label "
             "counts; adjudicated labels only enter the reference (adjudicated > gold > "
             "majority).", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in t.to_dict(orient="records"):
        lines.append("| " + " | ".join(_fmt(rec[c]) for c in cols) + " |")
    pw = result["pairwise"]
    overall = pw[pw["code"] == ALL]
    if len(overall):
        lines += ["", "## Annotator pairs (all codes)", "",
                  "| annotator_a | annotator_b | n_units | percent_agreement | kappa |",
                  "|---|---|---|---|---|"]
        for rec in overall.to_dict(orient="records"):
            lines.append(f"| {rec['annotator_a']} | {rec['annotator_b']} | {rec['n_units']} | "
                         f"{_fmt(rec['percent_agreement'])} | {_fmt(rec['kappa'])} |")
    lines += ["", "## Method", "",
              "- Krippendorff's alpha: nominal, missing values allowed (package "
              "`krippendorff`).",
              "- Cohen's kappa per annotator pair on the segments both coded "
              "(`sklearn.metrics.cohen_kappa_score`); mean_pairwise_kappa is their mean.",
              f"- Shaffer's rho (rhoR / nCoder convention): {replicates} codesets of 10000 "
              "pairs (at least 10x the test set) simulated with kappa at the threshold "
              f"{threshold}, the observed base rate and a precision drawn from [0.6, 1]; a "
              "test set of the observed size is drawn from each; rho is the share of "
              "simulated kappas >= the observed model kappa (rho < 0.05: the kappa "
              f"generalises). Seed {seed}.", ""]
    return "\n".join(lines)
