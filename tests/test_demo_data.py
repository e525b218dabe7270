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
