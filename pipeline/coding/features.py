"""Fast TF-IDF features for Dutch segments: lemma n-grams + within-word character n-grams.

Equivalent in spirit to two scikit-learn ``TfidfVectorizer`` (``analyzer="word"`` on lemmas and
``analyzer="char_wb"``) side by side, but built for throughput: character n-grams are computed
once per distinct word form and summed with a sparse product, lemma bigrams are looked up with
``numpy.searchsorted``. The only per-token Python work left is the tokenizer and one dict
lookup, which is what lets coding run near the tokenise-only floor.

Learned state ends in ``_`` and is plain numpy arrays (string arrays for the vocabularies), so
the fitted object serialises with skops without any pickled payload.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from pipeline.nlp import tokens_and_lemmas

__all__ = ["SegmentFeaturizer"]


def _char_ngrams(word: str, lo: int, hi: int) -> list[str]:
    padded = f" {word} "
    return [padded[i:i + n] for n in range(lo, hi + 1) for i in range(len(padded) - n + 1)]


def _top_by_df(df: dict[str, int], min_df: int, limit: int) -> list[str]:
    kept = [(-c, f) for f, c in df.items() if c >= min_df]
    kept.sort()
    return sorted(f for _, f in kept[:limit])


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear tf (1 + log tf) times idf, rows L2-normalised (as TfidfVectorizer does)."""
    x = counts.tocsr()
    x.sum_duplicates()
    data = (1.0 + np.log(x.data)) * idf[x.indices]
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=x.shape[0]))
    norms[norms == 0] = 1.0
    data /= norms[rows]
    return sp.csr_matrix((data, x.indices, x.indptr), shape=x.shape)


class SegmentFeaturizer(TransformerMixin, BaseEstimator):
    """Texts -> sparse TF-IDF matrix ``[lemma n-grams | character n-grams]``.

    Parameters
    ----------
    word_ngrams, char_ngrams : (low, high) n-gram ranges; ``char_ngrams=None``: no
        character block (the block then has zero columns).
    min_df : keep features seen in at least this many training texts.
    max_features : at most this many features per block (most frequent first).
    """

    def __init__(self, word_ngrams=(1, 2), char_ngrams=(2, 5), min_df=2, max_features=60000):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_features = max_features

    # -------------------------------------------------------------- fitting
    def fit(self, texts, y=None):
        words, lemmas = tokens_and_lemmas(list(texts))
        n = len(words)
        lo, hi = self.word_ngrams
        word_df: dict[str, int] = {}
        for lem in lemmas:
            grams = set()
            for k in range(lo, hi + 1):
                grams.update(" ".join(lem[i:i + k]) for i in range(len(lem) - k + 1))
            for g in grams:
                word_df[g] = word_df.get(g, 0) + 1
        char_df: dict[str, int] = {}
        if self.char_ngrams:
            clo, chi = self.char_ngrams
            for ws in words:
                for g in {g for w in set(ws) for g in _char_ngrams(w, clo, chi)}:
                    char_df[g] = char_df.get(g, 0) + 1
        self.word_vocab_ = np.array(_top_by_df(word_df, self.min_df, self.max_features), dtype=str)
        self.char_vocab_ = np.array(_top_by_df(char_df, self.min_df, self.max_features), dtype=str)
        self.word_idf_ = np.log((1 + n) / (1 + np.array([word_df[f] for f in self.word_vocab_],
                                                        dtype=np.float64))) + 1
        self.char_idf_ = np.log((1 + n) / (1 + np.array([char_df[f] for f in self.char_vocab_],
                                                        dtype=np.float64))) + 1
        # every lemma seen in training gets an id, so bigrams can be keyed by (id, id)
        self.lemma_vocab_ = np.array(sorted({w for lem in lemmas for w in lem}), dtype=str)
        self.n_features_out_ = len(self.word_vocab_) + len(self.char_vocab_)
        return self

    # -------------------------------------------------------------- state
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_index", None)
        return state

    def _lookup(self) -> dict:
        idx = getattr(self, "_index", None)
        if idx is None:
            word_id = {f: i for i, f in enumerate(self.word_vocab_.tolist())}
            lemma_id = {f: i for i, f in enumerate(self.lemma_vocab_.tolist())}
            nl = len(lemma_id)
            uni = np.full(nl, -1, dtype=np.int64)
            bi_keys, bi_cols = [], []
            for f, col in word_id.items():
                parts = f.split(" ")
                if len(parts) == 1 and f in lemma_id:
                    uni[lemma_id[f]] = col
                elif len(parts) == 2 and parts[0] in lemma_id and parts[1] in lemma_id:
                    bi_keys.append(lemma_id[parts[0]] * nl + lemma_id[parts[1]])
                    bi_cols.append(col)
            order = np.argsort(np.array(bi_keys, dtype=np.int64))
            idx = {
                "lemma_id": lemma_id,
                "uni": uni,
                "bi_keys": np.array(bi_keys, dtype=np.int64)[order],
                "bi_cols": np.array(bi_cols, dtype=np.int64)[order],
                "char_id": {f: i for i, f in enumerate(self.char_vocab_.tolist())},
                "char_cache": {},
            }
            self._index = idx
        return idx

    def _char_row(self, word: str, idx: dict) -> dict[int, int]:
        cache = idx["char_cache"]
        row = cache.get(word)
        if row is None and not self.char_ngrams:
            row = cache[word] = {}
        if row is None:
            row = {}
            char_id = idx["char_id"]
            for g in _char_ngrams(word, *self.char_ngrams):
                j = char_id.get(g)
                if j is not None:
                    row[j] = row.get(j, 0) + 1
            cache[word] = row
        return row

    # -------------------------------------------------------------- transform
    def transform(self, texts):
        check_is_fitted(self, "word_vocab_")
        words, lemmas = tokens_and_lemmas(list(texts))
        return self.transform_tokens(words, lemmas)

    def transform_tokens(self, words: list[list[str]], lemmas: list[list[str]]) -> sp.csr_matrix:
        """Features from already tokenised, lower-cased words and their lemmas."""
        return sp.hstack(self.transform_blocks(words, lemmas), format="csr")

    def transform_blocks(self, words: list[list[str]],
                         lemmas: list[list[str]]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """The two feature blocks (lemma n-grams, character n-grams) without stacking them:
        a linear model can score each block separately, which saves a copy on the hot path."""
        idx = self._lookup()
        n_docs = len(words)
        # distinct word forms of this batch -> local type ids
        type_id: dict[str, int] = {}
        type_lemma: list[str] = []
        flat = []
        lengths = np.fromiter((len(ws) for ws in words), dtype=np.int64, count=n_docs)
        for ws, ls in zip(words, lemmas, strict=True):
            for w, lem in zip(ws, ls, strict=True):
                t = type_id.get(w)
                if t is None:
                    t = type_id[w] = len(type_lemma)
                    type_lemma.append(lem)
                flat.append(t)
        flat_types = np.array(flat, dtype=np.int64)
        doc_of = np.repeat(np.arange(n_docs), lengths)
        n_types = len(type_lemma)
        nw = len(self.word_vocab_)

        lemma_id = idx["lemma_id"]
        type_lem = np.array([lemma_id.get(lem, -1) for lem in type_lemma], dtype=np.int64)
        tok_lem = type_lem[flat_types] if len(flat_types) else np.zeros(0, dtype=np.int64)
        rows, cols = [], []
        lo, hi = self.word_ngrams
        if lo <= 1 <= hi and len(tok_lem):
            known = tok_lem >= 0
            uc = idx["uni"][tok_lem[known]]
            keep = uc >= 0
            rows.append(doc_of[known][keep])
            cols.append(uc[keep])
        if lo <= 2 <= hi and len(tok_lem) > 1 and len(idx["bi_keys"]):
            a, b = tok_lem[:-1], tok_lem[1:]
            same = (doc_of[:-1] == doc_of[1:]) & (a >= 0) & (b >= 0)
            keys = a[same] * len(self.lemma_vocab_) + b[same]
            pos = np.searchsorted(idx["bi_keys"], keys)
            pos[pos == len(idx["bi_keys"])] = 0
            hit = idx["bi_keys"][pos] == keys
            rows.append(doc_of[:-1][same][hit])
            cols.append(idx["bi_cols"][pos[hit]])
        r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        word_counts = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n_docs, nw))

        # character n-grams: (docs x types) @ (types x char features)
        d = sp.csr_matrix((np.ones(len(flat_types)), (doc_of, flat_types)), shape=(n_docs, n_types))
        w_rows, w_cols, w_vals = [], [], []
        for w, t in type_id.items():
            for j, v in self._char_row(w, idx).items():
                w_rows.append(t)
                w_cols.append(j)
                w_vals.append(v)
        w = sp.csr_matrix((np.array(w_vals, dtype=np.float64), (w_rows, w_cols)),
                          shape=(n_types, len(self.char_vocab_)))
        char_counts = d @ w
        return _tfidf(word_counts, self.word_idf_), _tfidf(char_counts, self.char_idf_)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "word_vocab_")
        return np.concatenate([self.word_vocab_, np.char.add("char:", self.char_vocab_)])
