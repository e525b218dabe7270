"""The embedded demo cohort keeps the promises of its data card (data/demo/README.md)."""

import itertools
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import load_settings
from pipeline.io import load_cohort
from pipeline.run import run_segments

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
WORD = re.compile(r"\w+")


@pytest.fixture(scope="module")
def cohort():
    return load_cohort(DEMO)


@pytest.fixture(scope="module")
def segments(cohort):
    return run_segments(cohort, load_settings(), reveal_names=True)


@pytest.fixture(scope="module")
def gold(cohort):
    return cohort.labels[cohort.labels["annotator"] == "gold"]


def test_five_schools_of_40_to_150_staff_with_about_85_percent_response(cohort):
    sizes = cohort.staff.groupby("school_id").size()
    assert len(sizes) == 5 and sizes.between(40, 150).all()
    assert 0.80 <= cohort.staff["responded"].mean() <= 0.90
    plg = cohort.staff[cohort.staff["plg_id"] != ""].groupby("plg_id").size()
    assert plg.between(3, 8).all()
    assert set(cohort.staff["plg_type"]) == {"", "data_team", "lesson_study"}


def test_each_key_figure_has_an_interview_and_an_observation_log(cohort, segments):
    per_doc = segments.groupby(["person_id", "source"]).size().unstack()
    assert len(per_doc) == 15
    assert (per_doc["interview"] >= 30).all()
    assert (per_doc["observation"] >= 8).all()


def test_every_segment_has_gold_labels_with_matching_ids(segments, gold):
    assert set(gold["segment_id"]) == set(segments["segment_id"])
    assert len(segments) >= 900


def test_label_counts(gold):
    cb = load_settings().codebook
    pos = gold[gold["value"].astype(str) == "1"]
    counts = pos["code"].value_counts()
    for code in cb.code_ids:
        assert counts.get(code, 0) >= 60, code
    coded = set(pos.loc[pos["code"].isin(cb.code_ids), "segment_id"])
    share_none = 1 - len(coded) / gold["segment_id"].nunique()
    assert share_none >= 0.10


def test_every_key_figure_covers_every_code(segments, gold):
    cb = load_settings().codebook
    pos = gold[gold["value"].astype(str) == "1"].merge(
        segments[["segment_id", "person_id"]], on="segment_id")
    per_person = pos.groupby("person_id")["code"].agg(set)
    for person, codes in per_person.items():
        assert set(cb.code_ids) <= codes, person


def test_no_sentence_templates(segments):
    tokens = [WORD.findall(t.lower()) for t in segments["text"]]
    sets = [set(t) for t in tokens]
    worst = max(len(a & b) / len(a | b) for a, b in itertools.combinations(sets, 2) if a and b)
    assert worst <= 0.8
    trigrams = Counter(g for t in tokens for g in zip(t, t[1:], t[2:], strict=False))
    assert len(trigrams) / sum(trigrams.values()) >= 0.70


def test_transcripts_come_in_several_styles(cohort):
    suffixes = Counter(Path(p).suffix for p in cohort.transcripts["path"])
    assert suffixes[".docx"] >= 1 and suffixes[".txt"] >= 1
    prefixes = {para.split(":")[0]
                for p in cohort.transcripts["path"] if p.endswith(".txt") and "_interview_" in p
                for para in (cohort.root / p).read_text(encoding="utf-8").split("\n\n")[1:]}
    assert {"I", "R", "Interviewer", "Respondent"} <= prefixes
    assert "Hester" in prefixes  # a name used as the respondent's prefix


def test_label_file_is_in_the_cohort_contract(cohort):
    labels = pd.read_csv(DEMO / "labels" / "gold.csv")
    assert list(labels.columns) == ["segment_id", "code", "value", "annotator", "time"]


def test_labels_are_double_coded_and_every_disagreement_adjudicated(cohort, gold):
    """The gold labels have an independent second coding of every segment and code; the
    adjudication decides exactly the (segment, code) pairs where the two differ, and the
    labels the model is trained on keep the codebook's sub-type rule."""
    from pipeline.coding.train import resolve_labels, validate_labels

    codebook = load_settings().codebook
    labels = validate_labels(cohort.labels, codebook.code_ids + codebook.subtype_ids)
    second = labels[labels["annotator"] == "second_coder"]
    adjudicated = labels[labels["annotator"].str.startswith("adjudicator:")]
    assert set(labels["annotator"]) == {"gold", "second_coder", "adjudicator:panel"}
    first = labels[labels["annotator"] == "gold"]
    pairs = first.merge(second, on=["segment_id", "code"], suffixes=("_gold", "_second"))
    assert len(pairs) == len(gold) == len(second)
    differ = pairs.loc[pairs["value_gold"] != pairs["value_second"], ["segment_id", "code"]]
    assert 0 < len(differ) < 0.05 * len(pairs)
    assert (set(map(tuple, differ.to_numpy()))
            == set(zip(adjudicated["segment_id"], adjudicated["code"], strict=True)))
    wide = resolve_labels(labels).pivot(index="segment_id", columns="code", values="value")
    for activity in ("knowledge_management", "exchange", "capacity_building"):
        subtypes = wide[[c for c in wide.columns if c.startswith(f"{activity}.")]].sum(axis=1)
        assert ((subtypes > 0) == (wide[activity] == 1)).all(), activity


@pytest.mark.parametrize("model", ["default", "spacy_textcat"])
def test_shipped_models_were_trained_on_the_demo_as_it_is(cohort, model):
    """A model in models/ is what the demo's labelled segments and codebook make today: a
    label, transcript or codebook edit without a retrain (``make train``; the spaCy command in
    models/README.md) would ship a model of other data under the demo's name."""
    import json

    from pipeline.coding.assign import codebook_stamp
    from pipeline.coding.train import labelled_segments

    def no_nan(constant):   # JSON has no NaN: R's jsonlite and browsers refuse a card with it
        raise AssertionError(f"{model}'s card holds {constant}")

    settings = load_settings()
    card = json.loads((DEMO.parents[1] / "models" / model / "model_card.json").read_text(),
                      parse_constant=no_nan)
    summary = labelled_segments(cohort, settings)[3]
    assert card["training_data"]["sha256"] == summary["sha256"]
    assert card["training_data"]["sources"] == summary["sources"]
    assert card["codebook"] == codebook_stamp(settings.codebook)


def test_transcripts_and_gold_labels_are_rendered_from_the_authored_turns(tmp_path):
    """data/demo/transcripts and labels/gold.csv are what tools/render_demo_transcripts.py
    makes of data/demo/authoring, byte for byte (its .docx files too: python-docx dated every
    entry with the time of saving): an authored turn edited without a render would leave the
    transcripts, the gold labels and the model of another demo."""
    import subprocess
    import sys

    script = DEMO.parents[1] / "tools" / "render_demo_transcripts.py"
    done = subprocess.run([sys.executable, str(script), "--out", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    rendered = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    shipped = sorted(p.relative_to(DEMO) for p in (DEMO / "transcripts").rglob("*")
                     if p.is_file())
    assert [p for p in rendered if p.parts[0] == "transcripts"] == shipped
    stale = [str(p) for p in rendered if (tmp_path / p).read_bytes() != (DEMO / p).read_bytes()]
    assert stale == [], f"run tools/render_demo_transcripts.py: {stale}"
