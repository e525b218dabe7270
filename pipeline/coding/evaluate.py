"""Honest evaluation of coders: leave-one-school-out cross-validation on labelled segments.

A coder is trained on four schools and tested on the fifth, for every school; the test
school's segments never influence its own predictions (thresholds are tuned inside the
training schools, by the coder's own ``fit``). Scores per code: precision, recall, F1 and
Cohen's kappa (Cohen 1960) against the gold labels; per family macro and micro averages.

Several coders side by side (:func:`compare_coders`) and a learning curve
(:func:`learning_curve`: the same LOSO folds, each training fold subsampled to a fraction)
are built from the same two functions; how sure the scores are from their out-of-school
predictions: intervals over resampled transcripts (:func:`bootstrap_intervals`) and each
school alone (:func:`per_school_scores`). Nothing here reads or writes files.

Tables
------
``scores``    coder, family, code, n_positive, precision, recall, f1, kappa  (code rows, then
              ``macro`` and ``micro`` rows per family; family ``subtypes`` when asked)
``wide``      family, code, n_positive, then ``<coder>_<metric>`` per coder (side by side)
``curve``     coder, fraction, n_train, family, macro_f1, micro_f1
``intervals`` coder, family, code, f1_low, f1_high, kappa_low, kappa_high (micro: no kappa)
``per_school`` coder, school, family, n_segments, n_positive, macro_f1, micro_f1, macro_kappa
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

from pipeline.config import Codebook
from pipeline.io import ADJUDICATOR
from pipeline.parallel import ordered_map

__all__ = ["loso_predict", "loso_folds", "score_table", "SCORE_COLUMNS", "CURVE_COLUMNS",
           "FitPredict", "majority_fit_predict", "fixed_fit_predict", "estimator_fit_predict",
           "subsample", "compare_coders", "learning_curve", "wide_table", "targets",
           "markdown_report", "plot_learning_curve", "Comparison", "per_school_scores",
           "bootstrap_intervals", "PER_SCHOOL_COLUMNS", "INTERVAL_COLUMNS"]

SCORE_COLUMNS = ["coder", "family", "code", "n_positive", "precision", "recall", "f1", "kappa"]
CURVE_COLUMNS = ["coder", "fraction", "n_train", "family", "macro_f1", "micro_f1"]
PER_SCHOOL_COLUMNS = ["coder", "school", "family", "n_segments", "n_positive", "macro_f1",
                      "micro_f1", "macro_kappa"]
INTERVAL_COLUMNS = ["coder", "family", "code", "f1_low", "f1_high", "kappa_low", "kappa_high"]
METRICS = ["precision", "recall", "f1", "kappa"]

# fit(train_texts, train_Y) -> predict(test_texts) -> 0/1 array
FitPredict = Callable[[list[str], np.ndarray, list[str]], np.ndarray]


def loso_folds(groups: Iterable[str]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(school, train_idx, test_idx)`` per school, schools sorted."""
    groups_arr = np.asarray(list(groups))
    return [(str(g), np.flatnonzero(groups_arr != g), np.flatnonzero(groups_arr == g))
            for g in sorted(set(groups_arr.tolist()))]


def take_rows(X, idx):
    """Rows ``idx`` of a list of texts or of a DataFrame (``text``, ``context``)."""
    if isinstance(X, pd.DataFrame):
        return X.iloc[idx].reset_index(drop=True)
    return [X[i] for i in idx]


def loso_predict(texts, Y: np.ndarray, groups: list[str], fit_predict: FitPredict,
                 progress: Callable[[str], None] | None = None) -> np.ndarray:
    """Out-of-school predictions: for each school, train on the others, predict it.

    ``texts`` is a list of texts or a DataFrame with ``text`` and ``context`` columns; it is
    passed through to ``fit_predict(train, train_Y, test)`` row-sliced.
    """
    pred = np.zeros_like(Y)
    for school, train_idx, test_idx in loso_folds(groups):
        pred[test_idx] = fit_predict(take_rows(texts, train_idx), Y[train_idx],
                                     take_rows(texts, test_idx))
        if progress:
            progress(school)
    return pred


# ---------------------------------------------------------------------- coders as fit_predict
def majority_fit_predict(train_texts: list[str], train_Y: np.ndarray,
                         test_texts: list[str]) -> np.ndarray:
    """The majority baseline: every test segment gets each label's majority value in the
    training fold (a tie counts as absent).

    >>> majority_fit_predict(["a", "b", "c"], np.array([[1, 0], [1, 0], [0, 1]]), ["d"])
    array([[1, 0]])
    """
    Y = np.asarray(train_Y)
    row = (Y.mean(axis=0) > 0.5).astype(Y.dtype) if len(Y) else np.zeros(Y.shape[1], Y.dtype)
    return np.tile(row, (len(test_texts), 1))


def fixed_fit_predict(predict: Callable[[list[str]], np.ndarray]) -> FitPredict:
    """A coder that learns nothing (the rule coder): training data are ignored."""
    def fit_predict(train_texts, train_Y, test_texts):
        return predict(test_texts)
    return fit_predict


def estimator_fit_predict(make: Callable[[], object]) -> FitPredict:
    """``make()`` gives a fresh unfitted estimator with ``fit(texts, Y)`` / ``predict``."""
    def fit_predict(train_texts, train_Y, test_texts):
        return make().fit(train_texts, train_Y).predict(test_texts)
    return fit_predict


# ---------------------------------------------------------------------- scoring
def _binary_scores(y: np.ndarray, p: np.ndarray) -> dict:
    """A code's scores; where the gold has no positive, recall, F1 and kappa are undefined
    (NaN, left out of the macro average: a code nobody labelled present is no 0), and so
    is precision where the coder assigned it nowhere either."""
    pr, rc, f1, _ = precision_recall_fscore_support(y, p, average="binary", zero_division=0)
    kappa = cohen_kappa_score(y, p) if len(set(y) | set(p)) > 1 else 0.0
    if not y.sum():
        pr, rc, f1, kappa = (pr if p.sum() else np.nan), np.nan, np.nan, np.nan
    return {"n_positive": int(y.sum()), "precision": pr, "recall": rc, "f1": f1,
            "kappa": kappa}


def _family_rows(Y, pred, col, codes, coder, family) -> list[dict]:
    rows = [{"coder": coder, "family": family, "code": c,
             **_binary_scores(Y[:, col[c]], pred[:, col[c]])} for c in codes]
    if not codes:
        return rows
    idx = [col[c] for c in codes]
    pr, rc, f1, _ = precision_recall_fscore_support(Y[:, idx], pred[:, idx], average="micro",
                                                    zero_division=0)
    n_pos = int(Y[:, idx].sum())
    defined = {m: [r[m] for r in rows if not np.isnan(r[m])] for m in METRICS}
    macro = {m: float(np.mean(v)) if v else np.nan for m, v in defined.items()}
    return rows + [{"coder": coder, "family": family, "code": "macro", "n_positive": n_pos,
                    **macro},
                   {"coder": coder, "family": family, "code": "micro", "n_positive": n_pos,
                    "precision": pr, "recall": rc, "f1": f1, "kappa": np.nan}]


def score_table(Y: np.ndarray, pred: np.ndarray, labels: list[str], codebook: Codebook,
                coder: str, *, subtypes: bool = False) -> pd.DataFrame:
    """Per-code and per-family (macro, micro) precision, recall, F1 and kappa.

    Macro averages the per-code values (kappa too) that are defined (not those of a code
    without a positive gold label); micro pools every code's decisions (its kappa is left
    empty). With ``subtypes`` the activity sub-types that are among
    ``labels`` follow as family ``subtypes``.
    """
    Y, pred = np.asarray(Y), np.asarray(pred)
    col = {c: j for j, c in enumerate(labels)}
    rows: list[dict] = []
    for fam in codebook.families:
        rows += _family_rows(Y, pred, col, [c.id for c in fam.codes if c.id in col], coder,
                             fam.id)
    if subtypes:
        rows += _family_rows(Y, pred, col, [s for s in codebook.subtype_ids if s in col],
                             coder, "subtypes")
    out = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    for c in METRICS:
        out[c] = out[c].astype(float).round(4)
    return out


# ---------------------------------------------------------------------- comparing coders
@dataclass
class Comparison:
    """What :func:`compare_coders` found: scores of every coder, their out-of-school
    predictions and the seconds each spent per fold (fit + predict; None for a coder given
    as its predictions, which is not timed)."""

    scores: pd.DataFrame
    predictions: dict[str, np.ndarray]
    seconds: dict[str, list[float] | None]


def subsample(train_idx: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """The first ``ceil(fraction * n)`` of a seeded permutation of ``train_idx`` (sorted), so
    a larger fraction always contains a smaller one.

    >>> subsample(np.arange(10), 0.3, 0).tolist() == sorted(subsample(np.arange(10), 0.3, 0))
    True
    >>> set(subsample(np.arange(10), 0.3, 0)) <= set(subsample(np.arange(10), 0.6, 0))
    True
    """
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    perm = np.random.default_rng(seed).permutation(np.asarray(train_idx))
    return np.sort(perm[:max(1, math.ceil(fraction * len(perm)))])


def _run_folds(tasks: list[tuple], texts, Y: np.ndarray, jobs: int,
               progress: Callable[[str], None] | None) -> list[tuple[np.ndarray, float]]:
    """Run ``(label, coder, train_idx, test_idx)`` tasks, over ``jobs`` processes. A coder is
    a :data:`FitPredict` or an array of predictions for every row (a coder that learns
    nothing, coded once: sliced here, never sent to a worker)."""
    def one(fit_predict, train_idx, test_idx):
        start = time.perf_counter()
        pred = fit_predict(take_rows(texts, train_idx), Y[train_idx], take_rows(texts, test_idx))
        return np.asarray(pred), time.perf_counter() - start

    results: list[tuple[np.ndarray, float] | None] = [
        (np.asarray(c)[te], 0.0) if isinstance(c, np.ndarray) else None
        for _, c, _, te in tasks]
    todo = [k for k, r in enumerate(results) if r is None]
    for k, r in enumerate(results):
        if r is not None and progress:
            progress(tasks[k][0])
    for k, res in zip(todo, ordered_map(one, [tasks[k][1:] for k in todo], jobs), strict=True):
        results[k] = res
        if progress:
            progress(tasks[k][0])
    return results  # type: ignore[return-value]


def compare_coders(texts, Y: np.ndarray, groups: list[str],
                   coders: dict[str, FitPredict | np.ndarray], labels: list[str],
                   codebook: Codebook, *,
                   subtypes: bool = True, jobs: int = 1,
                   progress: Callable[[str], None] | None = None) -> Comparison:
    """Leave-one-school-out predictions and scores of several coders on the same folds.

    ``texts``: a list of texts or a DataFrame (``text``, ``context``); a coder is a
    :data:`FitPredict` or, for one that learns nothing, its predictions for every row."""
    Y = np.asarray(Y)
    folds = loso_folds(groups)
    tasks = [(f"{name} / {school}", fp, tr, te) for name, fp in coders.items()
             for school, tr, te in folds]
    results = iter(_run_folds(tasks, texts, Y, jobs, progress))
    predictions, seconds, tables = {}, {}, []
    for name, coder in coders.items():
        pred = np.zeros_like(Y)
        seconds[name] = []
        for _, _, te in folds:
            p, s = next(results)
            pred[te] = p
            seconds[name].append(round(s, 3))
        predictions[name] = pred
        if isinstance(coder, np.ndarray):   # its codes were made before, once: not timed
            seconds[name] = None
        tables.append(score_table(Y, pred, labels, codebook, name, subtypes=subtypes))
    return Comparison(pd.concat(tables, ignore_index=True), predictions, seconds)


def learning_curve(texts, Y: np.ndarray, groups: list[str],
                   coders: dict[str, FitPredict], labels: list[str], codebook: Codebook, *,
                   fractions: Iterable[float] = (0.1, 0.25, 0.5, 0.75, 1.0), seed: int = 0,
                   full: dict[str, np.ndarray] | None = None, jobs: int = 1,
                   progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Macro- and micro-F1 per family against the number of training segments.

    For every fraction, each LOSO training fold is subsampled (:func:`subsample`, seeded per
    school) and the coder trained on that part predicts the whole test school. ``full`` may
    hold already computed 100% predictions per coder (from :func:`compare_coders`).
    """
    Y = np.asarray(Y)
    full = full or {}
    folds = loso_folds(groups)
    fractions = sorted({float(f) for f in fractions})
    plan = [(name, f) for name in coders for f in fractions
            if not (f == 1.0 and name in full)]
    tasks = []
    for name, f in plan:
        for k, (school, tr, te) in enumerate(folds):
            tasks.append((f"{name} {f:.0%} / {school}", coders[name],
                          subsample(tr, f, seed + k), te))
    results = iter(_run_folds(tasks, texts, Y, jobs, progress))
    preds: dict[tuple[str, float], np.ndarray] = {(n, 1.0): p for n, p in full.items()
                                                 if n in coders}
    for name, f in plan:
        pred = np.zeros_like(Y)
        for _, _, te in folds:
            pred[te] = next(results)[0]
        preds[(name, f)] = pred
    rows = []
    for name in coders:
        for f in fractions:
            n_train = float(np.mean([len(subsample(tr, f, seed + k))
                                     for k, (_, tr, _) in enumerate(folds)]))
            table = score_table(Y, preds[(name, f)], labels, codebook, name)
            for fam in codebook.families:
                t = table[table["family"] == fam.id].set_index("code")
                rows.append({"coder": name, "fraction": f, "n_train": round(n_train, 1),
                             "family": fam.id, "macro_f1": t.loc["macro", "f1"],
                             "micro_f1": t.loc["micro", "f1"]})
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


# ---------------------------------------------------------------------- how sure
def per_school_scores(Y: np.ndarray, predictions: dict[str, np.ndarray], groups: list[str],
                      labels: list[str], codebook: Codebook) -> pd.DataFrame:
    """Each coder's macro- and micro-F1 and macro-kappa per family on each held-out school
    alone (:data:`PER_SCHOOL_COLUMNS`): the pooled figures hide how much they move from one
    school to the next, which is what a new school's figure may do."""
    Y = np.asarray(Y)
    rows = []
    for coder, pred in predictions.items():
        for school, _, te in loso_folds(groups):
            table = score_table(Y[te], np.asarray(pred)[te], labels, codebook, coder)
            for fam in codebook.families:
                t = table[table["family"] == fam.id].set_index("code")
                if "macro" in t.index:
                    rows.append({"coder": coder, "school": school, "family": fam.id,
                                 "n_segments": len(te), "n_positive": t.loc["macro", "n_positive"],
                                 "macro_f1": t.loc["macro", "f1"],
                                 "micro_f1": t.loc["micro", "f1"],
                                 "macro_kappa": t.loc["macro", "kappa"]})
    return pd.DataFrame(rows, columns=PER_SCHOOL_COLUMNS)


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 from counts; NaN where there is no positive (as :func:`_binary_scores`)."""
    return np.where(tp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), np.nan)


def _resampled_scores(y: np.ndarray, p: np.ndarray, cluster: np.ndarray,
                      weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One code's F1 and kappa in every resample (``weights``: resamples x clusters, how often
    each cluster is drawn), as :func:`_binary_scores` defines them, and the resamples' counts
    (tp, fp, fn) for a micro average. A resample whose segments all have the code, and are
    all coded with it, has no kappa (NaN, left out of the interval; scored as a whole, such
    data would get 0)."""
    def drawn(flags: np.ndarray) -> np.ndarray:
        per_cluster = np.bincount(cluster, weights=flags, minlength=weights.shape[1])
        return weights @ per_cluster

    y, p = y.astype(bool), p.astype(bool)
    tp, fp, fn, tn = (drawn(f) for f in (y & p, ~y & p, y & ~p, ~y & ~p))
    n = tp + fp + fn + tn
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = _f1(tp, fp, fn)
        agree = (tp + tn) / n
        chance = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / n ** 2
        kappa = np.where((tp + fn > 0) & (chance < 1), (agree - chance) / (1 - chance),
                         np.nan)
    return f1, kappa, np.stack([tp, fp, fn])


def _mean_defined(values: np.ndarray) -> np.ndarray:
    """Per column, the mean of its defined values (a macro average leaves an undefined code
    out); NaN where none is."""
    defined = np.isfinite(values)
    n = defined.sum(axis=0)
    return np.where(n > 0, np.where(defined, values, 0).sum(axis=0) / np.maximum(n, 1), np.nan)


def bootstrap_intervals(Y: np.ndarray, predictions: dict[str, np.ndarray],
                        clusters: list[str], labels: list[str], codebook: Codebook, *,
                        resamples: int, level: float, seed: int,
                        subtypes: bool = False) -> pd.DataFrame:
    """Percentile intervals (``level``, e.g. 0.95) of every code's F1 and kappa and of each
    family's macro and micro averages (:data:`INTERVAL_COLUMNS`), from ``resamples``
    resamples of whole ``clusters`` (the segments' transcripts) with replacement: the
    segments of one interview are not independent, so resampling them one by one would make
    the intervals too narrow. Every coder is scored on the same resamples. They say how much
    the figures depend on which transcripts happened to be labelled; how much they move from
    school to school is :func:`per_school_scores`."""
    Y = np.asarray(Y)
    cluster, found = pd.factorize(pd.Series(clusters, dtype=object))
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(found), np.full(len(found), 1 / len(found)), size=resamples)
    tails = [(1 - level) / 2, 1 - (1 - level) / 2]
    col = {c: j for j, c in enumerate(labels)}
    families = [(fam.id, [c.id for c in fam.codes if c.id in col]) for fam in codebook.families]
    if subtypes:
        families.append(("subtypes", [s for s in codebook.subtype_ids if s in col]))

    def bounds(values: np.ndarray) -> list[float]:
        finite = values[np.isfinite(values)]
        return ([round(float(x), 4) for x in np.quantile(finite, tails)] if len(finite)
                else [np.nan, np.nan])

    rows = []
    for coder, pred in predictions.items():
        pred = np.asarray(pred)
        for family, codes in families:
            if not codes:
                continue
            f1s, kappas, counts = zip(*(_resampled_scores(Y[:, col[c]], pred[:, col[c]],
                                                          cluster, weights) for c in codes),
                                      strict=True)
            for code, f1, kappa in zip(codes, f1s, kappas, strict=True):
                rows.append([coder, family, code, *bounds(f1), *bounds(kappa)])
            macro = [_mean_defined(np.stack(v)) for v in (f1s, kappas)]
            tp, fp, fn = np.sum(counts, axis=0)
            micro = _f1(tp, fp, fn)
            rows.append([coder, family, "macro", *bounds(macro[0]), *bounds(macro[1])])
            rows.append([coder, family, "micro", *bounds(micro), np.nan, np.nan])
    return pd.DataFrame(rows, columns=INTERVAL_COLUMNS)


# ---------------------------------------------------------------------- presenting
def wide_table(scores: pd.DataFrame, metrics: Iterable[str] = METRICS) -> pd.DataFrame:
    """Coders side by side: one row per (family, code), ``<coder>_<metric>`` columns."""
    coders = list(dict.fromkeys(scores["coder"]))
    keys = scores.drop_duplicates(["family", "code"])[["family", "code"]]
    n_pos = scores.drop_duplicates(["family", "code"]).set_index(["family", "code"])
    out = keys.assign(n_positive=[int(n_pos.loc[(f, c), "n_positive"])
                                  for f, c in zip(keys["family"], keys["code"], strict=True)])
    out = out.reset_index(drop=True)
    for coder in coders:
        sub = scores[scores["coder"] == coder].set_index(["family", "code"])
        for m in metrics:
            out[f"{coder}_{m}"] = [sub[m].get((f, c), np.nan)
                                   for f, c in zip(out["family"], out["code"], strict=True)]
    return out


def targets(scores: pd.DataFrame, model: str, baseline: str, codebook: Codebook, *,
            min_macro_f1: float = 0.85, min_kappa: float = 0.65,
            min_gain: float = 0.10) -> pd.DataFrame:
    """The acceptance targets (issue 4) for ``model``: per family macro-F1, every code's
    kappa, and the macro-F1 gain over ``baseline``. Columns: target, value, interval (of
    :func:`bootstrap_intervals`, where ``scores`` has its columns), required, met."""
    rows = []
    for fam in codebook.families:
        m = scores[(scores["coder"] == model) & (scores["family"] == fam.id)].set_index("code")
        b = scores[(scores["coder"] == baseline) & (scores["family"] == fam.id)
                   ].set_index("code")
        if m.empty:
            continue
        rows.append({"target": f"{fam.id}: macro-F1", "value": m.loc["macro", "f1"],
                     "interval": _interval(m, "macro", "f1"),
                     "required": f">= {min_macro_f1:.2f}",
                     "met": bool(m.loc["macro", "f1"] >= min_macro_f1)})
        if not b.empty:
            gain = round(float(m.loc["macro", "f1"] - b.loc["macro", "f1"]), 4)
            rows.append({"target": f"{fam.id}: macro-F1 gain over {baseline}", "value": gain,
                         "interval": "", "required": f">= {min_gain:.2f}",
                         "met": bool(gain >= min_gain)})
        for c in fam.codes:
            if c.id in m.index:
                k = m.loc[c.id, "kappa"]
                rows.append({"target": f"{c.id}: kappa", "value": k,
                             "interval": _interval(m, c.id, "kappa"),
                             "required": f">= {min_kappa:.2f}", "met": bool(k >= min_kappa)})
    return pd.DataFrame(rows, columns=["target", "value", "interval", "required", "met"])


def _interval(scores: pd.DataFrame, code: str, metric: str) -> str:
    """``low–high`` of a code's (row of ``scores``, indexed by code)
    :func:`bootstrap_intervals` columns, an en dash between (a kappa's lower bound may be
    negative); empty where the scores have none."""
    if f"{metric}_low" not in scores.columns or pd.isna(scores.loc[code, f"{metric}_low"]):
        return ""
    return f"{scores.loc[code, f'{metric}_low']:.4f}–{scores.loc[code, f'{metric}_high']:.4f}"


def human_agreement(labels: pd.DataFrame, scores: pd.DataFrame, model: str | None,
                    codebook: Codebook) -> pd.DataFrame | None:
    """Per code, the human coders' Cohen's kappa with each other (mean over pairs, on the
    segments both coded; adjudicators are not coders) beside ``model``'s leave-one-school-out
    kappa: the level a coder's kappa is read against. Only codes that two coders share; None
    when there are none. ``labels``: with 0/1 values (``train.validate_labels``)."""
    from pipeline.agreement import current_labels, pairwise_kappa

    humans = labels[~labels["annotator"].astype(str).str.startswith(ADJUDICATOR)]
    if humans["annotator"].nunique() < 2:
        return None
    cur = current_labels(humans)
    m = scores[scores["coder"] == model].set_index(["family", "code"]) if model else None
    rows = []
    for fam in codebook.families:
        for c in fam.codes:
            pairs = pairwise_kappa(cur[cur["code"] == c.id], c.id)
            pairs = pairs[pairs["n_units"] > 0]
            if pairs.empty:
                continue
            row = {"family": fam.id, "code": c.id, "n_units": int(pairs["n_units"].max()),
                   "human_kappa": float(pairs["kappa"].mean())}
            if m is not None:
                row[f"{model}_kappa"] = float(m["kappa"].get((fam.id, c.id), np.nan))
            rows.append(row)
    return pd.DataFrame(rows) if rows else None


def _md(df: pd.DataFrame, decimals: int = 4) -> str:
    """A Markdown table; numbers with the 4 decimals of the CSVs (rounding their rounded
    values to 3 would put some a thousandth off the exact value)."""
    def cell(v) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:.{decimals}f}"
        return str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(df[c]) else "---"
                          for c in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def markdown_report(scores: pd.DataFrame, *, title: str, summary: list[str],
                    target_table: pd.DataFrame | None = None,
                    seconds: dict[str, list[float] | None] | None = None,
                    curve: pd.DataFrame | None = None,
                    humans: pd.DataFrame | None = None,
                    per_school: pd.DataFrame | None = None,
                    intervals_said: str | None = None) -> str:
    """The evaluation as Markdown: F1 and kappa of every coder side by side, then precision
    and recall, targets, how sure the figures are (``scores``' interval columns, said by
    ``intervals_said``, and :func:`per_school_scores`), the human coders' agreement
    (:func:`human_agreement`), timings and the learning curve."""
    coders = list(dict.fromkeys(scores["coder"]))
    main = scores[scores["family"] != "subtypes"]
    parts = [f"# {title}", "", *summary, ""]
    unlabelled = list(dict.fromkeys(scores.loc[(scores["n_positive"] == 0) & ~scores["code"]
                                               .isin(["macro", "micro"]), "code"]))
    if unlabelled:
        parts += [f"No segment has a positive label for {', '.join(unlabelled)}: their "
                  "recall, F1 and kappa are undefined (empty) and left out of the macro "
                  "averages.", ""]
    parts += ["## F1 and Cohen's kappa per code (leave-one-school-out)", "",
              _md(wide_table(main, ["f1", "kappa"]).rename(
                  columns=lambda c: c.replace("_f1", " F1").replace("_kappa", " κ"))), ""]
    parts += ["## Precision and recall per code", "",
              _md(wide_table(main, ["precision", "recall"]).rename(
                  columns=lambda c: c.replace("_precision", " P").replace("_recall", " R"))),
              ""]
    subs = scores[scores["family"] == "subtypes"]
    if len(subs):
        parts += ["## Activity sub-types (F1)", "",
                  _md(wide_table(subs, ["f1"]).rename(columns=lambda c: c.replace("_f1", " F1"))),
                  ""]
    if target_table is not None and len(target_table):
        t = target_table.assign(met=target_table["met"].map({True: "yes", False: "**no**"}))
        parts += ["## Targets", "", _md(t), ""]
    if per_school is not None and len(per_school):
        parts += _how_sure(scores, per_school, intervals_said)
    if humans is not None and len(humans):
        parts += ["## Agreement between the human coders", "",
                  "Cohen's kappa of the cohort's human coders with each other (before any "
                  "adjudication), beside the model's kappa against the reference labels: "
                  "how far the model is from the agreement people reach on the same "
                  "segments.", "",
                  _md(humans.rename(columns=lambda c: c.replace("_kappa", " κ"))), ""]
    timed = {c: s for c, s in (seconds or {}).items() if c in coders and s is not None}
    if timed:   # a coder that learns nothing is scored once for all folds, not timed
        rows = pd.DataFrame([{"coder": c, "mean seconds per fold (fit + predict)":
                              float(np.mean(s)), "max": float(np.max(s))}
                             for c, s in timed.items()])
        untimed = [c for c in coders if c not in timed]
        parts += ["## Time", "", _md(rows, decimals=2), ""]
        if untimed:
            parts += [f"Not timed: {', '.join(untimed)} (learns nothing: its codes are made "
                      "once for every segment, not per fold).", ""]
    if curve is not None and len(curve):
        wide = curve.pivot_table(index=["coder", "fraction", "n_train"], columns="family",
                                 values="macro_f1").reset_index()
        wide.columns.name = None
        wide["fraction"] = [f"{f:.0%}" for f in wide["fraction"]]
        wide["n_train"] = [f"{n:.0f}" for n in wide["n_train"]]
        parts += ["## Learning curve (macro-F1 per family)", "", _md(wide), "",
                  "![learning curve](learning_curve.png)", ""]
    return "\n".join(parts)


def _how_sure(scores: pd.DataFrame, per_school: pd.DataFrame, intervals_said: str | None
              ) -> list[str]:
    """The Markdown section on how sure the pooled figures are: each coder's macro-F1 with
    its interval and its lowest and highest school, then every school's figures."""
    def school(macro_f1: pd.Series, at: str) -> str:
        """The school with the lowest or highest (``at``: idxmin, idxmax) defined macro-F1;
        empty where no school has one (a family nobody labelled present)."""
        if macro_f1.isna().all():
            return ""
        i = getattr(macro_f1, at)()
        return f"{macro_f1[i]:.4f} ({per_school.loc[i, 'school']})"

    rows = []
    for (coder, family), sub in per_school.groupby(["coder", "family"], sort=False):
        pooled = scores[(scores["coder"] == coder) & (scores["family"] == family)
                        ].set_index("code")
        rows.append({"coder": coder, "family": family, "macro-F1": pooled.loc["macro", "f1"],
                     "interval": _interval(pooled, "macro", "f1"),
                     "lowest school": school(sub["macro_f1"], "idxmin"),
                     "highest school": school(sub["macro_f1"], "idxmax")})
    wide = per_school.pivot_table(index=["coder", "school", "n_segments"], columns="family",
                                  values="macro_f1", sort=False).reset_index()
    wide.columns.name = None
    return ["## How sure these figures are", "",
            *([intervals_said, ""] if intervals_said else []),
            "Each school alone, as a new school would be scored: the pooled figures above "
            "can move this far from one school to the next "
            "(`evaluation_per_school.csv`).", "",
            _md(pd.DataFrame(rows)), "", "### Macro-F1 per school", "", _md(wide), ""]


def plot_learning_curve(curve: pd.DataFrame, codebook: Codebook,
                        flat: dict[str, dict[str, float]] | None = None):
    """A matplotlib Figure: macro-F1 per family against training segments, one panel per
    family, one line per coder; ``flat`` adds coders that learn nothing (``{coder: {family:
    macro_f1}}``) as dashed lines."""
    from matplotlib.figure import Figure

    fams = [f for f in codebook.families]
    fig = Figure(figsize=(5 * len(fams), 4), layout="constrained")
    axes = fig.subplots(1, len(fams), squeeze=False)[0]
    for ax, fam in zip(axes, fams, strict=True):
        sub = curve[curve["family"] == fam.id]
        for coder, g in sub.groupby("coder", sort=False):
            ax.plot(g["n_train"], g["macro_f1"], marker="o", label=coder)
        for coder, vals in (flat or {}).items():
            if fam.id in vals:
                ax.axhline(vals[fam.id], linestyle="--", color="grey", linewidth=1)
                ax.annotate(coder, (0.01, vals[fam.id]), xycoords=("axes fraction", "data"),
                            textcoords="offset points", xytext=(2, 3), color="grey")
        ax.axhline(0.85, linestyle=":", color="black", linewidth=0.8)
        ax.set_title(f"{fam.label.en} ({fam.id})")
        ax.set_xlabel("training segments (mean over LOSO folds)")
        ax.set_ylabel("macro-F1 on the held-out school")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    return fig
