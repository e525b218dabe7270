"""The trained coder (scikit-learn backend): TF-IDF over lemma and character n-grams, one
logistic regression per code (one-vs-rest), and a per-code decision threshold tuned by
cross-validation on the training data only.

It learns every code of both families and the activity sub-types (``exchange.input`` ...), so
the same model gives the codes, the sub-types and the evidence words. The interviewer's
question before a respondent turn (the segment's ``context``) is a third, down-weighted block
of lemma features: "Wat kwam daaruit?" says a lot about a short answer. The context is split
into words by a regular expression (:func:`pipeline.nlp.context_batch`), the segment itself
by spaCy's tokenizer (:func:`pipeline.nlp.token_batch`). Saved with skops
(``model.skops``; loading trusts only the classes listed in :data:`TRUSTED`, never an
arbitrary pickle), its arrays for coding (``scorer.npz``, :mod:`pipeline.coding.scoring`) and
a JSON model card.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from pipeline.coding.features import SegmentFeaturizer
from pipeline.coding.scoring import (
    CARD_FILE,
    MODEL_ENTRIES,
    MODEL_FILE,
    SCORER_FILE,
    Scorer,
    save_scorer,
    sigmoid,
)
from pipeline.nlp import context_batch, token_batch, tokens_and_lemmas

__all__ = ["CodeModel", "load_model", "save_model", "TRUSTED", "MODEL_FILE", "CARD_FILE"]

TRUSTED = ["pipeline.coding.model.CodeModel", "pipeline.coding.features.SegmentFeaturizer"]
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)


def _best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold on ``p`` with the highest F1 for ``y`` (ties: closest to 0.5)."""
    if y.sum() == 0:
        return 0.5
    best, best_f1 = 0.5, -1.0
    for t in sorted(THRESHOLD_GRID, key=lambda t: abs(t - 0.5)):
        pred = p >= t
        tp = np.sum(pred & (y == 1))
        f1 = 2 * tp / (pred.sum() + y.sum()) if (pred.sum() + y.sum()) else 0.0
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(t), f1
    return best


class CodeModel(ClassifierMixin, BaseEstimator):
    """Multi-label segment coder.

    ``fit(texts, Y)`` with ``Y`` a 0/1 array (n_segments x n_labels) and ``labels`` the label
    names; ``predict_proba`` gives one probability column per label, ``predict`` applies the
    tuned thresholds.
    """

    def __init__(self, labels=(), C=4.0, word_ngrams=(1, 2), char_ngrams=(2, 5), min_df=2,
                 max_features=60000, threshold_folds=5, context_weight=0.5, random_state=0):
        self.labels = labels
        self.context_weight = context_weight
        self.C = C
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_features = max_features
        self.threshold_folds = threshold_folds
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def _fit_code(self, X: sp.csr_matrix, y: np.ndarray) -> tuple[np.ndarray, float]:
        """Weights and intercept of one code's logistic regression (both classes present)."""
        from sklearn.linear_model import LogisticRegression  # fitting only: coding starts faster

        lr = LogisticRegression(C=self.C, class_weight="balanced", solver="liblinear",
                                random_state=self.random_state, max_iter=1000).fit(X, y)
        return lr.coef_[0], lr.intercept_[0]

    def _fit_weights(self, X: sp.csr_matrix, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        coef = np.zeros((Y.shape[1], X.shape[1]))
        intercept = np.full(Y.shape[1], -30.0)  # a label never seen: probability ~0
        for j in range(Y.shape[1]):
            y = Y[:, j]
            if 0 < y.sum() < len(y):
                coef[j], intercept[j] = self._fit_code(X, y)
            elif y.sum() == len(y):
                intercept[j] = 30.0
        return coef, intercept

    def fit(self, X, y):
        texts, contexts = _texts_and_contexts(X)
        Y = np.asarray(y, dtype=np.int64)
        if Y.ndim != 2 or Y.shape[0] != len(texts):
            raise ValueError("y must be a 0/1 array of shape (n_segments, n_labels)")
        labels = list(self.labels) or [f"label_{j}" for j in range(Y.shape[1])]
        if len(labels) != Y.shape[1]:
            raise ValueError(f"{len(labels)} label names for {Y.shape[1]} label columns")
        words, lemmas = tokens_and_lemmas(texts)
        _, ctx_lemmas = context_batch(contexts).per_text()

        def featurizer():
            return SegmentFeaturizer(self.word_ngrams, self.char_ngrams, self.min_df,
                                     self.max_features)

        def ctx_featurizer(rows):
            rows_lemmas = [ctx_lemmas[i] for i in rows]
            return SegmentFeaturizer((1, 1), None, self.min_df, self.max_features).fit_tokens(
                rows_lemmas, rows_lemmas)

        def features(f, fc, rows):
            blocks = f.transform_blocks([words[i] for i in rows], [lemmas[i] for i in rows])
            ctx = fc.transform_blocks([ctx_lemmas[i] for i in rows],
                                      [ctx_lemmas[i] for i in rows])[0]
            return sp.hstack([*blocks, ctx * self.context_weight], format="csr")

        # thresholds from out-of-fold probabilities: the training data only
        oof = np.zeros(Y.shape, dtype=np.float64)
        folds = min(self.threshold_folds, len(texts))
        if folds >= 2:
            from sklearn.model_selection import KFold

            kf = KFold(n_splits=folds, shuffle=True, random_state=self.random_state)
            for tr, te in kf.split(texts):
                f = featurizer().fit_tokens([words[i] for i in tr], [lemmas[i] for i in tr])
                fc = ctx_featurizer(tr)
                coef, b = self._fit_weights(features(f, fc, tr), Y[tr])
                oof[te] = sigmoid(features(f, fc, te) @ coef.T + b)
            self.thresholds_ = np.array([_best_threshold(Y[:, j], oof[:, j])
                                         for j in range(Y.shape[1])])
        else:
            self.thresholds_ = np.full(Y.shape[1], 0.5)
        every = np.arange(len(texts))
        self.featurizer_ = featurizer().fit_tokens(words, lemmas)
        self.context_featurizer_ = ctx_featurizer(every)
        coef, self.intercept_ = self._fit_weights(
            features(self.featurizer_, self.context_featurizer_, every), Y)
        nw = len(self.featurizer_.word_vocab_)
        nc = len(self.featurizer_.char_vocab_)
        self.coef_word_, self.coef_char_ = coef[:, :nw], coef[:, nw:nw + nc]
        self.coef_context_ = coef[:, nw + nc:] * self.context_weight
        self.labels_ = np.array(labels, dtype=str)
        self.classes_ = self.labels_
        self.__dict__.pop("_scorer", None)   # refitted: the old arrays are stale
        return self

    # ------------------------------------------------------------------ predicting
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_scorer", None)
        return state

    def scorer(self) -> Scorer:
        """What coding needs of this model, as arrays (made once; a refit replaces it)."""
        check_is_fitted(self, "coef_word_")
        scorer = getattr(self, "_scorer", None)
        if scorer is None:
            scorer = self._scorer = Scorer(
                [str(x) for x in self.labels_], np.asarray(self.thresholds_, dtype=np.float64),
                np.asarray(self.intercept_, dtype=np.float64), self.featurizer_.tables(),
                self.context_featurizer_.tables(),
                *(np.ascontiguousarray(c.T, dtype=np.float64) for c in (
                    self.coef_word_, self.coef_char_, self.coef_context_)))
        return scorer

    def predict_proba(self, X) -> np.ndarray:
        """Probability per label; ``X`` is a list of texts or a DataFrame with ``text`` and
        (optionally) ``context``."""
        texts, contexts = _texts_and_contexts(X)
        return self.scorer().predict_proba(token_batch(texts), context_batch(contexts))

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X) >= self.thresholds_).astype(np.int64)


def _texts_and_contexts(X) -> tuple[list[str], list[str]]:
    if isinstance(X, pd.DataFrame):
        texts = X["text"].fillna("").astype(str).tolist()
        ctx = (X["context"].fillna("").astype(str).tolist() if "context" in X.columns
               else [""] * len(texts))
        return texts, ctx
    texts = [str(x) for x in X]
    return texts, [""] * len(texts)


# ---------------------------------------------------------------------- persistence
def canonical_skops(data: bytes) -> bytes:
    """The same skops archive with reproducible bytes, so that ``make train`` run twice
    writes the same ``model.skops``.

    skops names each saved object by its ``id()`` in the saving process (the ``__id__``
    fields of ``schema.json`` and the ``<id>.npy`` member names) and stamps every member with
    the current time. Here the ids become 1, 2, 3 ... in order of first appearance (a
    renaming: the same object keeps one number, so shared references stay shared) and every
    member gets the zip format's earliest date."""
    import io
    import re
    import zipfile

    from pipeline.io import redated_zip

    numbers: dict[int, int] = {}
    member = re.compile(r"(\d+)\.npy")

    def number(old: int) -> int:
        return numbers.setdefault(old, len(numbers) + 1)

    def rename(name: str) -> str:
        return f"{number(int(m[1]))}.npy" if (m := member.fullmatch(name)) else name

    def renumber(node):
        if isinstance(node, dict):
            return {key: (number(value) if key == "__id__"
                          else rename(value) if key == "file" and isinstance(value, str)
                          else renumber(value))
                    for key, value in node.items()}
        if isinstance(node, list):
            return [renumber(value) for value in node]
        return node

    with zipfile.ZipFile(io.BytesIO(data)) as source:
        # An array is memoised under the same id() as its ``__id__``, so it keeps one number.
        schema = json.dumps(renumber(json.loads(source.read("schema.json"))), indent=2)
    return redated_zip(data, rename, {"schema.json": schema.encode("utf-8")})


def save_model(model: CodeModel, folder: Path, card: dict) -> None:
    """Write ``model.skops`` (the estimator), ``scorer.npz`` (its arrays, what coding reads:
    :mod:`pipeline.coding.scoring`) and ``model_card.json`` (with the sha256 of both) into
    ``folder``: all built aside and swapped in together, so a model never meets another
    model's card."""
    import hashlib

    import skops.io as sio

    from pipeline.io import atomic_write, staged_output

    with staged_output(Path(folder), marker=CARD_FILE, own=MODEL_ENTRIES) as stage:
        data = canonical_skops(sio.dumps(model))
        atomic_write(stage / MODEL_FILE, data)
        files = {MODEL_FILE: hashlib.sha256(data).hexdigest(),
                 SCORER_FILE: save_scorer(model.scorer(), stage / SCORER_FILE)}
        card = {**card, "files": files}
        atomic_write(stage / CARD_FILE, json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def load_model(folder: Path) -> tuple[CodeModel, dict]:
    """Load a model saved by :func:`save_model`; refuses any type not in :data:`TRUSTED`."""
    import skops.io as sio

    from pipeline.io import InputError

    folder = Path(folder)
    path = folder / MODEL_FILE
    if not path.is_file():
        raise InputError(path, "model file not found (train one: `pipeline train COHORT`; "
                         "or pass --model DIR)")
    try:
        untrusted = sio.get_untrusted_types(file=path)
        unexpected = [t for t in untrusted if t not in TRUSTED]
        if unexpected:
            raise InputError(path, f"refusing to load untrusted type(s): {', '.join(unexpected)}")
        model = sio.load(path, trusted=untrusted)
    except InputError:
        raise
    except Exception as e:  # a corrupt or foreign file: say so in one line
        raise InputError(path, f"not a readable model file ({type(e).__name__}: {e})") from None
    if not isinstance(model, CodeModel):
        raise InputError(path, f"expected a CodeModel, found {type(model).__name__}")
    card_path = folder / CARD_FILE
    card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else {}
    return model, card


def label_matrix(segment_ids: list[str], labels: pd.DataFrame, names: list[str]) -> np.ndarray:
    """0/1 matrix (segments x names) from a labels table (segment_id, code, value)."""
    pos = labels[labels["value"].astype(str).isin(["1", "1.0", "true", "True"])]
    row = {s: i for i, s in enumerate(segment_ids)}
    col = {c: j for j, c in enumerate(names)}
    Y = np.zeros((len(segment_ids), len(names)), dtype=np.int64)
    for s, c in zip(pos["segment_id"], pos["code"], strict=True):
        if s in row and c in col:
            Y[row[s], col[c]] = 1
    return Y
