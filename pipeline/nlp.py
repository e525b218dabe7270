"""The Dutch language pipeline shared by segmentation and both coders.

Nothing here is downloaded: ``spacy.blank("nl")`` gives the rule-based tokenizer, the
``sentencizer`` splits long turns, and lemmas come from the Dutch lookup table shipped in
``spacy-lookups-data``. Lemmatisation is one dictionary lookup per *distinct* word form
(cached), so the rule coder and the model coder see exactly the same lemmas, and the model's
hot path does not pay for a spaCy component per token.
"""

from __future__ import annotations

import re
from functools import lru_cache

import spacy
from spacy.language import Language
from spacy.tokens import Doc

__all__ = ["Lemmatiser", "lemmatiser", "make_nlp", "tokenize", "tokens_and_lemmas"]

PSEUDONYM = re.compile(r"(persoon|school)(?:-[0-9a-f]+)?")


class Lemmatiser:
    """Word form -> lemma from spaCy's Dutch lookup table (lower-cased; unknown forms map to
    themselves). ``lemma("zittenblijvers") == "zittenblijver"``."""

    def __init__(self) -> None:
        from spacy.lookups import load_lookups

        table = load_lookups("nl", ["lemma_lookup"]).get_table("lemma_lookup")
        self._table = table
        self._cache: dict[str, str] = {}

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


@lru_cache(maxsize=2)
def make_nlp(with_lemmas: bool = True) -> Language:
    """``spacy.blank("nl")`` + sentencizer (+ lookup lemmas). Cached: build it once."""
    nlp = spacy.blank("nl")
    nlp.add_pipe("sentencizer")
    if with_lemmas:
        nlp.add_pipe("lookup_lemmas")
    return nlp


def tokenize(texts: list[str], batch_size: int = 1000) -> list[list[str]]:
    """Word tokens (spaCy's Dutch tokenizer, punctuation and spaces removed) per text."""
    tok = make_nlp(False).tokenizer
    return [[t.text for t in doc if not (t.is_punct or t.is_space)]
            for doc in tok.pipe(texts, batch_size=batch_size)]


def _word(form: str) -> str:
    low = form.lower()
    pseudonym = PSEUDONYM.fullmatch(low)
    return pseudonym.group(1) if pseudonym else low


def tokens_and_lemmas(texts: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """Lower-cased word tokens and their lemmas, per text."""
    lem = lemmatiser()
    words = tokenize(texts)
    lowered = [[_word(w) for w in ws] for ws in words]
    lemmas = [[lem.lemma(w) for w in ws] for ws in words]
    return lowered, lemmas
