"""The rule coder (pipeline/coding/rules.py): codebook patterns matched on lemmas."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.coding.assign import code_segments, rule_coder
from pipeline.coding.rules import RuleCoder
from pipeline.nlp import lemmatiser


@pytest.fixture(scope="module")
def rules(codebook, nl_pipeline):
    return RuleCoder(codebook, nl_pipeline)


@pytest.mark.parametrize(("text", "label", "word"), [
    ("Er zijn veel zittenblijvers in havo 4.", "focus", "zittenblijvers"),
    ("De vragenlijsten zijn klaar.", "approach", "vragenlijsten"),
    ("Ik schrijf stukjes in de nieuwsbrieven.", "knowledge_management", "nieuwsbrieven"),
    ("We gaven twee workshops.", "capacity_building.workshop", "workshops"),
])
def test_inflected_form_matches_pattern_lemma(rules, text, label, word):
    # the pattern is the base form; the text has an inflected form with the same lemma
    assert word not in {p.lower() for c in rules.codebook.codes for p in c.patterns}
    scores, evidence = rules.score([text])
    assert scores.loc[0, label] >= rules.threshold
    assert word in evidence[0][label]


def test_lemmas_come_from_the_shared_lemmatiser():
    assert lemmatiser().lemma("zittenblijvers") == "zittenblijver"
    assert lemmatiser().lemma("Workshops") == "workshop"


def test_scores_grow_with_distinct_matches_and_evidence_spans(rules):
    scores, evidence = rules.score(["We gaven een workshop op de studiedag.",
                                    "Het weer is mooi vandaag.",
                                    "Op de studiedag, de studiedag!"])
    assert list(scores.columns) == rules.labels
    assert scores.loc[0, "capacity_building"] == pytest.approx(0.75)  # 2 distinct matches
    assert evidence[0]["capacity_building"] == ["workshop", "studiedag"]
    assert scores.loc[1].sum() == 0 and evidence[1] == {}
    assert evidence[2]["capacity_building"] == ["studiedag"]  # one distinct span
    assert scores.loc[2, "capacity_building"] == pytest.approx(0.5)


def test_rule_coder_through_code_segments(rules, codebook):
    segments = pd.DataFrame({"id": ["x", "y"], "text": ["Ik heb de hypothesen uitgelegd op "
                                                        "de studiedag.", "Niets."]})
    coded = code_segments(segments, rule_coder(rules), codebook)
    assert coded.loc[0, "knowledge_types"] == "approach"
    assert "capacity_building" in coded.loc[0, "activities"].split(";")
    assert "approach: hypothesen" in coded.loc[0, "evidence"]
    assert coded.loc[1, ["knowledge_types", "activities", "evidence"]].tolist() == ["", "", ""]
    assert coded["coder"].eq("rules").all()
