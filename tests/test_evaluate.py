"""Evaluation (pipeline/coding/evaluate.py) and `pipeline evaluate` (pipeline/cli_evaluate.py).

The numbers in ``test_score_table_by_hand`` were worked out by hand (comments show how).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.coding import evaluate as ev

CODES = ["focus", "outcomes", "approach", "benefits", "organisational",
         "knowledge_management", "exchange", "capacity_building"]


def hand_case():
    """4 segments x 8 codes."""
    Y = np.zeros((4, 8), int)
    P = np.zeros((4, 8), int)
    Y[:, 0], P[:, 0] = [1, 1, 0, 0], [1, 0, 1, 0]   # focus: tp1 fp1 fn1 tn1
    Y[:, 1], P[:, 1] = [1, 1, 0, 0], [1, 1, 0, 0]   # outcomes: perfect
    Y[:, 2], P[:, 2] = [1, 0, 0, 0], [1, 1, 0, 0]   # approach: tp1 fp1 tn2
    # benefits: never present, never predicted
    Y[:, 4] = [0, 0, 0, 1]                            # organisational: fn1 tn3
    Y[:, 5], P[:, 5] = [1, 1, 1, 0], [1, 1, 1, 0]   # knowledge_management: perfect
    Y[:, 6], P[:, 6] = [1, 0, 1, 0], [0, 1, 0, 1]   # exchange: all wrong
    Y[:, 7], P[:, 7] = [0, 0, 1, 1], [0, 0, 1, 0]   # capacity_building: tp1 fn1 tn2
    return Y, P


def test_score_table_by_hand(codebook):
    Y, P = hand_case()
    t = ev.score_table(Y, P, CODES, codebook, "x").set_index(["family", "code"])
    assert list(t.columns) == [c for c in ev.SCORE_COLUMNS if c not in ("family", "code")]
    kt = t.loc["knowledge_types"]
    # focus: P = R = F1 = 1/2; po = 2/4, pe = .5*.5 + .5*.5 = .5 -> kappa 0
    assert kt.loc["focus", ["precision", "recall", "f1", "kappa"]].tolist() == [0.5, 0.5, 0.5, 0]
    assert kt.loc["outcomes", ["precision", "recall", "f1", "kappa"]].tolist() == [1, 1, 1, 1]
    # approach: P 1/2, R 1, F1 2/3; po 3/4, pe .25*.5 + .75*.5 = .5 -> kappa (.75-.5)/.5 = .5
    assert kt.loc["approach", ["precision", "recall", "f1", "kappa"]].tolist() == \
        pytest.approx([0.5, 1.0, 0.6667, 0.5], abs=1e-4)
    # benefits: no positive in the gold: undefined, not 0 (a new team's sub-type that nobody
    # labelled present dragged its macro down)
    assert kt.loc["benefits", "n_positive"] == 0
    assert kt.loc["benefits", ["precision", "recall", "f1", "kappa"]].isna().all()
    # organisational: one miss; po .75, pe .25*0 + .75*1 = .75 -> kappa 0
    assert kt.loc["organisational", ["f1", "kappa"]].tolist() == [0, 0]
    # macro: mean over the 4 codes with a positive label
    assert kt.loc["macro", "f1"] == pytest.approx((0.5 + 1 + 2 / 3 + 0) / 4, abs=1e-4)
    assert kt.loc["macro", "kappa"] == pytest.approx((0 + 1 + 0.5 + 0) / 4, abs=1e-4)
    assert kt.loc["macro", "n_positive"] == 2 + 2 + 1 + 0 + 1
    # micro: tp 1+2+1 = 4, fp 1+0+1 = 2, fn 1+0+0+0+1 = 2 -> P = R = F1 = 2/3
    assert kt.loc["micro", ["precision", "recall", "f1"]].tolist() == \
        pytest.approx([2 / 3] * 3, abs=1e-4)
    assert np.isnan(kt.loc["micro", "kappa"])
    act = t.loc["activities"]
    # exchange: po 0, pe .5*.5 + .5*.5 = .5 -> kappa -1
    assert act.loc["exchange", ["f1", "kappa"]].tolist() == [0, -1]
    # capacity_building: P 1, R 1/2, F1 2/3; po 3/4, pe .5*.25 + .5*.75 = .5 -> kappa .5
    assert act.loc["capacity_building", ["precision", "recall", "f1", "kappa"]].tolist() == \
        pytest.approx([1, 0.5, 0.6667, 0.5], abs=1e-4)
    assert act.loc["macro", "f1"] == pytest.approx((1 + 0 + 2 / 3) / 3, abs=1e-4)
    # micro: tp 3+0+1 = 4, fp 0+2+0 = 2, fn 0+2+1 = 3 -> P 4/6, R 4/7, F1 8/13
    assert act.loc["micro", ["precision", "recall", "f1"]].tolist() == \
        pytest.approx([4 / 6, 4 / 7, 8 / 13], abs=1e-4)


def test_score_table_subtypes(codebook):
    labels = CODES + ["exchange.input"]
    Y = np.zeros((2, 9), int)
    Y[0, 8] = 1
    t = ev.score_table(Y, Y, labels, codebook, "x", subtypes=True)
    sub = t[t["family"] == "subtypes"].set_index("code")
    assert list(sub.index) == ["exchange.input", "macro", "micro"]
    assert sub.loc["exchange.input", "f1"] == 1
    # a sub-type the coder assigns where the gold has it nowhere: precision 0, the rest
    # undefined; the macro is that of the defined ones
    labels = CODES + ["exchange.input", "exchange.invitation"]
    Y, P = np.zeros((2, 10), int), np.zeros((2, 10), int)
    Y[0, 8] = P[0, 8] = P[1, 9] = 1
    sub = ev.score_table(Y, P, labels, codebook, "x", subtypes=True).set_index(
        ["family", "code"]).loc["subtypes"]
    assert sub.loc["exchange.invitation", "precision"] == 0
    assert sub.loc["exchange.invitation", ["recall", "f1", "kappa"]].isna().all()
    assert sub.loc["macro", "f1"] == 1


def test_loso_never_trains_on_the_test_school():
    texts = [f"{school}-{i}" for school in "abc" for i in range(4)]
    groups = [t[0] for t in texts]
    Y = np.arange(12).reshape(12, 1) % 2
    seen = []

    def spy(train, train_Y, test):
        test_schools = {t[0] for t in test}
        assert len(test_schools) == 1
        assert not test_schools & {t[0] for t in train}
        assert len(train) == len(train_Y) == 8
        seen.append(test_schools.pop())
        return np.array([[int(t.split("-")[1]) % 2] for t in test])

    pred = ev.loso_predict(texts, Y, groups, spy)
    assert seen == ["a", "b", "c"]
    np.testing.assert_array_equal(pred, Y)  # every row predicted by the fold that held it out


def test_loso_passes_dataframe_slices():
    X = pd.DataFrame({"text": list("abcd"), "context": list("wxyz")})
    calls = []

    def spy(train, train_Y, test):
        calls.append((train["text"].tolist(), test["context"].tolist()))
        return np.zeros((len(test), 1), int)

    ev.loso_predict(X, np.zeros((4, 1), int), ["s1", "s1", "s2", "s2"], spy)
    assert calls == [(["c", "d"], ["w", "x"]), (["a", "b"], ["y", "z"])]


def test_majority_and_compare_coders(codebook):
    Y, P = hand_case()
    groups = ["s1", "s1", "s2", "s2"]
    texts = list("abcd")
    res = ev.compare_coders(texts, Y, groups,
                            {"perfect": Y, "majority": ev.majority_fit_predict}, CODES, codebook)
    assert set(res.scores["coder"]) == {"perfect", "majority"}
    perfect = res.scores[(res.scores["coder"] == "perfect") & (res.scores["code"] == "macro")]
    # benefits has no positives (F1 undefined, left out), so the family macro is 1
    assert perfect.set_index("family").loc["knowledge_types", "f1"] == pytest.approx(1.0)
    # majority on s2 learns from s1 only: knowledge_management is 1 in both s1 rows
    np.testing.assert_array_equal(res.predictions["majority"][2:, 5], [1, 1])
    assert len(res.seconds["majority"]) == 2


def test_subsample_nested():
    tr = np.arange(100, 140)
    small, big = ev.subsample(tr, 0.25, 3), ev.subsample(tr, 0.75, 3)
    assert len(small) == 10 and len(big) == 30
    assert set(small) <= set(big) <= set(tr)
    assert len(ev.subsample(tr, 1.0, 3)) == 40
    with pytest.raises(ValueError):
        ev.subsample(tr, 0, 3)


def test_learning_curve_uses_fraction_of_training_folds(codebook):
    texts = [f"s{k}-{i}" for k in range(3) for i in range(10)]
    groups = [t.split("-")[0] for t in texts]
    Y = np.zeros((30, 8), int)
    sizes = []

    def counting(train, train_Y, test):
        assert not {t.split("-")[0] for t in train} & {t.split("-")[0] for t in test}
        sizes.append(len(train))
        return np.zeros((len(test), 8), int)

    curve = ev.learning_curve(texts, Y, groups, {"c": counting}, CODES, codebook,
                              fractions=[0.1, 0.5, 1.0], seed=1)
    assert sorted(sizes) == [2, 2, 2, 10, 10, 10, 20, 20, 20]
    assert list(curve.columns) == ev.CURVE_COLUMNS
    assert curve["n_train"].tolist() == [2, 2, 10, 10, 20, 20]
    assert set(curve["family"]) == {"knowledge_types", "activities"}


def test_targets_and_markdown(codebook):
    Y, P = hand_case()
    scores = pd.concat([ev.score_table(Y, Y, CODES, codebook, "model"),
                        ev.score_table(Y, P, CODES, codebook, "rules")])
    t = ev.targets(scores, "model", "rules", codebook).set_index("target")
    assert t.loc["knowledge_types: macro-F1", "met"]  # benefits (no data) is left out
    assert t.loc["activities: macro-F1", "met"]
    assert t.loc["activities: macro-F1 gain over rules", "met"]
    assert not t.loc["benefits: kappa", "met"] and t.loc["focus: kappa", "met"]   # undefined
    worse = pd.concat([ev.score_table(Y, P, CODES, codebook, "model"),
                       ev.score_table(Y, P, CODES, codebook, "rules")])
    assert not ev.targets(worse, "model", "rules", codebook).set_index("target").loc[
        "knowledge_types: macro-F1", "met"]
    md = ev.markdown_report(scores, title="T", summary=["s"], target_table=t.reset_index())
    assert "| family | code | n_positive | model F1 | model κ | rules F1 | rules κ |" in md
    assert "**no**" in md
    assert "No segment has a positive label for benefits: their recall, F1 and kappa are " \
        "undefined (empty) and left out of the macro averages." in md
    wide = ev.wide_table(scores)
    assert {"model_f1", "rules_kappa", "rules_precision"} <= set(wide.columns)
    assert len(wide) == len(scores) / 2


def test_resampled_scores_drawn_once_each_are_the_score_table(codebook):
    """Every transcript drawn once is the labelled data as they are: the resample's F1, kappa
    and micro counts are score_table's, to the last decimal (kappa -1, an undefined code)."""
    from pipeline.coding.evaluate import _resampled_scores

    Y, P = hand_case()
    table = ev.score_table(Y, P, CODES, codebook, "x").set_index("code")
    once = np.ones((1, 2))
    for j, code in enumerate(CODES):
        f1, kappa, _ = _resampled_scores(Y[:, j], P[:, j], np.array([0, 0, 1, 1]), once)
        np.testing.assert_allclose([f1[0], kappa[0]], table.loc[code, ["f1", "kappa"]],
                                   atol=5e-5)
    counts = sum(_resampled_scores(Y[:, j], P[:, j], np.array([0, 1, 1, 0]), 2 * once)[2]
                 for j in range(5))   # each drawn twice: the counts double, F1 stays
    assert counts[:, 0].tolist() == [8, 4, 4]   # tp fp fn of the knowledge types, as micro


def test_bootstrap_intervals_resample_whole_transcripts(codebook):
    """A coder right everywhere has [1, 1]; a coder right on one transcript and wrong on the
    other varies from resample to resample, the more so the fewer transcripts; with one
    transcript there is nothing to resample and the interval is the figure itself. Same seed,
    same intervals."""
    Y, P = hand_case()

    def intervals(transcripts, seed=3):
        return ev.bootstrap_intervals(Y, {"perfect": Y, "x": P}, transcripts, CODES, codebook,
                                      resamples=400, level=0.9, seed=seed)

    two = intervals(["a", "a", "b", "b"])
    assert list(two.columns) == ev.INTERVAL_COLUMNS
    two = two.set_index(["coder", "family", "code"])
    kt, act = "knowledge_types", "activities"
    assert two.loc[("perfect", kt, "focus"), ["f1_low", "f1_high", "kappa_low", "kappa_high"]
                   ].tolist() == [1, 1, 1, 1]
    # focus: transcript a holds tp + fn (F1 2/3 drawn twice), b holds fp + tn (no positive
    # drawn twice: undefined, left out), both once: 1/2
    assert two.loc[("x", kt, "focus"), ["f1_low", "f1_high"]].tolist() == pytest.approx(
        [0.5, 2 / 3], abs=1e-4)
    assert two.loc[("x", kt, "benefits"), ["f1_low", "f1_high"]].isna().all()   # never 1
    assert two.loc[("x", act, "micro"), ["kappa_low", "kappa_high"]].isna().all()
    one = intervals(["a"] * 4).set_index(["coder", "family", "code"])
    table = ev.score_table(Y, P, CODES, codebook, "x").set_index(["family", "code"])
    for key in ((kt, "macro"), (act, "micro"), (act, "exchange")):
        row = one.loc[("x", *key)]
        assert row["f1_low"] == row["f1_high"] == pytest.approx(table.loc[key, "f1"], abs=1e-4)
    pd.testing.assert_frame_equal(intervals(["a", "a", "b", "b"]).set_index(
        ["coder", "family", "code"]), two)
    wider = intervals(["a", "b", "c", "d"]).set_index(["coder", "family", "code"]).loc[
        ("x", act, "capacity_building")]
    assert wider["f1_low"] < wider["f1_high"]


def test_per_school_scores_are_each_school_alone(codebook):
    Y, P = hand_case()
    table = ev.per_school_scores(Y, {"x": P}, ["s1", "s1", "s2", "s2"], CODES, codebook)
    assert list(table.columns) == ev.PER_SCHOOL_COLUMNS
    assert table[["school", "family"]].values.tolist() == [
        ["s1", "knowledge_types"], ["s1", "activities"], ["s2", "knowledge_types"],
        ["s2", "activities"]]
    alone = ev.score_table(Y[2:], P[2:], CODES, codebook, "x").set_index(["family", "code"])
    s2 = table[table["school"] == "s2"].set_index("family")
    assert s2.loc["activities", "macro_f1"] == alone.loc[("activities", "macro"), "f1"]
    assert s2.loc["knowledge_types", "micro_f1"] == alone.loc[("knowledge_types", "micro"),
                                                              "f1"]
    assert s2["n_segments"].tolist() == [2, 2]


def test_human_agreement_beside_the_model(codebook):
    """Kappa of two coders by hand: focus A=1100, B=1000: p_o 3/4, p_e 1/2, kappa 0.5;
    an adjudicator is no coder, and one coder gives no table."""
    rows = [(f"s{i}", "focus", a, coder, "2026-01-01T00:00:00+00:00")
            for coder, values in (("gold", "1100"), ("bea", "1000"), ("adjudicator:x", "0000"))
            for i, a in enumerate(values)]
    labels = pd.DataFrame(rows, columns=["segment_id", "code", "value", "annotator", "time"])
    Y, P = hand_case()
    scores = ev.score_table(Y, P, CODES, codebook, "model")
    table = ev.human_agreement(labels, scores, "model", codebook).set_index("code")
    assert table.loc["focus", "human_kappa"] == pytest.approx(0.5)
    assert table.loc["focus", "n_units"] == 4
    assert table.loc["focus", "model_kappa"] == pytest.approx(0.0)   # tp1 fp1 fn1 tn1
    assert ev.human_agreement(labels[labels["annotator"] != "bea"], scores, "model",
                              codebook) is None
    no_model = ev.human_agreement(labels, scores, None, codebook)
    assert list(no_model.columns) == ["family", "code", "n_units", "human_kappa"]
    apart = labels.assign(segment_id=labels["segment_id"] + labels["annotator"])
    assert ev.human_agreement(apart, scores, "model", codebook) is None   # nothing in common
    md = ev.markdown_report(scores, title="T", summary=["s"], humans=table.reset_index())
    assert "## Agreement between the human coders" in md and "| human κ | model κ |" in md


# ---------------------------------------------------------------- the CLI command
def test_cli_evaluate_tiny_cohort(shared_datadir, tmp_path):
    out = tmp_path / "eval"
    result = CliRunner().invoke(app, ["evaluate", str(shared_datadir / "tiny_cohort"),
                                      "--out", str(out), "--coders", "rules,sklearn,majority",
                                      "--fractions", "0.5,1", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {
        "evaluation.csv", "evaluation_long.csv", "evaluation_per_school.csv", "evaluation.md",
        "learning_curve.csv", "learning_curve.png", "manifest.json"}
    wide = pd.read_csv(out / "evaluation.csv")
    assert {"rules_f1", "sklearn_tfidf_lr_kappa", "majority_recall"} <= set(wide.columns)
    assert set(CODES) <= set(wide["code"])
    curve = pd.read_csv(out / "learning_curve.csv")
    assert set(curve["fraction"]) == {0.5, 1.0} and set(curve["coder"]) == {"sklearn_tfidf_lr"}
    md = (out / "evaluation.md").read_text(encoding="utf-8")
    assert "## Targets" in md and "learning_curve.png" in md
    gold = pd.read_csv(shared_datadir / "tiny_cohort" / "labels" / "gold.csv")
    assert (f"their decisions per segment and code come from {len(gold)} gold labels; "
            in md)
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "macro-F1" in result.output
    assert "Agreement between the human coders" not in md   # one coder: nothing to compare
    # the Markdown shows the CSV's values, not those rounded again (0.4465 showed as 0.447,
    # 0.4464 exactly); the rule coder and the baseline, which learn nothing, are not timed
    rows: dict[str, str] = {}   # the first table's: F1 and kappa
    for line in md.splitlines():
        if line.startswith("| knowledge_types | "):
            rows.setdefault(line.split(" | ")[1], line)
    macro = wide[(wide["family"] == "knowledge_types") & (wide["code"] == "macro")].iloc[0]
    for coder in ("rules", "sklearn_tfidf_lr"):
        assert f" {macro[f'{coder}_f1']:.4f} " in rows["macro"]
    time = md.split("## Time", 1)[1].split("##", 1)[0]
    assert "| sklearn_tfidf_lr |" in time and "| majority |" in time   # fast, but per fold
    assert "| rules |" not in time and "Not timed: rules (learns nothing" in time
    assert "| sklearn_tfidf_lr | 50% |" in md   # the learning curve's fraction
    # how sure: each figure's interval over resampled transcripts, each school alone
    long = pd.read_csv(out / "evaluation_long.csv").set_index(["coder", "family", "code"])
    model_macro = long.loc[("sklearn_tfidf_lr", "knowledge_types", "macro")]
    assert 0 <= model_macro["f1_low"] <= model_macro["f1_high"] <= 1
    targets = md.split("## Targets", 1)[1].split("##", 1)[0]
    assert (f"| knowledge_types: macro-F1 | {model_macro['f1']:.4f} | "
            f"{model_macro['f1_low']:.4f}–{model_macro['f1_high']:.4f} | >= 0.85 |") in targets
    schools = pd.read_csv(out / "evaluation_per_school.csv")
    assert set(schools["school"]) == {"sch01", "sch02"}
    assert set(schools["coder"]) == {"rules", "sklearn_tfidf_lr", "majority"}
    sure = md.split("## How sure these figures are", 1)[1].split("\n## ", 1)[0]
    assert "percentile intervals from 2000 resamples of the " in sure
    assert "### Macro-F1 per school" in sure and "| sklearn_tfidf_lr | sch02 |" in sure


def test_cli_evaluate_reports_the_human_coders_agreement(shared_datadir, tmp_path):
    """A second coder's labels in the cohort: their agreement with the first, per code,
    next to the model's kappa."""
    cohort = shared_datadir / "tiny_cohort"
    gold = pd.read_csv(cohort / "labels" / "gold.csv", dtype=str)
    second = gold.assign(annotator="second_coder")
    flip = second.index[::25]
    second.loc[flip, "value"] = second.loc[flip, "value"].map({"0": "1", "1": "0"})
    # spelled as a spreadsheet may write them: still 0 and 1
    second["value"] = second["value"].map({"0": "0.0", "1": "true"})
    second.to_csv(cohort / "labels" / "second_coder.csv", index=False)
    out = tmp_path / "eval"
    result = CliRunner().invoke(app, ["evaluate", str(cohort), "--out", str(out), "--coders",
                                      "rules,sklearn", "--no-curve", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    humans = pd.read_csv(out / "human_agreement.csv")
    assert list(humans.columns) == ["family", "code", "n_units", "human_kappa",
                                    "sklearn_tfidf_lr_kappa"]
    assert set(humans["code"]) <= set(CODES) and len(humans) >= 5
    assert (humans["human_kappa"] < 1).any() and humans["human_kappa"].between(0.3, 1).all()
    assert "## Agreement between the human coders" in (out / "evaluation.md").read_text(
        encoding="utf-8")


def test_cli_evaluate_scores_against_the_label_store_as_train_does(shared_datadir, tmp_path):
    """An adjudication in the cohort's label store counts for `evaluate` as it does for
    `train` (evaluate used to read labels/*.csv only); the table says where its labels came
    from."""
    import json

    from pipeline.annotate import LabelStore
    from pipeline.config import load_settings

    cohort = shared_datadir / "tiny_cohort"
    codebook = load_settings().codebook
    gold = pd.read_csv(cohort / "labels" / "gold.csv", dtype=str)
    first = gold[(gold["code"] == "focus") & (gold["value"] == "0")]["segment_id"].iloc[0]
    LabelStore.for_cohort(cohort, codebook.code_ids + codebook.subtype_ids).adjudicate(
        first, "focus", "1", "carla")
    out = tmp_path / "eval"
    result = CliRunner().invoke(app, ["evaluate", str(cohort), "--out", str(out), "--coders",
                                      "rules", "--no-curve", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    md = (out / "evaluation.md").read_text(encoding="utf-8")
    assert (f"come from 1 adjudicated, {len(gold) - 1} gold labels (the label store)"
            in md), md
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["label_store"].endswith("store.sqlite")
    assert manifest["labelled_segments"]["sources"]["adjudicated"] == 1


def test_cli_evaluate_says_which_labels_it_left_out(shared_datadir, tmp_path):
    """A transcript edited after labelling: its labels match no segment any more. They are
    left out with a warning naming the transcript and how many, in the console, the table
    and the manifest (they used to be counted in the manifest only)."""
    import json

    cohort = shared_datadir / "tiny_cohort"
    doc = cohort / "transcripts" / "sch01" / "sch01-p01_interview_1.txt"
    doc.write_text("Transcript gecorrigeerd.\n\n" + doc.read_text(encoding="utf-8"),
                   encoding="utf-8")
    gold = pd.read_csv(cohort / "labels" / "gold.csv", dtype=str)
    n = gold.loc[gold["segment_id"].str.startswith("sch01-p01_interview_1@"),
                 "segment_id"].nunique()
    out = tmp_path / "eval"
    result = CliRunner().invoke(app, ["evaluate", str(cohort), "--out", str(out), "--coders",
                                      "rules", "--no-curve", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    said = f"{n} labelled segment id(s) match no segment of the transcripts"
    assert said in " ".join(result.stderr.split())
    assert "sch01-p01_interview_1 (" in (out / "evaluation.md").read_text(encoding="utf-8")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert any(said in w for w in manifest["warnings"])
    assert manifest["labelled_segments"]["labels_not_matching_a_segment"] == n > 0


def test_cli_evaluate_rejects_unknown_coder(shared_datadir, tmp_path):
    result = CliRunner().invoke(app, ["evaluate", str(shared_datadir / "tiny_cohort"),
                                      "--out", str(tmp_path / "e"), "--coders", "rules,bert"])
    assert result.exit_code == 2
    assert "bert" in result.output


def test_cli_evaluate_manifest_names_the_files_it_read(shared_datadir, tmp_path):
    """The manifest hashes the files evaluate reads, as `pipeline run`'s does: not the
    cohort's README, notes or scripts, nor the label store (named and its labels hashed on
    their own); it used to hash every file of the folder."""
    import json

    from pipeline.annotate import LabelStore
    from pipeline.config import load_settings

    cohort = shared_datadir / "tiny_cohort"
    (cohort / "notes").mkdir()
    (cohort / "notes" / "interviewschema.txt").write_text("Vraag 1: ...\n", encoding="utf-8")
    codebook = load_settings().codebook
    LabelStore.for_cohort(cohort, codebook.code_ids + codebook.subtype_ids)
    out = tmp_path / "eval"
    result = CliRunner().invoke(app, ["evaluate", str(cohort), "--out", str(out), "--coders",
                                      "rules", "--no-curve", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    read = ["cohort.yaml", "labels/gold.csv", "nominations.csv", "staff.csv",
            *sorted(p.relative_to(cohort).as_posix()
                    for p in (cohort / "transcripts").rglob("*.*"))]
    assert list(manifest["inputs"]) == read
    assert manifest["label_store"].endswith("store.sqlite")
    assert len(manifest["labelled_segments"]["sha256"]) == 64


def test_how_sure_section_with_a_family_nobody_labelled_present(codebook):
    """A family without a positive gold label (undefined macro-F1 at every school, as score
    table leaves it) gets empty lowest and highest schools, not a crash of the report."""
    Y, P = hand_case()
    Y[:, 5:] = 0   # no activity labelled present anywhere
    groups = ["s1", "s1", "s2", "s2"]
    scores = ev.score_table(Y, P, CODES, codebook, "x").merge(
        ev.bootstrap_intervals(Y, {"x": P}, groups, CODES, codebook, resamples=100,
                               level=0.9, seed=0), on=["coder", "family", "code"])
    per_school = ev.per_school_scores(Y, {"x": P}, groups, CODES, codebook)
    md = ev.markdown_report(scores, title="T", summary=[], per_school=per_school)
    row = next(line for line in md.splitlines() if line.startswith("| x | activities |"))
    assert row == "| x | activities |  |  |  |  |"
    assert "| x | knowledge_types | 0.5417 | 0.0000–0.7778 | 0.0000 (s2) | 0.7778 (s1) |" in md


def test_an_interval_below_zero_reads_unambiguously():
    """A kappa interval from -0.05 to 0.3 must not read as '-0.0500-0.3000' (a range from
    -0.05, or a difference?): the bounds are joined by an en dash, as the report does."""
    scores = pd.DataFrame({"kappa": [0.1], "kappa_low": [-0.05], "kappa_high": [0.3]},
                          index=["focus"])
    assert ev._interval(scores, "focus", "kappa") == "-0.0500–0.3000"
