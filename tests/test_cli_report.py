"""`pipeline report COHORT --codes CODED.csv --out DIR` through the CLI, on the tiny cohort:
everything a run writes, from codes already made (a run's segments.csv, corrected or not, or
what `pipeline code` wrote)."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from helpers import cli, run_in_process  # noqa: E402

COHORT = Path(__file__).parent / "data" / "tiny_cohort"
TABLES = ["network_metrics.csv", "school_metrics.csv", "key_figures.csv", "data_quality.csv",
          "segments.csv", "person_codes.csv", "person_features.csv", "profiles.csv",
          "tiny_cohort.qdpx"]


@pytest.fixture(scope="module")
def run_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "tiny"
    run_in_process(["run", COHORT, "--out", out, "--jobs", "1"])
    return out


@pytest.fixture
def report(capsys, monkeypatch):
    """``pipeline report COHORT --codes CODES --out OUT [EXTRA]`` through ``main``:
    (status, stdout + stderr)."""
    def invoke(codes, out, *extra):
        status, stdout, stderr = cli(["report", COHORT, "--codes", codes, "--out", out,
                                      "--jobs", "1", *extra], capsys, monkeypatch)
        return status, stdout + stderr
    return invoke


def read(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_report_from_a_runs_codes_gives_the_runs_results(run_out, tmp_path, report):
    """Same tables and .qdpx byte for byte; the coder and model card come from the run's
    manifest; the report and manifest name the codes file as an input."""
    out = tmp_path / "again"
    status, result = report(run_out / "segments.csv", out)
    assert status == 0, result
    for name in TABLES:
        assert (out / name).read_bytes() == (run_out / name).read_bytes(), name
    ran = json.loads((run_out / "manifest.json").read_text(encoding="utf-8"))
    made = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert made["coder"] == ran["coder"] == "sklearn_tfidf_lr"
    assert made["model_card"] == ran["model_card"]
    codes_key = (run_out / "segments.csv").as_posix()
    assert made["inputs"][codes_key] == ran["outputs"]["segments.csv"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert f"pipeline report {COHORT.as_posix()} --codes {codes_key} --out OUT" in html
    assert ran["outputs"]["segments.csv"] in html
    assert ran["model_card"]["files"]["model.skops"] in html
    assert "no model evaluation" not in " ".join(result.split())


def test_the_run_id_does_not_depend_on_how_the_path_is_typed(run_out, tmp_path, report,
                                                             monkeypatch):
    import re

    ids = []
    for codes, out in [(run_out / "segments.csv", tmp_path / "a"),
                       (Path("tiny") / "segments.csv", tmp_path / "b")]:
        monkeypatch.chdir(run_out.parent)
        status, result = report(codes, out)
        assert status == 0, result
        html = (out / "report.html").read_text(encoding="utf-8")
        ids.append(re.search(r"run ([0-9a-f]{8}-[0-9a-f]{8})", html)[1])
    assert ids[0] == ids[1]


def test_corrected_codes_change_counts_and_profiles(run_out, tmp_path, report):
    """A researcher removes every `benefits` code and adds `focus` to all segments of one
    key figure: person codes and features follow, and the report says it shows no model
    evaluation (the table is no longer the model's)."""
    coded = read(run_out / "segments.csv")
    person = coded["person_id"].value_counts().index[0]
    mine = coded["person_id"] == person
    coded["knowledge_types"] = [";".join(c for c in k.split(";") if c and c != "benefits")
                                for k in coded["knowledge_types"]]
    coded.loc[mine, "knowledge_types"] = [k + "; Focus" if "focus" not in k.split(";") else k
                                          for k in coded.loc[mine, "knowledge_types"]]
    coded.loc[mine, "coder"] = "JD"
    codes = tmp_path / "corrected.csv"
    coded.to_csv(codes, index=False)
    out = tmp_path / "corrected"
    status, result = report(codes, out)
    assert status == 0, result
    assert "no model evaluation" in " ".join(result.split())
    features = read(out / "person_features.csv").set_index("person_id")
    assert set(features["n_benefits"]) == {"0"}
    assert features.loc[person, "n_focus"] == str(mine.sum())
    before = read(run_out / "person_features.csv").set_index("person_id")
    assert before.loc[person, "n_focus"] != str(mine.sum())
    written = read(out / "segments.csv")
    order = ["focus", "outcomes", "approach", "benefits", "organisational"].index
    assert written["knowledge_types"].tolist() == [   # as given, in codebook order
        ";".join(sorted((c.strip().lower() for c in k.split(";") if c), key=order))
        for k in coded["knowledge_types"]]
    assert written["coder"].tolist() == coded["coder"].tolist()  # JD's rows stay JD's
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "waarvan niet bekend is welk model" in html and "Leave-one-school-out" not in html
    from pipeline.exports import read_qdpx

    project = read_qdpx((out / "tiny_cohort.qdpx").read_bytes())
    assert sorted(project["users"].values()) == ["JD", "sklearn_tfidf_lr"]


def test_codes_of_pipeline_code_with_the_model_named(run_out, tmp_path, report):
    """`pipeline segment` + `pipeline code` output (no coder column) reports as the run does
    when --model names the model, or when the manifest `pipeline code` wrote beside it says
    which; without either the coder is 'unknown' and a warning says so."""
    segments, coded = tmp_path / "segments.csv", tmp_path / "coded.csv"
    run_in_process(["segment", COHORT, "--out", segments])
    run_in_process(["code", segments, "--out", coded])
    named_status, named = report(coded, tmp_path / "named", "--model", "models/default")
    assert named_status == 0, named
    assert ((tmp_path / "named" / "profiles.csv").read_bytes()
            == (run_out / "profiles.csv").read_bytes())
    manifest = json.loads((tmp_path / "named" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["coder"] == "sklearn_tfidf_lr"
    html = (tmp_path / "named" / "report.html").read_text(encoding="utf-8")
    assert f"--codes {coded.as_posix()} --out OUT --model MODEL_DIR" in html
    told_status, told = report(coded, tmp_path / "told")   # by coded.manifest.json
    assert told_status == 0 and "no coder column" not in told, told
    manifest = json.loads((tmp_path / "told" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["coder"] == "sklearn_tfidf_lr" and manifest["model_card"]["labels"]
    (tmp_path / "coded.manifest.json").unlink()
    anonymous_status, anonymous = report(coded, tmp_path / "anonymous")
    assert anonymous_status == 0, anonymous
    assert "has no coder column" in " ".join(anonymous.split())
    manifest = json.loads((tmp_path / "anonymous" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["coder"] == "unknown" and manifest["model_card"] == {}


def test_codes_of_the_rule_coder_named_with_rules(tmp_path, report):
    segments, coded = tmp_path / "segments.csv", tmp_path / "coded.csv"
    run_in_process(["segment", COHORT, "--out", segments])
    run_in_process(["code", segments, "--out", coded, "--rules"])
    status, result = report(coded, tmp_path / "out", "--rules")
    assert status == 0, result
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["coder"] == "rules"
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "--out OUT --rules" in html and "regelgebaseerde codeerder" in html
    status, result = report(coded, tmp_path / "both", "--rules", "--model", "models/default")
    assert status == 2 and "not both" in result


def test_a_report_of_a_report_still_says_its_coder_is_unknown(tmp_path, report):
    segments, coded = tmp_path / "segments.csv", tmp_path / "coded.csv"
    run_in_process(["segment", COHORT, "--out", segments])
    run_in_process(["code", segments, "--out", coded])
    (tmp_path / "coded.manifest.json").unlink()   # nothing says what coded it
    assert report(coded, tmp_path / "first")[0] == 0
    status, result = report(tmp_path / "first" / "segments.csv", tmp_path / "second")
    assert status == 0 and "no model evaluation" in " ".join(result.split())


def test_a_model_of_another_codebook_version_is_warned_of_as_run_does(run_out, tmp_path,
                                                                     report):
    """The report of a model's codes names what `run` names of that model: trained under
    another codebook version (here the team's copy, version bumped), in the console, the
    manifest and the report. `report` showed the model's evaluation without a word."""
    repo = Path(__file__).resolve().parents[1]
    codebook = (repo / "configs" / "codebook.yaml").read_text(encoding="utf-8")
    assert 'version: "1.0"' in codebook
    (tmp_path / "codebook.yaml").write_text(codebook.replace('version: "1.0"',
                                                             'version: "1.1"'), encoding="utf-8")
    config = tmp_path / "pipeline.yaml"
    config.write_text((repo / "configs" / "pipeline.yaml").read_text(encoding="utf-8"),
                      encoding="utf-8")
    said = "trained with codebook version 1.0, this run uses version 1.1"
    for codes, extra in [(run_out / "segments.csv", ()),
                         (run_out / "segments.csv", ("--model", "models/default"))]:
        out = tmp_path / f"out{len(extra)}"
        status, result = report(codes, out, "--config", config, *extra)
        assert status == 0 and said in " ".join(result.split()), result
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        assert any(said in w for w in manifest["warnings"]), manifest["warnings"]
        assert "codeboekversie 1.0" in (out / "report.html").read_text(encoding="utf-8")


def test_codes_made_with_other_segment_settings_say_so(run_out, tmp_path, report):
    repo = Path(__file__).resolve().parents[1]
    text = (repo / "configs" / "pipeline.yaml").read_text(encoding="utf-8")
    assert "max_chars: 600" in text
    config = tmp_path / "pipeline.yaml"
    config.write_text(text.replace("max_chars: 600", "max_chars: 150"), encoding="utf-8")
    status, result = report(run_out / "segments.csv", tmp_path / "out", "--config", config)
    assert status == 2 and "other segment settings?" in result


def _broken(run_out, tmp_path, edit):
    coded = read(run_out / "segments.csv")
    coded = edit(coded)
    path = tmp_path / "broken.csv"
    coded.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.iloc[1:], "broken.csv: field 'id': 1 of the cohort's 32 segments have no row"),
    (lambda t: t.assign(segment_id=t["segment_id"].where(t.index != 3, "sch09-x@0-10")),
     "broken.csv:5: field 'id': 1 row(s) name a segment this cohort does not have: "
     "sch09-x@0-10"),
    (lambda t: pd.concat([t, t.iloc[[2]]]), "broken.csv:34: field 'id': segment"),
    (lambda t: t.assign(knowledge_types=t["knowledge_types"].where(t.index != 0, "focus;fokus")),
     "broken.csv:2: field 'knowledge_types': unknown code 'fokus'"),
    (lambda t: t.assign(activities="", activity_subtypes=t["activity_subtypes"].where(
        t.index != 1, "exchange.input")),
     "broken.csv:3: field 'activity_subtypes': sub-type exchange.input without its code "
     "exchange"),
    (lambda t: t.assign(p_focus=t["p_focus"].where(t.index != 4, "1.5")),
     "broken.csv:6: field 'p_focus': expected a probability in [0, 1], got '1.5'"),
    (lambda t: t.drop(columns=["p_exchange"]), "broken.csv:1: field 'p_exchange': missing"),
    (lambda t: t.assign(p_exchange=t["p_exchange"].where(t.index != 2, "nan")),
     "broken.csv:4: field 'p_exchange': expected a probability in [0, 1], got 'nan'"),
    (lambda t: t.drop(columns=["activity_subtypes"]),
     "broken.csv:1: field 'activity_subtypes': missing"),
])
def test_bad_codes_stop_with_one_line_and_keep_the_old_output(run_out, tmp_path, report,
                                                              edit, expected):
    """Codes that do not fit the cohort or the codebook: exit 2, one line naming the file,
    line and field, and an earlier report in --out is left as it was."""
    out = tmp_path / "report"
    assert report(run_out / "segments.csv", out)[0] == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    codes = _broken(run_out, tmp_path, edit)
    status, result = report(codes, out)
    assert status == 2, result
    assert len(result.strip().splitlines()) == 1, result
    assert result.startswith(f"error: {tmp_path}/") and expected in result, result
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_refuses_an_out_that_holds_the_codes(run_out, report):
    """Writing the report into the run folder it reads would replace its codes."""
    status, result = report(run_out / "segments.csv", run_out)
    assert status == 2
    assert "--out would replace the input" in result
    assert (run_out / "segments.csv").is_file()


def test_a_model_that_did_not_make_the_codes_is_refused(run_out, tmp_path, report):
    coded = read(run_out / "segments.csv").assign(coder="rules")
    codes = tmp_path / "rules.csv"
    coded.to_csv(codes, index=False)
    status, result = report(codes, tmp_path / "out", "--model", "models/default")
    assert status == 2
    assert "coded by rules, not by the coder named (sklearn_tfidf_lr)" in result
    alone_status, alone = report(codes, tmp_path / "alone")
    assert alone_status == 0 and "no model evaluation" not in " ".join(alone.split())
    assert json.loads((tmp_path / "alone" / "manifest.json").read_text())["coder"] == "rules"


def test_no_roster_name_comes_in_through_the_codes_file(run_out, tmp_path, report):
    """Texts are the transcripts' own, pseudonymised; a name typed into the evidence column of
    a corrected table is pseudonymised too (the default, without --reveal-names)."""
    staff = pd.read_csv(COHORT / "staff.csv")
    name = staff["name"].iloc[0]
    coded = read(run_out / "segments.csv")
    coded["text"] = name
    coded.loc[0, "evidence"] = f"focus: {name}, datateam"
    codes = tmp_path / "named.csv"
    coded.to_csv(codes, index=False)
    status, result = report(codes, tmp_path / "out")
    assert status == 0, result
    written = (tmp_path / "out" / "segments.csv").read_text(encoding="utf-8")
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    surname = name.split()[-1]
    assert surname not in written and surname not in html
    assert read(tmp_path / "out" / "segments.csv")["evidence"][0].startswith("focus: [persoon-")
