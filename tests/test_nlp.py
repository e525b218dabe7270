"""pipeline/nlp.py: the token batches the coders read, checked against spaCy token by token."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.nlp import (
    TokenBatch,
    context_batch,
    lemmatiser,
    make_nlp,
    token_batch,
    tokens_and_lemmas,
)

TEXTS = ["Ons probleem is het verzuim in de brugklas.",
         "",
         "…  ?!",
         "Toen zei [persoon-ab12] tegen Persoon-CD34: 'kijk naar de data van [school-9f]'.",
         "De zittenblijvers, de Zittenblijvers en DE zittenblijvers.",
         "Zo'n 18 procent bleef zitten in havo 4-klassen (lacht)."]


def reference(texts: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """Token by token through spaCy ``Token`` objects: the slow way the batch replaces."""
    lem = lemmatiser()
    docs = list(make_nlp(False).tokenizer.pipe(texts))
    keep = [[t for t in d if not (t.is_punct or t.is_space)] for d in docs]

    def word(t):
        low = t.text.lower()
        pseudonym = re.fullmatch(r"(persoon|school)(?:-[0-9a-f]+)?", low)
        return pseudonym.group(1) if pseudonym else low

    return ([[word(t) for t in ts] for ts in keep],
            [[lem.lemma(t.text) for t in ts] for ts in keep])


def piece_reference(texts: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """:func:`reference` of each whitespace-separated piece alone, joined per text: what
    ``token_batch`` promises for any text."""
    per_text = [reference(t.split()) for t in texts]
    return ([[w for ws in words for w in ws] for words, _ in per_text],
            [[lem for ls in lemmas for lem in ls] for _, lemmas in per_text])


def test_token_batch_equals_token_by_token_spacy():
    batch = token_batch(TEXTS)
    assert batch.per_text() == reference(TEXTS)
    assert batch.lengths.tolist() == [len(w) for w in reference(TEXTS)[0]]
    assert batch.per_text()[0][1] == [] and batch.per_text()[0][2] == []
    words, _ = batch.per_text()
    assert "persoon" in words[3] and "school" in words[3]     # pseudonyms are one feature
    assert tokens_and_lemmas(TEXTS) == batch.per_text()


def test_a_pseudonym_is_one_token_whatever_its_letters():
    """"[persoon-df7a]s" was split into the pseudonym, "]" and "s", but "[persoon-4796]s"
    stayed one token with its digits: a pseudonym's random letters (the roster's key) changed
    a segment's features and so its probabilities."""
    batch = token_batch(["Op [persoon-df7a]s formulier", "Op [persoon-4796]s formulier",
                         "[school-ab12]-leerlingen en [persoon-12ab]'s boek"])
    words, _ = batch.per_text()
    assert words[0] == words[1] == ["op", "persoon", "s", "formulier"]
    assert "school" in words[2] and "persoon" in words[2]
    assert not [w for text in words for w in text if any(c.isdigit() for c in w)]


def test_token_batch_types_are_shared_within_the_batch():
    batch = token_batch(["de data de data", "data"])
    assert len(batch.types) == 5 and batch.types.max() < len(batch.words)
    assert batch.words[batch.types[1]] == batch.words[batch.types[4]] == "data"


def test_empty_batches():
    for make in (token_batch, context_batch):
        empty = make([])
        assert len(empty) == 0 and empty.per_text() == ([], [])
        assert make([""]).per_text() == ([[]], [[]])


def test_context_batch_words_and_lemmas():
    batch = context_batch(["Wat kwam daaruit, voor de zittenblijvers?", "Zo'n [persoon-ab12]!"])
    words, lemmas = batch.per_text()
    assert words == [["wat", "kwam", "daaruit", "voor", "de", "zittenblijvers"],
                     ["zo'n", "persoon"]]
    assert lemmas[0][-1] == "zittenblijver" and lemmas[1][1] == "persoon"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("abcdeé ZY.,'-?!\n0123")), max_size=40),
                max_size=8))
def test_token_batch_splits_each_piece_as_spacy_does_on_any_text(texts):
    assert token_batch(texts).per_text() == piece_reference(texts)


# spaCy's special cases with punctuation (abbreviations, emoticons, clitics): where splitting
# many pieces in one call could go wrong, and where spaCy's split of a whole text can differ
SPECIAL_ATOMS = sorted(k for k in make_nlp(False).tokenizer.rules
                       if not k.isalnum() and not any(c.isspace() for c in k))


PLAIN_ATOMS = ["(", ")", ":", "'", "’s", "...", "-", "e-mail", "http://x.nl/a?b=1", "de", "Data",
               "4-klassen"]
WHITESPACE = [" ", "  ", "\n", "\t", "\xa0", "\u2003", ""]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(st.sampled_from(SPECIAL_ATOMS), st.sampled_from(PLAIN_ATOMS),
                                   st.sampled_from(WHITESPACE)),
                         max_size=12).map("".join), max_size=6))
def test_token_batch_splits_each_piece_as_spacy_does_around_special_cases(texts):
    assert len(SPECIAL_ATOMS) > 1000
    assert token_batch(texts).per_text() == piece_reference(texts)


def test_token_batch_is_spacys_split_of_the_whole_text_on_real_segments():
    """Every turn of the demo's hand-written transcripts (~2,000 texts) and the fixed texts:
    the same tokens as spaCy's tokenizer run over each whole text."""
    root = Path(__file__).resolve().parents[1] / "data" / "demo" / "authoring"
    texts = [json.loads(line)["text"] for f in sorted(root.glob("*/*.jsonl"))
             for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(texts) > 1000
    texts += TEXTS + ["Zie blz. 3 e.d., o.a. :-) en 4 °C. (v.Chr.)"]
    assert token_batch(texts).per_text() == reference(texts)


def test_where_spacy_matches_a_special_case_across_a_space_each_piece_is_split_alone():
    """The one documented difference from spaCy's split of a whole text (token_batch's
    docstring): a match across the space keeps ``f.`` from being one token there."""
    text = ["° f.De"]
    assert token_batch(text).per_text() == piece_reference(text) == ([["°", "f.", "de"]],
                                                                      [["°", "f.", "de"]])
    assert reference(text)[0] == [["°", "f", "de"]]


def test_a_piece_is_split_once_and_kept_within_the_limit(monkeypatch):
    import pipeline.nlp as nlp

    monkeypatch.setattr(nlp, "_PIECES", {})
    monkeypatch.setattr(nlp, "TOKENIZER_CACHE", 3)
    texts = ["de data (bleek)", "de data, zo'n data", "nieuw1 nieuw2 nieuw3"]
    assert token_batch(texts).per_text() == reference(texts)
    assert len(nlp._PIECES) == 3     # the first three distinct pieces; later ones not kept
    assert token_batch(texts).per_text() == reference(texts)


def test_from_tokens_round_trip():
    batch = TokenBatch.from_tokens([["De", "data"], [], ["data"]])
    assert batch.per_text() == ([["de", "data"], [], ["data"]], [["de", "data"], [], ["data"]])
    assert np.array_equal(batch.lengths, [2, 0, 1])


def test_lemma_table_is_spacys_lookup_table():
    """The lemma table read straight from spacy-lookups-data gives what spaCy's own
    ``load_lookups`` Table gives, for every 50th form and for cased and unknown forms."""
    from spacy.lookups import load_lookups

    spacy_table = load_lookups("nl", ["lemma_lookup"]).get_table("lemma_lookup")
    ours = lemmatiser()._table
    forms = [*list(ours)[::50], "Zittenblijvers", "xyzzyq", "werkten", "Werkten"]
    assert len(forms) > 1000
    assert [ours.get(f) for f in forms] == [spacy_table.get(f) for f in forms]
    assert lemmatiser().lemma("zittenblijvers") == "zittenblijver"


def test_long_tail_vocabulary_is_cached_and_split_as_spacy_splits_it():
    """More distinct pieces than spaCy's default tokenizer cache (10,000) stay cached, and the
    split is the one a tokenizer with spaCy's default cache gives."""
    import spacy

    texts = [f"Casus{i}: de hypothese-{i} (bleek {i}%), zo'n les{i}." for i in range(6000)]
    tok = make_nlp(False).tokenizer
    assert tok.max_cache_size >= 1_000_000
    default = spacy.blank("nl").tokenizer
    assert default.max_cache_size == 10_000
    assert ([[t.text for t in tok(x)] for x in texts]
            == [[t.text for t in default(x)] for x in texts])
