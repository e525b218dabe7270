"""The explainable rule coder: codebook patterns matched on lemmas with spaCy's PhraseMatcher.

Each code's ``patterns`` in ``configs/codebook.yaml`` are lemmatised with the same pipeline as
the segments, so "zittenblijvers" in a transcript matches the pattern "zittenblijven"'s lemma.
A segment gets a code when at least one of its patterns matches; the score grows with the
number of distinct matches (1 - 0.5**n), and the matched words are the evidence. It needs no
labels: the cold-start coder for a new codebook and the baseline the model must beat.
"""

from __future__ import annotations

import pandas as pd
from spacy.language import Language
from spacy.matcher import PhraseMatcher

from pipeline.config import Codebook

__all__ = ["RuleCoder"]


class RuleCoder:
    """Codes and activity sub-types from codebook patterns, with matched spans as evidence."""

    threshold = 0.5

    def __init__(self, codebook: Codebook, nlp: Language):
        self.codebook = codebook
        self.nlp = nlp
        self.labels = codebook.code_ids + codebook.subtype_ids
        self.matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")
        for code in codebook.codes:
            self._add(code.id, code.patterns)
            for sub in code.subtypes:
                self._add(f"{code.id}.{sub.id}", sub.patterns)

    def _add(self, key: str, patterns: list[str]) -> None:
        if patterns:
            self.matcher.add(key, list(self.nlp.pipe(patterns)))

    def score(self, texts: list[str], batch_size: int = 500) -> tuple[pd.DataFrame, list[dict]]:
        """Per text a score per label (columns: :attr:`labels`) and the matched evidence
        ``{label: [matched text, ...]}``."""
        strings = self.nlp.vocab.strings
        rows, evidence = [], []
        for doc in self.nlp.pipe(texts, batch_size=batch_size):
            found: dict[str, list[str]] = {}
            for match_id, start, end in self.matcher(doc):
                words = found.setdefault(strings[match_id], [])
                span = doc[start:end].text.lower()
                if span not in words:
                    words.append(span)
            rows.append({k: 1 - 0.5 ** len(v) for k, v in found.items()})
            evidence.append(found)
        scores = pd.DataFrame(rows, columns=self.labels).fillna(0.0).astype("float64")
        return scores, evidence
