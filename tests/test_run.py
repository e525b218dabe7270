"""The wiring of `pipeline/run.py` that is logic of its own: joining a coded table to the
cohort's segments (`with_codes`) and saying which coder made it (`codes_provenance`)."""

from pathlib import Path

import pandas as pd
import pytest

from pipeline.io import InputError
from pipeline.run import codes_provenance, with_codes

CODES_FILE = Path("coded.csv")


def segments(*ids):
    return pd.DataFrame({"segment_id": list(ids), "person_id": "p1", "text": "tekst"})


def codes(*rows):
    """Rows of (id, knowledge_types, coder)."""
    return pd.DataFrame([{"id": i, "knowledge_types": k, "activities": "",
                          "activity_subtypes": "", "p_focus": 0.9, "evidence": "", "coder": c,
                          "line": n + 2} for n, (i, k, c) in enumerate(rows)])


def test_codes_follow_the_segments_order_and_keep_their_own_coder():
    coded = with_codes(segments("d@0-5", "d@5-9"),
                       codes(("d@5-9", "focus", "JD"), ("d@0-5", "", "")), CODES_FILE, "model")
    assert coded["segment_id"].tolist() == ["d@0-5", "d@5-9"]
    assert coded["knowledge_types"].tolist() == ["", "focus"]
    assert coded["coder"].tolist() == ["model", "JD"]
    assert coded["text"].tolist() == ["tekst", "tekst"]


@pytest.mark.parametrize("table, message", [
    (codes(("d@0-5", "", "")), r"coded\.csv: field 'id': 1 of the cohort's 2 segments have no "
                               r"row, e\.g\. d@5-9"),
    (codes(("d@0-5", "", ""), ("d@5-9", "", ""), ("d@2-7", "", "")),
     r"coded\.csv:4: field 'id': 1 row\(s\) name a segment .*d@2-7 .*other segment settings"),
    (codes(("d@0-5", "", ""), ("d@5-9", "", ""), ("e@0-5", "", "")),
     r"coded\.csv:4: .*e@0-5 \(codes of another cohort\?\)"),
])
def test_a_table_that_does_not_fit_the_segments_is_refused(table, message):
    with pytest.raises(InputError, match=message):
        with_codes(segments("d@0-5", "d@5-9"), table, CODES_FILE, "model")


def test_provenance_from_the_model_named_the_run_or_nowhere():
    card = {"name": "sklearn_tfidf_lr", "evaluation": {}}
    table = codes(("d@0-5", "", "sklearn_tfidf_lr"))
    assert codes_provenance(table, CODES_FILE, None, card) == ("sklearn_tfidf_lr", card, [])
    run = {"coder": "sklearn_tfidf_lr", "model_card": card}
    assert codes_provenance(table, CODES_FILE, run, None) == ("sklearn_tfidf_lr", card, [])
    name, found, notes = codes_provenance(table, CODES_FILE, None, None)
    assert (name, found) == ("sklearn_tfidf_lr", {}) and "not as a run wrote it" in notes[0]
    unknown = {"coder": "unknown", "model_card": {}}   # a report's own manifest
    assert codes_provenance(codes(("d@0-5", "", "")), CODES_FILE, unknown, None)[:2] == (
        "unknown", {})
    assert codes_provenance(codes(("d@0-5", "", "rules")), CODES_FILE, None, None) == (
        "rules", {"name": "rules"}, [])
    with pytest.raises(InputError, match="coded by rules, not by the coder named"):
        codes_provenance(codes(("d@0-5", "", "rules")), CODES_FILE, None, card)
