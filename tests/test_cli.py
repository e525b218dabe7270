"""`pipeline run` end to end on the tiny cohort, through the CLI: files, columns and values."""

import json

import pandas as pd
import pytest
from helpers import write_config
from typer.testing import CliRunner

from pipeline.cli import app

CODES = ["focus", "outcomes", "approach", "benefits", "organisational",
         "knowledge_management", "exchange", "capacity_building"]
PROFILES = {"sender", "basic_interactive", "advanced_interactive", "super_sharer",
            "undetermined"}


@pytest.fixture(scope="module")
def run_out(tmp_path_factory):
    from pathlib import Path

    cohort = Path(__file__).parent / "data" / "tiny_cohort"
    out = tmp_path_factory.mktemp("run") / "tiny"
    result = CliRunner().invoke(app, ["run", str(cohort), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    return cohort, out, result.output


def read(out, name):
    return pd.read_csv(out / name, keep_default_na=False)


def test_every_output_is_written(run_out):
    _, out, _ = run_out
    for name in ["network_metrics.csv", "school_metrics.csv", "key_figures.csv",
                 "data_quality.csv", "segments.csv", "person_codes.csv",
                 "person_features.csv", "profiles.csv", "report.html", "manifest.json"]:
        assert (out / name).is_file(), name
    assert sorted(p.name for p in (out / "figures").glob("*.png")) == [
        "sociogram_sch01.png", "sociogram_sch02.png"]
    assert len(list((out / "graphs").glob("*.graphml"))) == 2



def test_graphml_marks_the_key_figures_and_their_profiles(run_out):
    """Gephi colours and filters by node attributes: each node says whether it is a key
    figure; a key figure also its rank and profile, as key_figures.csv and profiles.csv."""
    import networkx as nx

    _, out, _ = run_out
    kf = read(out, "key_figures.csv")
    profiles = dict(read(out, "profiles.csv")[["person_id", "profile"]].itertuples(index=False))
    for school, rows in kf.groupby("school_id"):
        G = nx.read_graphml(out / "graphs" / f"{school}.graphml")
        marked = {n: d for n, d in G.nodes(data=True) if d["key_figure"]}
        assert {n: d["key_figure_rank"] for n, d in marked.items()} == dict(
            zip(rows.person_id, rows["rank"], strict=True))
        assert {n: d["profile"] for n, d in marked.items()} == {
            p: profiles[p] for p in rows.person_id}
        assert not any("profile" in d for n, d in G.nodes(data=True) if n not in marked)


def test_the_run_says_its_profiles_in_words(run_out):
    """The last line counts the key figures per profile as a researcher reads it, not as a
    Python dict."""
    _, out, output = run_out
    profiles = read(out, "profiles.csv")["profile"].value_counts()
    said = ", ".join(f"{n} {p}" for p, n in profiles.items())
    assert f"{profiles.sum()} key figures ({said}) -> {out}" in output
    assert "{" not in output.strip().splitlines()[-1]

def test_nominations_of_a_nonrespondent_are_a_warning(run_out):
    """tiny_cohort's sch02-p11 is marked responded=false in staff.csv yet nominated three
    colleagues (nominations.csv lines 70-72): kept as ties, and the run says so."""
    _, out, _ = run_out
    warnings = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["warnings"]
    assert ("staff.csv: school sch02: 1 staff marked responded=false made 3 nomination(s) "
            "(nominations.csv lines 70, 71, 72), kept as ties: check their responded"
            in warnings)


def test_run_writes_the_qdpx_project(run_out):
    """`<cohort folder>.qdpx`, as DESIGN.md lists among a run's outputs: a valid REFI-QDA
    project with every transcript (pseudonymised), the machine codings of the segments and
    the key figures as cases."""
    from pathlib import Path

    from lxml import etree

    from pipeline.exports import read_qdpx

    cohort, out, _ = run_out
    project = read_qdpx((out / "tiny_cohort.qdpx").read_bytes())
    xsd = Path(__file__).parent / "data" / "exports" / "Project.xsd"
    etree.XMLSchema(etree.parse(str(xsd))).assertValid(etree.fromstring(project["xml"]))
    assert len(project["sources"]) == len(list((cohort / "transcripts").rglob("*_*_*.*")))
    coded = read(out, "segments.csv")
    columns = coded[["knowledge_types", "activities", "activity_subtypes"]]
    n_codes = sum(len([c for c in ";".join(row).split(";") if c])
                  for row in columns.itertuples(index=False))
    assert len(project["selections"]) == n_codes > 0
    assert set(project["cases"]) == set(read(out, "key_figures.csv")["person_id"])
    staff = pd.read_csv(cohort / "staff.csv")
    surnames = {n.split()[-1] for n in staff["name"]}
    texts = " ".join(project["sources"].values())
    assert not [s for s in surnames if s in texts], "a roster name in the project"


def test_a_cohort_without_transcripts_runs(tmp_path):
    """A network-only study (no transcripts/ folder): profiles from the network alone, and
    a valid .qdpx holding the key figures as cases and no sources."""
    import shutil
    from pathlib import Path

    from lxml import etree

    from pipeline.exports import read_qdpx

    cohort = tmp_path / "network_only"
    cohort.mkdir()
    for name in ("cohort.yaml", "staff.csv", "nominations.csv"):
        shutil.copy(Path(__file__).parent / "data" / "tiny_cohort" / name, cohort / name)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(cohort), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert len(read(out, "segments.csv")) == 0
    assert len(read(out, "profiles.csv")) == len(read(out, "key_figures.csv")) > 0
    project = read_qdpx((out / "network_only.qdpx").read_bytes())
    xsd = Path(__file__).parent / "data" / "exports" / "Project.xsd"
    etree.XMLSchema(etree.parse(str(xsd))).assertValid(etree.fromstring(project["xml"]))
    assert project["sources"] == {} and len(project["cases"]) == len(read(out, "profiles.csv"))


def test_a_teams_transcript_runs_like_a_text_one(tmp_path):
    """A .vtt transcript (Teams) in the cohort folder: coded as the respondent's turns, its
    speakers' names pseudonymised in the segments and in the .qdpx like any transcript's."""
    import shutil
    from pathlib import Path

    from pipeline.exports import read_qdpx

    cohort = tmp_path / "tiny"
    shutil.copytree(Path(__file__).parent / "data" / "tiny_cohort", cohort)
    (cohort / "transcripts" / "sch01" / "sch01-p02_interview_1.txt").unlink()
    cues = [("Interviewer", "Hoe ben je bij het datateam gekomen?"),
            ("Johannes Dijkstra", "Annelies vroeg het me."),
            ("Johannes Dijkstra", "Ik doe de analyses voor het team."),
            ("Interviewer", "Wat doe je met de uitkomsten?"),
            ("Johannes Dijkstra", "Ik mail de sectie als er iets nieuws is.")]
    (cohort / "transcripts" / "sch01" / "sch01-p02_interview_1.vtt").write_text(
        "WEBVTT\n\n" + "".join(f"00:00:{2 * i:02d}.000 --> 00:00:{2 * i + 1:02d}.500\n"
                                f"<v {who}>{said}</v>\n\n" for i, (who, said) in enumerate(cues)),
        encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(cohort), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    segs = read(out, "segments.csv")
    mine = segs[segs["doc"] == "transcripts/sch01/sch01-p02_interview_1.vtt"]
    # one turn of two cues, the roster name in it pseudonymised, the speaker label no text
    assert mine["text"].str.fullmatch(r"\[persoon-[0-9a-f]+\] vroeg het me\. Ik doe de "
                                      r"analyses voor het team\.").tolist() == [True, False]
    assert mine["text"].tolist()[1] == "Ik mail de sectie als er iets nieuws is."
    assert mine["context"].tolist() == ["Hoe ben je bij het datateam gekomen?",
                                        "Wat doe je met de uitkomsten?"]
    project = read_qdpx((out / "tiny.qdpx").read_bytes())
    texts = "\n".join(project["sources"].values())
    assert "Ik doe de analyses voor het team." in texts
    assert "Dijkstra" not in texts and "Johannes" not in texts


def test_qdpx_left_out_above_its_school_limit(tmp_path):
    """Above report.max_qdpx_schools the run leaves the project out and says so."""
    import json
    from pathlib import Path

    config = write_config(tmp_path, "max_qdpx_schools: 100", "max_qdpx_schools: 1")
    cohort = Path(__file__).parent / "data" / "tiny_cohort"
    result = CliRunner().invoke(app, ["run", str(cohort), "--out", str(tmp_path / "out"),
                                      "--rules", "--jobs", "1", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert not list((tmp_path / "out").glob("*.qdpx"))
    warnings = json.loads((tmp_path / "out" / "manifest.json").read_text())["warnings"]
    assert any("report.max_qdpx_schools" in w for w in warnings), warnings


@pytest.mark.parametrize("command", ["run", "network"])
def test_console_warnings_are_capped_and_the_manifest_keeps_all(command, tmp_path):
    """A thousand schools can give thousands of warnings: the console shows the first
    report.max_console_warnings and how many more there are; the manifest lists every one."""
    import json
    from pathlib import Path

    config = write_config(tmp_path, "max_console_warnings: 20", "max_console_warnings: 0")
    cohort = Path(__file__).parent / "data" / "tiny_cohort"
    out = tmp_path / "out"
    coder = ["--rules"] if command == "run" else []
    result = CliRunner().invoke(app, [command, str(cohort), "--out", str(out), *coder,
                                      "--config", str(config)])
    assert result.exit_code == 0, result.output
    warnings = json.loads((out / "manifest.json").read_text())["warnings"]
    assert any("responded=false" in w for w in warnings), warnings
    shown = " ".join(result.stderr.split())
    assert "responded=false" not in shown
    assert (f"... and {len(warnings)} more: all {len(warnings)} are listed in "
            f"{out / 'manifest.json'}") in shown, shown


def test_train_without_out_replaces_only_a_model_of_the_same_cohort(tmp_path, capsys,
                                                                    monkeypatch):
    """`pipeline train MY_COHORT` without --out would retrain the configured model, the shipped
    one trained on the demo: refused (one line, exit 2, the model as it was); a model made of
    this cohort is retrained in place."""
    import shutil
    from pathlib import Path

    from helpers import cli

    repo = Path(__file__).resolve().parents[1]
    tiny = Path(__file__).parent / "data" / "tiny_cohort"
    shipped = tmp_path / "shipped"
    shutil.copytree(repo / "models" / "default", shipped)
    before = {p.name: p.read_bytes() for p in shipped.iterdir()}
    config = write_config(tmp_path, "model: models/default", f"model: {shipped}")
    code, _, err = cli(["train", tiny, "--config", config, "--no-evaluate"], capsys, monkeypatch)
    assert code == 2 and "was trained on another cohort ('demo')" in err and "--out" in err, err
    assert len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in shipped.iterdir()} == before
    own = tmp_path / "own"
    assert cli(["train", tiny, "--out", own, "--no-evaluate"], capsys, monkeypatch)[0] == 0
    (own / "NOTES.md").write_text("trained for the pilot\n", encoding="utf-8")  # the user's
    (tmp_path / "pipeline.yaml").unlink()
    config = write_config(tmp_path, "model: models/default", f"model: {own}")
    code, _, err = cli(["train", tiny, "--config", config, "--no-evaluate"], capsys, monkeypatch)
    assert code == 0, err
    assert (own / "NOTES.md").read_text(encoding="utf-8") == "trained for the pilot\n"
    assert (own / "model_card.json").is_file()
    wave2 = tmp_path / "wave2"   # another folder, made from this one: the same cohort name
    shutil.copytree(tiny, wave2)
    code, _, err = cli(["train", wave2, "--config", config, "--no-evaluate"], capsys,
                       monkeypatch)
    assert code == 2 and "was trained on another cohort ('tiny')" in err, err


def test_network_metrics_count_the_nominations(run_out):
    cohort, out, _ = run_out
    metrics = read(out, "network_metrics.csv")
    staff = pd.read_csv(cohort / "staff.csv")
    assert len(metrics) == len(staff)  # isolates kept
    noms = pd.read_csv(cohort / "nominations.csv")
    noms = noms[noms.ego != noms.alter].drop_duplicates(["ego", "alter"])
    known = set(staff.person_id)
    noms = noms[noms.ego.isin(known) & noms.alter.isin(known)]
    out_counts = noms.groupby("ego").size()
    for row in metrics.itertuples():
        assert row.out_ties == out_counts.get(row.person_id, 0)
        assert row.contacts == row.out_ties + row.in_ties - row.reciprocal_ties


def test_key_figures_are_ranked_top_three_per_school(run_out):
    _, out, _ = run_out
    kf = read(out, "key_figures.csv")
    assert list(kf.columns) == ["school_id", "rank", "person_id", "measure", "value",
                                "responded", "reason"]
    for _, rows in kf.groupby("school_id"):
        assert list(rows["rank"]) == [1, 2, 3]
        assert rows["value"].is_monotonic_decreasing


def test_segments_follow_the_coding_contract(run_out):
    _, out, _ = run_out
    seg = read(out, "segments.csv")
    for col in ["segment_id", "school_id", "person_id", "source", "start", "end", "text",
                "knowledge_types", "activities", "evidence"] + [f"p_{c}" for c in CODES]:
        assert col in seg.columns, col
    probs = seg[[f"p_{c}" for c in CODES]]
    assert ((probs >= 0) & (probs <= 1)).all().all()
    assert seg["segment_id"].is_unique
    assigned = {c for cell in seg["knowledge_types"] for c in cell.split(";") if c}
    assert assigned <= set(CODES[:5]) and assigned  # the model codes something


def test_person_codes_add_up_to_the_segments(run_out):
    _, out, _ = run_out
    seg, codes = read(out, "segments.csv"), read(out, "person_codes.csv")
    totals = codes[codes.source == "all"].set_index("person_id")["n_segments"]
    assert totals.to_dict() == seg.groupby("person_id").size().to_dict()


def test_sub_types_have_scores_that_explain_them(run_out):
    """segments.csv has a score per sub-type, as per code: a sub-type is assigned exactly
    where its score reaches the model card's threshold and its activity is assigned (the
    sub-types decide n_activity_kinds, so a reader can trace them)."""
    _, out, _ = run_out
    seg = pd.read_csv(out / "segments.csv", keep_default_na=False)
    thresholds = json.loads((out / "manifest.json").read_text())["model_card"]["thresholds"]
    subs = [c.removeprefix("p_") for c in seg.columns if c.startswith("p_") and "." in c]
    assert len(subs) == 9 and all(s in thresholds for s in subs)
    for sub in subs:
        parent = sub.split(".")[0]
        expected = ((seg[f"p_{sub}"].astype(float) >= thresholds[sub])
                    & seg["activities"].str.split(";").apply(lambda a, p=parent: p in a))
        assert seg["activity_subtypes"].str.split(";").apply(
            lambda a, s=sub: s in a).tolist() == expected.tolist(), sub
    assert "exchange.input" in " ".join(seg["activity_subtypes"])


def test_profiles_follow_the_profile_contract(run_out):
    _, out, _ = run_out
    prof = read(out, "profiles.csv")
    assert list(prof.columns[:4]) == ["person_id", "school_id", "profile", "reasons"]
    assert set(prof["profile"]) <= PROFILES
    assert prof["reasons"].str.len().min() > 20
    assert len(prof) == len(read(out, "key_figures.csv"))


def test_manifest_records_versions_config_and_hashes(run_out):
    cohort, out, _ = run_out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reveal_names"] is False
    assert "spacy" in manifest["versions"] and "config" in manifest
    assert "staff.csv" in manifest["inputs"] and "segments.csv" in manifest["outputs"]
    assert len(manifest["inputs"]["staff.csv"]) == 64


def test_manifest_and_report_name_the_same_run(run_out):
    """The report's run id and input hash are the manifest's, over the same files: those the
    run reads (the cohort's README is not one), so a reader can tie the two together."""
    cohort, out, _ = run_out
    manifest = json.loads((out / "manifest.json").read_text())
    html = (out / "report.html").read_text(encoding="utf-8")
    assert manifest["run_id"] in html and manifest["input_hash"] in html
    assert manifest["run_id"] == f"{manifest['config_hash'][:8]}-{manifest['input_hash'][:8]}"
    read_by_run = sorted(p.relative_to(cohort).as_posix() for p in cohort.rglob("*")
                         if p.is_file() and p.name not in ("README.md", "store.sqlite"))
    assert (cohort / "README.md").is_file() and sorted(manifest["inputs"]) == read_by_run
    assert f"{len(read_by_run)} " in html


def test_profile_command_reads_the_contract_features(run_out, tmp_path):
    _, out, _ = run_out
    result = CliRunner().invoke(app, ["profile", str(out / "person_features.csv"),
                                      "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    again = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert again["profile"].tolist() == read(out, "profiles.csv")["profile"].tolist()
    manifest = json.loads((tmp_path / "p.manifest.json").read_text())   # what made it
    assert list(manifest["inputs"]) == ["person_features.csv"]
    assert list(manifest["outputs"]) == ["p.csv"] and manifest["profiles"] == len(again)


def test_what_feeds_no_profile_is_a_warning_on_one_line(tmp_path, capsys, monkeypatch):
    """Nobody in sch02 nominated anyone: it has no key figures, and the interviews of its
    sch02-p01 and sch02-p02 are coded but feed no profile. `run` and `report` say both, as
    they say a key figure without transcripts: each warning one whole line on the console
    (not wrapped at the terminal's width), in the manifest, and in Dutch in the report."""
    import shutil
    from pathlib import Path

    from helpers import cli

    cohort = tmp_path / "quiet"
    shutil.copytree(Path(__file__).parent / "data" / "tiny_cohort", cohort)
    lines = (cohort / "nominations.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (cohort / "nominations.csv").write_text(
        "".join(n for n in lines if not n.startswith("sch02,")), encoding="utf-8")
    said = {"school sch02: no key figures (no ties among its staff), so no profiles":
            "school sch02: geen sleutelfiguren (geen relaties tussen de medewerkers), dus geen "
            "profielen",
            "transcripts of 2 people who are not key figures are coded but feed no profile: "
            "sch02-p01, sch02-p02":
            "transcripten van 2 personen die geen sleutelfiguur zijn, zijn gecodeerd maar "
            "tellen in geen profiel mee: sch02-p01, sch02-p02"}
    run_out, report_out = tmp_path / "run", tmp_path / "report"
    for args, out in ((["run", cohort, "--rules"], run_out),
                      (["report", cohort, "--codes", run_out / "segments.csv", "--rules"],
                       report_out)):
        code, _, err = cli([*args, "--jobs", "1", "--out", out], capsys, monkeypatch)
        assert code == 0, err
        warnings = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["warnings"]
        html = (out / "report.html").read_text(encoding="utf-8")
        for english, dutch in said.items():
            assert f"warning: {english}" in err.splitlines(), err
            assert english in warnings and dutch in html


def test_a_warning_is_one_line_whatever_its_length(capsys):
    """A long note, or one holding a line break (a quoted transcript line, say), is still
    one `warning:` line on the console, as an error is."""
    from pipeline.cli import warn

    note = "transcripts/s1/p1.txt: prefix 'I\nR' " + "x" * 200
    warn(note)
    assert capsys.readouterr().err == f"warning: {' '.join(note.split())}\n"


def test_a_warning_prints_names_and_paths_as_written(capsys):
    """Annotator names, codes and paths reach the warnings: rich read ":ok:" or "[b]" in them
    as an emoji code or markup ("team:a:1" came out as "team🅰1")."""
    from pipeline.cli_common import warn

    note = "annotators 'team:a:1', 'Team:ok:1' and [b]x[/b] in C:\\data\\:cd:"
    warn(note)
    assert capsys.readouterr().err == f"warning: {note}\n"


def test_no_module_imports_the_cli_back():
    """`cli` imports the command modules (cli_annotate, cli_evaluate) to register their
    commands; what they share with it (warn, one_coder) is in cli_common, so none of them
    imports `cli` back (cli_evaluate did, inside its command, as a way round the cycle)."""
    import ast
    from pathlib import Path

    import pipeline

    root = Path(pipeline.__file__).parent
    back = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "__main__.py":   # the entry point: `python -m pipeline`
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [f"{node.module}.{a.name}" for a in node.names]
                     if isinstance(node, ast.ImportFrom) else [])
            if any(n == "pipeline.cli" or n.startswith("pipeline.cli.") for n in names):
                back.append(f"{path.relative_to(root)}:{node.lineno}")
    assert back == []


def test_a_school_whose_words_the_model_does_not_know_is_named(tmp_path, capsys, monkeypatch):
    """A model trained on one cohort codes another that talks of other things: its
    probabilities look as sure as ever, but they rest on the few words it knows. The card
    keeps how many of a held-out school's content words the model knew in its
    leave-one-school-out evaluation (``evaluation.known_words``), and `run` names a school
    whose segments hold fewer, and only that school; segments.csv has each segment's counts,
    and `report` of those codes warns as `run` did. The rule coder, without a vocabulary,
    leaves the counts empty."""
    import shutil
    from pathlib import Path

    from helpers import cli

    cohort = tmp_path / "tiny"
    shutil.copytree(Path(__file__).parent / "data" / "tiny_cohort", cohort)
    code, _, err = cli(["train", cohort, "--out", tmp_path / "m"], capsys, monkeypatch)
    assert code == 0, err
    card = json.loads((tmp_path / "m" / "model_card.json").read_text(encoding="utf-8"))
    seen = card["evaluation"]["known_words"]
    assert seen["schools"] == 2 and 0 < seen["lowest"] <= seen["median"] <= seen["highest"] < 1
    sch02 = cohort / "transcripts" / "sch02"
    shutil.rmtree(sch02)
    sch02.mkdir()
    (sch02 / "sch02-p01_interview_1.txt").write_text(
        "I: Hoe was zaterdag?\n\nR: Ons elftal speelde tegen de buurtvereniging. De keeper "
        "hield drie strafschoppen tegen, en na afloop dronken we limonade.\n\nI: En verder?\n\n"
        "R: Mijn dochter zwemt, dus zondag stonden we vroeg bij het zwembad met haar "
        "diploma.\n", encoding="utf-8")
    code, _, err = cli(["run", cohort, "--model", tmp_path / "m", "--jobs", "1", "--out",
                        tmp_path / "run"], capsys, monkeypatch)
    assert code == 0, err
    warnings = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))[
        "warnings"]
    said = [w for w in warnings if "knows fewer of the words" in w]
    assert len(said) == 1 and "school(s) sch02 (" in said[0] and "sch01" not in said[0], said
    assert f"{seen['lowest']:.1%} to {seen['highest']:.1%}" in said[0]
    segments = pd.read_csv(tmp_path / "run" / "segments.csv")
    assert (segments["known_words"] <= segments["content_words"]).all()
    sch02 = segments[segments["school_id"] == "sch02"]
    assert sch02["known_words"].sum() < seen["lowest"] * sch02["content_words"].sum()
    # the report of those codes says it too, from their counts (no model needed)
    code, _, err = cli(["report", cohort, "--codes", tmp_path / "run" / "segments.csv",
                        "--jobs", "1", "--out", tmp_path / "report"], capsys, monkeypatch)
    assert code == 0 and said[0] in " ".join(err.split()), err
    code, _, err = cli(["run", cohort, "--rules", "--jobs", "1", "--out", tmp_path / "rules"],
                       capsys, monkeypatch)   # the rule coder has no vocabulary to compare
    assert code == 0 and "knows fewer of the words" not in err, err
    rules = pd.read_csv(tmp_path / "rules" / "segments.csv")
    assert rules[["content_words", "known_words"]].isna().all().all()
