"""The wiring of `pipeline/run.py` that is logic of its own: joining a coded table to the
cohort's segments (`with_codes`), saying which coder made it (`codes_provenance`) and what
feeds no profile (`unprofiled_notes`)."""

from pathlib import Path

import pandas as pd
import pytest

from pipeline.io import LISTED, InputError
from pipeline.run import (
    NetworkResult,
    codes_provenance,
    unprofiled_notes,
    with_codes,
)

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


def network_of(staff: list[tuple], ties: list[tuple], config) -> NetworkResult:
    """The network stage's tables for ``staff`` (person, school, plg) and ``ties`` (ego,
    alter, in the ego's school)."""
    from pipeline import network

    st = pd.DataFrame(staff, columns=["person_id", "school_id", "plg_id"]).assign(
        responded=True, role="teacher")
    school = dict(zip(st["person_id"], st["school_id"], strict=True))
    noms = pd.DataFrame({"school_id": [school[e] for e, _ in ties], "ego": [e for e, _ in ties],
                         "alter": [a for _, a in ties], "strength": float("nan"),
                         "line": range(2, 2 + len(ties))})
    metrics = network.person_metrics(st, noms, config)
    return NetworkResult(noms, pd.DataFrame(), metrics, network.school_metrics(st, noms),
                         network.key_figures(metrics, config))


def test_what_feeds_no_profile_says_why(settings):
    """A school without key figures is named with the reason: no ties at all (s2), or ties
    but none the measure counts (s1: all within one PLG, chosen on boundary ties); coded
    transcripts of people who are no key figure are counted and the first few named. Each
    note reads Dutch in a Dutch report."""
    from pipeline.report import warning_in_language

    config = settings.pipeline.network.model_copy(update={"tie_scope": "boundary"})
    net = network_of([("a", "s1", "dt1"), ("b", "s1", "dt1"), ("c", "s2", ""), ("d", "s2", ""),
                      ("e", "s3", "dt1"), ("f", "s3", "ls1")],
                     [("a", "b"), ("b", "a"), ("e", "f")], config)
    assert net.key_figures["person_id"].tolist() == ["e", "f"]
    measure = config.key_figures.measure
    others = [f"x{i}" for i in range(LISTED + 2)]
    notes = unprofiled_notes(net, pd.DataFrame({"person_id": ["e", "c", *others]}), config)
    assert notes == [
        f"school s1: no key figures (nobody has {measure} above 0 with tie_scope boundary), "
        "so no profiles",
        "school s2: no key figures (no ties among its staff), so no profiles",
        f"transcripts of {len(others) + 1} people who are not key figures are coded but feed "
        f"no profile: {', '.join(['c', *others][:LISTED])} and 3 more"]
    one = unprofiled_notes(net, pd.DataFrame({"person_id": ["c", "e"]}), config)[-1]
    assert one == ("transcripts of 1 person who is not a key figure are coded but feed no "
                   "profile: c")
    for note in [*notes, one]:
        dutch = warning_in_language(note, "nl")
        assert dutch != note and not {"figure", "figures", "more", "nobody"} & set(dutch.split())
    assert warning_in_language(notes[-1], "nl").endswith(" en nog 3")
    assert unprofiled_notes(net, pd.DataFrame({"person_id": ["e", "f"]}), config) == notes[:2]


def test_a_key_figure_whose_transcripts_gave_nothing_is_not_said_to_have_none():
    """A key figure with a transcript from which no respondent turn was read got "has no
    transcripts": the researcher went looking for a file that is there. The warning now says
    which of the two it is."""
    from pipeline.report import warning_in_language
    from pipeline.run import untranscribed_notes

    key_figures = pd.DataFrame({"person_id": ["a", "b", "c"]})
    coded = pd.DataFrame({"person_id": ["c"]})
    notes = untranscribed_notes(key_figures, coded, {"b", "c"})
    assert notes == [
        "key figure a has no transcripts: what they share is unknown, so no profile "
        "(undetermined, the nearest from the network only)",
        "key figure b has transcripts, but no respondent segment was read from them (see the "
        "warnings on their transcripts): what they share is unknown, so no profile "
        "(undetermined, the nearest from the network only)"]
    assert warning_in_language(notes[1], "nl").startswith(
        "sleutelfiguur b heeft transcripten, maar daaruit is geen segment van de respondent "
        "gelezen")
