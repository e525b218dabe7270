"""Scoring segments with the trained linear coder: what coding needs, without scikit-learn.

A fitted :class:`pipeline.coding.model.CodeModel` is, for coding, a handful of arrays: the
n-gram vocabularies with their idf, one weight column per label, intercepts and thresholds.
:class:`Scorer` holds exactly those and computes the probabilities and the evidence words;
:class:`NgramTables` turns a :class:`~pipeline.nlp.TokenBatch` into lemma n-gram TF-IDF
features and character n-gram scores. ``save_model`` writes the arrays beside ``model.skops``
as ``scorer.npz`` (numpy arrays only, read with ``allow_pickle=False``), so that coding loads
them in a fraction of a second without importing scikit-learn and skops (~2 s per process,
paid again by every worker), and the full estimator stays in skops for retraining and
inspection.

The loops over documents are compiled by numba (:func:`compiled`): they run per document over
variable-length data, where numpy or scipy would need several full passes with temporaries.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from functools import cached_property
from io import BytesIO
from pathlib import Path

import numba
import numpy as np
import scipy.sparse as sp

from pipeline.nlp import TokenBatch, says_nothing

__all__ = ["NgramTables", "Scorer", "compiled", "load_scorer", "save_scorer", "read_card",
           "SCORER_FILE", "MODEL_FILE", "CARD_FILE", "char_ngrams", "sigmoid", "tfidf"]

SCORER_FILE = "scorer.npz"
MODEL_FILE = "model.skops"
CARD_FILE = "model_card.json"
NLP_DIR = "nlp"   # a spaCy backend's pipeline (``nlp.to_disk``)
#: what a model folder of either backend is made of: anything else in it is the user's
MODEL_ENTRIES = (CARD_FILE, SCORER_FILE, MODEL_FILE, NLP_DIR)


def compiled(fn):
    """``numba.njit`` with the machine code cached on disk (next to the module, else in the
    user's cache folder), so a process loads it instead of compiling (~1 s). Where no cache
    folder can be written (a read-only install), compile in each process instead of failing
    at import."""
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(fn)


def char_ngrams(word: str, lo: int, hi: int) -> list[str]:
    """The character n-grams (``lo``..``hi``) of a word padded with a space on each side."""
    padded = f" {word} "
    return [padded[i:i + n] for n in range(lo, hi + 1) for i in range(len(padded) - n + 1)]


def tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
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


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


def doc_ptr(batch: TokenBatch) -> np.ndarray:
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
    """Per document: its character n-gram counts turned into :func:`tfidf` values (1 + log tf
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


def top_terms(X: sp.csr_matrix, weights: np.ndarray, rows: np.ndarray, labels: np.ndarray,
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


class NgramTables:
    """A fitted featurizer's vocabularies as lookup tables: lemma unigrams and bigrams (with
    their idf), character n-grams of word forms (with theirs) and every lemma seen in
    training (so that bigrams can be keyed by a pair of lemma ids).

    ``char_range`` None: no character block."""

    def __init__(self, word_vocab: list[str], word_idf: np.ndarray, char_vocab: list[str],
                 char_idf: np.ndarray, lemma_vocab: list[str], word_range: tuple[int, int],
                 char_range: tuple[int, int] | None):
        self.word_vocab, self.char_vocab, self.lemma_vocab = word_vocab, char_vocab, lemma_vocab
        self.word_idf = np.asarray(word_idf, dtype=np.float64)
        self.char_idf = np.asarray(char_idf, dtype=np.float64)
        self.word_range = tuple(int(x) for x in word_range)
        self.char_range = tuple(int(x) for x in char_range) if char_range else None
        self.lemma_id = {f: i for i, f in enumerate(lemma_vocab)}
        self.char_id = {f: i for i, f in enumerate(char_vocab)}
        self.word_names = np.array(word_vocab, dtype=object)
        self._char_rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._word_kinds: dict[str, int] = {}
        nl = len(lemma_vocab)
        self.unigram = np.full(nl, -1, dtype=np.int64)   # column of each lemma's unigram
        bi_keys, bi_cols = [], []
        for col, gram in enumerate(word_vocab):
            parts = gram.split(" ")
            if len(parts) == 1 and gram in self.lemma_id:
                self.unigram[self.lemma_id[gram]] = col
            elif len(parts) == 2 and parts[0] in self.lemma_id and parts[1] in self.lemma_id:
                bi_keys.append(self.lemma_id[parts[0]] * nl + self.lemma_id[parts[1]])
                bi_cols.append(col)
        keys = np.array(bi_keys, dtype=np.int64)
        order = np.argsort(keys)
        self.bigram_keys = keys[order]
        self.bigram_cols = np.array(bi_cols, dtype=np.int64)[order]
        self.starts_bigram, self.ends_bigram = np.zeros(nl, dtype=bool), np.zeros(nl, dtype=bool)
        self.starts_bigram[keys // max(nl, 1)] = True
        self.ends_bigram[keys % max(nl, 1)] = True

    def word_block(self, batch: TokenBatch) -> sp.csr_matrix:
        """The TF-IDF lemma n-gram block: the lemma id of each word type looked up once, then
        the unigram and bigram columns of every document counted in one compiled loop."""
        type_lem = np.fromiter((self.lemma_id.get(lem, -1) for lem in batch.lemmas),
                               dtype=np.int64, count=len(batch.lemmas))
        tok_lem = type_lem[batch.types] if len(batch.types) else np.zeros(0, dtype=np.int64)
        lo, hi = self.word_range
        indptr, cols, counts = _lemma_gram_counts(
            doc_ptr(batch), tok_lem, self.unigram, self.starts_bigram, self.ends_bigram,
            self.bigram_keys, self.bigram_cols, len(self.lemma_vocab), lo <= 1 <= hi,
            lo <= 2 <= hi)
        counts = sp.csr_matrix((counts, cols, indptr), shape=(len(batch), len(self.word_vocab)))
        return tfidf(counts, self.word_idf)

    def known_words(self, batch: TokenBatch) -> tuple[np.ndarray, np.ndarray]:
        """Per text: how many content words it has (function words and a person's pseudonym
        left out, as in the evidence; a school's pseudonym is the word "school") and how many
        of those the model has a weight for (its lemma is a unigram of the vocabulary: in at
        least ``min_df`` training segments). A cohort that speaks of other things than the
        training data has fewer such words, and its codes rest on less than the model's
        evaluation measured. Counted in the coding pass: each lemma is judged once per
        process (:meth:`_word_kind`), the tokens in two cumulative sums."""
        kind = np.fromiter(map(self._word_kind, batch.lemmas), dtype=np.int8,
                           count=len(batch.lemmas))[batch.types]
        ptr = doc_ptr(batch)
        return tuple(np.diff(np.concatenate(([0], np.cumsum(kind >= least, dtype=np.int64)))[ptr])
                     for least in (1, 2))

    def _word_kind(self, lemma: str) -> int:
        """0: a function word or a person's pseudonym, 1: a content word the model has no
        weight for, 2: one it has (cached)."""
        kind = self._word_kinds.get(lemma)
        if kind is None:
            col = self.lemma_id.get(lemma)
            kind = self._word_kinds[lemma] = (0 if says_nothing(lemma) else
                                              2 if col is not None and self.unigram[col] >= 0
                                              else 1)
        return kind

    def char_block(self, batch: TokenBatch) -> sp.csr_matrix:
        """The TF-IDF character n-gram block (for fitting; scoring uses :meth:`char_scores`)."""
        indptr, cols, counts = self._char_table(batch)
        # one entry per token, in document order: a CSR matrix without canonicalising it
        # (repeated types in a row are summed by the product)
        d = sp.csr_matrix((np.ones(len(batch.types)), batch.types, doc_ptr(batch)),
                          shape=(len(batch), len(batch.words)))
        w = sp.csr_matrix((counts, cols, indptr), shape=(len(batch.words), len(self.char_vocab)))
        return tfidf(d @ w, self.char_idf)

    def char_scores(self, batch: TokenBatch, weights: np.ndarray) -> np.ndarray:
        """``char block @ weights`` (weights: character features x outputs, C-contiguous)
        without building the block: the same sublinear-tf x idf, L2-normalised values, summed
        into the outputs document by document in one compiled loop. The block has ~550
        entries per segment; the sparse product, the tf-idf passes over them and the matrix
        product cost about half of what coding adds to tokenising (issue 8)."""
        indptr, cols, counts = self._char_table(batch)
        return _char_tfidf_dot(doc_ptr(batch), np.asarray(batch.types, dtype=np.int64), indptr,
                               cols, counts, self.char_idf, weights)

    def _char_table(self, batch: TokenBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Character n-gram columns and counts of each word type of the batch, as CSR arrays
        (indptr, columns, counts)."""
        rows = [self._char_row(w) for w in batch.words]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r[0]) for r in rows], out=indptr[1:])
        if not rows:
            return indptr, np.zeros(0, dtype=np.int64), np.zeros(0)
        return (indptr, np.concatenate([r[0] for r in rows]),
                np.concatenate([r[1] for r in rows]))

    def _char_row(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        """Character n-gram columns and counts of one word form (cached)."""
        row = self._char_rows.get(word)
        if row is None:
            counts: dict[int, int] = {}
            if self.char_range:
                for g in char_ngrams(word, *self.char_range):
                    j = self.char_id.get(g)
                    if j is not None:
                        counts[j] = counts.get(j, 0) + 1
            row = self._char_rows[word] = (
                np.fromiter(counts.keys(), dtype=np.int64, count=len(counts)),
                np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
        return row

    # ------------------------------------------------------------------ arrays
    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.word_vocab": _text_array(self.word_vocab),
                f"{prefix}.char_vocab": _text_array(self.char_vocab),
                f"{prefix}.lemma_vocab": _text_array(self.lemma_vocab),
                f"{prefix}.word_idf": self.word_idf, f"{prefix}.char_idf": self.char_idf,
                f"{prefix}.word_range": np.array(self.word_range, dtype=np.int64),
                f"{prefix}.char_range": np.array(self.char_range or (), dtype=np.int64)}

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> NgramTables:
        char_range = arrays[f"{prefix}.char_range"].tolist()
        return cls(_texts(arrays[f"{prefix}.word_vocab"]), arrays[f"{prefix}.word_idf"],
                   _texts(arrays[f"{prefix}.char_vocab"]), arrays[f"{prefix}.char_idf"],
                   _texts(arrays[f"{prefix}.lemma_vocab"]),
                   tuple(arrays[f"{prefix}.word_range"].tolist()),
                   tuple(char_range) if char_range else None)


def _text_array(strings: list[str]) -> np.ndarray:
    """Strings as one UTF-8 byte array, one per line: compact, and no pickle to read."""
    if any("\n" in s for s in strings):
        raise ValueError("a vocabulary entry contains a line break")
    return np.frombuffer("\n".join(strings).encode("utf-8"), dtype=np.uint8)


def _texts(array: np.ndarray) -> list[str]:
    return array.tobytes().decode("utf-8").split("\n") if array.size else []


@dataclass
class Scorer:
    """The coder's arrays: per label a weight column over the segment's lemma n-grams, its
    character n-grams and the lemmas of the interviewer's question before it (``context``),
    an intercept and the tuned threshold. Weights are C-contiguous (features x labels): the
    products and kernels read them row by row."""

    labels: list[str]
    thresholds: np.ndarray
    intercept: np.ndarray
    segment: NgramTables
    context: NgramTables
    word_weights: np.ndarray
    char_weights: np.ndarray
    context_weights: np.ndarray

    def scores(self, batch: TokenBatch, context: TokenBatch | None = None,
               context_of: np.ndarray | None = None) -> tuple[np.ndarray, sp.csr_matrix]:
        """Decision values (segments x labels) and the segments' lemma n-gram block."""
        Xw = self.segment.word_block(batch)
        z = Xw @ self.word_weights + self.intercept
        z += self.segment.char_scores(batch, self.char_weights)
        if context is not None and self.context_weights.shape[0]:
            zx = self.context.word_block(context) @ self.context_weights
            z = z + (zx if context_of is None else zx[context_of])
        return np.asarray(z), Xw

    def predict_proba(self, batch: TokenBatch, context: TokenBatch | None = None) -> np.ndarray:
        return sigmoid(self.scores(batch, context)[0])

    def predict_with_evidence(self, batch: TokenBatch, n_terms: int,
                              context: TokenBatch | None = None,
                              evidence_labels: list[str] | None = None,
                              context_of: np.ndarray | None = None
                              ) -> tuple[np.ndarray, list[dict[str, list[str]]]]:
        """Probabilities and, per segment, the lemma n-grams of the segment itself that pushed
        each assigned label (of ``evidence_labels``; default all) up the most, function words
        and pseudonyms left out (the ``evidence``: :attr:`evidence_weights`). ``context_of``:
        the row of ``context`` for each segment, when the contexts are given once per distinct
        text (segments of one long answer share it)."""
        z, Xw = self.scores(batch, context, context_of)
        proba = sigmoid(z)
        evidence: list[dict[str, list[str]]] = [{} for _ in range(len(batch))]
        if n_terms:
            wanted = np.isin(self.labels, self.labels if evidence_labels is None
                             else evidence_labels)
            rows, codes = np.nonzero((proba >= self.thresholds) & wanted)
            for i, j, terms in top_terms(Xw, self.evidence_weights, rows, codes, n_terms,
                                         self.segment.word_names):
                evidence[i][self.labels[j]] = terms
        return proba, evidence

    @cached_property
    def evidence_weights(self) -> np.ndarray:
        """The lemma n-gram weights the evidence is chosen by: those of n-grams that say
        nothing (function words, pseudonyms: :func:`pipeline.nlp.says_nothing`) as 0, so
        that the evidence names the words that carry a code."""
        shown = np.array([not says_nothing(gram) for gram in self.segment.word_vocab], bool)
        return np.ascontiguousarray(self.word_weights * shown[:, None])

    # ------------------------------------------------------------------ arrays
    def arrays(self) -> dict[str, np.ndarray]:
        return {"labels": _text_array(self.labels), "thresholds": self.thresholds,
                "intercept": self.intercept, "word_weights": self.word_weights,
                "char_weights": self.char_weights, "context_weights": self.context_weights,
                **self.segment.arrays("segment"), **self.context.arrays("context")}

    @classmethod
    def from_arrays(cls, arrays) -> Scorer:
        return cls(_texts(arrays["labels"]), arrays["thresholds"], arrays["intercept"],
                   NgramTables.from_arrays(arrays, "segment"),
                   NgramTables.from_arrays(arrays, "context"),
                   *(np.ascontiguousarray(arrays[k], dtype=np.float64)
                     for k in ("word_weights", "char_weights", "context_weights")))


def save_scorer(scorer: Scorer, path: Path) -> str:
    """Write the scorer's arrays to ``path`` (an ``.npz``); returns the file's sha256, which
    the model card records so that :func:`load_scorer` never pairs it with another model."""
    from pipeline.io import atomic_write

    buffer = BytesIO()
    np.savez(buffer, **scorer.arrays())
    data = buffer.getvalue()
    atomic_write(Path(path), data)
    return hashlib.sha256(data).hexdigest()


def load_scorer(folder: Path, card: dict) -> Scorer | None:
    """The scorer in ``folder``, or None where the folder has none that its card vouches for
    (saved before scorer.npz existed: code from model.skops instead). Refused when
    ``model.skops`` or ``scorer.npz`` is not the file the card's sha256 names: one of them
    was replaced, and the two would code differently."""
    from pipeline.io import InputError, file_sha256

    folder = Path(folder)
    files = card.get("files", {})
    if not isinstance(files, dict):
        raise InputError(folder / CARD_FILE, "expected an object of file: sha256",
                         field="files")
    if not (folder / SCORER_FILE).is_file() or SCORER_FILE not in files:
        return None
    for name in (MODEL_FILE, SCORER_FILE):
        path = folder / name
        if name in files and path.is_file() and file_sha256(path) != files[name]:
            raise InputError(path, "does not match the sha256 in model_card.json (a file "
                             "from another training run?); retrain it (`pipeline train COHORT`)")
    try:
        with np.load(folder / SCORER_FILE, allow_pickle=False) as arrays:
            return Scorer.from_arrays(arrays)
    except (ValueError, KeyError, OSError, zipfile.BadZipFile) as e:   # .npz is a ZIP
        raise InputError(folder / SCORER_FILE, f"not a readable scorer file "
                         f"({type(e).__name__}: {e})") from None


def read_card(folder: Path) -> dict:
    """The model card of a model folder (``{}`` when there is none), for either backend."""
    from pipeline.io import InputError

    path = Path(folder) / CARD_FILE
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(path, f"not a readable model card ({type(e).__name__})") from None
    if not isinstance(card, dict):
        raise InputError(path, "model card must be a JSON object")
    return card
