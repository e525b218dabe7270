"""Experiment: does naive-Bayes feature weighting (NB-LR) lift the default coder on the demo?

Not part of the pipeline. NB-SVM / NB-LR (Wang & Manning 2012, "Baselines and bigrams")
scales every feature, per code, by its log-count ratio r = log((p/|p|) / (q/|q|)), with p and
q the feature's summed values (+1) over the code's positive and negative training segments,
and fits the linear model on the scaled features. At coding time w·(r ⊙ x) = (w ⊙ r)·x, so
the saved model would be the same arrays and cost the same: only training changes.

Three weightings are compared with the default model, under the same leave-one-school-out
folds as ``pipeline evaluate`` (each model still tunes its thresholds inside the training
schools only):

- ``nb tfidf``: r from the tf-idf values;
- ``nb presence``: r from 0/1 presence, the original NB-SVM;
- ``nb magnitude``: 0.5 + 0.5·|r|, a soft weight that keeps the feature's sign free.

Run (~2 minutes on 2 cores):

  .venv/bin/python tools/nb_weighting.py --out out/demo/nb_weighting

Writes ``nb_weighting.csv`` (coder, family, code, n_positive, precision, recall, f1, kappa)
into ``--out`` and prints macro-F1 per family.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import io  # noqa: E402
from pipeline.coding.evaluate import compare_coders, estimator_fit_predict  # noqa: E402
from pipeline.coding.model import CodeModel  # noqa: E402
from pipeline.coding.train import labelled_segments, make_model  # noqa: E402
from pipeline.config import load_settings  # noqa: E402

WEIGHTINGS = ("tfidf", "presence", "magnitude")


def log_count_ratio(X: sp.csr_matrix, y: np.ndarray, weighting: str) -> np.ndarray:
    """Per feature: how much more it weighs in the positive segments than in the others."""
    values = X.copy()
    values.data = np.ones_like(values.data) if weighting == "presence" else np.abs(values.data)
    p = 1.0 + np.asarray(values[y == 1].sum(axis=0)).ravel()
    q = 1.0 + np.asarray(values[y == 0].sum(axis=0)).ravel()
    r = np.log((p / p.sum()) / (q / q.sum()))
    return 0.5 + 0.5 * np.abs(r) if weighting == "magnitude" else r


class NBCodeModel(CodeModel):
    """The default model with each code's logistic regression fitted on NB-scaled features
    (``weighting``: one of :data:`WEIGHTINGS`, set after construction)."""

    weighting = "tfidf"

    def _fit_code(self, X, y):
        r = log_count_ratio(X, y, self.weighting)
        coef, intercept = super()._fit_code(X @ sp.diags(r), y)
        return coef * r, intercept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cohort", type=Path, default=ROOT / "data" / "demo")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    settings = load_settings(None)
    seg, Y, names, _ = labelled_segments(io.load_cohort(args.cohort), settings)
    X = seg[["text", "context"]].reset_index(drop=True)

    def nb(weighting):
        def make():
            model = NBCodeModel(**make_model(settings, names).get_params())
            model.weighting = weighting
            return model
        return make

    coders = {"default": estimator_fit_predict(lambda: make_model(settings, names))}
    coders |= {f"nb {w}": estimator_fit_predict(nb(w)) for w in WEIGHTINGS}
    table = compare_coders(X, Y, seg["school_id"].tolist(), coders, names, settings.codebook,
                           subtypes=False, jobs=2, progress=print).scores
    args.out.mkdir(parents=True, exist_ok=True)
    io.write_csv(table, args.out / "nb_weighting.csv")
    macro = table[table["code"] == "macro"].pivot(index="coder", columns="family", values="f1")
    print(macro.round(3).to_string())
    print(pd.DataFrame(table[table["code"] == "outcomes"][["coder", "f1", "kappa"]]).to_string())


if __name__ == "__main__":
    main()
