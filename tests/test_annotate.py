"""Tests for pipeline/annotate.py and `pipeline annotate ...`: the label store, task selection,
the three task formats (export -> edit -> import round trips), idempotent and concurrent
imports, and retraining from the store.

Fixture: tests/data/annotate/cohort (made by tests/data/annotate/make_fixture.py): two
schools, six interviews and two observation logs, 56 segments of which 40 carry gold labels
(labels/gold.csv).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import cli
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline import annotate as an
from pipeline.cli import app
from pipeline.coding.assign import load_coder, score_texts
from pipeline.config import load_settings
from pipeline.io import InputError, load_cohort
from pipeline.run import run_segments

FIXTURE = Path(__file__).parent / "data" / "annotate" / "cohort"
runner = CliRunner()


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def settings():
    return load_settings()


@pytest.fixture(scope="session")
def names(settings):
    return settings.codebook.code_ids + settings.codebook.subtype_ids


@pytest.fixture(scope="session")
def segments(settings):
    return run_segments(load_cohort(FIXTURE), settings)


@pytest.fixture(scope="session")
def rules(settings):
    return load_coder(settings, rules=True)[0]


@pytest.fixture(scope="session")
def rule_scores(rules, segments):
    return score_texts(rules, segments["text"].tolist())[0]


@pytest.fixture
def cohort(shared_datadir):
    """A writable copy of the fixture cohort (pytest-datadir copies tests/data per test)."""
    return shared_datadir / "annotate" / "cohort"


def labels_df(rows):
    return pd.DataFrame(rows, columns=["segment_id", "code", "value", "annotator", "time"])


def invoke(args):
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


# ---------------------------------------------------------------- the store
def test_doctests():
    import doctest

    assert doctest.testmod(an).failed == 0


def test_gold_file_imported_once(cohort, names):
    store = an.LabelStore.for_cohort(cohort, names)
    n_gold = len(pd.read_csv(cohort / "labels" / "gold.csv"))
    hist = store.history()
    assert len(hist) == n_gold
    assert set(hist["source"]) == {"gold file gold.csv"}
    assert (cohort / "labels" / "store.sqlite").is_file()
    again = an.LabelStore.for_cohort(cohort, names)
    assert len(again.history()) == n_gold
    assert again.sync_gold_files([cohort / "labels" / "gold.csv"], names)["skipped"]


def test_the_store_follows_its_gold_files(cohort, names):
    """A row removed from a gold file (a wrong label taken out), a value changed, the whole
    file deleted, each brought back: the store's current labels are what the files say now,
    while its history keeps every row (withdrawals as value ''). A label someone relabelled
    by an import since stays theirs when the file changes elsewhere."""
    gold = cohort / "labels" / "gold.csv"
    text = gold.read_text(encoding="utf-8")
    header, first, *rest = text.splitlines()
    seg, code, value = first.split(",")[:3]

    def current():
        cur = an.LabelStore.for_cohort(cohort, names).current()
        return {(r.segment_id, r.code): r.value for r in cur.itertuples()}

    n = len(current())
    gold.write_text("\n".join([header, *rest]) + "\n", encoding="utf-8")
    assert (seg, code) not in current() and len(current()) == n - 1
    gold.write_text(text, encoding="utf-8")
    assert current()[(seg, code)] == value and len(current()) == n
    flipped = "1" if value == "0" else "0"
    gold.write_text(text.replace(first, first.replace(f",{value},", f",{flipped},", 1)),
                    encoding="utf-8")
    assert current()[(seg, code)] == flipped
    gold.unlink()
    assert current() == {}
    gold.write_text(text, encoding="utf-8")
    assert current()[(seg, code)] == value and len(current()) == n
    store = an.LabelStore.for_cohort(cohort, names)
    store.add(pd.DataFrame({"segment_id": [seg], "code": [code], "value": [flipped],
                            "annotator": ["gold"], "time": [""]}), "import fix.csv (csv)")
    gold.write_text("\n".join([header, first, *rest[1:]]) + "\n", encoding="utf-8")
    assert current()[(seg, code)] == flipped and len(current()) == n - 1
    history = an.LabelStore.for_cohort(cohort, names).history()
    assert (history["value"] == "").sum() == n + 2   # the row, the file, the other row


@pytest.mark.parametrize("reshape", ["rename", "split", "merge back"])
def test_gold_files_renamed_split_or_merged_keep_their_labels(reshape, cohort, names):
    """The store follows the gold files taken together: a label that moves to another file
    (renamed, split by school, merged again) is no label removed."""
    labels = cohort / "labels"
    gold = labels / "gold.csv"
    header, *rows = gold.read_text(encoding="utf-8").splitlines()

    def current():
        cur = an.LabelStore.for_cohort(cohort, names).current()
        return {(r.segment_id, r.code, r.annotator): r.value for r in cur.itertuples()}

    before = current()
    half = len(rows) // 2
    gold.unlink()
    if reshape == "rename":
        (labels / "gold_v1.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    else:
        (labels / "a_part.csv").write_text("\n".join([header, *rows[:half]]) + "\n",
                                           encoding="utf-8")
        (labels / "z_part.csv").write_text("\n".join([header, *rows[half:]]) + "\n",
                                           encoding="utf-8")
    assert current() == before
    if reshape == "merge back":
        for part in ("a_part.csv", "z_part.csv"):
            (labels / part).unlink()
        gold.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
        assert current() == before


def test_an_undated_gold_row_stays_the_latest(cohort, names):
    """A correction appended to gold.csv without a time is the latest label for its segment
    (as an import's row without a time is), also after the file is edited elsewhere."""
    gold = cohort / "labels" / "gold.csv"
    header, first, *rest = gold.read_text(encoding="utf-8").splitlines()
    seg, code, value, annotator = first.split(",")[:4]
    flipped = "1" if value == "0" else "0"
    lines = [header, first, *rest, f"{seg},{code},{flipped},{annotator},"]
    gold.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def label():
        cur = an.LabelStore.for_cohort(cohort, names).current()
        return cur[(cur["segment_id"] == seg) & (cur["code"] == code)]["value"].tolist()

    assert label() == [flipped]
    gold.write_text("\n".join([header, first, *rest[1:], lines[-1]]) + "\n", encoding="utf-8")
    assert label() == [flipped]


def test_gold_file_with_unknown_code_is_refused(cohort, names):
    gold = cohort / "labels" / "gold.csv"
    lines = gold.read_text().splitlines()
    lines[3] = lines[3].replace(",approach,", ",aproach,")
    gold.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as e:
        an.LabelStore.for_cohort(cohort, names)
    assert e.value.line == 4 and e.value.field == "code" and "aproach" in str(e.value)


def test_add_is_idempotent_and_keeps_history(tmp_path):
    store = an.LabelStore(tmp_path / "s.sqlite")
    one = labels_df([["d@0-5", "focus", "1", "alice", ""]])
    assert store.add(one, "a") == {"rows": 1, "added": 1, "unchanged": 0}
    assert store.add(one, "a") == {"rows": 1, "added": 0, "unchanged": 1}
    flip = labels_df([["d@0-5", "focus", "0", "alice", ""]])
    assert store.add(flip, "b")["added"] == 1
    assert store.add(one, "c")["added"] == 1          # changing back is history too
    hist = store.history()
    assert hist["value"].tolist() == ["1", "0", "1"]
    assert hist["time"].is_monotonic_increasing
    cur = store.current()
    assert len(cur) == 1 and cur["value"].iloc[0] == "1"


def test_timed_rows_dedupe_by_hash_and_order_by_time(tmp_path):
    store = an.LabelStore(tmp_path / "s.sqlite")
    rows = labels_df([["d@0-5", "focus", "0", "bob", "2024-01-02T10:00:00Z"],
                      ["d@0-5", "focus", "1", "bob", "2024-01-01T10:00:00+00:00"]])
    assert store.add(rows, "x")["added"] == 2
    assert store.add(rows, "x")["added"] == 0
    assert store.current()["value"].tolist() == ["0"]   # the later time wins, not the row
    assert store.history()["time"].tolist()[0] == "2024-01-02T10:00:00.000+00:00"


def test_disagreements_adjudication_and_training_labels(tmp_path):
    store = an.LabelStore(tmp_path / "s.sqlite")
    store.add(labels_df([["d@0-5", "focus", "1", "alice", ""], ["d@0-5", "focus", "0", "bob", ""],
                         ["d@0-5", "benefits", "1", "alice", ""],
                         ["d@0-5", "benefits", "1", "bob", ""]]), "t")
    dis = store.disagreements()
    assert dis[["segment_id", "code", "values", "adjudicated"]].values.tolist() == [
        ["d@0-5", "focus", "alice=1; bob=0", ""]]
    assert store.adjudicate("d@0-5", "focus", "0", "carla")["added"] == 1
    assert store.adjudicate("d@0-5", "focus", "0", "carla")["added"] == 0
    assert store.disagreements()["adjudicated"].tolist() == ["0"]
    adj = store.adjudicated()
    assert adj[["annotator", "value", "source"]].values.tolist() == [
        ["adjudicator:carla", "0", "adjudication"]]
    train = an.store_labels_for_training(store)
    assert list(train.columns) == ["segment_id", "code", "value", "annotator", "time", "file",
                                   "line"]
    focus = train[train["code"] == "focus"]
    assert focus["annotator"].tolist() == ["adjudicator:carla"]
    assert sorted(train.loc[train["code"] == "benefits", "annotator"]) == ["alice", "bob"]


def test_rename_code_moves_current_labels_and_keeps_the_history(tmp_path):
    store = an.LabelStore(tmp_path / "s.sqlite")
    store.add(labels_df([["d@0-5", "exchange", "1", "alice", "2024-01-01T10:00:00Z"],
                         ["d@0-5", "exchange", "0", "alice", "2024-01-02T10:00:00Z"],
                         ["d@0-5", "exchange.input", "1", "bob", "2024-01-03T10:00:00Z"],
                         ["d@0-5", "exchange_rate", "1", "bob", "2024-01-03T10:00:00Z"],
                         ["d@0-5", "focus", "1", "bob", "2024-01-03T10:00:00Z"]]), "import")
    store.adjudicate("d@0-5", "exchange", "1", "carla", "2024-01-04T10:00:00Z")
    known = ["focus", "exchange_rate", "uitwisseling", "uitwisseling.input"]
    with pytest.raises(ValueError, match="'uitwisseling.input' not in the codebook"):
        store.rename_code("exchange", "uitwisseling", known[:3])
    assert len(store.history()) == 6                      # refused: nothing stored
    assert store.rename_code("exchange", "uitwisseling", known) == {"labels": 3,
                                                                    "annotators": 3}
    cur = store.current()
    assert sorted(map(tuple, cur[["code", "annotator", "value", "time"]].values.tolist())) == [
        ("exchange_rate", "bob", "1", "2024-01-03T10:00:00.000+00:00"),
        ("focus", "bob", "1", "2024-01-03T10:00:00.000+00:00"),
        ("uitwisseling", "adjudicator:carla", "1", "2024-01-04T10:00:00.000+00:00"),
        ("uitwisseling", "alice", "0", "2024-01-02T10:00:00.000+00:00"),
        ("uitwisseling.input", "bob", "1", "2024-01-03T10:00:00.000+00:00")]
    assert store.adjudicated()["code"].tolist() == ["uitwisseling"]
    hist = store.history()
    assert len(hist) == 6 + 3 + 3                         # moved and withdrawn, none deleted
    assert (hist.loc[hist["source"] == "rename exchange -> uitwisseling", "value"] == "").sum() == 3
    assert store.rename_code("exchange", "uitwisseling", known) == {"labels": 0,
                                                                    "annotators": 0}
    back = store.rename_code("uitwisseling", "exchange", ["exchange", "exchange.input"])
    assert back == {"labels": 3, "annotators": 3}          # a codebook change undone
    cur = store.current()
    assert sorted(map(tuple, cur.loc[cur["code"].str.startswith(("exchange", "uitwisseling")),
                                     ["code", "annotator", "value"]].values.tolist())) == [
        ("exchange", "adjudicator:carla", "1"), ("exchange", "alice", "0"),
        ("exchange.input", "bob", "1"), ("exchange_rate", "bob", "1")]
    assert store.adjudicated()["code"].tolist() == ["exchange"]
    assert store.retire_code("exchange_rate") == {"labels": 1, "annotators": 1}
    assert "exchange_rate" not in set(store.current()["code"])
    assert store.retire_code("exchange_rate") == {"labels": 0, "annotators": 0}



def test_rename_annotator_makes_one_person_one_annotator(tmp_path):
    """``labelstudio:1`` (an older import) is anna: her labels move, the later of two labels
    of one segment and code counts, gold and adjudications stay, the history keeps all."""
    store = an.LabelStore(tmp_path / "s.sqlite")
    store.add(labels_df([["d@0-5", "focus", "1", "labelstudio:1", "2024-01-01T10:00:00Z"],
                         ["d@0-5", "approach", "0", "labelstudio:1", "2024-01-03T10:00:00Z"],
                         ["e@0-5", "focus", "0", "labelstudio:1", "2024-01-01T10:00:00Z"],
                         ["d@0-5", "approach", "1", "anna", "2024-01-02T10:00:00Z"],
                         ["e@0-5", "focus", "1", "anna", "2024-01-02T10:00:00Z"],
                         ["d@0-5", "focus", "0", "bob", "2024-01-01T10:00:00Z"]]), "import")
    store.adjudicate("d@0-5", "focus", "1", "carla", "2024-01-04T10:00:00Z")
    assert store.rename_annotator("labelstudio:1", "anna") == {"labels": 3, "segments": 2}
    cur = store.current()
    assert sorted(map(tuple, cur[["segment_id", "code", "annotator", "value"]].values)) == [
        ("d@0-5", "approach", "anna", "0"),       # hers of Jan 3 is later than anna's Jan 2
        ("d@0-5", "focus", "adjudicator:carla", "1"),
        ("d@0-5", "focus", "anna", "1"),
        ("d@0-5", "focus", "bob", "0"),
        ("e@0-5", "focus", "anna", "1")]          # anna's Jan 2 is later than hers of Jan 1
    assert len(store.history()) == 7 + 3 + 3
    assert store.rename_annotator("labelstudio:1", "anna") == {"labels": 0, "segments": 0}
    assert store.rename_annotator("anna", "labelstudio:1")["labels"] == 3   # undone: A-B-A
    back = store.current()
    assert set(back["annotator"]) == {"labelstudio:1", "bob", "adjudicator:carla"}

def test_annotators_lists_the_spellings_in_use_first(tmp_path):
    """After ``Anna`` is renamed ``anna`` her labels are anna's: an import matching its names
    to the store's spelling must find ``anna``, not the name all of whose labels moved away."""
    store = an.LabelStore(tmp_path / "s.sqlite")
    store.add(labels_df([["d@0-5", "focus", "1", "Anna", "2024-01-01T10:00:00Z"],
                         ["d@0-5", "focus", "0", "bob", "2024-01-01T10:00:00Z"]]), "import")
    store.rename_annotator("Anna", "anna")
    assert store.annotators() == ["bob", "anna", "Anna"]
    assert an.respell(labels_df([["e@0-5", "focus", "1", "ANNA", ""]]),
                      store.annotators())[0]["annotator"].tolist() == ["anna"]


WORKER = """
import json, sys
import pandas as pd
from pipeline.annotate import LabelStore
path, rows_file, source = sys.argv[1:4]
batches = json.load(open(rows_file))
store = LabelStore(path)
added = 0
for rows in batches:  # many small transactions, so the processes interleave
    df = pd.DataFrame(rows, columns=["segment_id", "code", "value", "annotator", "time"])
    added += store.add(df, source)["added"]
print(added)
"""


def test_concurrent_imports_lose_nothing(tmp_path):
    """Four processes import at once, each its own labels plus one shared file."""
    path = tmp_path / "s.sqlite"
    an.LabelStore(path)
    shared = [[f"d@{i}-{i + 1}", "focus", "1", "gold", "2024-01-01T00:00:00Z"]
              for i in range(150)]
    procs = []
    for w in range(4):
        own = [[f"d@{i}-{i + 1}", code, str(i % 2), f"ann{w}", ""]
               for i in range(60) for code in ("focus", "approach", "exchange")]
        rows = own + shared
        batches = [rows[i:i + 60] for i in range(0, len(rows), 60)]
        rows_file = tmp_path / f"rows{w}.json"
        rows_file.write_text(json.dumps(batches))
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, str(path), str(rows_file),
                                       f"worker {w}"], stdout=subprocess.PIPE, text=True,
                                      cwd=Path(__file__).parent.parent))
    added = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        added.append(int(out.strip()))
    store = an.LabelStore(path)
    hist = store.history()
    assert sum(added) == len(hist) == 4 * 180 + 150
    assert hist["import_hash"].is_unique
    assert len(store.current()) == 4 * 180 + 150


# ---------------------------------------------------------------- selection
def test_select_uncertain_takes_each_codes_borderline_case():
    scores = pd.DataFrame({"a": [0.10, 0.49, 0.90, 0.52], "b": [0.8, 0.0, 0.31, 0.99]})
    chosen = an.select_uncertain(scores, {"a": 0.5, "b": 0.3}, ["a", "b"], 2)
    assert chosen["position"].tolist() == [1, 2]       # a's closest, then b's closest
    assert an.select_uncertain(scores, {"a": 0.5, "b": 0.3}, ["a", "b"], 10)[
        "position"].nunique() == 4


def test_select_disagreement_orders_by_number_of_differences():
    model = pd.DataFrame({"a": [0.9, 0.9, 0.1], "b": [0.9, 0.1, 0.0]})
    rules = pd.DataFrame({"a": [0.9, 0.0, 0.9], "b": [0.0, 0.9, 0.0]})
    chosen = an.select_disagreement(model, {"a": .5, "b": .5}, rules, {"a": .5, "b": .5},
                                    ["a", "b"], 3)
    assert chosen["position"].tolist() == [1, 0, 2]
    assert "a (model)" in chosen["reason"].iloc[0] and "b (rules)" in chosen["reason"].iloc[0]


def test_select_random_is_stratified_and_seeded():
    seg = pd.DataFrame({"school_id": ["s1"] * 60 + ["s2"] * 30 + ["s2"] * 10,
                        "source": ["interview"] * 90 + ["observation"] * 10})
    a = an.select_random(seg, 20, seed=3)
    assert a["position"].is_unique
    picked = seg.iloc[a["position"]]
    assert picked.groupby(["school_id", "source"]).size().to_dict() == {
        ("s1", "interview"): 12, ("s2", "interview"): 6, ("s2", "observation"): 2}
    assert a.equals(an.select_random(seg, 20, seed=3))
    assert not a.equals(an.select_random(seg, 20, seed=4))


# ---------------------------------------------------------------- round trips
def _tasks(segments, rule_scores, rules, names, k=6):
    chosen = an.select_random(segments, k, seed=1)
    return an.build_tasks(segments, chosen, rule_scores, rules.thresholds, names,
                          strategy="random", annotator="")


def _fill(fmt, tasks, names, truth, annotator):
    """The annotator's work: put ``truth`` (segment -> set of codes) into a task file."""
    if fmt == "csv":
        table = an.csv_tasks(tasks, names)
        for i, seg in enumerate(table["segment_id"]):
            for n in names:
                table.loc[i, n] = "1" if n in truth[seg] else "0"
        table["annotator"] = annotator
        return ("\ufeff" + table.to_csv(index=False, lineterminator="\r\n")).encode("utf-8")
    if fmt == "labelstudio":
        items = json.loads(an.labelstudio_tasks(tasks, names, "rules"))
        for k, item in enumerate(items):
            chosen = sorted(truth[item["data"]["segment_id"]]) or [an.NONE_LABEL]
            item["id"] = k + 1
            item["annotations"] = [{"id": 100 + k, "completed_by": 7, "was_cancelled": False,
                                    "created_at": "2024-05-01T09:00:00.000000Z",
                                    "updated_at": "2024-05-01T09:00:00.000000Z",
                                    "result": [{"id": "r1", "from_name": "codes",
                                                "to_name": "text", "type": "choices",
                                                "origin": "manual",
                                                "value": {"choices": chosen}}]}]
        return json.dumps(items).encode()
    lines = []
    for line in an.doccano_tasks(tasks, names).splitlines():
        obj = json.loads(line)
        obj["label"] = sorted(truth[obj["segment_id"]]) or [an.NONE_LABEL]
        obj["annotator"] = annotator
        lines.append(json.dumps(obj, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()


EXT = {"csv": "csv", "labelstudio": "json", "doccano": "jsonl"}


@pytest.mark.parametrize("fmt", an.FORMATS)
@hsettings(max_examples=15, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_export_import_round_trip_loses_nothing(fmt, data, segments, rule_scores, rules,
                                                names):
    tasks = _tasks(segments, rule_scores, rules, names)
    # what an annotator can mean: a sub-type only with its activity (a sub-type under its
    # activity marked 0 is refused, in a CSV)
    truth = {seg: (chosen := set(data.draw(st.lists(st.sampled_from(names), unique=True,
                                                     max_size=5))))
             | {c.split(".")[0] for c in chosen if "." in c}
             for seg in tasks["segment_id"]}
    payload = _fill(fmt, tasks, names, truth, "alice")
    labels, stats = an.parse_annotations(payload, f"tasks.{EXT[fmt]}", names,
                                         annotator="alice")
    assert stats["rows_read"] == len(tasks) and stats["not_labelled"] == 0
    assert set(labels["annotator"]) == {"alice"}
    got = {seg: set(g.loc[g["value"] == "1", "code"]) for seg, g in labels.groupby("segment_id")}
    assert got == truth
    assert len(labels) == len(tasks) * len(names)      # every code, 0 or 1


def test_unlabelled_rows_are_skipped_not_zeroed(segments, rule_scores, rules, names):
    tasks = _tasks(segments, rule_scores, rules, names, k=3)
    table = an.csv_tasks(tasks, names)
    table.loc[0, "focus"] = "x"                      # one mark: a labelled row, rest 0
    labels, stats = an.parse_annotations(table.to_csv(index=False).encode(), "t.csv", names,
                                         annotator="bob")
    assert stats == {"rows_read": 3, "not_labelled": 2, "segments_labelled": 1, "repeats": 0,
                     "not_reviewed": 0, "edited_not_reviewed": 0, "respelled": {},
                     "edited_lines": [], "activities_implied": 0, "no_column": []}
    assert labels.loc[labels["value"] == "1", "code"].tolist() == ["focus"]
    ls = json.loads(an.labelstudio_tasks(tasks, names, "rules"))
    _, stats = an.parse_annotations(json.dumps(ls).encode(), "t.json", names, annotator="bob")
    assert stats["not_labelled"] == 3                 # predictions are not labels


def test_unknown_code_names_file_and_row(names):
    long_csv = (b"segment_id,code,value,annotator\n"
                b"d@0-5,focus,1,alice\n"
                b"d@0-5,focuss,1,alice\n")
    with pytest.raises(InputError) as e:
        an.parse_annotations(long_csv, "labels.csv", names)
    assert e.value.file == "labels.csv" and e.value.line == 3 and "focuss" in str(e.value)
    wide = b"segment_id,annotator,focus,kennis\nd@0-5,alice,1,0\n"
    with pytest.raises(InputError) as e:
        an.parse_annotations(wide, "tasks.csv", names)
    assert e.value.line == 1 and e.value.field == "kennis"
    ls = [{"data": {"segment_id": "d@0-5"}, "annotations": [
        {"completed_by": 1, "result": [{"type": "choices", "value": {"choices": ["focus"]}}]}]},
          {"data": {"segment_id": "d@6-9"}, "annotations": [
              {"completed_by": 1, "result": [{"type": "choices",
                                              "value": {"choices": ["bogus"]}}]}]}]
    with pytest.raises(InputError) as e:
        an.parse_annotations(json.dumps(ls).encode(), "export.json", names)
    assert e.value.line == 2 and "task 2" in str(e.value) and "bogus" in str(e.value)
    dc = '{"segment_id": "d@0-5", "text": "t", "label": ["focus"]}\n' \
         '{"segment_id": "d@6-9", "text": "t", "label": ["nope"]}\n'
    with pytest.raises(InputError) as e:
        an.parse_annotations(dc.encode(), "admin.jsonl", names, annotator="a")
    assert e.value.line == 2 and e.value.field == "label"


def test_labelstudio_users_and_cancelled_annotations(names):
    items = [{"data": {"segment_id": "d@0-5"}, "annotations": [
        {"completed_by": 1, "updated_at": "2024-05-01T10:00:00Z",
         "result": [{"type": "choices", "from_name": "codes", "to_name": "text",
                     "value": {"choices": ["focus"]}}]},
        {"completed_by": {"id": 2, "email": "bob@school.nl"},
         "result": [{"type": "choices", "value": {"choices": []}}]},
        {"completed_by": 3, "was_cancelled": True, "result": []}]}]
    payload = json.dumps(items).encode()
    labels, _ = an.parse_annotations(payload, "e.json", names,
                                     annotator_map={"1": "anna", "BOB@school.nl ": "bob"})
    assert sorted(set(labels["annotator"])) == ["anna", "bob"]
    first = labels[labels["annotator"] == "anna"]
    assert first.loc[first["value"] == "1", "code"].tolist() == ["focus"]
    assert set(first["time"]) == {"2024-05-01T10:00:00.000+00:00"}
    same, _ = an.parse_annotations(payload, "e.json", names, annotator_map={"1": "anna",
                                                                           "2": "bob"})
    assert same.equals(labels)                          # by id or by e-mail alike


@pytest.mark.parametrize("how, fragment", [
    ({}, "Label Studio user 1 has no name: give --map-annotator 1=NAME for each user "
         "(this file has 1, 2 (bob@school.nl))"),
    ({"annotator": "team"}, "Label Studio user 1 has no name: give --map-annotator 1=NAME "
                            "for each user (this file has 1, 2 (bob@school.nl)); --annotator "
                            "names the only user of a file"),
    ({"annotator_map": {"1": "anna"}}, "Label Studio user 2 (bob@school.nl) has no name"),
    ({"annotator_map": {"1": "anna", "2": "bob", "3": "carla"}},
     "field '--map-annotator': 3=carla: this file names no annotator '3' (it names 1, 2 "
     "(bob@school.nl))"),
])
def test_labelstudio_users_must_be_named(how, fragment, names):
    """Label Studio names users by internal id: stored as ``labelstudio:1``, or as
    ``team:1`` and ``team:2`` under --annotator, the same person was another annotator in
    each format (and --annotator anna named Bob's annotations ``anna:2``)."""
    items = [{"data": {"segment_id": "d@0-5"}, "annotations": [
        {"completed_by": 1, "result": [{"type": "choices", "value": {"choices": ["focus"]}}]},
        {"completed_by": {"id": 2, "email": "bob@school.nl"}, "result": []}]}]
    with pytest.raises(InputError) as e:
        an.parse_annotations(json.dumps(items).encode(), "e.json", names, **how)
    assert fragment in str(e.value), str(e.value)
    one, _ = an.parse_annotations(json.dumps(items[:1] and [
        {**items[0], "annotations": items[0]["annotations"][1:]}]).encode(), "e.json", names,
        annotator="bob")
    assert set(one["annotator"]) == {"bob"}              # the one user of the file
    assert an.unimported_segments_in(json.dumps(items).encode(), "e.json", names) == 1


# ---------------------------------------------------------------- the CLI
def test_cli_export_import_is_idempotent(cohort, tmp_path):
    out = tmp_path / "tasks.csv"
    text = invoke(["annotate", "export", cohort, "--n", 5, "--strategy", "random",
                   "--format", "csv", "--out", out, "--rules", "--annotator", "alice"])
    assert "5 tasks" in text
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert set(table["annotator"]) == {"alice"} and len(table) == 5
    table["approach"] = "1"
    table.to_csv(out, index=False, sep=";")          # Dutch Excel saves with semicolons
    first = invoke(["annotate", "import", out, "--cohort", cohort])
    assert "5 rows read" in first and "85 labels added" in first
    second = invoke(["annotate", "import", out, "--cohort", cohort])
    assert "0 labels added, 85 unchanged" in second
    listing = invoke(["annotate", "adjudicate", cohort])
    assert "disagreement(s)" in listing


def test_cli_import_says_what_it_made_of_a_task_file(cohort, tmp_path):
    """From a new team's trial: a sub-type marked 1 under its activity marked 0 was stored as
    it stood (the activity then has one positive fewer); a prefilled row changed but not
    marked reviewed was skipped among the others without a word; a code column deleted
    from the task file was imported without comment. Now the first is refused (line,
    field), an activity left empty under its ticked sub-type is 1, the changed rows and the
    missing column are named, and Dutch Excel's "1,0" is 1."""
    out = tmp_path / "tasks.csv"
    invoke(["annotate", "export", cohort, "--n", 3, "--strategy", "random", "--out", out,
            "--rules", "--annotator", "alice", "--prefill"])
    table = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    table.loc[:, "reviewed"] = "x"
    table.loc[0, ["exchange", "exchange.input"]] = ["0", "1"]
    table.to_csv(out, index=False)
    result = runner.invoke(app, ["annotate", "import", str(out), "--cohort", str(cohort)])
    assert isinstance(result.exception, InputError) and result.exception.line == 2
    assert result.exception.field == "exchange.input"
    assert "exchange.input is 1 but exchange is 0" in str(result.exception)
    table.loc[0, ["exchange", "exchange.input", "focus"]] = ["", "1", "1,0"]
    table.loc[1, "reviewed"] = ""
    table.loc[1, "focus"] = "1" if table.loc[1, "focus"] == "0" else "0"
    table = table.drop(columns=["benefits"])
    table.to_csv(out, index=False)
    said = invoke(["annotate", "import", out, "--cohort", cohort])
    assert "1 activity label(s) left empty under a ticked sub-type taken as 1" in said
    assert ("1 prefilled row(s) changed but not marked reviewed (line 3), so not imported"
            in said)
    assert "has no column for benefits: no labels of it were imported" in said
    labels = an.LabelStore(cohort / "labels" / an.STORE_NAME).current()
    first = labels[labels["segment_id"] == table.loc[0, "segment_id"]].set_index("code")
    assert first.loc[["exchange", "exchange.input", "focus"], "value"].tolist() == ["1"] * 3
    # a second annotator's export leaves the labelled segments out, and says so
    said = invoke(["annotate", "export", cohort, "--n", 50, "--strategy", "random", "--out",
                   tmp_path / "bob.csv", "--rules", "--annotator", "bob"])
    assert "; 2 segment(s) already labelled skipped (--skip none to code them again" in said
    # the task file given to agreement (which reads labels tables) says what to do instead
    result = runner.invoke(app, ["agreement", str(out), "--out", str(tmp_path / "agr")])
    assert isinstance(result.exception, InputError) and result.exception.line == 1
    assert "an annotation task file (a column per code), not a labels table: import it " \
           "with `pipeline annotate import FILE --cohort COHORT`" in str(result.exception)


def test_cli_prefilled_rows_count_once_reviewed(cohort, tmp_path):
    """A --prefill CSV holds the model's 0/1 in every code cell: imported as it is, it
    would pass the model's codes off as alice's. Only rows alice marks reviewed count; the
    others are skipped and counted, and an unreviewed file may be exported over again."""
    out = tmp_path / "tasks.csv"
    invoke(["annotate", "export", cohort, "--n", 4, "--strategy", "random", "--out", out,
            "--rules", "--annotator", "alice", "--prefill"])
    table = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert set(table["reviewed"]) == {""} and set(table["focus"]) <= {"0", "1"}
    assert "0 labelled segment(s), 4 not labelled" in invoke(
        ["annotate", "import", out, "--cohort", cohort])
    invoke(["annotate", "export", cohort, "--n", 4, "--strategy", "random", "--out", out,
            "--rules", "--annotator", "alice", "--prefill"])   # nothing reviewed: replaced
    table.loc[[0, 2, 3], "reviewed"] = ["x", "✓", "nee"]
    table["opmerking"] = "twijfel"   # a Dutch comment column is a comment, not a code
    table.to_csv(out, index=False)
    said = invoke(["annotate", "import", out, "--cohort", cohort])
    assert "2 labelled segment(s) by alice, 2 not labelled" in said
    assert "2 prefilled row(s) not marked in the reviewed column" in said
    table.loc[1, "reviewed"] = "misschien"   # neither: refused, not guessed
    table.to_csv(out, index=False)
    result = runner.invoke(app, ["annotate", "import", str(out), "--cohort", str(cohort)])
    assert result.exit_code != 0 and isinstance(result.exception, InputError)
    assert result.exception.line == 3 and result.exception.field == "reviewed"
    # a prefilled row changed but not marked is work too: not written over; a file whose
    # labels are all in the store (imported) may be
    export = ["annotate", "export", str(cohort), "--n", "4", "--strategy", "random", "--out",
              str(out), "--rules", "--annotator", "alice", "--prefill"]
    table.loc[1, "reviewed"] = ""
    table.loc[1, "focus"] = "1" if table.loc[1, "focus"] == "0" else "0"
    table.to_csv(out, index=False)
    result = runner.invoke(app, export)
    assert isinstance(result.exception, InputError) and "holds 1 labelled" in str(
        result.exception)
    table.loc[1, "focus"] = "1" if table.loc[1, "focus"] == "0" else "0"
    table.to_csv(out, index=False)
    assert runner.invoke(app, export).exit_code == 0
    doccano = runner.invoke(app, [*export[:-1], "--format", "doccano", "--prefill"])
    assert doccano.exit_code == 2 and "only csv tasks can be prefilled" in doccano.output


def test_cli_skips_annotated_segments(cohort, tmp_path, names):
    store = an.LabelStore.for_cohort(cohort, names)
    seg = run_segments(load_cohort(cohort), load_settings())
    store.add(labels_df([[s, "focus", "1", "alice", ""] for s in seg["segment_id"][:50]]), "t")
    out = tmp_path / "t.jsonl"
    text = invoke(["annotate", "export", cohort, "--n", 100, "--strategy", "uncertain",
                   "--format", "doccano", "--out", out, "--rules"])
    assert "6 tasks" in text and "of 6 candidate" in text
    ids = {json.loads(line)["segment_id"] for line in out.read_text().splitlines()}
    assert ids == set(seg["segment_id"][50:])
    assert (tmp_path / "t.doccano-labels.json").is_file()


def test_cli_import_unknown_code_is_one_line_error(cohort, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("segment_id,code,value,annotator\nd@0-5,focus,1,a\nd@0-5,fokus,1,a\n")
    result = runner.invoke(app, ["annotate", "import", str(bad), "--cohort", str(cohort)])
    assert isinstance(result.exception, InputError)
    assert str(result.exception) == (f"{bad}:3: field 'code': unknown code 'fokus' (not in "
                                     "the codebook; did you mean 'focus'?; renamed or removed "
                                     "there since this file was made? give it the new id here "
                                     "or leave it out, then the label store's labels of it: "
                                     "`pipeline annotate rename-code COHORT OLD NEW` or "
                                     "`pipeline annotate retire-code COHORT OLD`)")


def test_cli_adjudicate_records_a_label(cohort, names):
    seg = "s1-p1_interview_1@69-142"
    out = invoke(["annotate", "adjudicate", cohort, "--segment", seg, "--code", "focus",
                  "--value", "1", "--by", "carla"])
    assert "recorded" in out
    adj = an.LabelStore.for_cohort(cohort, names).adjudicated()
    assert adj[["segment_id", "code", "value", "annotator"]].values.tolist() == [
        [seg, "focus", "1", "adjudicator:carla"]]


# ---------------------------------------------------------------- refusals (nothing changes)
def snapshot(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file()}


def refused(args, capsys, monkeypatch) -> str:
    """``pipeline ARGS`` must stop with one line on stderr and exit 2: that line."""
    code, _, err = cli(args, capsys, monkeypatch)
    assert code == 2 and len(err.splitlines()) == 1, err
    return " ".join(err.split())


def export_args(cohort, out, fmt="csv", *extra):
    return ["annotate", "export", cohort, "--n", 3, "--strategy", "random", "--format", fmt,
            "--out", out, "--rules", *extra]


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def test_cli_import_refuses_a_file_that_names_another_annotator(cohort, tmp_path, capsys,
                                                                 monkeypatch, names):
    """Bob imports a copy of Anna's task file: his labels must not be stored as hers."""
    anna, bob = tmp_path / "anna.csv", tmp_path / "bob.csv"
    assert cli(export_args(cohort, anna, "csv", "--annotator", "anna"), capsys,
               monkeypatch)[0] == 0
    table = read_table(anna)
    table["focus"] = "1"
    table.to_csv(anna, index=False)
    assert cli(["annotate", "import", anna, "--cohort", cohort, "--annotator", "anna"],
               capsys, monkeypatch)[0] == 0                  # the same name: fine
    table["focus"] = "0"
    table.to_csv(bob, index=False)
    before = snapshot(cohort)
    err = refused(["annotate", "import", bob, "--cohort", cohort, "--annotator", "bob"],
                  capsys, monkeypatch)
    assert err.startswith(f"error: {bob}:2: field 'annotator': names 'anna', not --annotator "
                          "'bob'"), err
    assert "clear the annotator column" in err and "leave out --annotator" in err
    assert snapshot(cohort) == before
    table["annotator"] = ""
    table.to_csv(bob, index=False)
    assert cli(["annotate", "import", bob, "--cohort", cohort, "--annotator", "bob"],
               capsys, monkeypatch)[0] == 0
    cur = an.LabelStore.for_cohort(cohort, names).current()
    focus = cur[cur["code"] == "focus"].groupby("annotator")["value"].agg(set)
    assert focus["anna"] == {"1"} and focus["bob"] == {"0"}


def test_doccano_annotator_key_follows_the_same_rule(names):
    line = '{"segment_id": "d@0-5", "text": "t", "label": ["focus"], "annotator": "anna"}\n'
    with pytest.raises(InputError) as e:
        an.parse_annotations(line.encode(), "t.jsonl", names, annotator="bob")
    assert e.value.line == 1 and e.value.field == "annotator" and "clear the annotator key" \
        in str(e.value)
    labels, _ = an.parse_annotations(line.encode(), "t.jsonl", names, annotator="anna")
    assert set(labels["annotator"]) == {"anna"}


def test_one_annotator_in_label_studio_and_csv_is_one_annotator(cohort, tmp_path, capsys,
                                                                 monkeypatch, names):
    """Anna labels in Label Studio (user 1) and in Excel, where she types 'Anna ' in the
    annotator column; Bob in Label Studio (user 2). Three people (with gold), not five:
    otherwise Anna agrees perfectly with herself and her two votes outweigh Bob's."""
    tasks = tmp_path / "tasks.json"
    assert cli(export_args(cohort, tasks, "labelstudio"), capsys, monkeypatch)[0] == 0
    items = json.loads(tasks.read_text(encoding="utf-8"))
    for k, item in enumerate(items):
        item["annotations"] = [
            {"completed_by": {"id": user, "email": f"{who}@school.nl"},
             "updated_at": f"2024-05-0{user}T10:00:00Z", "result": [
                 {"type": "choices", "from_name": "codes", "to_name": "text",
                  "value": {"choices": choices}}]}
            for user, who, choices in ((1, "anna", ["focus"]), (2, "bob", ["focus"] if k
                                                                  else ["approach"]))]
    tasks.write_text(json.dumps(items), encoding="utf-8")
    before = snapshot(cohort)
    err = refused(["annotate", "import", tasks, "--cohort", cohort], capsys, monkeypatch)
    assert err.startswith(f"error: {tasks}:1: field 'completed_by': Label Studio user 1 "
                          "(anna@school.nl) has no name: give --map-annotator 1=NAME"), err
    assert snapshot(cohort) == before
    code, out, err = cli(["annotate", "import", tasks, "--cohort", cohort, "--map-annotator",
                          "1=anna", "--map-annotator", "bob@school.nl=bob"], capsys, monkeypatch)
    assert code == 0, err
    assert out.startswith("3 rows read, 3 labelled segment(s) by anna (3), bob (3), 0 not "
                          "labelled"), out
    sheet = tmp_path / "anna.csv"
    assert cli(export_args(cohort, sheet, "csv", "--annotator", "anna"), capsys,
               monkeypatch)[0] == 0
    table = read_table(sheet)
    table[[n for n in names]] = "0"
    table["focus"] = "1"
    table["annotator"] = ["Anna ", "anna", "ANNA"]
    table.to_csv(sheet, index=False)
    code, out, err = cli(["annotate", "import", sheet, "--cohort", cohort, "--annotator",
                          "anna"], capsys, monkeypatch)
    assert code == 0, err
    assert "3 labelled segment(s) by anna," in out, out
    assert err == ("note: 'ANNA', 'Anna' stored as 'anna' (annotator names are matched "
                   "ignoring case and spaces)\n"), err
    code, out, err = cli(["annotate", "import", sheet, "--cohort", cohort, "--annotator",
                          "ANNA"], capsys, monkeypatch)
    assert code == 0 and "0 labels added" in out, err
    assert err.startswith("note: 'ANNA', 'Anna' stored as 'anna' "), err
    cur = an.LabelStore.for_cohort(cohort, names).current()
    assert set(cur["annotator"]) == {"anna", "bob", "gold"}
    code, out, err = cli(["agreement", cohort, "--out", tmp_path / "agr"], capsys, monkeypatch)
    assert code == 0 and "3 annotators" in out, out + err


def fill_first_task(fmt: str, path: Path) -> None:
    """The annotator's work: the first task marked ``focus``."""
    if fmt == "csv":
        table = read_table(path)
        table.loc[0, "focus"] = "1"
        table.to_csv(path, index=False)
    elif fmt == "labelstudio":
        items = json.loads(path.read_text(encoding="utf-8"))
        items[0]["annotations"] = [{"completed_by": 1, "result": [
            {"type": "choices", "from_name": "codes", "to_name": "text",
             "value": {"choices": ["focus"]}}]}]
        path.write_text(json.dumps(items), encoding="utf-8")
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
        first = json.loads(lines[0])
        first["label"] = ["focus"]
        path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n", encoding="utf-8")


@pytest.mark.parametrize("fmt", an.FORMATS)
def test_cli_export_does_not_overwrite_a_filled_task_file(fmt, cohort, tmp_path, capsys,
                                                          monkeypatch):
    out = tmp_path / f"tasks.{EXT[fmt]}"
    assert cli(export_args(cohort, out, fmt), capsys, monkeypatch)[0] == 0
    assert cli(export_args(cohort, out, fmt, "--seed", 5), capsys, monkeypatch)[0] == 0
    fill_first_task(fmt, out)                  # over a still empty task file it went ahead
    before = snapshot(tmp_path)
    err = refused(export_args(cohort, out, fmt), capsys, monkeypatch)
    assert err == (f"error: {out}: holds 1 labelled segment(s) not in the label store yet: "
                   "import it first (`pipeline annotate import`) or choose another --out")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("fmt, named", [("csv", ["--annotator", "bob"]),
                                       ("labelstudio", ["--map-annotator", "1=bob"])])
def test_cli_export_replaces_a_task_file_once_imported(fmt, named, cohort, tmp_path, capsys,
                                                       monkeypatch):
    """A task file naming nobody (exported without --annotator) or a Label Studio user id is
    stored under the name given on import: export said "import it first" over and over."""
    out = tmp_path / f"tasks.{EXT[fmt]}"
    assert cli(export_args(cohort, out, fmt), capsys, monkeypatch)[0] == 0
    fill_first_task(fmt, out)
    assert cli(["annotate", "import", out, "--cohort", cohort, *named], capsys,
               monkeypatch)[0] == 0
    code, _, err = cli(export_args(cohort, out, fmt), capsys, monkeypatch)
    assert code == 0, err


def test_cli_export_replaces_a_task_file_imported_under_a_mapped_name(cohort, tmp_path,
                                                                     capsys, monkeypatch):
    """A CSV naming ``Anna K.``, imported with ``--map-annotator "Anna K.=anna"``, is in the
    store under anna: export must not say "import it first" of the file it was imported from."""
    out = tmp_path / "tasks.csv"
    assert cli(export_args(cohort, out), capsys, monkeypatch)[0] == 0
    fill_first_task("csv", out)
    table = read_table(out)
    table["annotator"] = "Anna K."
    table.to_csv(out, index=False)
    assert cli(["annotate", "import", out, "--cohort", cohort, "--map-annotator",
                "Anna K.=anna"], capsys, monkeypatch)[0] == 0
    code, _, err = cli(export_args(cohort, out), capsys, monkeypatch)
    assert code == 0, err


def test_cli_export_does_not_overwrite_a_filled_file_where_its_side_file_goes(
        cohort, tmp_path, capsys, monkeypatch):
    """doccano tasks ``t.jsonl`` come with label types ``t.doccano-labels.json``, the name a
    Label Studio export can have too."""
    side = tmp_path / "t.doccano-labels.json"
    assert cli(export_args(cohort, side, "labelstudio"), capsys, monkeypatch)[0] == 0
    fill_first_task("labelstudio", side)
    before = snapshot(tmp_path)
    err = refused(export_args(cohort, tmp_path / "t.jsonl", "doccano"), capsys, monkeypatch)
    assert err.startswith(f"error: {side}: holds 1 labelled segment(s)"), err
    assert snapshot(tmp_path) == before


def test_cli_export_does_not_overwrite_a_file_that_is_no_task_file(cohort, tmp_path, capsys,
                                                                   monkeypatch):
    out = tmp_path / "tasks.csv"
    assert cli(export_args(cohort, out), capsys, monkeypatch)[0] == 0
    table = read_table(out)
    table.loc[1, "focus"] = "?"                  # filled in, but not importable as it is
    table.to_csv(out, index=False)
    before = snapshot(tmp_path)
    err = refused(export_args(cohort, out), capsys, monkeypatch)
    assert err.startswith(f"error: {out}:3: field 'focus': "), err
    assert snapshot(tmp_path) == before


GOLD_SEGMENT = "s1-p1_interview_1@69-142"


@pytest.mark.parametrize("segment, by, fragment", [
    ("nonexistent@1-2", "carla", "field 'segment': no annotator labelled 'nonexistent@1-2'"),
    (GOLD_SEGMENT, "", "field 'by': empty"),
    (GOLD_SEGMENT, "  ", "field 'by': empty"),
])
def test_cli_adjudicate_refuses_an_unlabelled_segment_or_no_name(segment, by, fragment, cohort,
                                                                  capsys, monkeypatch, names):
    an.LabelStore.for_cohort(cohort, names)
    before = snapshot(cohort)
    err = refused(["annotate", "adjudicate", cohort, "--segment", segment, "--code", "focus",
                   "--value", "1", "--by", by], capsys, monkeypatch)
    assert err.startswith(f"error: {cohort}: {fragment}"), err
    if "segment" in fragment:
        assert f"`pipeline annotate adjudicate {cohort}` lists the open disagreements" in err
    assert snapshot(cohort) == before


def test_cli_import_refuses_ids_of_no_transcript_and_warns_of_stale_ones(cohort, tmp_path,
                                                                        capsys, monkeypatch):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"segment_id,annotator,focus\n{GOLD_SEGMENT},alice,1\n"
                   "nonexistent@1-2,alice,1\n", encoding="utf-8")
    before = snapshot(cohort)
    err = refused(["annotate", "import", bad, "--cohort", cohort], capsys, monkeypatch)
    assert err.startswith(f"error: {bad}:3: field 'segment_id': 'nonexistent@1-2' is no "
                          "segment of"), err
    assert snapshot(cohort) == before
    stale = tmp_path / "stale.csv"
    stale.write_text(f"segment_id,annotator,focus\n{GOLD_SEGMENT},alice,1\n"
                     "s1-p1_interview_1@1-2,alice,1\n", encoding="utf-8")
    code, out, err = cli(["annotate", "import", stale, "--cohort", cohort], capsys, monkeypatch)
    assert code == 0 and "2 labels added" in out
    assert err.startswith("warning: 1 labelled segment(s) match no segment of their "
                          "transcript") and "s1-p1_interview_1@1-2" in err, err
    # the matrix keeps the stale label's row, and says so, with or without the machine's rows
    for machine in ("--rules", "--no-machine"):
        code, _, err = cli(["export", "matrix", cohort, "--out", tmp_path / "m.csv", machine],
                           capsys, monkeypatch)
        assert code == 0 and err.startswith("warning: 1 labelled segment(s) match no segment "
                                            "of their transcript"), err
        assert "s1-p1_interview_1@1-2" in err and "their rows are in the matrix" in err
        matrix = pd.read_csv(tmp_path / "m.csv", encoding="utf-8-sig", dtype=str)
        assert "s1-p1_interview_1@1-2" in set(matrix["segment_id"])


@pytest.mark.parametrize("text, line, field", [
    ("segment_id,annotator,focus,approach\nS,alice,1,0\nS,alice,1,1\n", 3, "approach"),
    ("segment_id,code,value,annotator\nS,focus,1,alice\nS,approach,1,alice\nS,focus,0,alice\n",
     4, "value"),
])
def test_cli_import_refuses_conflicting_repeats(text, line, field, cohort, tmp_path, capsys,
                                                monkeypatch):
    path = tmp_path / "labels.csv"
    path.write_text(text.replace("S,", f"{GOLD_SEGMENT},"), encoding="utf-8")
    before = snapshot(cohort)
    err = refused(["annotate", "import", path, "--cohort", cohort], capsys, monkeypatch)
    assert err.startswith(f"error: {path}:{line}: field '{field}': "), err
    assert "line 2" in err and GOLD_SEGMENT in err
    assert snapshot(cohort) == before


def test_cli_import_counts_identical_repeats(cohort, tmp_path, capsys, monkeypatch):
    path = tmp_path / "labels.csv"
    path.write_text(f"segment_id,annotator,focus\n{GOLD_SEGMENT},alice,1\n"
                    f"{GOLD_SEGMENT},alice,1\n", encoding="utf-8")
    code, out, err = cli(["annotate", "import", path, "--cohort", cohort], capsys, monkeypatch)
    assert code == 0, err
    assert "1 identical repeat(s) skipped" in out and "1 labels added, 0 unchanged" in out


@pytest.mark.slow
def test_export_edit_import_train_changes_the_model_card(cohort, tmp_path, names):
    """The loop: tasks out, labels in, retrain from the store; history is kept."""
    from pipeline.coding.train import train_default

    settings = load_settings()
    data = load_cohort(cohort)
    before = train_default(data, settings, tmp_path / "m0")["training_data"]
    out = tmp_path / "tasks.json"
    invoke(["annotate", "export", cohort, "--n", 10, "--strategy", "uncertain", "--format",
            "labelstudio", "--out", out, "--rules", "--skip", "labelled"])
    items = json.loads(out.read_text())
    assert len(items) == 10
    for item in items:                                  # the annotator marks everything focus
        item["annotations"] = [{"completed_by": 1, "result": [
            {"type": "choices", "from_name": "codes", "to_name": "text",
             "value": {"choices": ["focus", "approach"]}}]}]
    out.write_text(json.dumps(items))
    invoke(["annotate", "import", out, "--cohort", cohort, "--annotator", "alice"])
    store = an.LabelStore.for_cohort(cohort, names)
    after = train_default(data, settings, tmp_path / "m1",
                          labels=an.store_labels_for_training(store))["training_data"]
    assert after["segments"] == before["segments"] + 10
    assert after["positives"]["focus"] == before["positives"]["focus"] + 10
    assert after["annotators"] == ["alice", "gold"]
    assert len(store.history()) == len(pd.read_csv(cohort / "labels" / "gold.csv")) + 170
    assert np.all(store.history()["id"].diff().dropna() == 1)


def configs_edited(tmp_path: Path, edits: dict[str, str]) -> Path:
    """A copy of the repository's pipeline, codebook and profiles configs in ``tmp_path/cfg``
    with each ``old: new`` of ``edits`` applied (each ``old`` found in some file)."""
    from helpers import REPO

    cfg = tmp_path / "cfg"
    cfg.mkdir()
    texts = {name: (REPO / "configs" / name).read_text(encoding="utf-8")
             for name in ("pipeline.yaml", "codebook.yaml", "profiles.yaml")}
    for old, new in edits.items():
        assert any(old in text for text in texts.values()), old
        texts = {name: text.replace(old, new) for name, text in texts.items()}
    for name, text in texts.items():
        (cfg / name).write_text(text, encoding="utf-8")
    return cfg


def store_under(cohort: Path, cfg: Path) -> an.LabelStore:
    """The cohort's label store, synced under the codebook of ``cfg``."""
    settings = load_settings(cfg / "pipeline.yaml")
    return an.LabelStore.for_cohort(cohort, settings.codebook.code_ids
                                    + settings.codebook.subtype_ids)


def test_cli_import_of_a_task_file_older_than_a_code_rename_says_how_to_follow(
        cohort, tmp_path, capsys, monkeypatch):
    """A task file exported before ``organisational`` became ``organisatie``: its import is
    refused with the way out the label store's refusal gives, and that way works."""
    old = tmp_path / "anna.csv"
    assert cli(export_args(cohort, old, "csv", "--annotator", "anna"), capsys,
               monkeypatch)[0] == 0
    table = read_table(old)
    table["focus"] = "1"
    table.to_csv(old, index=False)
    cfg = configs_edited(tmp_path, {"- id: organisational": "- id: organisatie"})
    args = ["annotate", "import", old, "--cohort", cohort, "--config", cfg / "pipeline.yaml"]
    before = snapshot(cohort)
    err = refused(args, capsys, monkeypatch)
    assert err == (f"error: {old}:1: field 'organisational': unknown code 'organisational' (a "
                   "column that is neither a code of the codebook nor a task column; did you "
                   "mean 'organisatie'?; renamed or removed there since this file was made? "
                   "give it the new id here or leave it out, then the label store's labels of "
                   "it: `pipeline annotate rename-code COHORT OLD NEW` or `pipeline annotate "
                   "retire-code COHORT OLD`)"), err
    assert snapshot(cohort) == before
    gold = cohort / "labels" / "gold.csv"
    for file in (old, gold):
        file.write_text(file.read_text(encoding="utf-8-sig").replace(
            "organisational", "organisatie"), encoding="utf-8")
    code, out, err = cli(args, capsys, monkeypatch)
    assert code == 0 and "3 label" in out, (out, err)


def test_cli_rename_code_follows_a_code_renamed_in_the_codebook(cohort, tmp_path, capsys,
                                                               monkeypatch):
    """A team renames ``benefits`` to ``opbrengsten``: the labels already made must follow,
    gold files by hand first (they are the team's own files), the store by the command."""
    anna = tmp_path / "anna.csv"
    assert cli(export_args(cohort, anna, "csv", "--annotator", "anna"), capsys,
               monkeypatch)[0] == 0
    table = read_table(anna)
    table[[c for c in table.columns if c in an.FALSE or c in {"focus", "benefits"}]] = "1"
    table.to_csv(anna, index=False)
    assert cli(["annotate", "import", anna, "--cohort", cohort], capsys, monkeypatch)[0] == 0
    cfg = configs_edited(tmp_path, {"- id: benefits": "- id: opbrengsten",
                                    "n_benefits": "n_opbrengsten"})
    args = ["annotate", "rename-code", cohort, "benefits", "opbrengsten"]
    config = ["--config", cfg / "pipeline.yaml"]

    err = refused(args, capsys, monkeypatch)                 # the repository's codebook
    assert err.endswith("field 'id': 'benefits' is still in the codebook: rename it there "
                        "first"), err
    before = snapshot(cohort)
    err = refused([*args, *config], capsys, monkeypatch)
    gold = cohort / "labels" / "gold.csv"
    assert err == (f"error: {gold}:5: field 'code': still names 'benefits' (and 39 more "
                   "line(s)): replace it by 'opbrengsten' there first (the label store follows "
                   "labels/*.csv); nothing changed"), err
    assert snapshot(cohort) == before
    assert "opbrengst" in refused([*args[:-1], "opbrengst", *config], capsys, monkeypatch)
    # until then the store's old labels are refused alike wherever they would be counted
    for command in (["agreement", cohort, "--out", tmp_path / "agr"],
                    ["export", "matrix", cohort, "--out", tmp_path / "m.csv", "--rules"],
                    ["annotate", "adjudicate", cohort]):
        err = refused([*command, *config], capsys, monkeypatch)
        assert "field 'code': unknown code 'benefits' (not in the codebook; a codebook of " \
               "your own? name its pipeline.yaml with --config; renamed there? " \
               "`pipeline annotate rename-code COHORT OLD NEW`" in err, err

    gold.write_text(gold.read_text(encoding="utf-8").replace(",benefits,", ",opbrengsten,"),
                    encoding="utf-8")
    code, out, _ = cli([*args, *config], capsys, monkeypatch)
    assert code == 0 and out.startswith("3 label(s) of 1 annotator(s) renamed benefits -> "
                                        "opbrengsten"), out
    cur = store_under(cohort, cfg).current()
    assert "benefits" not in set(cur["code"])
    moved = cur[(cur["code"] == "opbrengsten") & (cur["annotator"] == "anna")]
    assert moved["value"].tolist() == ["1", "1", "1"]
    assert len(cur[(cur["code"] == "opbrengsten") & (cur["annotator"] == "gold")]) == 40
    code, out, _ = cli([*args, *config], capsys, monkeypatch)
    assert code == 0 and "nothing to rename" in out



def test_cli_rename_annotator(cohort, tmp_path, capsys, monkeypatch, names):
    anna = tmp_path / "anna.csv"
    assert cli(export_args(cohort, anna, "csv", "--annotator", "Anna K"), capsys,
               monkeypatch)[0] == 0
    table = read_table(anna)
    table[[c for c in table.columns if c in {"focus", "benefits"}]] = "1"
    table.to_csv(anna, index=False)
    assert cli(["annotate", "import", anna, "--cohort", cohort], capsys, monkeypatch)[0] == 0
    before = snapshot(cohort)
    err = refused(["annotate", "rename-annotator", cohort, "anna k", "anna"], capsys,
                  monkeypatch)
    assert "field 'OLD': no annotator 'anna k' in the label store (it has " in err, err
    for new in ("Anna K", "adjudicator:anna"):
        err = refused(["annotate", "rename-annotator", cohort, "Anna K", new], capsys,
                      monkeypatch)
        assert f"field 'NEW': '{new}' cannot replace 'Anna K'" in err, err
    assert snapshot(cohort) == before
    code, out, _ = cli(["annotate", "rename-annotator", cohort, "Anna K", "anna"], capsys,
                       monkeypatch)
    assert code == 0 and out.startswith(f"{3 * len(names)} label(s) of 3 segment(s) moved "
                                        "from 'Anna K' to 'anna'"), out
    cur = an.LabelStore.for_cohort(cohort, names).current()
    assert "Anna K" not in set(cur["annotator"])
    assert cur.loc[cur["annotator"] == "anna", "value"].tolist().count("1") == 6

def test_cli_rename_annotator_stores_under_the_stores_spelling(cohort, tmp_path, capsys,
                                                              monkeypatch, names):
    """``rename-annotator labelstudio:1 anna`` where the store has Anna as ``Anna``: one
    annotator, spelled as the store does (as an import of ``anna`` would be), not two."""
    store = an.LabelStore.for_cohort(cohort, names)
    store.add(labels_df([["d@0-5", "focus", "1", "Anna", "2024-01-01T10:00:00Z"],
                         ["e@0-5", "focus", "1", "labelstudio:1", "2024-01-01T10:00:00Z"]]),
              "import")
    code, out, err = cli(["annotate", "rename-annotator", cohort, "labelstudio:1", "anna"],
                         capsys, monkeypatch)
    assert code == 0 and "moved from 'labelstudio:1' to 'Anna'" in out, out
    assert "'anna' stored as 'Anna'" in err, err
    cur = store.current()
    assert set(cur.loc[cur["segment_id"].isin(["d@0-5", "e@0-5"]), "annotator"]) == {"Anna"}


def test_a_label_given_twice_with_two_values_in_one_file_is_refused(tmp_path, names):
    """A gold labels CSV with the same label (segment, code, annotator, time) once 1 and once
    0 was trained on silently, the later row winning; an import refuses the same thing. The
    same label given twice alike is no conflict, and two files may differ (the later file's
    undated label counts, as documented)."""
    from pipeline.coding.train import validate_labels

    rows = pd.DataFrame({"segment_id": "d@0-5", "code": ["approach", "approach", "focus",
                                                         "focus"],
                         "value": ["1", "0", "1", "ja"], "annotator": "wim",
                         "time": ["2024-05-01", "2024-05-01", "", ""],
                         "file": str(tmp_path / "gold.csv"), "line": [2, 3, 4, 5]})
    with pytest.raises(InputError, match=r"gold.csv:3: field 'value': approach of segment "
                                         r"'d@0-5' \(wim\) is 0 here but 1 on line 2: keep one "
                                         r"of the two"):
        validate_labels(rows, names)
    alike = validate_labels(rows.iloc[2:], names)
    assert alike["value"].tolist() == [1, 1]
    two_files = rows.iloc[:2].assign(file=[str(tmp_path / "a.csv"), str(tmp_path / "b.csv")])
    assert validate_labels(two_files, names)["value"].tolist() == [1, 0]


def test_a_store_label_of_no_code_hints_at_rename_code(tmp_path, names):
    from pipeline.coding.train import validate_labels

    store = tmp_path / "labels" / an.STORE_NAME
    labels = pd.DataFrame({"segment_id": ["d@0-5"], "code": ["benefit"], "value": ["1"],
                           "file": [str(store)], "line": [7]})
    with pytest.raises(InputError, match=r"store.sqlite:7: field 'code': unknown code "
                                         r"'benefit' \(not in the codebook; did you mean "
                                         r"'benefits'\?; renamed there\? "
                                         r"`pipeline annotate rename-code COHORT OLD NEW`; "
                                         r"removed\? `pipeline annotate retire-code COHORT "
                                         r"OLD`\)"):
        validate_labels(labels, names)
    in_file = (r"; renamed or removed there since this file was made\? give it the new id "
               r"here or leave it out, then the label store's labels of it: `pipeline annotate "
               r"rename-code COHORT OLD NEW` or `pipeline annotate retire-code COHORT OLD`\)$")
    with pytest.raises(InputError, match=r"\(not in the codebook; did you mean 'benefits'\?"
                                         + in_file):
        validate_labels(labels.assign(file=str(tmp_path / "gold.csv")), names)
    with pytest.raises(InputError, match=r"\(not in the codebook; a codebook of your own\? "
                                         r"name its pipeline\.yaml with --config" + in_file):
        validate_labels(labels.assign(code="student_voice", file=str(tmp_path / "gold.csv")),
                        names)


def test_cli_retire_code_follows_a_subtype_removed_from_the_codebook(cohort, tmp_path, capsys,
                                                                   monkeypatch):
    """A team drops the sub-type ``knowledge_management.product``: train refused the store's
    labels of it (no code of the codebook) and nothing could retire them."""
    anna = tmp_path / "anna.csv"
    assert cli(export_args(cohort, anna, "csv", "--annotator", "anna"), capsys,
               monkeypatch)[0] == 0
    table = read_table(anna)
    table[["focus", "knowledge_management", "knowledge_management.product"]] = "1"
    table.to_csv(anna, index=False)
    assert cli(["annotate", "import", anna, "--cohort", cohort], capsys, monkeypatch)[0] == 0
    product = ("          - id: product\n            label: {nl: product, en: product}\n"
               "            patterns: [flyer, poster, infographic, folder, filmpje, kaart, "
               "placemat]\n")
    cfg = configs_edited(tmp_path, {product: ""})
    args = ["annotate", "retire-code", cohort, "knowledge_management.product",
            "--config", cfg / "pipeline.yaml"]
    gold = cohort / "labels" / "gold.csv"
    err = refused(args, capsys, monkeypatch)
    assert err == (f"error: {gold}:12: field 'code': still names 'knowledge_management.product' "
                   "(and 39 more line(s)): remove those rows there first (the label store "
                   "follows labels/*.csv); nothing changed"), err
    gold.write_text("".join(ln for ln in gold.read_text(encoding="utf-8").splitlines(True)
                            if ",knowledge_management.product," not in ln), encoding="utf-8")
    code, out, _ = cli(args, capsys, monkeypatch)
    assert code == 0 and out.startswith("3 label(s) of 1 annotator(s) of "
                                        "knowledge_management.product withdrawn"), out
    cur = store_under(cohort, cfg).current()
    assert "knowledge_management.product" not in set(cur["code"])
    assert (cur["code"] == "knowledge_management").sum() > 0          # the code itself stays
    assert "still in the codebook" in refused(args[:-2], capsys, monkeypatch)
