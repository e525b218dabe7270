"""The trained coder (scikit-learn backend): TF-IDF over lemma and character n-grams, one
logistic regression per code (one-vs-rest), and a per-code decision threshold tuned by
cross-validation on the training data only.

It learns every code of both families and the activity sub-types (``exchange.input`` ...), so
the same model gives the codes, the sub-types and the evidence words. The interviewer's
question before a respondent turn (the segment's ``context``) is a third, down-weighted block
of lemma features: "Wat kwam daaruit?" says a lot about a short answer. The context is split
into words by a regular expression (:func:`pipeline.nlp.context_batch`), the segment itself
by spaCy's tokenizer (:func:`pipeline.nlp.token_batch`). Saved with skops
(``model.skops``) next to a JSON model card; loading trusts only the classes listed in
:data:`TRUSTED`, never an arbitrary pickle.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from pipeline.coding.features import SegmentFeaturizer, compiled
from pipeline.nlp import TokenBatch, context_batch, token_batch, tokens_and_lemmas

__all__ = ["CodeModel", "load_model", "save_model", "TRUSTED", "MODEL_FILE", "CARD_FILE"]

MODEL_FILE = "model.skops"
CARD_FILE = "model_card.json"
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
    def _fit_weights(self, X: sp.csr_matrix, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.linear_model import LogisticRegression  # fitting only: coding starts faster

        coef = np.zeros((Y.shape[1], X.shape[1]))
        intercept = np.full(Y.shape[1], -30.0)  # a label never seen: probability ~0
        for j in range(Y.shape[1]):
            y = Y[:, j]
            if 0 < y.sum() < len(y):
                lr = LogisticRegression(C=self.C, class_weight="balanced", solver="liblinear",
                                        random_state=self.random_state, max_iter=1000)
                lr.fit(X, y)
                coef[j], intercept[j] = lr.coef_[0], lr.intercept_[0]
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
                oof[te] = _sigmoid(features(f, fc, te) @ coef.T + b)
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
        self.__dict__.pop("_weights", None)   # refitted: the cached copies are stale
        return self

    # ------------------------------------------------------------------ predicting
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_weights", None)
        return state

    def _block_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The word, character and context coefficients as C-contiguous (features x labels)
        arrays, made once: the products and kernels of scoring read them row by row (a
        transposed view would be copied by every product)."""
        w = getattr(self, "_weights", None)
        if w is None:
            w = self._weights = tuple(np.ascontiguousarray(c.T, dtype=np.float64) for c in (
                self.coef_word_, self.coef_char_, self.coef_context_))
        return w

    def _scores(self, batch: TokenBatch, context: TokenBatch | None,
                context_of: np.ndarray | None = None) -> tuple[np.ndarray, sp.csr_matrix]:
        word, char, ctx = self._block_weights()
        Xw = self.featurizer_.word_block(batch)
        z = Xw @ word + self.intercept_
        z += self.featurizer_.char_scores(batch, char)
        if context is not None and ctx.shape[0]:
            zx = self.context_featurizer_.word_block(context) @ ctx
            z = z + (zx if context_of is None else zx[context_of])
        return np.asarray(z), Xw

    def predict_proba(self, X) -> np.ndarray:
        """Probability per label; ``X`` is a list of texts or a DataFrame with ``text`` and
        (optionally) ``context``."""
        check_is_fitted(self, "coef_word_")
        texts, contexts = _texts_and_contexts(X)
        return _sigmoid(self._scores(token_batch(texts), context_batch(contexts))[0])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X) >= self.thresholds_).astype(np.int64)

    def predict_with_evidence(self, batch: TokenBatch, n_terms: int,
                              context: TokenBatch | None = None,
                              evidence_labels: list[str] | None = None,
                              context_of: np.ndarray | None = None
                              ) -> tuple[np.ndarray, list[dict[str, list[str]]]]:
        """Probabilities and, per segment, the lemma n-grams of the segment itself that pushed
        each assigned label (of ``evidence_labels``; default all) up the most (the
        ``evidence``). ``context_of``: the row of ``context`` for each segment, when the
        contexts are given once per distinct text (segments of one long answer share it)."""
        check_is_fitted(self, "coef_word_")
        z, Xw = self._scores(batch, context, context_of)
        proba = _sigmoid(z)
        evidence: list[dict[str, list[str]]] = [{} for _ in range(len(batch))]
        if n_terms:
            names = self.featurizer_.word_names()
            labels = [str(x) for x in self.labels_]
            wanted = np.isin(labels, labels if evidence_labels is None else evidence_labels)
            rows, codes = np.nonzero((proba >= self.thresholds_) & wanted)
            for i, j, terms in _top_terms(Xw, self._block_weights()[0], rows, codes, n_terms,
                                          names):
                evidence[i][labels[j]] = terms
        return proba, evidence


def _top_terms(X: sp.csr_matrix, weights: np.ndarray, rows: np.ndarray, labels: np.ndarray,
               n: int, names: np.ndarray) -> list[tuple[int, int, list[str]]]:
    """For each (row, label) pair: the names of the columns with the largest positive
    contribution ``X[row, c] * weights[c, label]`` (at most ``n``; ties by column); pairs
    without a positive contribution are left out."""
    X = X.tocsr()
    cols = _top_columns(X.indptr.astype(np.int64), X.indices.astype(np.int64),
                        X.data.astype(np.float64), np.ascontiguousarray(weights, dtype=np.float64),
                        np.asarray(rows, dtype=np.int64), np.asarray(labels, dtype=np.int64), n)
    found = (cols >= 0).sum(axis=1)
    words = names[cols[cols >= 0]].tolist()   # row by row, best first
    ends = np.cumsum(found).tolist()
    return [(i, j, words[e - k:e]) for i, j, k, e in zip(rows.tolist(), labels.tolist(),
                                                          found.tolist(), ends, strict=True)
            if k]


@compiled
def _top_columns(indptr, indices, data, weights, rows, labels, n):
    """Per (row, label) pair the columns of its ``n`` largest positive contributions, best
    first (equal contributions: smaller column first), -1 where there are fewer: ``n``
    selection passes over the row's entries, each taking the best one ranked below the
    previous pick."""
    out = np.full((len(rows), n), -1, dtype=np.int64)
    for k in range(len(rows)):
        i, j = rows[k], labels[k]
        last_v, last_c = np.inf, -1
        for m in range(n):
            best_v, best_c = 0.0, -1
            for p in range(indptr[i], indptr[i + 1]):
                c = indices[p]
                v = data[p] * weights[c, j]
                if v <= 0.0 or v > last_v or (v == last_v and c <= last_c):
                    continue
                if best_c < 0 or v > best_v or (v == best_v and c < best_c):
                    best_v, best_c = v, c
            if best_c < 0:
                break
            out[k, m] = best_c
            last_v, last_c = best_v, best_c
    return out


def _texts_and_contexts(X) -> tuple[list[str], list[str]]:
    if isinstance(X, pd.DataFrame):
        texts = X["text"].fillna("").astype(str).tolist()
        ctx = (X["context"].fillna("").astype(str).tolist() if "context" in X.columns
               else [""] * len(texts))
        return texts, ctx
    texts = [str(x) for x in X]
    return texts, [""] * len(texts)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


# ---------------------------------------------------------------------- persistence
def save_model(model: CodeModel, folder: Path, card: dict) -> None:
    """Write ``model.skops`` and ``model_card.json`` into ``folder``: both built aside and
    swapped in together, so a model never meets another model's card."""
    import skops.io as sio

    from pipeline.io import atomic_write, staged_output

    with staged_output(Path(folder)) as stage:
        atomic_write(stage / MODEL_FILE, sio.dumps(model))
        atomic_write(stage / CARD_FILE, json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def load_model(folder: Path) -> tuple[CodeModel, dict]:
    """Load a model saved by :func:`save_model`; refuses any type not in :data:`TRUSTED`."""
    import skops.io as sio

    from pipeline.io import InputError

    folder = Path(folder)
    path = folder / MODEL_FILE
    if not path.is_file():
        raise InputError(path, "model file not found (run `make train`, or pass --model DIR)")
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
