"""Honest evaluation of coders: leave-one-school-out cross-validation on labelled segments.

A coder is trained on four schools and tested on the fifth, for every school; the test
school's segments never influence its own predictions (thresholds are tuned inside the
training schools). Scores per code: precision, recall, F1 and Cohen's kappa against the gold
labels; per family macro and micro averages.

Tables
------
``scores``  coder, family, code, n_positive, precision, recall, f1, kappa  (code rows, then
            ``macro`` and ``micro`` rows per family)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

from pipeline.config import Codebook

__all__ = ["loso_predict", "score_table", "SCORE_COLUMNS"]

SCORE_COLUMNS = ["coder", "family", "code", "n_positive", "precision", "recall", "f1", "kappa"]

# fit(train_texts, train_Y) -> predict(test_texts) -> 0/1 array
FitPredict = Callable[[list[str], np.ndarray, list[str]], np.ndarray]


def loso_predict(texts: list[str], Y: np.ndarray, groups: list[str], fit_predict: FitPredict,
                 progress: Callable[[str], None] | None = None) -> np.ndarray:
    """Out-of-school predictions: for each school, train on the others, predict it."""
    groups_arr = np.asarray(groups)
    pred = np.zeros_like(Y)
    for school in sorted(set(groups)):
        test = groups_arr == school
        train_idx, test_idx = np.flatnonzero(~test), np.flatnonzero(test)
        pred[test_idx] = fit_predict([texts[i] for i in train_idx], Y[train_idx],
                                     [texts[i] for i in test_idx])
        if progress:
            progress(school)
    return pred


def score_table(Y: np.ndarray, pred: np.ndarray, labels: list[str], codebook: Codebook,
                coder: str) -> pd.DataFrame:
    """Per-code and per-family (macro, micro) precision, recall, F1 and kappa."""
    col = {c: j for j, c in enumerate(labels)}
    rows = []
    for fam in codebook.families:
        codes = [c.id for c in fam.codes if c.id in col]
        for c in codes:
            y, p = Y[:, col[c]], pred[:, col[c]]
            pr, rc, f1, _ = precision_recall_fscore_support(y, p, average="binary",
                                                            zero_division=0)
            kappa = cohen_kappa_score(y, p) if len(set(y) | set(p)) > 1 else 0.0
            rows.append({"coder": coder, "family": fam.id, "code": c, "n_positive": int(y.sum()),
                         "precision": pr, "recall": rc, "f1": f1, "kappa": kappa})
        if not codes:
            continue
        fam_rows = [r for r in rows if r["family"] == fam.id and r["code"] in codes]
        idx = [col[c] for c in codes]
        pr, rc, f1, _ = precision_recall_fscore_support(Y[:, idx], pred[:, idx], average="micro",
                                                        zero_division=0)
        rows.append({"coder": coder, "family": fam.id, "code": "macro",
                     "n_positive": int(Y[:, idx].sum()),
                     "precision": float(np.mean([r["precision"] for r in fam_rows])),
                     "recall": float(np.mean([r["recall"] for r in fam_rows])),
                     "f1": float(np.mean([r["f1"] for r in fam_rows])),
                     "kappa": float(np.mean([r["kappa"] for r in fam_rows]))})
        rows.append({"coder": coder, "family": fam.id, "code": "micro",
                     "n_positive": int(Y[:, idx].sum()), "precision": pr, "recall": rc,
                     "f1": f1, "kappa": np.nan})
    out = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    for c in ("precision", "recall", "f1", "kappa"):
        out[c] = out[c].astype(float).round(4)
    return out
