"""Fast TF-IDF features for Dutch segments: lemma n-grams + within-word character n-grams.

Equivalent in spirit to two scikit-learn ``TfidfVectorizer`` (``analyzer="word"`` on lemmas and
``analyzer="char_wb"``) side by side, but built for throughput: character n-grams are computed
once per distinct word form, lemma bigrams are looked up with ``numpy.searchsorted``. This
module fits the vocabularies; the lookups and compiled loops that turn a batch into features
are :class:`pipeline.coding.scoring.NgramTables`, shared with coding. For training the
character block is a sparse product; coding goes from the characters straight to the
model's scores in one compiled loop (``NgramTables.char_scores``: the block has ~550 entries
per segment, and building it cost more than tokenising).

Learned state ends in ``_`` and is plain numpy arrays (string arrays for the vocabularies), so
the fitted object serialises with skops without any pickled payload.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from pipeline.coding.scoring import NgramTables, char_ngrams
from pipeline.nlp import TokenBatch, token_batch, tokens_and_lemmas

__all__ = ["SegmentFeaturizer"]


def _top_by_df(df: dict[str, int], min_df: int, limit: int) -> list[str]:
    kept = [(-c, f) for f, c in df.items() if c >= min_df]
    kept.sort()
    return sorted(f for _, f in kept[:limit])


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
        return self.fit_tokens(*tokens_and_lemmas(list(texts)))

    def fit_tokens(self, words: list[list[str]], lemmas: list[list[str]]):
        """:meth:`fit` on already tokenised, lower-cased words and their lemmas."""
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
                for g in {g for w in set(ws) for g in char_ngrams(w, clo, chi)}:
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
        self.__dict__.pop("_tables", None)   # refitted: the old lookup tables are stale
        return self

    # -------------------------------------------------------------- state
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_tables", None)
        return state

    def tables(self) -> NgramTables:
        """The fitted vocabularies as lookup tables (made once; a refit replaces them)."""
        tables = getattr(self, "_tables", None)
        if tables is None:
            tables = self._tables = NgramTables(
                self.word_vocab_.tolist(), self.word_idf_, self.char_vocab_.tolist(),
                self.char_idf_, self.lemma_vocab_.tolist(), self.word_ngrams, self.char_ngrams)
        return tables

    # -------------------------------------------------------------- transform
    def transform(self, texts):
        check_is_fitted(self, "word_vocab_")
        return sp.hstack(self.transform_batch(token_batch(list(texts))), format="csr")

    def transform_blocks(self, words: list[list[str]],
                         lemmas: list[list[str]]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """:meth:`transform_batch` of words and lemmas given as one list per text."""
        return self.transform_batch(TokenBatch.from_words(words, lemmas))

    def transform_batch(self, batch: TokenBatch) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """The two feature blocks (lemma n-grams, character n-grams) without stacking them,
        for fitting; scoring reads :meth:`word_block` and :meth:`char_scores` instead."""
        return self.word_block(batch), self.tables().char_block(batch)

    def word_block(self, batch: TokenBatch) -> sp.csr_matrix:
        """The TF-IDF lemma n-gram block (:meth:`NgramTables.word_block`)."""
        return self.tables().word_block(batch)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "word_vocab_")
        return np.concatenate([self.word_vocab_, np.char.add("char:", self.char_vocab_)])
