"""Tests for pipeline/synthetic.py, the demo network generator and the scale generator."""

from __future__ import annotations

import doctest
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import io, synthetic
from pipeline.synthetic import (
    FixedPerson,
    SchoolSpec,
    add_data_quality_problems,
    clean_nominations,
    generate_school,
    key_figure_spec,
    tie_summary,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"


def _load_script(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo():
    return _load_script(DEMO / "generate_network.py", "generate_network")


@pytest.fixture(scope="module")
def bench():
    return _load_script(ROOT / "bench" / "generate_cohort.py", "generate_cohort")


SCHOOL = SchoolSpec("t01", "Testcollege", 80, (("t01-dt1", "data_team"),
                                                ("t01-ls1", "lesson_study")))
PROFILES = {1: "super_sharer", 2: "sender", 3: "basic_interactive"}


def _school(seed: int, school: SchoolSpec = SCHOOL, profiles=None, **kw):
    return generate_school(np.random.default_rng(seed), school,
                           key_profiles=PROFILES if profiles is None else profiles, **kw)


# ---------------------------------------------------------------- determinism
def test_same_seed_gives_identical_tables():
    a, b = _school(7), _school(7)
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)
    c = _school(8)
    assert not a[1].equals(c[1])


def test_demo_build_is_deterministic(demo):
    first, second = demo.build(), demo.build()
    for x, y in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(x, y)


# ---------------------------------------------------------------- staff table
def test_staff_table_shape():
    staff, noms, key = _school(1)
    assert list(staff.columns) == synthetic.STAFF_COLUMNS
    assert staff["person_id"].tolist()[:2] == ["t01-p001", "t01-p002"]
    assert staff["name"].is_unique
    assert (staff["years_at_school"] <= staff["years_in_education"]).all()
    assert set(staff["role"]) <= set(synthetic.ROLES)
    assert 2 <= (staff["role"] == "school_leader").sum() <= 3
    sizes = staff.loc[staff["plg_id"] != "", "plg_id"].value_counts()
    assert set(sizes.index) == {"t01-dt1", "t01-ls1"} and sizes.between(3, 8).all()
    assert staff.loc[staff["plg_id"] == "t01-ls1", "plg_type"].eq("lesson_study").all()
    assert staff.loc[staff["person_id"].isin(key["person_id"]), "responded"].all()
    responded = dict(zip(staff["person_id"], staff["responded"], strict=True))
    assert noms["ego"].map(responded).all(), "only respondents nominate"
    assert noms["strength"].between(1, 5).all()
    assert not noms.duplicated(["ego", "alter"]).any()
    assert (noms["ego"] != noms["alter"]).all()


def test_fixed_people_keep_their_attributes():
    fixed = [FixedPerson(1, "Ingrid Verbeek", "team_leader", "havo", (24, 15), "t01-dt1",
                         "super_sharer"),
             FixedPerson(5, "Kees de Wit", "school_leader", "rector", plg_id="")]
    staff, _, key = generate_school(np.random.default_rng(0), SCHOOL, fixed,
                                    reserved_names=["Sanne Bos"])
    p1 = staff.iloc[0]
    assert (p1["name"], p1["role"], p1["years_in_education"], p1["years_at_school"],
            p1["plg_id"], p1["subject"]) == ("Ingrid Verbeek", "team_leader", 24, 15,
                                             "t01-dt1", "havo")
    assert staff.iloc[4]["plg_id"] == "" and staff.iloc[4]["responded"]
    assert "Sanne Bos" not in set(staff["name"])
    assert key["person_id"].tolist() == ["t01-p001"]


def test_bad_specs_raise():
    too_many = [FixedPerson(k, f"Persoon {k}", "teacher", plg_id="t01-dt1") for k in range(1, 10)]
    with pytest.raises(ValueError, match="max 8"):
        generate_school(np.random.default_rng(0), SCHOOL, too_many)
    with pytest.raises(ValueError, match="unknown profile"):
        key_figure_spec("influencer", "x")
    with pytest.raises(ValueError, match="unknown PLG"):
        generate_school(np.random.default_rng(0), SCHOOL,
                        [FixedPerson(1, "A B", "teacher", plg_id="t01-zz9")])


# ---------------------------------------------------------------- key figures
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("profiles", [PROFILES, {4: "advanced_interactive", 9: "sender",
                                                 20: "basic_interactive"}])
def test_key_figures_have_their_profile_shape(seed, profiles):
    staff, noms, key = _school(seed, profiles=profiles)
    for scope in ("all", "boundary"):
        t = tie_summary(staff, noms, scope=scope).set_index("person_id")
        ranked = t.sort_values("contacts", ascending=False)
        assert set(ranked.index[:3]) == set(key["person_id"]), scope
        assert ranked["contacts"].iloc[2] >= ranked["contacts"].iloc[3] + 5, scope
        kf = t.loc[key["person_id"]].assign(profile=key["profile"].to_numpy())
        for pid, r in kf.iterrows():
            if r["profile"] == "sender":
                assert r["out_share"] >= 0.8 and r["reciprocity_ratio"] <= 0.2, (pid, scope)
            elif r["profile"].endswith("_interactive"):
                assert r["reciprocity_ratio"] >= 0.55, (pid, scope)
            else:
                assert r["reciprocity_ratio"] >= 0.65, (pid, scope)
                others = t.drop(index=pid)
                assert r["reciprocal_ties"] >= others["reciprocal_ties"].max() + 5, scope
                assert (r["mean_strength"]
                        >= kf.drop(index=pid)["mean_strength"].max() + 0.5), scope


def test_kf_plan_is_met_in_all_ties():
    staff, noms, key = _school(3)
    t = tie_summary(staff, noms).set_index("person_id")
    for _, k in key.iterrows():
        r = t.loc[k["person_id"]]
        assert r["reciprocal_ties"] == k["reciprocal"]
        assert r["contacts"] == k["contacts"]
        assert abs(r["mean_strength"] - k["strength"]) < 0.05


def test_small_school_shrinks_the_plan():
    tiny = SchoolSpec("t02", "Klein", 40, (("t02-dt1", "data_team"),))
    staff, noms, key = _school(0, tiny, kf_scale=2.0)
    t = tie_summary(staff, noms).set_index("person_id")
    assert (t.loc[key["person_id"], "contacts"] <= 0.85 * 39).all()


# ---------------------------------------------------------------- measures and cleaning
def test_tie_summary_counts_and_boundary_scope():
    staff = pd.DataFrame({"person_id": list("abcd"), "school_id": "s",
                          "plg_id": ["p1", "p1", "", ""]})
    noms = pd.DataFrame({"school_id": "s", "ego": list("abac"), "alter": list("badb"),
                         "strength": [4, 2, 3, 5]})
    t = tie_summary(staff, noms).set_index("person_id")
    assert t.loc["a", ["out_ties", "in_ties", "reciprocal_ties", "contacts"]].tolist() == [
        2, 1, 1, 2]
    assert t.loc["a", "mean_strength"] == pytest.approx(3.0)
    assert t.loc["b", "contacts"] == 2 and t.loc["d", "out_ties"] == 0
    b = tie_summary(staff, noms, scope="boundary").set_index("person_id")
    assert b.loc["a", "contacts"] == 1 and b.loc["a", "reciprocal_ties"] == 0
    assert b.loc["b", "contacts"] == 1 and b.loc["b", "mean_strength"] == 5


def test_tie_summary_missing_column_raises():
    staff = pd.DataFrame({"person_id": ["a"], "school_id": ["s"]})
    noms = pd.DataFrame({"ego": ["a"], "alter": ["a"], "strength": [1]})
    with pytest.raises(KeyError, match="plg_id"):
        tie_summary(staff, noms)
    with pytest.raises(ValueError, match="scope"):
        tie_summary(staff.assign(plg_id=""), noms, scope="inside")


def test_data_quality_problems_are_exactly_the_requested_ones():
    staff, noms, key = _school(5)
    bad, problems = add_data_quality_problems(
        np.random.default_rng(1), staff, noms, self_nominations=2, duplicates=3,
        typo_of=["t01-p017"], protect=key["person_id"])
    assert len(bad) == len(noms) + 6
    assert problems["kind"].value_counts().to_dict() == {
        "self_nomination": 2, "duplicate": 3, "unknown_person": 1}
    assert "t01-p0l7" in set(bad["alter"])
    assert not problems[["ego", "alter"]].isin(set(key["person_id"])).any().any()
    clean, dropped = clean_nominations(staff, bad)
    assert dropped == {"self_nomination": 2, "duplicate": 3, "unknown_person": 1}
    pd.testing.assert_frame_equal(clean, noms.reset_index(drop=True))


def test_module_doctests():
    assert doctest.testmod(synthetic).failed == 0


# ---------------------------------------------------------------- the demo cohort
def test_demo_verification_passes(demo):
    m = demo.verify(*demo.build())
    assert len(m) == 15
    assert m.groupby("school_id").size().eq(3).all()


def test_demo_verification_catches_a_broken_network(demo):
    staff, noms, key, problems = demo.build()
    # nobody nominates the sch01 super-sharer any more
    broken = noms[noms["alter"] != "sch01-p001"]
    with pytest.raises(AssertionError, match="sch01"):
        demo.verify(staff, broken, key, problems)


def test_demo_script_writes_identical_bytes(demo, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert demo.main(["--out", str(a)]) == 0
    assert demo.main(["--out", str(b)]) == 0
    assert "verification passed" in capsys.readouterr().out
    for name in ("cohort.yaml", "staff.csv", "nominations.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
        # the committed demo files are what the generator writes
        assert (a / name).read_bytes() == (DEMO / name).read_bytes(), (
            f"data/demo/{name} is out of date: run data/demo/generate_network.py")
    cohort = io.load_cohort(a)
    assert cohort.meta.name == "demo" and cohort.meta.strength_max == 5
    assert len(cohort.staff) == 480


def test_data_card_tables_are_current(demo):
    readme = (DEMO / "README.md").read_text(encoding="utf-8")
    tables = demo.markdown_tables(*demo.build())
    missing = [line for line in tables.splitlines() if line and line not in readme]
    assert not missing, ("data/demo/README.md tables are out of date (run "
                         f"generate_network.py --tables): {missing[:2]}")
    assert "TODO(lead)" not in readme and "CC0" in readme


# ---------------------------------------------------------------- the scale generator
def _fake_corpus(root: Path) -> Path:
    corpus = root / "corpus"
    (corpus / "sch01").mkdir(parents=True)
    turns = []
    for i in range(6):
        turns.append(f"I: Vraag nummer {i} over de PLG?")
        turns.append(f"R: Antwoord {i}: we werken met data, stap {i} van de cyclus.\nTweede regel.")
    (corpus / "sch01" / "sch01-p001_interview_1.txt").write_text(
        "Interview sch01-p001 (header, geen prefix)\n\n" + "\n\n".join(turns) + "\n",
        encoding="utf-8")
    (corpus / "sch01" / "sch01-p002_interview_1.txt").write_text(
        "Interviewer: Hoe ging het?\n\nRespondent: Goed, zei ze.\n", encoding="utf-8")
    (corpus / "sch01" / "sch01-p001_observation_1.txt").write_text(
        "\n\n".join(f"10.{i:02d} uur, notitie {i} in de teamkamer." for i in range(5)) + "\n",
        encoding="utf-8")
    return corpus


def test_load_corpus_splits_speakers(bench, tmp_path):
    ask, say, notes = bench.load_corpus(_fake_corpus(tmp_path), ["I", "Interviewer"])
    assert len(ask) == 7 and len(say) == 7 and len(notes) == 5
    assert ask[-1] == "Hoe ging het?" and say[-1] == "Goed, zei ze."
    assert not any(t.startswith(("I:", "R:")) for t in ask + say)


def test_bench_generator_writes_a_loadable_deterministic_cohort(bench, tmp_path, capsys):
    corpus = _fake_corpus(tmp_path)
    args = ["--schools", "3", "--seed", "4", "--corpus", str(corpus),
            "--respondent-paragraphs", "20", "--notes", "6"]
    assert bench.main([*args, "--out", str(tmp_path / "a")]) == 0
    assert bench.main([*args, "--out", str(tmp_path / "b")]) == 0
    assert "3 schools" in capsys.readouterr().out
    cohort = io.load_cohort(tmp_path / "a")
    assert cohort.staff["school_id"].nunique() == 3
    assert cohort.staff.groupby("school_id").size().between(40, 150).all()
    per_resp = len(cohort.nominations) / cohort.staff["responded"].sum()
    assert 9 <= per_resp <= 14
    assert len(cohort.transcripts) == 18  # 3 key figures x (interview + observation) x 3
    files = sorted((tmp_path / "a" / "transcripts").rglob("*.txt"))
    for f in files:
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes()
    for name in ("staff.csv", "nominations.csv", "cohort.yaml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    interview = next(f for f in files if "_interview_" in f.name).read_text(encoding="utf-8")
    paras = interview.strip().split("\n\n")
    speakers = [p.split(":", 1)[0] for p in paras]
    assert speakers[0] in ("I", "Interviewer")
    assert all(a != b for a, b in zip(speakers, speakers[1:], strict=False)), "alternation"
    assert 15 <= len(paras) / 2 <= 25
    # the people with transcripts are each school's top 3 by contacts
    top = bench.top_by_contacts(cohort.staff, cohort.nominations)
    assert set(top["person_id"]) == set(cohort.transcripts["person_id"])


def test_bench_generator_refuses_a_foreign_folder(bench, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="not empty"):
        bench.main(["--schools", "1", "--out", str(out), "--corpus",
                    str(_fake_corpus(tmp_path))])
    assert (out / "precious.txt").exists()


def test_bench_generator_needs_a_corpus(bench, tmp_path):
    with pytest.raises(SystemExit, match="need interview"):
        bench.main(["--schools", "1", "--out", str(tmp_path / "x"), "--corpus",
                    str(tmp_path / "empty")])
