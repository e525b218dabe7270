"""Tests for pipeline/agreement.py and `pipeline agreement`.

tests/data/agreement/krippendorff_2011.csv is the worked example of Krippendorff (2011),
"Computing Krippendorff's Alpha-Reliability", section C: four observers, twelve units,
values 1-5, missing values; nominal alpha = 0.743.
"""

from __future__ import annotations

import doctest
import itertools

import numpy as np
import pandas as pd
import pytest
from helpers import cli
from sklearn.metrics import cohen_kappa_score
from typer.testing import CliRunner

from pipeline import agreement as ag
from pipeline.cli import app
from pipeline.io import InputError

runner = CliRunner()


@pytest.fixture
def kripp(shared_datadir):
    return shared_datadir / "agreement" / "krippendorff_2011.csv"


def test_doctests():
    assert doctest.testmod(ag).failed == 0


def test_krippendorff_2011_through_the_cli(kripp, tmp_path):
    out = tmp_path / "agr"
    result = runner.invoke(app, ["agreement", str(kripp), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "agreement.csv")
    assert list(table.columns[:5]) == ["code", "n_units", "percent_agreement",
                                       "krippendorff_alpha", "mean_pairwise_kappa"]
    row = table.set_index("code").loc["example"]
    assert row["krippendorff_alpha"] == pytest.approx(0.743, abs=5e-4)
    assert row["n_units"] == 11                     # unit 12 has one value: not pairable
    assert row["percent_agreement"] == pytest.approx(8 / 11)   # units 2, 6, 8 differ
    pairs = pd.read_csv(out / "pairwise_kappa.csv")
    assert len(pairs[pairs["code"] == "example"]) == 6
    assert "0.743" in (out / "agreement.md").read_text()
    assert "alpha 0.743" in result.output


def test_pairwise_kappa_matches_sklearn(kripp):
    cur = ag.current_labels(pd.read_csv(kripp, dtype=str))
    pk = ag.pairwise_kappa(cur, "example").set_index(["annotator_a", "annotator_b"])
    by = {a: g.set_index("segment_id")["value"] for a, g in cur.groupby("annotator")}
    for a, b in itertools.combinations(sorted(by), 2):
        common = by[a].index.intersection(by[b].index)
        expected = cohen_kappa_score(by[a][common], by[b][common])
        assert pk.loc[(a, b), "kappa"] == pytest.approx(expected)
        assert pk.loc[(a, b), "n_units"] == len(common)
    result = ag.agreement(pd.read_csv(kripp, dtype=str))
    assert result["agreement"].set_index("code").loc["example", "mean_pairwise_kappa"] == \
        pytest.approx(pk["kappa"].mean())


def labels(rows):
    return pd.DataFrame(rows, columns=["segment_id", "code", "value", "annotator", "time"])


def test_latest_label_counts_and_adjudicators_are_not_annotators():
    lab = labels([["s1", "focus", "1", "a", "2024-01-01"], ["s1", "focus", "0", "a", "2024-02-01"],
                  ["s1", "focus", "0", "b", "2024-01-01"], ["s2", "focus", "1", "a", ""],
                  ["s2", "focus", "0", "b", ""],
                  ["s2", "focus", "1", "adjudicator:c", "2024-03-01"]])
    res = ag.agreement(lab)
    row = res["agreement"].set_index("code").loc["focus"]
    assert row["n_annotators"] == 2 and row["n_units"] == 2
    assert row["percent_agreement"] == 0.5           # s1 agree (0/0), s2 differ
    ref = res["reference"].set_index("segment_id")
    assert ref.loc["s2", ["value", "source"]].tolist() == ["1", "adjudicated"]
    assert ref.loc["s1", ["value", "source"]].tolist() == ["0", "majority"]
    per_seg = res["per_segment"].set_index("segment_id")
    assert per_seg.loc["s2", "disagreements"] == "focus"


def test_an_undated_label_is_the_latest_as_train_reads_it():
    """An undated row (an edited CSV) comes after the dated ones of its annotator, as the
    label store (import time) and ``train`` order it: agreement read it as the oldest, so the
    same file gave agreement one label and the model another. Of two adjudicators the latest
    decision counts, in both (train averaged them: 0.5, so 0)."""
    from pipeline.coding.train import resolve_labels

    lab = labels([["s1", "focus", "1", "a", "2024-01-01T00:00:00.000+00:00"],
                  ["s1", "focus", "0", "a", ""],
                  ["s2", "focus", "1", "adjudicator:x", ""],
                  ["s2", "focus", "0", "adjudicator:y", "2024-03-01T00:00:00.000+00:00"],
                  ["s3", "focus", "0", "adjudicator:x", "2024-03-02T00:00:00.000+00:00"],
                  ["s3", "focus", "1", "adjudicator:y", "2024-03-01T00:00:00.000+00:00"]])
    assert ag.current_labels(lab).set_index("segment_id").loc["s1", "value"] == "0"
    reference = ag.reference_labels(lab).set_index("segment_id")["value"].astype(int)
    trained = resolve_labels(lab.assign(value=lab["value"].astype(int))).set_index("segment_id")
    assert reference.to_dict() == {"s1": 0, "s2": 1, "s3": 0}
    assert trained["value"].to_dict() == reference.to_dict()


def test_reference_prefers_gold_and_drops_ties():
    lab = labels([["s1", "x", "1", "gold", ""], ["s1", "x", "0", "a", ""],
                  ["s1", "x", "0", "b", ""], ["s2", "x", "1", "a", ""], ["s2", "x", "0", "b", ""]])
    ref = ag.reference_labels(lab)
    assert ref[["segment_id", "value", "source"]].values.tolist() == [["s1", "1", "gold"]]


def test_model_kappa_against_the_reference():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 2, 200)
    pred = np.where(rng.random(200) < 0.85, ref, 1 - ref)
    lab = pd.concat([labels([[f"s{i}", "focus", str(v), "gold", ""] for i, v in enumerate(ref)]),
                     labels([[f"s{i}", "focus", str(v), "alice", ""] for i, v in enumerate(ref)])])
    preds = pd.DataFrame({"segment_id": [f"s{i}" for i in range(200)], "code": "focus",
                          "value": pred.astype(str)})
    row = ag.agreement(lab, preds, seed=1, replicates=200)["agreement"].iloc[0]
    assert row["model_kappa"] == pytest.approx(cohen_kappa_score(ref, pred))
    assert row["model_n_units"] == 200
    assert row["base_rate"] == pytest.approx(ref.mean())
    assert 0 <= row["shaffer_rho"] <= 1
    assert row["krippendorff_alpha"] == pytest.approx(1.0)


def test_codeset_has_the_asked_kappa():
    for br, prec in [(0.1, 0.7), (0.3, 0.9), (0.5, 0.85)]:
        counts = ag.codeset_for_kappa(0.65, br, prec, 10_000)
        assert counts is not None and sum(counts) == 10_000
        assert float(ag.kappa_from_counts(*counts)) == pytest.approx(0.65, abs=0.005)
        tp, fp, fn, tn = counts
        assert (tp + fn) / 10_000 == pytest.approx(br, abs=1e-3)
        assert tp / (tp + fp) == pytest.approx(prec, abs=2e-3)
    assert ag.codeset_for_kappa(0.65, 0.5, 0.65, 10_000) is None   # would need r > 1


def test_shaffer_rho_behaves():
    # kappa well above the threshold on many units: generalises (rho small)
    assert ag.shaffer_rho(0.9, 200, 0.3, seed=1, replicates=300) < 0.05
    # at the threshold: about half the simulated test sets reach it
    assert 0.25 < ag.shaffer_rho(0.65, 80, 0.3, seed=1, replicates=300) < 0.75
    # few units: a high kappa is not convincing
    assert ag.shaffer_rho(0.8, 10, 0.3, seed=1, replicates=300) > 0.05
    # deterministic for a seed
    assert ag.shaffer_rho(0.7, 40, 0.2, seed=5, replicates=100) == \
        ag.shaffer_rho(0.7, 40, 0.2, seed=5, replicates=100)
    assert np.isnan(ag.shaffer_rho(float("nan"), 40, 0.2))
    assert np.isnan(ag.shaffer_rho(0.7, 40, 0.0))


def test_undefined_measures_are_nan_not_errors():
    lab = labels([["s1", "x", "1", "a", ""], ["s1", "x", "1", "b", ""]])
    row = ag.agreement(lab)["agreement"].iloc[0]
    assert row["percent_agreement"] == 1.0
    assert np.isnan(row["krippendorff_alpha"]) and np.isnan(row["mean_pairwise_kappa"])
    assert ag.agreement(labels([["s1", "x", "1", "a", ""]]))["agreement"].iloc[0]["n_units"] == 0


def test_cli_reads_a_store_and_predictions(tmp_path):
    from pipeline.annotate import LabelStore

    store = LabelStore(tmp_path / "store.sqlite")
    rows = [[f"s{i}@0-1", "focus", str(i % 2), "a", ""] for i in range(20)]
    rows += [[f"s{i}@0-1", "focus", str(int(i % 3 == 0)), "b", ""] for i in range(20)]
    store.add(labels(rows), "test")
    preds = tmp_path / "pred.csv"
    pd.DataFrame({"id": [f"s{i}@0-1" for i in range(20)],
                  "knowledge_types": ["focus" if i % 2 else "" for i in range(20)],
                  "activities": ""}).to_csv(preds, index=False)
    out = tmp_path / "agr"
    result = runner.invoke(app, ["agreement", str(tmp_path / "store.sqlite"), "--out", str(out),
                                 "--predictions", str(preds), "--replicates", "50"])
    assert result.exit_code == 0, result.output
    t = pd.read_csv(out / "agreement.csv").set_index("code")
    agree = sum(i % 2 == int(i % 3 == 0) for i in range(20))   # a tie has no reference
    assert t.loc["focus", "n_units"] == 20 and t.loc["focus", "model_n_units"] == agree
    assert (out / "per_segment.csv").is_file()


def test_cli_refuses_unknown_input(tmp_path):
    bad = tmp_path / "labels.txt"
    bad.write_text("x")
    result = runner.invoke(app, ["agreement", str(bad), "--out", str(tmp_path / "o")])
    assert isinstance(result.exception, InputError)


def test_cli_needs_two_annotators_on_the_same_segments(shared_datadir, tmp_path, capsys,
                                                        monkeypatch):
    """Agreement of one annotator, or of two who labelled different segments, is no number:
    one line saying what is there, exit 2, nothing written (no output, no label store)."""
    cohort = shared_datadir / "annotate" / "cohort"          # gold labels only
    out = tmp_path / "agr"
    code, _, err = cli(["agreement", cohort, "--out", out], capsys, monkeypatch)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert ("agreement needs two or more annotators on the same segments: 1 annotator, 0 "
            "segments labelled by two or more") in err
    assert not (cohort / "labels" / "store.sqlite").exists()
    apart = tmp_path / "apart.csv"
    labels([["s1", "focus", "1", "a", ""], ["s2", "focus", "0", "b", ""]]).to_csv(
        apart, index=False)
    code, _, err = cli(["agreement", apart, "--out", out], capsys, monkeypatch)
    assert code == 2 and "2 annotators, 0 segments labelled by two or more" in err, err
    assert not out.exists()


def test_cli_one_annotator_against_the_model(tmp_path, capsys, monkeypatch):
    """With predictions one annotator is enough for the model's kappa; the summary says
    that there is no inter-annotator agreement instead of printing NaN."""
    gold = tmp_path / "gold.csv"
    labels([[f"s{i}", "focus", str(i % 2), "gold", ""] for i in range(20)]).to_csv(
        gold, index=False)
    preds = tmp_path / "pred.csv"
    pd.DataFrame({"segment_id": [f"s{i}" for i in range(20)], "code": "focus",
                  "value": [str(int(i % 4 == 1)) for i in range(20)]}).to_csv(preds, index=False)
    code, out, err = cli(["agreement", gold, "--out", tmp_path / "agr", "--predictions", preds,
                          "--replicates", 20], capsys, monkeypatch)
    assert code == 0, err
    assert "nan" not in out and "1 annotator, 0 segments labelled by two or more" in out
    assert "model kappa 0.500 on 20 units" in out


def test_cli_warns_of_annotators_that_differ_only_in_spelling(tmp_path, capsys, monkeypatch):
    """A labels table made by hand, where Anna is 'Anna' on some rows and 'anna ' on others:
    counted as two annotators, said in one line (the name they would have in the store)."""
    table = tmp_path / "labels.csv"
    labels([[f"s{i}", "focus", str(i % 2), who, ""] for i in range(6)
            for who in (("Anna" if i < 3 else "anna "), "bob")]).to_csv(table, index=False)
    code, out, err = cli(["agreement", table, "--out", tmp_path / "agr"], capsys, monkeypatch)
    assert code == 0, err
    assert "3 annotators" in out
    assert err == ("warning: annotators 'Anna', 'anna' differ only in letter case or spaces "
                   "and are counted apart: write them alike in the labels to count them as "
                   "one\n"), err


def test_cli_reads_codebook_values_as_train_does(tmp_path, capsys, monkeypatch):
    """b's labels come from pandas, which writes a column with a gap as 1.0/0.0: that was
    another category than a's 1/0, so a and b disagreed on every segment (kappa 0). An empty
    value was a category too; now it is refused, naming its line."""
    table = tmp_path / "labels.csv"
    rows = [[f"s{i}", "focus", str(i % 2), "a", ""] for i in range(6)]
    rows += [[f"s{i}", "focus", f"{i % 2}.0", "b", ""] for i in range(6)]
    labels(rows).to_csv(table, index=False)
    code, out, err = cli(["agreement", table, "--out", tmp_path / "agr"], capsys, monkeypatch)
    assert code == 0, err
    assert "alpha 1.000, mean kappa 1.000, agreement 1.000" in out, out
    labels([*rows[:-1], ["s5", "focus", "", "b", ""]]).to_csv(table, index=False)
    code, _, err = cli(["agreement", table, "--out", tmp_path / "agr2"], capsys, monkeypatch)
    assert code == 2 and err.startswith(f"error: {table}:13: field 'value': "), err
    assert not (tmp_path / "agr2").exists()


def test_cli_names_a_code_the_codebook_does_not_have(tmp_path, capsys, monkeypatch):
    """A code outside the codebook is agreed on as a nominal category (a team's own
    variable), which a typo ("kennisdeling") is too: it was counted in (all) without a word.
    The run names it; the codebook's codes get no such warning."""
    table = tmp_path / "labels.csv"
    rows = [[f"s{i}", code, str(i % 2), who, ""] for i in range(4) for who in "ab"
            for code in ("focus", "kennisdeling")]
    labels(rows).to_csv(table, index=False)
    code, _, err = cli(["agreement", table, "--out", tmp_path / "agr"], capsys, monkeypatch)
    assert code == 0, err
    assert ("warning: 'kennisdeling' is no code of the codebook: counted as a nominal "
            "category of its own") in " ".join(err.split()), err
    assert "focus" not in err
    labels([r for r in rows if r[1] == "focus"]).to_csv(table, index=False)
    code, _, err = cli(["agreement", table, "--out", tmp_path / "agr2"], capsys, monkeypatch)
    assert code == 0 and "no code of the codebook" not in err, err


def test_cli_reads_a_cohorts_gold_files_as_train_does(shared_datadir, tmp_path, capsys,
                                                      monkeypatch):
    """The same through a cohort folder without a label store (its labels/*.csv)."""
    cohort = shared_datadir / "annotate" / "cohort"
    gold = pd.read_csv(cohort / "labels" / "gold.csv", dtype=str)
    gold.assign(annotator="b", value=gold["value"] + ".0").to_csv(
        cohort / "labels" / "second.csv", index=False)
    code, out, err = cli(["agreement", cohort, "--out", tmp_path / "agr"], capsys, monkeypatch)
    assert code == 0, err
    assert "2 annotators: alpha 1.000, mean kappa 1.000, agreement 1.000" in out, out


def test_cli_reads_label_times_as_instants_and_refuses_one_that_is_no_time(
        shared_datadir, tmp_path, capsys, monkeypatch):
    """An annotator's latest label counts. b changed their mind on s0: 11:00+01:00 is
    10:00 UTC, before the 10:30Z label, which counts (compared as text the earlier one did:
    a disagreement that is none). A time that is no time ("gisteren") was sorted as text
    among the others; it is refused, naming file, line and field, from a CSV and from a
    cohort's labels/ alike. No time is no error (a's labels: undated)."""
    table = tmp_path / "labels.csv"
    rows = [[f"s{i}", "focus", str(i % 2), "a", ""] for i in range(6)]
    rows += [[f"s{i}", "focus", str(i % 2), "b", "2024-03-01T10:30:00Z"] for i in range(6)]
    rows.append(["s0", "focus", "1", "b", "2024-03-01T11:00:00+01:00"])
    labels(rows).to_csv(table, index=False)
    code, out, err = cli(["agreement", table, "--out", tmp_path / "agr"], capsys, monkeypatch)
    assert code == 0, err
    assert "6 units, 2 annotators: alpha 1.000, mean kappa 1.000, agreement 1.000" in out, out
    rows[-1][4] = "gisteren"
    labels(rows).to_csv(table, index=False)
    code, _, err = cli(["agreement", table, "--out", tmp_path / "agr2"], capsys, monkeypatch)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"error: {table}:14: field 'time': not an ISO 8601 time: "
                          "'gisteren'"), err
    assert not (tmp_path / "agr2").exists()
    cohort = shared_datadir / "annotate" / "cohort"
    second = pd.read_csv(cohort / "labels" / "gold.csv", dtype=str).assign(annotator="b")
    second.loc[2, "time"] = "gisteren"
    second.to_csv(cohort / "labels" / "second.csv", index=False)
    code, _, err = cli(["agreement", cohort, "--out", tmp_path / "agr3"], capsys, monkeypatch)
    assert code == 2 and err.startswith(
        f"error: {cohort / 'labels' / 'second.csv'}:4: field 'time': "), err
    assert not (tmp_path / "agr3").exists()
    assert not (cohort / "labels" / "store.sqlite").exists()
