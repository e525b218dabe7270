"""`pipeline code IN --out OUT.csv [--model DIR]`: the segment-coding contract of DESIGN.md,
through typer's CliRunner on ``pipeline.cli.app`` (and ``main`` for the exit code)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline import cli
from pipeline.io import InputError

CODES = ["focus", "outcomes", "approach", "benefits", "organisational",
         "knowledge_management", "exchange", "capacity_building"]
CONTRACT = ["id", "knowledge_types", "activities", *[f"p_{c}" for c in CODES]]


def code(args: list[str]):
    return CliRunner().invoke(cli.app, ["code", *args])


def read_out(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"id": str, "knowledge_types": str, "activities": str},
                       keep_default_na=False)


@pytest.mark.parametrize("backend", ["sklearn", "spacy", "rules"])
@pytest.mark.parametrize("name", ["to_code.csv", "to_code.jsonl"])
def test_code_contract(shared_datadir, tmp_path, coding_model_dirs, backend, name):
    out = tmp_path / "coded.csv"
    model = ["--rules"] if backend == "rules" else ["--model", str(coding_model_dirs[backend])]
    result = code([str(shared_datadir / "coding" / name), "--out", str(out), *model,
                   "--jobs", "1"])
    assert result.exit_code == 0, result.output
    df = read_out(out)
    assert list(df.columns[:len(CONTRACT)]) == CONTRACT
    # one row per input row, in input order (the blank .jsonl line is no row; a numeric
    # .jsonl id comes back as text)
    third = "m5" if name.endswith(".csv") else "7"
    assert df["id"].tolist() == ["z9", "a1", third, "b2"]
    for c in CODES:
        assert df[f"p_{c}"].between(0, 1).all()
    for col, family in (("knowledge_types", CODES[:5]), ("activities", CODES[5:])):
        for cell in df[col]:
            assert set(filter(None, cell.split(";"))) <= set(family)
    # assigned codes are the ones at or above threshold: spot-check a clear case
    assert "knowledge_management" in df.loc[0, "activities"].split(";")
    assert "4 segments coded" in result.output


def test_code_keeps_probabilities_consistent_with_model(shared_datadir, tmp_path,
                                                        coding_model_dirs, coding_spacy_model):
    out = tmp_path / "coded.csv"
    result = code([str(shared_datadir / "coding" / "to_code.csv"), "--out", str(out),
                   "--model", str(coding_model_dirs["spacy"]), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    df = read_out(out)
    texts = pd.read_csv(shared_datadir / "coding" / "to_code.csv")["text"].tolist()
    proba = coding_spacy_model.predict_proba(texts)
    labels = list(coding_spacy_model.labels_)
    for c in CODES:
        assert df[f"p_{c}"].tolist() == pytest.approx(proba[:, labels.index(c)], abs=1e-6)


@pytest.mark.parametrize("backend", ["sklearn", "spacy"])
def test_a_text_of_more_than_a_million_characters_is_coded(tmp_path, coding_model_dirs,
                                                           backend):
    """A text cell (or a respondent turn) above spaCy's 1,000,000 characters stopped the
    command with "unexpected ValueError: [E088] ..."; the pipelines have no parser, whose
    memory that limit guards, so it is coded as any other."""
    table = tmp_path / "long.csv"
    pd.DataFrame({"id": ["long", "short"],
                  "text": ["We analyseren de toetsen met het team. " * 27_000,
                           "We analyseren de toetsen."]}).to_csv(table, index=False)
    out = tmp_path / "coded.csv"
    result = code([str(table), "--out", str(out), "--model", str(coding_model_dirs[backend]),
                   "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert read_out(out)["id"].tolist() == ["long", "short"]


def test_a_text_of_more_than_ten_million_characters_is_refused_by_its_line(tmp_path):
    """A whole document in one cell (10 million characters and more, ~1 GB to tokenise) is
    refused by file, line and field, and a previous output stays."""
    from pipeline.io import MAX_TEXT_CHARS

    table = tmp_path / "huge.csv"
    table.write_text("id,text\ns1,kort\ns2," + "a" * (MAX_TEXT_CHARS + 1) + "\n",
                     encoding="utf-8")
    out = tmp_path / "coded.csv"
    out.write_text("id\nprevious\n", encoding="utf-8")
    result = code([str(table), "--out", str(out), "--rules"])
    assert isinstance(result.exception, InputError)
    assert str(result.exception).startswith(f"{table}:3: field 'text': 10,000,001 characters")
    assert out.read_text(encoding="utf-8") == "id\nprevious\n"


def test_codes_the_segments_table_of_pipeline_segment(tmp_path, coding_model_dirs):
    """The stages chain: ``pipeline segment``'s table (``segment_id``, ``text``, ``context``)
    codes as it is, one row per segment, in its order, with the question as context (the
    same probabilities as a table of id, text and context)."""
    from pathlib import Path

    tiny = Path(__file__).parent / "data" / "tiny_cohort"
    segments = tmp_path / "segments.csv"
    assert CliRunner().invoke(cli.app, ["segment", str(tiny), "--out", str(segments),
                                        "--jobs", "1"]).exit_code == 0
    table = pd.read_csv(segments, dtype=str, keep_default_na=False)
    import json

    made = json.loads((tmp_path / "segments.manifest.json").read_text(encoding="utf-8"))
    assert made["segments"] == len(table) and "staff.csv" in made["inputs"]
    renamed = tmp_path / "renamed.csv"
    table[["segment_id", "text", "context"]].rename(columns={"segment_id": "id"}).to_csv(
        renamed, index=False)
    model = ["--model", str(coding_model_dirs["sklearn"]), "--jobs", "1"]
    for source, out in ((segments, tmp_path / "a.csv"), (renamed, tmp_path / "b.csv")):
        result = code([str(source), "--out", str(out), *model])
        assert result.exit_code == 0, result.output
    coded = read_out(tmp_path / "a.csv")
    assert coded["id"].tolist() == table["segment_id"].tolist() and len(coded) > 5
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    jsonl = tmp_path / "segments.jsonl"
    table[["segment_id", "text"]].to_json(jsonl, orient="records", lines=True,
                                          force_ascii=False)
    assert code([str(jsonl), "--out", str(tmp_path / "c.csv"), *model]).exit_code == 0
    assert read_out(tmp_path / "c.csv")["id"].tolist() == coded["id"].tolist()


def test_missing_text_column_app(shared_datadir, tmp_path):
    bad = shared_datadir / "coding" / "no_text.csv"
    result = code([str(bad), "--out", str(tmp_path / "x.csv"), "--rules"])
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)
    assert "no_text.csv" in str(result.exception) and "text" in str(result.exception)
    assert not (tmp_path / "x.csv").exists()


def test_missing_text_column_exit_code_2(shared_datadir, tmp_path, monkeypatch, capsys):
    bad = shared_datadir / "coding" / "no_text.csv"
    monkeypatch.setattr(sys, "argv", ["pipeline", "code", str(bad), "--out",
                                      str(tmp_path / "x.csv"), "--rules"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no_text.csv" in err and "text" in err and "Traceback" not in err


@pytest.mark.parametrize("backend", ["sklearn", "rules"])
def test_code_over_workers_writes_what_one_process_writes(shared_datadir, tmp_path,
                                                          coding_model_dirs, backend):
    """``--jobs 2`` (the input read in another process while the coder loads, then workers
    forked with it) and ``--jobs 1`` write byte-identical files: the real command, in a fresh
    interpreter (this one runs threads, so it would not fork)."""
    import subprocess

    model = ["--rules"] if backend == "rules" else ["--model", str(coding_model_dirs[backend])]
    outs = []
    for jobs in ("1", "2"):
        outs.append(tmp_path / f"coded_{jobs}.csv")
        run = subprocess.run([sys.executable, "-m", "pipeline", "code",
                              str(shared_datadir / "coding" / "to_code.csv"), "--out",
                              str(outs[-1]), *model, "--jobs", jobs],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert read_out(outs[1])["evidence"].str.len().gt(0).any()


def test_code_with_a_broken_model_fails_in_one_line(shared_datadir, tmp_path,
                                                                 coding_model_dirs):
    """A model file that cannot be used stops the command with the file named, also while
    the input is being read in another process (which is stopped)."""
    import shutil

    from pipeline.coding.scoring import SCORER_FILE

    folder = tmp_path / "model"
    shutil.copytree(coding_model_dirs["sklearn"], folder)
    (folder / SCORER_FILE).write_bytes(b"not an npz file")
    result = code([str(shared_datadir / "coding" / "to_code.csv"), "--out",
                   str(tmp_path / "x.csv"), "--model", str(folder), "--jobs", "2"])
    assert isinstance(result.exception, InputError)
    assert SCORER_FILE in str(result.exception)
    assert not (tmp_path / "x.csv").exists()


def test_a_model_of_another_codebook_version_is_named(shared_datadir, tmp_path, capsys,
                                                       monkeypatch):
    """A model trained under codebook 0.9 codes under 1.0 (the same codes, so it can): `code`
    and `run` say so, `run` also in its manifest; --model with --rules is refused."""
    import json
    import shutil

    from helpers import cli as run_cli

    folder = tmp_path / "model"
    shutil.copytree(Path(__file__).resolve().parents[1] / "models" / "default", folder)
    card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    card["codebook"]["version"] = "0.9"
    (folder / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    said = "was trained with codebook version 0.9, this run uses version 1.0"
    segments = shared_datadir / "coding" / "to_code.csv"
    code_, _, err = run_cli(["code", segments, "--out", tmp_path / "x.csv", "--model", folder],
                            capsys, monkeypatch)
    assert code_ == 0 and said in " ".join(err.split()), err
    tiny = shared_datadir / "tiny_cohort"
    code_, _, err = run_cli(["run", tiny, "--out", tmp_path / "out", "--model", folder],
                            capsys, monkeypatch)
    assert code_ == 0 and said in " ".join(err.split()), err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert any(said in w for w in manifest["warnings"])
    for command in (["code", segments, "--out", tmp_path / "y.csv"],
                    ["run", tiny, "--out", tmp_path / "out2"]):
        code_, _, err = run_cli([*command, "--model", folder, "--rules"], capsys, monkeypatch)
        assert code_ == 2 and "give --model or --rules, not both" in err, err


def test_a_codebook_edited_without_a_new_version_is_named(shared_datadir, tmp_path, capsys,
                                                        monkeypatch):
    """A team's copy of the codebook whose definition of focus is sharpened under the same
    version: `code` with the shipped model names focus; with the shipped codebook it says
    nothing of the kind (the shipped model's card holds the meanings it was trained under)."""
    from helpers import REPO, write_config
    from helpers import cli as run_cli

    codebook = (REPO / "configs" / "codebook.yaml").read_text(encoding="utf-8")
    old = "The problem or theme the PLG works on"
    assert old in codebook
    (tmp_path / "codebook.yaml").write_text(
        codebook.replace(old, "The problem the PLG works on", 1), encoding="utf-8")
    config = write_config(tmp_path, "codebook: configs/codebook.yaml", "codebook: codebook.yaml")
    segments = shared_datadir / "coding" / "to_code.csv"
    said = "the definition (or include/exclude rules) of focus in the codebook has changed"
    code_, _, err = run_cli(["code", segments, "--out", tmp_path / "x.csv"], capsys,
                            monkeypatch)
    assert code_ == 0 and "has changed since model" not in err, err
    code_, _, err = run_cli(["code", segments, "--out", tmp_path / "y.csv", "--config", config],
                            capsys, monkeypatch)
    assert code_ == 0 and said in " ".join(err.split()), err


def test_a_code_the_rule_coder_has_no_patterns_for_is_named(shared_datadir, tmp_path, capsys,
                                                            monkeypatch):
    """A team adds a code for its model to learn, without patterns, and codes with --rules
    (as the README offers for a codebook the shipped model does not know): the rule coder
    never assigns it, and `code` and `run` say so, `run` also in its report in Dutch; the
    shipped codebook, every code with patterns, gives no such warning."""
    import json

    from helpers import REPO, write_config
    from helpers import cli as run_cli

    codebook = (REPO / "configs" / "codebook.yaml").read_text(encoding="utf-8")
    code_block = ("      - id: student_voice\n        label: {nl: Leerlingperspectief, en: "
                  "Student voice}\n        color: \"#123456\"\n        definition: What "
                  "students say about their learning.\n  - id: activities\n")
    (tmp_path / "codebook.yaml").write_text(codebook.replace("  - id: activities\n",
                                                             code_block, 1), encoding="utf-8")
    config = write_config(tmp_path, "codebook: configs/codebook.yaml", "codebook: codebook.yaml")
    segments = shared_datadir / "coding" / "to_code.csv"
    said = "the rule coder never assigns student_voice: the codebook gives no patterns"
    code_, _, err = run_cli(["code", segments, "--out", tmp_path / "x.csv", "--rules"],
                            capsys, monkeypatch)
    assert code_ == 0 and "never assigns" not in err, err
    code_, _, err = run_cli(["code", segments, "--out", tmp_path / "y.csv", "--rules",
                             "--config", config], capsys, monkeypatch)
    assert code_ == 0 and said in " ".join(err.split()), err
    out = tmp_path / "out"
    code_, _, err = run_cli(["run", shared_datadir / "tiny_cohort", "--out", out, "--rules",
                             "--config", config, "--jobs", "1"], capsys, monkeypatch)
    assert code_ == 0 and said in " ".join(err.split()), err
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert any(said in w for w in manifest["warnings"]), manifest["warnings"]
    assert ("regelgebaseerde codeerder kent student_voice nooit toe"
            in (out / "report.html").read_text(encoding="utf-8"))


def test_codes_a_model_learned_from_few_positives_are_named(shared_datadir, tmp_path, capsys,
                                                           monkeypatch):
    """A model whose card says it saw 0 or 3 positives of a code (labels for a few codes
    only, a small first round), or that knows a code the codebook dropped, coded without a
    word; the shipped model, which saw 19 or more of each, gets no such warning."""
    import json
    import shutil

    from helpers import cli as run_cli

    segments = shared_datadir / "coding" / "to_code.csv"
    code_, _, err = run_cli(["code", segments, "--out", tmp_path / "x.csv"], capsys,
                            monkeypatch)
    assert code_ == 0 and "positive labels" not in err, err
    folder = tmp_path / "model"
    shutil.copytree(Path(__file__).resolve().parents[1] / "models" / "default", folder)
    card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    card["training_data"]["positives"].update({"benefits": 0, "exchange.input": 3})
    card["labels"].append("reflection")      # a code the codebook has dropped since
    (folder / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    code_, _, err = run_cli(["code", segments, "--out", tmp_path / "y.csv", "--model", folder],
                            capsys, monkeypatch)
    assert code_ == 0, err
    assert ("warning: model sklearn_tfidf_lr learned benefits (0), exchange.input (3) from "
            "fewer than 10 positive labels (coding.min_positives): do not rely on those codes; "
            "label more segments and retrain") in err.splitlines(), err
    assert ("warning: model sklearn_tfidf_lr also knows reflection, which the codebook has no "
            "more: its other codes were learned beside them; retrain it on labels of this "
            "codebook (or, if it is your codebook's, name its pipeline.yaml with --config)"
            ) in err.splitlines(), err


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_contract_csv_chunks_join_into_the_contract_table(shared_datadir, coding_model_dirs,
                                                         settings, chunk):
    """`pipeline code` writes the text of chunks coded and formatted one by one: joined, it
    is the CSV of the whole coded table (an empty input: the header alone)."""
    from pipeline.coding.assign import code_segments, contract_csv, contract_table, make_coder
    from pipeline.io import csv_text, read_segments_file

    coder, _ = make_coder(coding_model_dirs["sklearn"], settings.codebook, 3)
    segments = read_segments_file(shared_datadir / "coding" / "to_code.csv").drop(
        columns=["line"])
    for table in (segments, segments.iloc[:0]):
        whole = csv_text(contract_table(code_segments(table, coder, settings.codebook),
                                        settings.codebook))
        assert "".join(contract_csv(table, coder, settings.codebook, chunk=chunk)) == whole
    assert whole.count("\n") == 1 and whole.startswith("id,knowledge_types,activities,p_")


def test_empty_texts_and_shared_ids_are_coded_and_named(shared_datadir, tmp_path, capsys,
                                                        monkeypatch):
    """One row out per row in (the contract), but a row without text, and an id on several
    rows (a join on id would match them all), are warned about with their lines. A row
    without text gets no code and no probability, with the rule coder and a model alike
    (a model's intercepts alone gave it codes)."""
    from helpers import cli as run_cli

    rows = pd.read_csv(shared_datadir / "coding" / "to_code.csv", dtype=str,
                       keep_default_na=False)
    rows.loc[1, "text"] = "  "
    rows.loc[3, "id"] = rows.loc[0, "id"]
    rows.to_csv(tmp_path / "in.csv", index=False)
    code_, _, err = run_cli(["code", tmp_path / "in.csv", "--out", tmp_path / "out.csv",
                             "--rules"], capsys, monkeypatch)
    assert code_ == 0, err
    assert read_out(tmp_path / "out.csv")["id"].tolist() == rows["id"].tolist()
    lines = err.splitlines()
    assert (f"warning: {tmp_path / 'in.csv'}: 1 row(s) with empty text (line 3): nothing in "
            "them to code, so they have no codes and empty probabilities") in lines
    for coder in (["--rules"], ["--model", "models/default"]):
        code_, _, err = run_cli(["code", tmp_path / "in.csv", "--out", tmp_path / "out.csv",
                                 *coder], capsys, monkeypatch)
        assert code_ == 0, err
        out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
        empty = out.iloc[1]
        assert empty["knowledge_types"] == empty["activities"] == empty["evidence"] == ""
        assert (empty.filter(like="p_") == "").all()
        assert (out.drop(index=1).filter(like="p_") != "").all().all()
    assert (f"warning: {tmp_path / 'in.csv'}: 1 id(s) on several rows, such as "
            f"'{rows.loc[0, 'id']}' (lines 2, 5): each row is coded, and a join on id matches "
            "all of them") in lines


def test_a_row_spanning_lines_is_named_by_its_first_line(tmp_path, capsys, monkeypatch):
    """A quoted text with line breaks (a transcript pasted into a cell) spans lines 2-4: the
    note names line 2, where the row starts, not line 4."""
    from helpers import cli as run_cli

    (tmp_path / "in.csv").write_text('id,text\na,"Eerst dit.\nDan dat.\nTot slot."\n'
                                     'a,Nog een keer.\n', encoding="utf-8")
    code_, _, err = run_cli(["code", tmp_path / "in.csv", "--out", tmp_path / "out.csv",
                             "--rules"], capsys, monkeypatch)
    assert code_ == 0, err
    assert "such as 'a' (lines 2, 5)" in err, err


def test_a_model_without_a_card_is_named(shared_datadir, tmp_path, capsys, monkeypatch):
    """A model folder copied without its model_card.json codes, but nothing says what it
    learned from: the warning names the folder."""
    import shutil

    from helpers import cli as run_cli

    folder = tmp_path / "bare"
    shutil.copytree(Path(__file__).resolve().parents[1] / "models" / "default", folder)
    (folder / "model_card.json").unlink()
    code_, _, err = run_cli(["code", shared_datadir / "coding" / "to_code.csv", "--out",
                             tmp_path / "x.csv", "--model", folder], capsys, monkeypatch)
    assert code_ == 0, err
    assert ("warning: model bare has no model card (model_card.json) saying what it was "
            "trained on") in err, err
    code_, _, err = run_cli(["code", shared_datadir / "coding" / "to_code.csv", "--out",
                             tmp_path / "y.csv"], capsys, monkeypatch)
    assert code_ == 0 and "no model card" not in err, err


@pytest.mark.parametrize("name, content, said", [
    # an unclosed quote swallowed every later row into one text: 3 rows in, 1 out, exit 0
    ("in.csv", 'id,text\ns1,"open quote zonder einde\ns2,workshop gegeven\ns3,nieuwsbrief\n',
     'in.csv:2: a quoted value is never closed (a missing ")'),
    # a quote inside a quoted value not doubled: the rest of the value was glued on
    ("in.csv", 'id,text\ns1,"hij zei "ja" en ging"\n', "in.csv:2: text after a quoted value"),
    # an empty .jsonl (a script that crashed) replaced the earlier output by a header
    ("in.jsonl", "", "file is empty (expected one JSON object per line)"),
    ("in.jsonl", "\n  \n\n", "file is empty (expected one JSON object per line)"),
])
def test_a_broken_segments_file_is_refused_and_keeps_the_output(tmp_path, capsys, monkeypatch,
                                                                name, content, said):
    from helpers import cli as run_cli

    out = tmp_path / "out.csv"
    out.write_text("earlier output\n", encoding="utf-8")
    (tmp_path / name).write_text(content, encoding="utf-8")
    code_, _, err = run_cli(["code", tmp_path / name, "--out", out, "--rules"], capsys,
                            monkeypatch)
    assert code_ == 2 and said in err and name in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert out.read_text(encoding="utf-8") == "earlier output\n"


def test_rows_of_separators_only_are_counted(tmp_path, capsys, monkeypatch):
    """A spreadsheet's empty row (",") was dropped without a word: 3 rows in, 2 out."""
    from helpers import cli as run_cli

    (tmp_path / "in.csv").write_text("id,text\ns1,tekst een\n,\ns3,tekst drie\n , \n\n",
                                     encoding="utf-8")
    code_, _, err = run_cli(["code", tmp_path / "in.csv", "--out", tmp_path / "out.csv",
                             "--rules"], capsys, monkeypatch)
    assert code_ == 0, err
    assert read_out(tmp_path / "out.csv")["id"].tolist() == ["s1", "s3"]
    assert (f"warning: {tmp_path / 'in.csv'}: 2 row(s) with only separators (lines 3, 5): "
            "not coded (no id, no text)") in err.splitlines(), err


def test_ids_come_out_as_they_went_in(tmp_path):
    """A CSV id " 42 " came out as "42" (a JSONL one as " 42 "): a join on id in R or pandas,
    which keep the spaces, missed the row."""
    (tmp_path / "in.csv").write_text('id,text\n" 42 ",workshop\ns2 ,nieuwsbrief\n',
                                     encoding="utf-8")
    (tmp_path / "in.jsonl").write_text('{"id": " 42 ", "text": "workshop"}\n'
                                       '{"id": "s2 ", "text": "nieuwsbrief"}\n', encoding="utf-8")
    for name in ("in.csv", "in.jsonl"):
        result = code([str(tmp_path / name), "--out", str(tmp_path / f"{name}.out.csv"),
                       "--rules"])
        assert result.exit_code == 0, result.output
        ids = pd.read_csv(tmp_path / f"{name}.out.csv", dtype=str, keep_default_na=False)["id"]
        assert ids.tolist() == [" 42 ", "s2 "], name


def test_a_damaged_scorer_file_is_named(shared_datadir, tmp_path, capsys, monkeypatch):
    """A truncated scorer.npz (its hash in the card updated) was 'unexpected BadZipFile',
    exit 1, no file named."""
    import hashlib
    import json
    import shutil

    from helpers import cli as run_cli

    folder = tmp_path / "m"
    shutil.copytree(Path(__file__).resolve().parents[1] / "models" / "default", folder)
    scorer = folder / "scorer.npz"
    scorer.write_bytes(scorer.read_bytes()[:1000])
    card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    card["files"]["scorer.npz"] = hashlib.sha256(scorer.read_bytes()).hexdigest()
    (folder / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    code_, _, err = run_cli(["code", shared_datadir / "coding" / "to_code.csv", "--out",
                             tmp_path / "x.csv", "--model", folder], capsys, monkeypatch)
    assert code_ == 2 and "scorer.npz" in err and "unexpected" not in err, err


def test_a_manifest_says_what_coded_the_file(shared_datadir, tmp_path, capsys, monkeypatch):
    """Beside the coded file, ``<name>.manifest.json`` says what made it (issue: the output of
    a model run with the wrong codebook could not be told apart afterwards): the coder and
    its model card, the input's and the model files' sha256, the output's, the warnings; a
    rerun with another coder rewrites it, and a hand-edited output has no manifest of its own
    any more (its sha256 differs)."""
    import json

    from helpers import cli as run_cli

    from pipeline.io import file_sha256, run_manifest_of

    infile, out = shared_datadir / "coding" / "to_code.csv", tmp_path / "coded.csv"
    code_, _, err = run_cli(["code", infile, "--out", out, "--model", "models/default"], capsys,
                            monkeypatch)
    assert code_ == 0, err
    manifest = json.loads((tmp_path / "coded.manifest.json").read_text(encoding="utf-8"))
    assert manifest["outputs"] == {"coded.csv": file_sha256(out)}
    assert manifest["inputs"]["to_code.csv"] == file_sha256(infile)
    assert any(k.endswith("models/default/scorer.npz") for k in manifest["inputs"])
    assert manifest["coder"] == manifest["model_card"]["name"] == "sklearn_tfidf_lr"
    assert manifest["segments"] == len(pd.read_csv(infile))
    assert run_manifest_of(out) == manifest
    code_, _, err = run_cli(["code", infile, "--out", out, "--rules"], capsys, monkeypatch)
    assert code_ == 0, err
    manifest = json.loads((tmp_path / "coded.manifest.json").read_text(encoding="utf-8"))
    assert manifest["coder"] == "rules" and list(manifest["inputs"]) == ["to_code.csv"]
    out.write_text(out.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert run_manifest_of(out) is None
