"""Fast TF-IDF features for Dutch segments: lemma n-grams + within-word character n-grams.

Equivalent in spirit to two scikit-learn ``TfidfVectorizer`` (``analyzer="word"`` on lemmas and
``analyzer="char_wb"``) side by side, but built for throughput: character n-grams are computed
once per distinct word form, lemma bigrams are looked up with ``numpy.searchsorted``. For
training the character block is a sparse product; for coding, :meth:`char_scores` goes
straight to the model's scores in one loop compiled by numba (the block has ~550 entries per
segment, and building it cost more than tokenising). No per-token Python work is left
besides the tokenizer, which is what lets coding run near the tokenise-only floor.

Learned state ends in ``_`` and is plain numpy arrays (string arrays for the vocabularies), so
the fitted object serialises with skops without any pickled payload.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from pipeline.nlp import TokenBatch, token_batch, tokens_and_lemmas

__all__ = ["SegmentFeaturizer", "compiled"]


def _char_ngrams(word: str, lo: int, hi: int) -> list[str]:
    padded = f" {word} "
    return [padded[i:i + n] for n in range(lo, hi + 1) for i in range(len(padded) - n + 1)]


def _top_by_df(df: dict[str, int], min_df: int, limit: int) -> list[str]:
    kept = [(-c, f) for f, c in df.items() if c >= min_df]
    kept.sort()
    return sorted(f for _, f in kept[:limit])


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear tf (1 + log tf) times idf, rows L2-normalised (as TfidfVectorizer does).
    ``counts`` has no duplicate entries (built from COO, which sums them, or by a product);
    its indices need not be sorted. Most counts are 1, so the logarithm is taken only of the
    others: this runs over every character n-gram of every segment."""
    x = counts.tocsr()
    data = x.data.astype(np.float64)
    repeated = np.flatnonzero(data > 1)
    data[repeated] = 1.0 + np.log(data[repeated])
    data *= idf[x.indices]
    lengths = np.diff(x.indptr)
    norms = np.zeros(x.shape[0])
    filled = lengths > 0
    norms[filled] = np.sqrt(np.add.reduceat(data * data, x.indptr[:-1][filled]))
    norms[norms == 0] = 1.0
    data /= np.repeat(norms, lengths)
    return sp.csr_matrix((data, x.indices, x.indptr), shape=x.shape)


def compiled(fn):
    """``numba.njit`` with the machine code cached on disk (next to the module, else in the
    user's cache folder), so a process loads it instead of compiling (~1 s). Where no cache
    folder can be written (a read-only install), compile in each process instead of failing
    at import."""
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(fn)


def _doc_ptr(batch: TokenBatch) -> np.ndarray:
    """Where each document's tokens start in the batch's flat token array (and the end)."""
    ptr = np.zeros(len(batch) + 1, dtype=np.int64)
    np.cumsum(batch.lengths, out=ptr[1:])
    return ptr


@compiled
def _lemma_gram_counts(doc_ptr, tok_lem, uni, bi_first, bi_second, bi_keys, bi_cols, n_lemmas,
                       unigrams, bigrams):
    """CSR arrays (indptr, columns sorted per row, counts) of the vocabulary's lemma unigrams
    and bigrams in each document. ``tok_lem``: lemma id per token (-1: not seen in training,
    so in no n-gram); ``uni``: column per lemma id (-1: none); bigram keys ``first * n_lemmas
    + second``, sorted, with their columns; ``bi_first``/``bi_second`` say which lemmas can
    start/end one (most lookups are skipped)."""
    n_docs = len(doc_ptr) - 1
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    cols = np.empty(2 * len(tok_lem), dtype=np.int64)
    counts = np.empty(2 * len(tok_lem))
    found = np.empty(2 * len(tok_lem) + 1, dtype=np.int64)
    n_out = 0
    for d in range(n_docs):
        m = 0
        end = doc_ptr[d + 1]
        for p in range(doc_ptr[d], end):
            first = tok_lem[p]
            if first < 0:
                continue
            if unigrams and uni[first] >= 0:
                found[m] = uni[first]
                m += 1
            if bigrams and p + 1 < end and tok_lem[p + 1] >= 0 and bi_first[first] \
                    and bi_second[tok_lem[p + 1]]:
                key = first * n_lemmas + tok_lem[p + 1]
                at = np.searchsorted(bi_keys, key)
                if at < len(bi_keys) and bi_keys[at] == key:
                    found[m] = bi_cols[at]
                    m += 1
        row = np.sort(found[:m])
        for i in range(m):
            if i > 0 and row[i] == row[i - 1]:
                counts[n_out - 1] += 1.0
            else:
                cols[n_out] = row[i]
                counts[n_out] = 1.0
                n_out += 1
        indptr[d + 1] = n_out
    return indptr, cols[:n_out], counts[:n_out]


@compiled
def _char_tfidf_dot(doc_ptr, tok_types, type_ptr, type_cols, type_counts, idf, weights):
    """Per document: its character n-gram counts turned into :func:`_tfidf` values (1 + log tf
    for tf > 1, times idf, L2-normalised) and multiplied by ``weights`` (features x outputs).

    Most n-grams occur once in a segment, where the value is linear in the counts: each word
    type's ``sum(count * idf * weights[col])`` is computed once per batch and added per
    token; only the n-grams repeated within the segment get a correction for the logarithm.
    ``counts`` is all zeros between documents."""
    n_docs, n_out = len(doc_ptr) - 1, weights.shape[1]
    n_types = len(type_ptr) - 1
    per_type = np.zeros((n_types, n_out))
    for t in range(n_types):
        for q in range(type_ptr[t], type_ptr[t + 1]):
            g = type_cols[q]
            v = type_counts[q] * idf[g]
            for j in range(n_out):
                per_type[t, j] += v * weights[g, j]
    out = np.zeros((n_docs, n_out))
    counts = np.zeros(len(idf), dtype=np.int32)  # small: stays in cache
    touched = np.empty(len(idf), dtype=np.int64)
    for d in range(n_docs):
        n_touched = 0
        for p in range(doc_ptr[d], doc_ptr[d + 1]):
            t = tok_types[p]
            for j in range(n_out):
                out[d, j] += per_type[t, j]
            for q in range(type_ptr[t], type_ptr[t + 1]):
                g = type_cols[q]
                if counts[g] == 0:
                    touched[n_touched] = g
                    n_touched += 1
                counts[g] += np.int32(type_counts[q])
        norm = 0.0
        for i in range(n_touched):
            g = touched[i]
            c = float(counts[g])
            counts[g] = 0
            v = c * idf[g]
            if c > 1.0:
                tf = 1.0 + np.log(c)
                for j in range(n_out):
                    out[d, j] += (tf - c) * idf[g] * weights[g, j]
                v = tf * idf[g]
            norm += v * v
        if norm > 0.0:
            scale = 1.0 / np.sqrt(norm)
            for j in range(n_out):
                out[d, j] *= scale
    return out


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
            keys = np.array(bi_keys, dtype=np.int64)
            order = np.argsort(keys)
            firsts, seconds = np.zeros(nl, dtype=bool), np.zeros(nl, dtype=bool)
            firsts[keys // max(nl, 1)] = True
            seconds[keys % max(nl, 1)] = True
            idx = {
                "bi_first": firsts,     # lemma starts some bigram of the vocabulary
                "bi_second": seconds,   # lemma ends some bigram of the vocabulary
                "lemma_id": lemma_id,
                "uni": uni,
                "bi_keys": keys[order],
                "bi_cols": np.array(bi_cols, dtype=np.int64)[order],
                "char_id": {f: i for i, f in enumerate(self.char_vocab_.tolist())},
                "char_cache": {},
                "word_names": self.word_vocab_.astype(object),
            }
            self._index = idx
        return idx

    def word_names(self) -> np.ndarray:
        """The lemma n-gram vocabulary as Python strings (an object array, made once)."""
        return self._lookup()["word_names"]

    def _char_row(self, word: str, idx: dict) -> tuple[np.ndarray, np.ndarray]:
        """Character n-gram columns and counts of one word form (cached)."""
        cache = idx["char_cache"]
        row = cache.get(word)
        if row is None:
            counts: dict[int, int] = {}
            if self.char_ngrams:
                char_id = idx["char_id"]
                for g in _char_ngrams(word, *self.char_ngrams):
                    j = char_id.get(g)
                    if j is not None:
                        counts[j] = counts.get(j, 0) + 1
            row = cache[word] = (np.fromiter(counts.keys(), dtype=np.int64, count=len(counts)),
                                 np.fromiter(counts.values(), dtype=np.float64,
                                             count=len(counts)))
        return row

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
        indptr, cols, counts = self._char_table(batch)
        # one entry per token, in document order: a CSR matrix without canonicalising it
        # (repeated types in a row are summed by the product)
        d = sp.csr_matrix((np.ones(len(batch.types)), batch.types, _doc_ptr(batch)),
                          shape=(len(batch), len(batch.words)))
        w = sp.csr_matrix((counts, cols, indptr), shape=(len(batch.words), len(self.char_vocab_)))
        return self.word_block(batch), _tfidf(d @ w, self.char_idf_)

    def word_block(self, batch: TokenBatch) -> sp.csr_matrix:
        """The TF-IDF lemma n-gram block: the lemma id of each word type looked up once, then
        the unigram and bigram columns of every document counted in one compiled loop."""
        idx = self._lookup()
        lemma_id = idx["lemma_id"]
        type_lem = np.fromiter((lemma_id.get(lem, -1) for lem in batch.lemmas), dtype=np.int64,
                               count=len(batch.lemmas))
        tok_lem = type_lem[batch.types] if len(batch.types) else np.zeros(0, dtype=np.int64)
        lo, hi = self.word_ngrams
        indptr, cols, counts = _lemma_gram_counts(
            _doc_ptr(batch), tok_lem, idx["uni"], idx["bi_first"], idx["bi_second"],
            idx["bi_keys"], idx["bi_cols"], len(self.lemma_vocab_), lo <= 1 <= hi, lo <= 2 <= hi)
        word_counts = sp.csr_matrix((counts, cols, indptr),
                                    shape=(len(batch), len(self.word_vocab_)))
        return _tfidf(word_counts, self.word_idf_)

    def char_scores(self, batch: TokenBatch, weights: np.ndarray) -> np.ndarray:
        """``char block @ weights`` (weights: character features x outputs, C-contiguous)
        without building the block: the same sublinear-tf x idf, L2-normalised values, summed
        into the outputs document by document in one compiled loop. The block has ~550
        entries per segment; the sparse product, the tf-idf passes over them and the matrix
        product cost about half of what coding adds to tokenising (issue 8)."""
        indptr, cols, counts = self._char_table(batch)
        return _char_tfidf_dot(_doc_ptr(batch), np.asarray(batch.types, dtype=np.int64), indptr,
                               cols, counts, self.char_idf_, weights)

    def _char_table(self, batch: TokenBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Character n-gram columns and counts of each word type of the batch, as CSR arrays
        (indptr, columns, counts)."""
        idx = self._lookup()
        char_rows = [self._char_row(w, idx) for w in batch.words]
        indptr = np.zeros(len(char_rows) + 1, dtype=np.int64)
        np.cumsum([len(cr[0]) for cr in char_rows], out=indptr[1:])
        if not char_rows:
            return indptr, np.zeros(0, dtype=np.int64), np.zeros(0)
        return (indptr, np.concatenate([cr[0] for cr in char_rows]),
                np.concatenate([cr[1] for cr in char_rows]))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "word_vocab_")
        return np.concatenate([self.word_vocab_, np.char.add("char:", self.char_vocab_)])
