"""The Dutch language pipeline shared by segmentation and both coders.

Nothing here is downloaded: ``spacy.blank("nl")`` gives the rule-based tokenizer, the
``sentencizer`` splits long turns, and lemmas come from the Dutch lookup table shipped in
``spacy-lookups-data``. Lemmatisation is one dictionary lookup per *distinct* word form
(cached), so the rule coder and the model coder see exactly the same lemmas, and the model's
hot path does not pay for a spaCy component per token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import chain

import numpy as np
import pandas as pd
import spacy
from spacy.attrs import IDX, ORTH
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.io import MAX_TEXT_CHARS

__all__ = ["Lemmatiser", "TokenBatch", "context_batch", "lemmatiser", "make_nlp", "token_batch",
           "tokens_and_lemmas", "says_nothing"]

PSEUDONYM = re.compile(r"(persoon|school)(?:-[0-9a-f]+)?")


class Lemmatiser:
    """Word form -> lemma from spaCy's Dutch lookup table (lower-cased; unknown forms map to
    themselves). ``lemma("zittenblijvers") == "zittenblijver"``."""

    def __init__(self) -> None:
        import spacy_lookups_data
        from spacy.util import load_language_data

        # the package's table read directly as a dict: spacy.lookups.load_lookups gives the
        # same lemmas but takes ~1.8 s (entry points of every language, a hash per key)
        # against ~0.15 s, paid by every process that codes
        self._table: dict = load_language_data(spacy_lookups_data.nl["lemma_lookup"])
        self._cache: dict[str, str] = {}

    @cached_property
    def forms(self) -> dict[str, list[str]]:
        """Lemma -> the word forms the table gives it (``"opleveren"``: ``"opgeleverd"``, ...)."""
        found: dict[str, list[str]] = {}
        for form, lemma in self._table.items():
            found.setdefault((lemma[0] if isinstance(lemma, list) else lemma).lower(),
                             []).append(form)
        return found

    def knows(self, form: str) -> bool:
        """Whether the table has the word form ``form`` (lower-case)."""
        return form in self._table

    @cached_property
    def lemmas(self) -> frozenset[str]:
        """Every lemma the table gives (lower-case). The table lists inflected forms, mostly
        not the lemma itself: ``"bakkers" -> "bakker"``, but no ``"bakker"``."""
        return frozenset((lemma[0] if isinstance(lemma, list) else lemma).lower()
                         for lemma in self._table.values())

    @cached_property
    def _rule_tables(self) -> tuple[dict, dict]:
        """spaCy's Dutch rule-lemmatiser data: lemmas by part of speech (``lemma_index``) and
        irregular or inflected forms by part of speech (``lemma_exc``)."""
        import spacy_lookups_data
        from spacy.util import load_language_data

        return (load_language_data(spacy_lookups_data.nl["lemma_index"]),
                load_language_data(spacy_lookups_data.nl["lemma_exc"]))

    @cached_property
    def lexicon(self) -> frozenset[str]:
        """Every word of the rule lemmatiser's data (lower-case): many the lookup table lacks
        ("post", "houten"), but gathered from lower-cased text, so given names too ("kees")."""
        return frozenset(word for table in self._rule_tables for words in table.values()
                         for word in words)

    @cached_property
    def inflected_adjectives(self) -> frozenset[str]:
        """The rule lemmatiser's inflected adjectives ("grote", "lieve"): the lookup table lacks
        most of them."""
        return frozenset(self._rule_tables[1].get("adj", ()))

    def is_word(self, form: str) -> bool:
        """Whether ``form`` (lower-case) is a Dutch word: a word form or a lemma of the table."""
        return form in self._table or form in self.lemmas

    def lemma(self, form: str) -> str:
        hit = self._cache.get(form)
        if hit is None:
            low = form.lower()
            pseudonym = PSEUDONYM.fullmatch(low)
            if pseudonym:  # every pseudonym is one feature: models learn roles, not people
                self._cache[form] = pseudonym.group(1)
                return pseudonym.group(1)
            found = self._table.get(form) or self._table.get(low)
            hit = (found[0] if isinstance(found, list) else found or low).lower()
            self._cache[form] = hit
        return hit


@lru_cache(maxsize=1)
def lemmatiser() -> Lemmatiser:
    return Lemmatiser()


@Language.component("lookup_lemmas", assigns=["token.lemma"])
def lookup_lemmas(doc: Doc) -> Doc:
    """Set ``token.lemma_`` from :class:`Lemmatiser` (the same lemmas the model uses)."""
    lem = lemmatiser()
    for token in doc:
        token.lemma_ = lem.lemma(token.text)
    return doc


# spaCy's tokenizer caches the split of each whitespace-separated piece it has seen, but
# stops adding at 10,000 pieces by default: past that, every other piece is split again each
# time it recurs. 100,000 real segments hold well over 10,000 distinct pieces (a word with
# its punctuation); a long-tailed corpus tokenises ~6x faster once seen with room for a
# million (~0.2 KB each, only for pieces that occur). The split is the same either way.
# token_batch keeps its own splits of pieces (as string hashes) within the same limit.
TOKENIZER_CACHE = 1_000_000
# a closing bracket within a piece ("[persoon-4796]s formulier", "[persoon-12ab]'s") is split
# off, as spaCy did only between letters ("-df7a]s"): a pseudonym's random letters decided
# whether it was one feature
PSEUDONYM_END = r"(?<=\w)\]"


def split_pseudonym_ends(nlp: Language) -> Language:
    """``nlp``'s tokenizer with :data:`PSEUDONYM_END` among its infixes (saved with it), so
    that every coder, the spaCy backend included, sees a pseudonym as the same tokens."""
    nlp.tokenizer.infix_finditer = spacy.util.compile_infix_regex(
        [*nlp.Defaults.infixes, PSEUDONYM_END]).finditer
    return nlp


@lru_cache(maxsize=2)
def make_nlp(with_lemmas: bool = True) -> Language:
    """``spacy.blank("nl")`` + sentencizer (+ lookup lemmas). Cached: build it once."""
    nlp = split_pseudonym_ends(spacy.blank("nl"))
    nlp.max_length = MAX_TEXT_CHARS   # spaCy's 1,000,000 guards a parser we do not have
    nlp.tokenizer.max_cache_size = TOKENIZER_CACHE
    nlp.add_pipe("sentencizer")
    if with_lemmas:
        nlp.add_pipe("lookup_lemmas")
    return nlp


@dataclass(frozen=True)
class TokenBatch:
    """Texts as word tokens, flat: what the coders' features are computed from.

    Token ``i`` of the batch is word type ``types[i]``; text ``k`` holds the next
    ``lengths[k]`` tokens. ``words[t]`` is the lower-cased form of type ``t`` (a pseudonym as
    ``persoon``/``school``), ``lemmas[t]`` its lemma. Types are local to the batch and several
    may share a word (``De`` and ``de``).
    """

    lengths: np.ndarray
    types: np.ndarray
    words: list[str]
    lemmas: list[str]

    def __len__(self) -> int:
        return len(self.lengths)

    def per_text(self) -> tuple[list[list[str]], list[list[str]]]:
        """Words and lemmas as one list per text."""
        words, lemmas = np.array(self.words, dtype=object), np.array(self.lemmas, dtype=object)
        cuts = np.cumsum(self.lengths)[:-1]
        return ([w.tolist() for w in np.split(words[self.types], cuts)] if len(self) else [],
                [w.tolist() for w in np.split(lemmas[self.types], cuts)] if len(self) else [])

    @classmethod
    def from_tokens(cls, tokens: list[list[str]]) -> TokenBatch:
        """A batch from already split tokens (original case; no punctuation)."""
        types, forms = _factorize(chain.from_iterable(tokens))
        lem = lemmatiser()
        return cls(_lengths(tokens), types, [_word(f) for f in forms],
                   [lem.lemma(f) for f in forms])

    @classmethod
    def from_words(cls, words: list[list[str]], lemmas: list[list[str]]) -> TokenBatch:
        """A batch from words and lemmas already made (one list per text, as
        :meth:`per_text` gives them); a type is a distinct (word, lemma) pair."""
        types, pairs = _factorize(f"{w}\x00{lem}" for w, lem in zip(
            chain.from_iterable(words), chain.from_iterable(lemmas), strict=True))
        split = [p.split("\x00") for p in pairs]
        return cls(_lengths(words), types, [w for w, _ in split], [lem for _, lem in split])


def _lengths(lists: list[list[str]]) -> np.ndarray:
    return np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))


def _factorize(values) -> tuple[np.ndarray, list[str]]:
    """Type index per value and the distinct values, in order of first appearance."""
    types, distinct = pd.factorize(pd.Series(list(values), dtype=object))
    return types.astype(np.int64), distinct.tolist()


def token_batch(texts: list[str]) -> TokenBatch:
    """Texts tokenised by spaCy's Dutch tokenizer and lemmatised: the tokenise-only floor of
    coding (``bench/``), and the coders' view of a segment.

    spaCy splits a text at whitespace and tokenises each piece (affixes, infixes, special
    cases), keeping the split of every piece it has seen. This does the same in bulk: the
    pieces of the whole batch are split and told apart at once (``str.split``,
    ``pandas.factorize``), only the distinct ones are looked up (:func:`_piece_tokens`:
    spaCy's tokenizer, once per piece for the life of the process), and the tokens of every
    text are gathered with numpy. No spaCy ``Doc`` is made per text and no string per token;
    punctuation is dropped by its lexeme flag. Per text this costs a third of running the
    tokenizer over each text.

    Each piece is split exactly as spaCy splits it alone. That is spaCy's split of the whole
    text too, but for one case: spaCy also matches special cases across a single space, and
    such a match, although no special case itself, can keep a shorter one inside a piece from
    applying (``° f.De``: spaCy gives ``f`` where the piece alone gives ``f.``). That takes an
    emoticon or an abbreviation written with a space inside it; no turn of the demo's
    transcripts has one (tested).
    """
    tok = make_nlp(False).tokenizer
    n = len(texts)
    pieces = [t.split() for t in texts]
    n_pieces = np.fromiter(map(len, pieces), dtype=np.int64, count=n)
    piece_of, distinct = pd.factorize(pd.Series(list(chain.from_iterable(pieces)),
                                                dtype=object))
    per_piece = _piece_tokens(tok, distinct.tolist())
    # the distinct pieces' tokens, flat, as string hashes; their distinct hashes -> types
    n_tokens = np.fromiter(map(len, per_piece), dtype=np.int64, count=len(per_piece)) // 8
    flat = np.frombuffer(b"".join(per_piece), dtype=np.uint64)
    inverse, hashes = pd.factorize(flat)   # a hash table: faster than sorting (np.unique)
    info = [_form(h, tok.vocab) for h in hashes.tolist()]
    kept_type = np.array([bool(x) for x in info], dtype=bool)
    renumber = np.cumsum(kept_type) - 1
    kept_tok = kept_type[inverse]
    piece_types = renumber[inverse[kept_tok]]
    piece_n = np.bincount(np.repeat(np.arange(len(per_piece)), n_tokens)[kept_tok],
                          minlength=len(per_piece))
    piece_start = np.zeros(len(per_piece) + 1, dtype=np.int64)
    np.cumsum(piece_n, out=piece_start[1:])
    # every occurrence of a piece -> its kept types, in text order
    occ_n = piece_n[piece_of]
    occ_end = np.zeros(len(occ_n) + 1, dtype=np.int64)
    np.cumsum(occ_n, out=occ_end[1:])
    types = piece_types[np.repeat(piece_start[piece_of] - occ_end[:-1], occ_n)
                        + np.arange(occ_end[-1])]
    text_end = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_pieces, out=text_end[1:])
    kept = [x for x in info if x]
    return TokenBatch(occ_end[text_end[1:]] - occ_end[text_end[:-1]], types.astype(np.int64),
                      [x[0] for x in kept], [x[1] for x in kept])


_PIECES: dict[str, bytes] = {}  # a whitespace-free piece -> its tokens' string hashes (uint64)
_PIECES_OF: list = [None]       # the tokenizer that split them


def _piece_tokens(tok, pieces: list[str]) -> list[bytes]:
    """Per piece (no whitespace in it) the string hashes of the tokens spaCy splits it into,
    as the bytes of a uint64 array.

    Pieces not seen before are split in one call of the tokenizer, joined by line breaks: a
    line break is a token of its own, so no special case can span two pieces, and each piece
    is split as it would be alone. Splits are kept for up to :data:`TOKENIZER_CACHE` pieces,
    as spaCy keeps its own, and forgotten when another tokenizer asks."""
    if _PIECES_OF[0] is not tok:
        _PIECES.clear()
        _PIECES_OF[0] = tok
    found = [_PIECES.get(p) for p in pieces]
    new = [i for i, f in enumerate(found) if f is None]
    if new:
        tokens = tok("\n".join(pieces[i] for i in new)).to_array([ORTH, IDX])
        tokens = tokens[tokens[:, 0] != tok.vocab.strings["\n"]]
        starts = np.cumsum([0] + [len(pieces[i]) + 1 for i in new[:-1]])
        piece_of = np.searchsorted(starts, tokens[:, 1].astype(np.int64), side="right") - 1
        ends = np.searchsorted(piece_of, np.arange(1, len(new) + 1)).tolist()
        data = tokens[:, 0].tobytes()
        room = TOKENIZER_CACHE - len(_PIECES)
        for k, (i, a, b) in enumerate(zip(new, [0, *ends[:-1]], ends, strict=True)):
            found[i] = data[8 * a:8 * b]
            if k < room:
                _PIECES[pieces[i]] = found[i]
    return found


_FORMS: dict[int, tuple] = {}  # string hash of a form -> (word, lemma); () for punctuation


def _form(h: int, vocab) -> tuple:
    found = _FORMS.get(h)
    if found is None:
        lex = vocab[h]
        found = _FORMS[h] = (() if lex.is_punct or lex.is_space
                             else (_word(lex.orth_), lemmatiser().lemma(lex.orth_)))
    return found


CONTEXT_WORD = re.compile(r"\w+(?:['’-]\w+)*")  # pseudonyms (persoon-ab12) stay whole


def context_batch(texts: list[str]) -> TokenBatch:
    """The interviewer's question before a segment as words: split by a regular expression,
    not by spaCy. Context is a down-weighted bag of lemmas, so the tokenizer's finer points do
    not matter there, and this keeps coding near the tokenise-only floor."""
    return TokenBatch.from_tokens([CONTEXT_WORD.findall(t) for t in texts])


def tokens_and_lemmas(texts: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """Lower-cased word tokens and their lemmas, per text (:func:`token_batch` as lists)."""
    return token_batch(texts).per_text()


def says_nothing(gram: str) -> bool:
    """Whether a lemma n-gram is only function words (spaCy's Dutch stop words: "hebben",
    "de", "ja de") or a person's pseudonym: a model may weigh them, but as the evidence of a
    code they tell a researcher nothing."""
    from spacy.lang.nl.stop_words import STOP_WORDS

    return all(w in STOP_WORDS or w == "persoon" for w in gram.split())


def _word(form: str) -> str:
    low = form.lower()
    pseudonym = PSEUDONYM.fullmatch(low)
    return pseudonym.group(1) if pseudonym else low
