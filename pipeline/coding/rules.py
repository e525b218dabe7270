"""The explainable rule coder: codebook patterns matched on lemmas with spaCy's matchers.

Each code's ``patterns`` in ``configs/codebook.yaml`` are lemmatised with the same pipeline as
the segments, so "zittenblijvers" in a transcript matches the pattern "zittenblijven"'s lemma.
A segment gets a code when at least one of its patterns matches; the score grows with the
number of distinct matches (1 - 0.5**n), and the matched words are the evidence. It needs no
labels: the cold-start coder for a new codebook and the baseline the model must beat.

Four additions make patterns written by hand match what they obviously mean:

- Lemmas come from a lookup table (:class:`pipeline.nlp.Lemmatiser`), which does not know
  compounds and domain words ("datateams" stays "datateams"). So each single-word pattern also
  matches the regular inflected forms of its word (:func:`inflections`: plurals, adjective -e,
  diminutives) that the table does not know, on the lower-case form: "datateam" matches
  "datateams", "gemiddeld" "gemiddelde". Forms the table lemmatises to another word are left
  out. A form that is a lemma of its own in the table ("verslagen", also 'defeated') matches
  as that exact form only, not through that word's inflections.
- The table also lacks much of the present of verbs, the tense of an interview: a one-word
  verb pattern matches its -t form ("vertelt" for ``vertellen``) and its bare stem beside a
  pronoun ("ik help", "help je" for ``helpen``; alone "vraag" and "deel" are nouns as
  often). The table gives a plural noun that is spelt as an infinitive the verb's lemma
  ("vragen"); right after an article or possessive ("de vragen", "onze toetsen") it is the
  noun and matches no verb pattern.
- A pattern word ending in ``*`` matches any word that starts with it, on the lower-case
  form (``leerling*``: "leerlingen", "leerlingenpanel"), as in NVivo and ATLAS.ti.
- A one-word pattern that is a separable verb (``opleveren``, ``uitnodigen``) also matches
  where its clause splits it: "Het levert ons veel op", "om ze uit te nodigen"
  (:class:`SeparableVerbMatcher`). The table knows the joined forms ("oplevert",
  "opgeleverd"); the blank pipeline has no parser to join split ones, so a few word-order
  rules stand in for one, erring towards no match.

Irregular forms the table lacks ("kwam" for ``komen``) do not match their lemma's pattern:
write those forms as patterns of their own.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Token

from pipeline.config import Codebook
from pipeline.nlp import lemmatiser

__all__ = ["RuleCoder", "SeparableVerbMatcher", "inflections", "present_stems", "separable"]

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
# particles that split off their verb in a main clause ("het levert veel op": opleveren)
SPLITTING = frozenset({"aan", "af", "bij", "los", "mee", "na", "neer", "op", "samen", "terug",
                       "toe", "uit", "vast", "voor", "weg"})
# particles of inseparable verbs too ("ondersteunen", "informeren"): a verb with one is taken
# as separable only where the lemma table spells its participle with ge- after the particle
# ("doorgegeven", "ingevuld"; not "ondersteund")
SOMETIMES_SPLITTING = frozenset({"door", "in", "langs", "om", "onder", "over", "rond", "tegen"})
# these make the next word a noun ("mijn kijk op lesgeven" is no verb "kijken"); not "het",
# "dit", "dat": also subjects ("Dat levert veel op")
NOUN_MARKERS = frozenset({"de", "een", "mijn", "jouw", "ons", "onze", "hun", "elke", "iedere"})
SUBJECT_OR_ARTICLE = frozenset({"het", "'t", "dit", "dat"})   # before a verb's bare stem: nouns
# these make an infinitive after them a plural noun ("de vragen", "onze toetsen"); not "ons",
# "hun", "haar": also objects ("haar vragen of ..." is to ask her), nor "die", "deze",
# "welke", "alle": also pronouns that are the verb's subject ("deze helpen ons")
PLURAL_MARKERS = frozenset({"de", "mijn", "jouw", "onze", "elke", "iedere"})
FIRST_PERSONS = frozenset({"ik", "je", "jij"})   # a bare stem beside one is a verb ("help je")
# "daar ... mee", "er ... aan": the preposition of these (with that, of it), not a particle
R_WORDS = frozenset({"er", "daar", "hier", "waar", "ergens", "nergens", "overal"})
PREPOSITIONS = frozenset({"aan", "achter", "bij", "binnen", "buiten", "door", "in", "langs",
                          "met", "mee", "na", "naar", "naast", "om", "onder", "op", "over",
                          "per", "rond", "sinds", "tegen", "tijdens", "tot", "toe", "tussen",
                          "uit", "van", "vanaf", "vanuit", "via", "voor", "zonder"})
# words that start a new clause: a particle after one is another verb's
CLAUSE_STARTS = frozenset({"en", "maar", "want", "omdat", "zodat", "zodra", "terwijl", "toen",
                           "nadat", "voordat", "doordat", "hoewel", "tenzij", "totdat",
                           "wanneer", "waardoor", "waarna", "of"})
# what may follow a verb's particle, which ends its clause ("legt uit hoe ...", "werken samen
# met ..."); before any other word ("op school", "op zich") it is a preposition
AFTER_PARTICLE = PREPOSITIONS | CLAUSE_STARTS | frozenset({
    "wie", "hoe", "waarom", "welke", "als", "dan", "hoor", "hè", "he", "toch", "ofzo", "zeg",
    "bijvoorbeeld", "eigenlijk", "natuurlijk", "ook", "nog", "weer", "zo", "even", "wel", "nu"})
# "dat", "die", "wat" after a particle start a clause ("legt uit dat niemand ...") only where
# one of these follows; before a noun they are demonstratives ("op dat moment", "op die manier")
CLAUSE_WORDS = frozenset({"ik", "je", "jij", "u", "hij", "zij", "ze", "we", "wij", "jullie",
                          "het", "er", "de", "een", "dit", "dat", "die", "men", "niemand",
                          "iedereen", "iemand", "alles", "niets", "veel", "alle", "mijn",
                          "onze", "zijn", "haar", "hun"})
RELATIVES = frozenset({"dat", "die", "wat"})
MIDDLE_FIELD = 15  # most words between a split verb and its particle, within one clause


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


@lru_cache(maxsize=4096)
def separable(lemma: str) -> tuple[str, str] | None:
    """``("op", "leveren")`` for the separable verb ``"opleveren"``; None for any other word,
    also for a verb the lemma table has inseparable too ("overlegd" beside "overgelegd":
    ``overleggen`` 'to confer' never splits)."""
    forms = lemmatiser().forms
    for particle in sorted(SPLITTING | SOMETIMES_SPLITTING):
        verb = lemma[len(particle):]
        if not (lemma.startswith(particle) and len(verb) > 3 and verb.endswith(("en", "aan"))
                and verb in forms):
            continue
        own = set(forms.get(lemma, ()))
        # the inseparable participle: the particle before the verb's without ge- ("overlegd");
        # only one in -d tells (one in -t is also the present: "samenwerkt")
        inseparable = {particle + f[2:] for f in forms[verb] if f.startswith("ge")
                       and f.endswith("d")}
        split = any(f.startswith(particle + "ge") for f in own)
        if (particle in SPLITTING or split) and not own & inseparable:
            return particle, verb
    return None


@lru_cache(maxsize=4096)
def present_stems(verb: str) -> frozenset[str]:
    """The verb's present stem, the first person ("leg" of "leggen"): from the lemma table's
    own -t forms ("legt"; a past such as "dacht" of "denken" is no stem of it), else by the
    spelling rules (:func:`_spelled_stem`). The table lacks many ("ik leg", "ze werkt")."""
    table = {f[:-1] for f in lemmatiser().forms.get(verb, ())
             if f.endswith("t") and len(f) > 3 and not f.startswith("ge")}
    table = {s[:-1] if s + "n" == verb and s[-1] == s[-2] else s   # "gaa(t)": "ik ga"
             for s in table if verb in {spelling + "en" for spelling in _stems(s)} | {s + "n"}}
    if table:
        return frozenset(table)
    if verb.endswith("aan"):                  # "gaan": "ga"
        return frozenset({verb[:-2]})
    if verb.endswith(("ien", "oen")):         # "zien": "zie", "doen": "doe"
        return frozenset({verb[:-1]})
    return frozenset({_spelled_stem(verb)} if verb.endswith("en") and len(verb) >= 5 else ())


def _spelled_stem(verb: str) -> str:
    """The stem of a regular infinitive: less -en, a doubled consonant single ("leggen":
    "leg"), a vowel in an open syllable doubled ("vragen": "vraag"; not a schwa: "leveren":
    "lever"), a final v/z unvoiced ("schrijven": "schrijf", "lezen": "lees")."""
    base = verb[:-2]
    last = base[-1]
    if last == base[-2] and last not in VOWELS:
        return base[:-1]
    unvoiced = base[:-1] + {"v": "f", "z": "s"}.get(last, last)
    schwa = verb.endswith(("elen", "eren", "enen")) and any(c in VOWELS for c in base[:-2])
    if (last not in VOWELS and base[-2] in VOWELS and base[-3:-2] not in VOWELS
            and not schwa):
        return unvoiced[:-2] + base[-2] + unvoiced[-2:]
    return unvoiced


def present_forms(verb: str) -> set[str]:
    """The verb's singular present as written: the stem and the stem + t ("leg", "legt")."""
    stems = present_stems(verb)
    return stems | {s + "t" for s in stems if not s.endswith("t")}


class SeparableVerbMatcher:
    """Separable verbs split by their clause: the verb, then its particle where the clause
    ends (before punctuation, a new clause, a preposition, a question word or a relative
    starting a clause, at most :data:`MIDDLE_FIELD` words on: "Het levert ons veel op",
    "legt uit hoe ...", "legt uit dat niemand ..."), or the particle before "te" ("uit te
    nodigen"). Not a particle: one before another word ("op school", "op dat moment"),
    before "te" (another verb's: "om de plannen uit te werken"), or the preposition of an
    R-word ("daar ... mee"); not a verb: a participle ("gelegd ... over"), a word after an
    article ("mijn kijk op ...", "het werk ... samen") or a capital inside a sentence ("in
    Leiden").

    Called like spaCy's matchers: ``matcher(doc)`` gives ``(key hash, start, end)``."""

    def __init__(self, nlp: Language):
        self.nlp = nlp
        self._verbs: dict[str, list[tuple[int, str]]] = {}  # verb form -> [(key, particle)]
        self._stems: set[str] = set()   # the first persons among those forms ("leg")

    def __len__(self) -> int:
        return sum(map(len, self._verbs.values()))

    def add(self, key: str, lemma: str) -> None:
        """Add the pattern word ``lemma`` if it is a separable verb: its verb's lemma and its
        present as written ("ik leg het uit")."""
        split = separable(lemma)
        if split:
            particle, verb = split
            entry = (self.nlp.vocab.strings.add(key), particle)
            self._stems |= present_stems(verb)
            for form in {verb} | present_forms(verb):
                if entry not in (entries := self._verbs.setdefault(form, [])):
                    entries.append(entry)

    def _verb(self, doc: Doc, i: int) -> bool:
        token = doc[i]
        before = doc[i - 1].lower_ if i > 0 else ""
        after = doc[i + 1].lower_ if i + 1 < len(doc) else ""
        return not ((token.lower_.startswith("ge") and not token.lemma_.startswith("ge"))
                    or before in NOUN_MARKERS
                    # "het werk": a subject "het" takes "werkt" ("dat leg ik": an object)
                    or (before in SUBJECT_OR_ARTICLE and token.lower_ in self._stems
                        and after not in FIRST_PERSONS)
                    or (token.text[:1].isupper() and not token.is_sent_start))

    @staticmethod
    def _particle_at(doc: Doc, i: int, particle: str) -> int | None:
        """Where the verb at ``i`` has ``particle`` later in its clause, if it has."""
        r_word = False
        for j in range(i + 1, min(i + 2 + MIDDLE_FIELD, len(doc))):
            word = doc[j].lower_
            if doc[j].is_punct or word in CLAUSE_STARTS:
                return None
            after = doc[j + 1].lower_ if j + 1 < len(doc) else ""
            then = doc[j + 2].lower_ if j + 2 < len(doc) else ""
            if word == particle and not r_word and after != "te" and (
                    not after or doc[j + 1].is_punct or after in AFTER_PARTICLE
                    or after in RELATIVES and (not then or then in CLAUSE_WORDS)):
                return j
            if word in R_WORDS:
                r_word = True
            elif word in PREPOSITIONS:   # the R-word's preposition: "daar ... mee"
                r_word = False
            if after == "te" and word in SPLITTING | SOMETIMES_SPLITTING:
                return None   # "uit te werken": a particle of another verb ends the clause
        return None

    def __call__(self, doc: Doc) -> list[tuple[int, int, int]]:
        found = []
        for i, token in enumerate(doc):
            entries = self._verbs.get(token.lemma_) or self._verbs.get(token.lower_)
            if not entries or not self._verb(doc, i):
                continue
            for key, particle in entries:
                if i >= 2 and doc[i - 1].lower_ == "te" and doc[i - 2].lower_ == particle:
                    found.append((key, i - 2, i + 1))
                elif (j := self._particle_at(doc, i, particle)) is not None:
                    found.append((key, i, j + 1))
        return found

    @staticmethod
    def evidence(doc: Doc, start: int, end: int) -> str:
        """The words matched: "uit te nodigen", "werken samen", "levert … op" (the words
        between left out, so that one verb is one piece of evidence however it is split)."""
        span = doc[start:end]
        if len(span) <= 2 or span[1].lower_ == "te":
            return span.text.lower()
        return f"{span[0].lower_} … {span[-1].lower_}"


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
        self.separable_matcher = SeparableVerbMatcher(nlp)
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
            forms = sorted(set().union(*(self._unknown_inflections(d)
                                         | self._unknown_verb_forms(d) for d in docs)))
            if forms:
                self.form_matcher.add(key, [self.nlp.make_doc(f) for f in forms])
            for d in docs:
                if len(d) == 1 and d[0].is_alpha:
                    self.separable_matcher.add(key, d[0].lemma_)
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

    @staticmethod
    def _unknown_verb_forms(pattern: Doc) -> set[str]:
        """The present of a one-word verb pattern where the lookup table lacks it: the -t form
        ("vertelt" of ``vertellen``) alone, and the bare stem ("help") only beside a pronoun
        ("ik help", "help ik", "help je"): alone it is often a noun ("een vraag", "het
        plan")."""
        if len(pattern) != 1 or not pattern[0].is_alpha:
            return set()
        lem = lemmatiser()
        verb = pattern[0].lemma_
        if not (verb.endswith("en") and verb in lem.forms) or separable(verb):
            return set()
        stems = present_stems(verb)
        return {f for f in present_forms(verb) - stems if not lem.knows(f)} | {
            phrase for stem in stems if lem.lemma(stem) != verb
            for phrase in ({f"ik {stem}"} | {f"{stem} {person}" for person in FIRST_PERSONS})}

    def score(self, texts: list[str], batch_size: int = 500) -> tuple[pd.DataFrame, list[dict]]:
        """Per text a score per label (columns: :attr:`labels`) and the matched evidence
        ``{label: [matched text, ...]}`` in text order."""
        strings = self.nlp.vocab.strings
        matchers = [m for m in (self.lemma_matcher, self.form_matcher, self.wildcard_matcher,
                                self.separable_matcher) if len(m)]
        rows, evidence = [], []
        for doc in self.nlp.pipe(texts, batch_size=batch_size):
            matches = sorted(((m, matcher) for matcher in matchers for m in matcher(doc)),
                             key=lambda m: m[0][1:])  # stable: ties keep the matchers' order
            found: dict[str, list[str]] = {}
            for (match_id, start, end), matcher in matches:
                if matcher is self.lemma_matcher and _plural_noun(doc, start, end):
                    continue
                words = found.setdefault(strings[match_id], [])
                span = (self.separable_matcher.evidence(doc, start, end)
                        if matcher is self.separable_matcher else doc[start:end].text.lower())
                if span not in words:
                    words.append(span)
            rows.append({k: 1 - 0.5 ** len(v) for k, v in found.items()})
            evidence.append(found)
        scores = pd.DataFrame(rows, columns=self.labels).fillna(0.0).astype("float64")
        return scores, evidence


def _plural_noun(doc: Doc, start: int, end: int) -> bool:
    """Whether a one-word match is a verb's infinitive that its article or possessive makes a
    plural noun: "de vragen" (the questions) is not ``vragen`` (to ask), "onze toetsen" not
    ``toetsen``. Dutch makes a noun of the infinitive itself with "het" ("het vragen"), which
    stays a match."""
    token = doc[start]
    return (end - start == 1 and start > 0 and doc[start - 1].lower_ in PLURAL_MARKERS
            and token.lower_ == token.lemma_ and _is_verb(token.lemma_))


@lru_cache(maxsize=4096)
def _is_verb(lemma: str) -> bool:
    """An infinitive, by the forms the lemma table gives it: a past tense or a present
    participle ("vraagde", "delend"); a noun in -en has none ("examens", "keukentje")."""
    return lemma.endswith("en") and any(
        f.endswith(("de", "te", "den", "ten", "end", "ende")) or f.startswith("ge")
        for f in lemmatiser().forms.get(lemma, ()))
