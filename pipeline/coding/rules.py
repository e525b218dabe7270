"""The explainable rule coder: codebook patterns matched on lemmas with spaCy's matchers.

Each code's ``patterns`` in ``configs/codebook.yaml`` are lemmatised with the same pipeline as
the segments, so "zittenblijvers" in a transcript matches the pattern "zittenblijven"'s lemma.
A segment gets a code when at least one of its patterns matches; the score grows with the
number of distinct matches (1 - 0.5**n), and the matched words are the evidence. It needs no
labels: the cold-start coder for a new codebook and the baseline the model must beat.

Two additions make patterns written by hand match what they obviously mean:

- Lemmas come from a lookup table (:class:`pipeline.nlp.Lemmatiser`), which does not know
  compounds and domain words ("datateams" stays "datateams"). So each single-word pattern also
  matches the regular inflected forms of its word (:func:`inflections`: plurals, adjective -e,
  diminutives) that the table does not know, on the lower-case form: "datateam" matches
  "datateams", "gemiddeld" "gemiddelde". Forms the table lemmatises to another word are left
  out. A form that is a lemma of its own in the table ("verslagen", also 'defeated') matches
  as that exact form only, not through that word's inflections.
- A pattern word ending in ``*`` matches any word that starts with it, on the lower-case
  form (``leerling*``: "leerlingen", "leerlingenpanel"), as in NVivo and ATLAS.ti.

Separable verbs ("levert ... op" for ``opleveren``) and irregular forms the table lacks
("kwam" for ``komen``) still do not match: write those forms as patterns of their own.
"""

from __future__ import annotations

import pandas as pd
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Token

from pipeline.config import Codebook
from pipeline.nlp import lemmatiser

__all__ = ["RuleCoder", "inflections"]

WILDCARD = "*"
VOWELS = frozenset("aeiouy")
# two letters that spell one long vowel or diphthong: no consonant doubling after them, and
# f/s after them are voiced before -en ("brief" -> "brieven", "huis" -> "huizen")
LONG_VOWELS = frozenset({"aa", "ee", "oo", "uu", "ie", "oe", "eu", "ei", "ij", "ui", "ou", "au"})
DOUBLED_VOWELS = frozenset({"aa", "ee", "oo", "uu"})  # written single in an open syllable
NEVER_DOUBLED = frozenset("hjqwx")                    # "box" -> "boxen"
VOICED = {"f": "v", "s": "z"}
VOICED_AFTER = frozenset("lrn")                       # "half" -> "halve", "gans" -> "ganzen"
ETJE_AFTER = frozenset("lrmn")  # after a short vowel: "bal" -> "balletje", "kam" -> "kammetje"
TJE_AFTER = frozenset("lrnw")   # after a long vowel or schwa: "stoel" -> "stoeltje"
APOSTROPHE_S = frozenset("aiouy")  # "thema's", "foto's"
STRETCHED = frozenset("aou")       # "thema" -> "themaatje"


def _stems(word: str) -> set[str]:
    """The spellings of ``word``'s stem before -en or -e: as written, with the final consonant
    doubled after a short vowel ("les" -> "less"), with a doubled vowel written single
    ("jaar" -> "jar") and with a final f/s voiced after a long vowel ("huis" -> "huiz").
    Several are given where the spelling does not tell (short "dag" -> "dagen", "bal" ->
    "ballen")."""
    last = word[-1]
    before = word[-3:-1]
    stems = {word}
    if word[-2] in VOWELS and word[-3:-2] not in VOWELS and last not in NEVER_DOUBLED:
        stems.add(word + last)
    long_stem = word
    if before in DOUBLED_VOWELS:
        long_stem = word[:-2] + last
        stems.add(long_stem)
    if last in VOICED and (before in LONG_VOWELS or word[-2] in VOICED_AFTER):
        stems.add(long_stem[:-1] + VOICED[last])
    return stems


def _diminutives(word: str) -> set[str]:
    """Diminutives of ``word`` with each suffix its ending may take (-je, -tje, -etje, -pje,
    -kje)."""
    last = word[-1]
    if last in VOWELS:
        if last in STRETCHED and word[-2] not in VOWELS:
            return {word + last + "tje"}
        if last == "e" and word[-2:] not in LONG_VOWELS:  # "ronde" -> "rondje"
            return {word[:-1] + "je", word + "tje"}
        return {word + "tje"}
    found = {word + "je"}
    if last in TJE_AFTER:
        found.add(word + "tje")
    if last == "m":
        found.add(word + "pje")
    if word.endswith("ng"):
        found |= {word + "etje", word[:-1] + "kje"}
    elif last in ETJE_AFTER and word[-2] in VOWELS and word[-3:-2] not in VOWELS:
        found.add(word + last + "etje")
    return found


def inflections(word: str) -> set[str]:
    """The regular Dutch inflected forms of a lower-case ``word``: plural -en/-s/-'s, adjective
    -e and diminutives with their plural. Without knowing the word class or the stress, the
    spelling rules give every candidate they allow; forms that are no words cost nothing,
    forms that are other words are left out by the caller (the lookup table knows them). A
    word of one letter has none (its spelling rules need the letters before the last)."""
    if len(word) < 2:
        return set()
    last = word[-1]
    if last in VOWELS:
        found = {word + ("'s" if last in APOSTROPHE_S else "s")}
        if last == "e":
            found.add(word + ("ën" if word[-2:] in LONG_VOWELS else "n"))
    else:
        stems = _stems(word)
        found = {s + "en" for s in stems} | {s + "e" for s in stems}
        if last != "s":
            found.add(word + "s")
    diminutives = _diminutives(word)
    return (found | diminutives | {d + "s" for d in diminutives}) - {word}


class WildcardMatcher:
    """Patterns with a word ending in ``*``, which matches any word starting with the rest of
    it (lower-case); the other words of such a pattern match on their lemmas.

    Called like spaCy's matchers: ``matcher(doc)`` gives ``(key hash, start, end)``. spaCy's
    ``Matcher`` takes a prefix only as a regular expression, which it runs on every token of
    every text for every pattern (twelve wildcard patterns halved the coder's speed); here each
    distinct word is tested against the patterns once, and a text costs a lookup per token."""

    def __init__(self, nlp: Language):
        self.nlp = nlp
        self.patterns: list[tuple[int, list[tuple[bool, str]]]] = []  # key, [(prefix?, word)]
        self._starts: dict[str, list[int]] = {}  # token text -> patterns its token can start

    def __len__(self) -> int:
        return len(self.patterns)

    def add(self, key: str, pattern: str) -> None:
        words: list[tuple[bool, str]] = []
        for word in pattern.split():
            if word.endswith(WILDCARD):
                words.append((True, word.rstrip(WILDCARD).lower()))
            else:
                words.extend((False, t.lemma_) for t in self.nlp(word))
        self.patterns.append((self.nlp.vocab.strings.add(key), words))
        self._starts.clear()

    @staticmethod
    def _fits(word: tuple[bool, str], token: Token) -> bool:
        prefix, value = word
        return token.lower_.startswith(value) if prefix else token.lemma_ == value

    def __call__(self, doc: Doc) -> list[tuple[int, int, int]]:
        found = []
        for i, token in enumerate(doc):
            starts = self._starts.get(token.text)
            if starts is None:
                starts = self._starts[token.text] = [
                    k for k, (_, words) in enumerate(self.patterns) if self._fits(words[0], token)]
            for k in starts:
                key, words = self.patterns[k]
                end = i + len(words)
                if end <= len(doc) and all(self._fits(w, t) for w, t in zip(
                        words[1:], doc[i + 1:end], strict=True)):
                    found.append((key, i, end))
        return found


class RuleCoder:
    """Codes and activity sub-types from codebook patterns, with matched spans as evidence."""

    threshold = 0.5

    def __init__(self, codebook: Codebook, nlp: Language):
        self.codebook = codebook
        self.nlp = nlp
        self.labels = codebook.code_ids + codebook.subtype_ids
        self.lemma_matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self.form_matcher = PhraseMatcher(nlp.vocab, attr="LOWER")   # inflected forms
        self.wildcard_matcher = WildcardMatcher(nlp)
        for code in codebook.codes:
            self._add(code.id, code.patterns)
            for sub in code.subtypes:
                self._add(f"{code.id}.{sub.id}", sub.patterns)

    def _add(self, key: str, patterns: list[str]) -> None:
        plain = [p for p in patterns if not any(w.endswith(WILDCARD) for w in p.split())]
        wild = [p for p in patterns if p not in plain]
        if plain:
            docs = list(self.nlp.pipe(plain))
            self.lemma_matcher.add(key, docs)
            forms = sorted(set().union(*(self._unknown_inflections(d) for d in docs)))
            if forms:
                self.form_matcher.add(key, [self.nlp.make_doc(f) for f in forms])
        for pattern in wild:
            self.wildcard_matcher.add(key, pattern)

    @staticmethod
    def _unknown_inflections(pattern: Doc) -> set[str]:
        """The inflected forms of a one-word pattern that the lookup table does not know; a
        form it lemmatises to another word is that word ("panelen" is the plural of "paneel")."""
        if len(pattern) != 1 or not pattern[0].is_alpha:
            return set()
        lem = lemmatiser()
        token = pattern[0]
        return {f for f in inflections(token.lower_) | inflections(token.lemma_)
                if lem.lemma(f) == f}

    def score(self, texts: list[str], batch_size: int = 500) -> tuple[pd.DataFrame, list[dict]]:
        """Per text a score per label (columns: :attr:`labels`) and the matched evidence
        ``{label: [matched text, ...]}`` in text order."""
        strings = self.nlp.vocab.strings
        matchers = [m for m in (self.lemma_matcher, self.form_matcher, self.wildcard_matcher)
                    if len(m)]
        rows, evidence = [], []
        for doc in self.nlp.pipe(texts, batch_size=batch_size):
            matches = sorted((m for matcher in matchers for m in matcher(doc)),
                             key=lambda m: m[1:])  # stable: ties keep the matchers' order
            found: dict[str, list[str]] = {}
            for match_id, start, end in matches:
                words = found.setdefault(strings[match_id], [])
                span = doc[start:end].text.lower()
                if span not in words:
                    words.append(span)
            rows.append({k: 1 - 0.5 ** len(v) for k, v in found.items()})
            evidence.append(found)
        scores = pd.DataFrame(rows, columns=self.labels).fillna(0.0).astype("float64")
        return scores, evidence
