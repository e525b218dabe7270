"""Bad input never gives a traceback, a half-written result or a silent wrong answer.

Every case below is a minimal variation of the good cohort in ``tests/data/tiny_cohort`` (or of
a small good input of ``pipeline code`` / ``profile`` / ``train`` / ``--config``): a table of
mutations applied to a fresh copy, plus the binary files kept in ``tests/data/bad/`` (corrupt
.docx, binary and mixed-encoding transcripts). Each case goes through the command-line entry
point ``pipeline.cli.main`` (in-process for speed; a few through the installed
``.venv/bin/pipeline`` script in a subprocess) and must end with

- one line on stderr, ``error: <file>:<line>: field '<field>': <what>``, naming the file (and
  the line and field where there is one): the ``fragments`` of the case;
- a non-zero exit status (2 for bad input or configuration), no traceback;
- the previous good result in ``--out`` byte-for-byte untouched.

Rows that can be skipped safely (self, duplicate, unknown-person, cross-school and off-scale
nominations) give a counted warning under the default ``data_quality_policy: drop`` and an
error under ``fail``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers import cli, write_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# the line of super_sharer's n_focus criterion in configs/profiles.yaml (the error names it)
FIRST_N_FOCUS = next(i for i, line in enumerate(
    (REPO / "configs" / "profiles.yaml").read_text(encoding="utf-8").splitlines(), 1)
    if "feature: n_focus" in line)
TINY = REPO / "tests" / "data" / "tiny_cohort"
BAD = REPO / "tests" / "data" / "bad"
PIPELINE = REPO / ".venv" / "bin" / "pipeline"
STAFF_LINE4 = "sch01-p03,sch01,Samira el Idrissi,teacher,8,5,sch01-ls1,lesson_study,true"
NOM_LINE2 = "sch01,sch01-p01,sch01-p02,5"
SEGMENTS_CSV = ("id,text\ns1,In de teamvergadering heb ik verteld wat we gevonden hebben.\n"
                "s2,We krijgen veertig taakuren per jaar voor het datateam.\n")
FEATURES_CSV = (
    "person_id,school_id,out_ties,in_ties,reciprocal_ties,mean_strength,n_focus,n_outcomes,"
    "n_approach,n_benefits,n_organisational,n_knowledge_management,n_exchange,"
    "n_capacity_building,n_activity_kinds\n"
    "a1,A,12,10,6,3.5,3,4,5,2,1,6,4,1,3\n"
    "a2,A,8,9,4,2.5,1,0,2,1,3,2,5,0,2\n")


# ------------------------------------------------------------------ running the CLI


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (or ``path`` itself) with its bytes."""
    if path.is_file():
        return {path.name: path.read_bytes()}
    return {p.relative_to(path).as_posix(): p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ the cases
@dataclass
class Case:
    id: str
    edits: list[tuple]
    fragments: list[str]
    command: str = "run"
    warn: list[str] = field(default_factory=list)  # drop policy: warning fragments, exit 0


def R(path, old, new):  # noqa: N802 - replace text in a cohort file (must be present)
    return ("replace", path, old, new)


T1 = "transcripts/sch01/sch01-p02_interview_1.txt"
DOCX = "transcripts/sch02/sch02-p02_interview_1.docx"
STAFF4 = STAFF_LINE4[:-4]  # line 4 of staff.csv without its `responded` value
NOM2 = NOM_LINE2[:-1]  # line 2 of nominations.csv without its strength

CASES = [
    # cohort.yaml
    Case("transcripts_folder_capitalised", [("move", "transcripts", "Transcripts")],
         ["Transcripts", "field 'folder name'", "must be named transcripts"]),
    Case("transcripts_folder_singular", [("move", "transcripts", "transcript")],
         ["transcript:", "field 'folder name'", "must be named transcripts"]),
    Case("labels_in_a_spreadsheet", [("write", "labels/third.xlsx", b"PK\x03\x04 not read")],
         ["third.xlsx", "field 'file name'", "CSV files only"]),
    Case("yaml_misspelt_key", [R("cohort.yaml", "tie_strength:", "tie_strenght:")],
         ["cohort.yaml", "field 'tie_strenght'", "did you mean tie_strength?"]),
    Case("yaml_unreadable", [("write", "cohort.yaml", "name: tiny\ntie_strength: {min: 1\n")],
         ["cohort.yaml", "invalid YAML"]),
    Case("yaml_no_name", [R("cohort.yaml", "name: tiny\n", "")],
         ["cohort.yaml", "field 'name'", "missing"]),
    Case("yaml_not_mapping", [("write", "cohort.yaml", "- name\n- tiny\n")],
         ["cohort.yaml", "expected a mapping"]),
    Case("yaml_scale_reversed", [R("cohort.yaml", "min: 1\n  max: 5", "min: 5\n  max: 1")],
         ["cohort.yaml", "field 'tie_strength'", "min must be below max"]),
    Case("yaml_scale_not_number", [R("cohort.yaml", "max: 5", "max: vijf")],
         ["cohort.yaml", "field 'tie_strength'", "numbers"]),
    Case("yaml_missing", [("delete", "cohort.yaml")],
         ["is no cohort folder: it has no cohort.yaml", "'Your own cohort'"]),
    # staff.csv
    Case("staff_missing_column", [R("staff.csv", ",responded,", ",antwoord,")],
         ["staff.csv:1", "field 'responded'", "missing column"]),
    Case("staff_semicolons_wrong_column", [("staff_semicolons",)],
         ["staff.csv:1", "field 'plg_type'", "missing column"]),
    Case("staff_duplicate_person",
         [R("staff.csv", "sch01-p03,sch01,Samira", "sch01-p02,sch01,Samira")],
         ["staff.csv:4", "field 'person_id'", "duplicate person_id 'sch01-p02'"]),
    Case("staff_person_in_two_schools",
         [R("staff.csv", "sch01-p03,sch01,Samira", "sch02-p02,sch01,Samira")],
         ["staff.csv:", "field 'person_id'", "duplicate person_id 'sch02-p02'",
          "someone working in two schools needs an id in each"]),
    Case("nominations_strength_infinite", [R("nominations.csv", NOM_LINE2, NOM2 + "inf")],
         ["nominations.csv:2", "field 'strength'", "not a finite number: 'inf'"]),
    Case("staff_responded_not_boolean", [R("staff.csv", STAFF_LINE4, STAFF4 + "misschien")],
         ["staff.csv:4", "field 'responded'",
          "expected true/false (or ja/nee, WAAR/ONWAAR, 1/0, yes/no), got 'misschien'"]),
    Case("staff_responded_markup", [R("staff.csv", STAFF_LINE4, STAFF4 + "[/b]")],
         ["staff.csv:4", "field 'responded'", "got '[/b]'"]),
    Case("staff_negative_years", [R("staff.csv", "teacher,8,5,", "teacher,-8,5,")],
         ["staff.csv:4", "field 'years_in_education'", "must be >= 0"]),
    Case("staff_years_not_number", [R("staff.csv", "teacher,8,5,", "teacher,acht,5,")],
         ["staff.csv:4", "field 'years_in_education'", "not a number: 'acht'"]),
    Case("staff_unknown_plg_type", [R("staff.csv", STAFF_LINE4,
                                      STAFF_LINE4.replace("lesson_study", "lessonstudy"))],
         ["staff.csv:4", "field 'plg_type'", "unknown plg_type 'lessonstudy'"]),
    Case("staff_empty_person_id", [R("staff.csv", "sch01-p03,sch01,", ",sch01,")],
         ["staff.csv:4", "field 'person_id'", "empty value"]),
    Case("staff_extra_field", [R("staff.csv", "Samira el Idrissi", "Idrissi, Samira el")],
         ["staff.csv:4", "expected 11 fields, found 12"]),
    Case("staff_header_only", [("keep_lines", "staff.csv", 1)], ["staff.csv:2", "no staff rows"]),
    Case("staff_empty_file", [("write", "staff.csv", "")], ["staff.csv", "file is empty"]),
    Case("staff_binary", [("write", "staff.csv", b"person_id,school_id\x00\x01\x02\n")],
         ["staff.csv:1", "binary file"]),
    Case("staff_is_xlsx", [("write", "staff.csv", b"PK\x03\x04\x14\x00\x06\x00rest")],
         ["staff.csv", "ZIP archive"]),
    # nominations.csv
    Case("nominations_missing_column",
         [R("nominations.csv", "school_id,ego,alter", "school_id,ego,alt")],
         ["nominations.csv:1", "field 'alter'", "missing column"]),
    Case("nominations_strength_not_number", [R("nominations.csv", NOM_LINE2, NOM2 + "sterk")],
         ["nominations.csv:2", "field 'strength'", "not a number: 'sterk'"]),
    Case("nominations_empty_ego", [R("nominations.csv", NOM_LINE2, "sch01,,sch01-p02,5")],
         ["nominations.csv:2", "field 'ego'", "empty value"]),
    Case("nominations_self", [R("nominations.csv", NOM_LINE2, "sch01,sch01-p01,sch01-p01,5")],
         ["nominations.csv:2", "field 'alter'", "self nomination"],
         warn=["nominations.csv", "1 self_nomination dropped (line 2)"]),
    Case("nominations_duplicate", [("append", "nominations.csv", NOM_LINE2 + "\n")],
         ["nominations.csv:73", "field 'alter'", "duplicate"],
         warn=["nominations.csv", "1 duplicate dropped (line 73)"], command="network"),
    Case("nominations_unknown_person",
         [R("nominations.csv", NOM_LINE2, "sch01,sch01-p01,sch01-p99,5")],
         ["cohort/nominations.csv:2", "field 'alter'",
          "unknown person: 'sch01-p99' is not in staff.csv"],
         warn=["nominations.csv", "1 unknown_person dropped (line 2)"], command="network"),
    Case("nominations_cross_school",
         [R("nominations.csv", NOM_LINE2, "sch01,sch01-p01,sch02-p02,5")],
         ["nominations.csv:2", "field 'alter'", "cross school"],
         warn=["nominations.csv", "1 cross_school dropped (line 2)"], command="network"),
    Case("nominations_strength_off_scale", [R("nominations.csv", NOM_LINE2, NOM2 + "7")],
         ["nominations.csv:2", "field 'strength'", "outside the scale 1..5"],
         warn=["nominations.csv", "1 strength_off_scale dropped (line 2)"], command="network"),
    Case("nominations_missing", [("delete", "nominations.csv")],
         ["nominations.csv", "file not found"]),
    # transcripts
    Case("transcript_empty", [("write", T1, "\n  \n")],
         ["sch01-p02_interview_1.txt", "transcript is empty"]),
    Case("transcript_binary", [("copy", "binary_transcript.txt", T1)],
         ["sch01-p02_interview_1.txt", "PNG image"]),
    Case("transcript_binary_nul", [("write", T1, b"I: ja\n\nR: nee\x00\x00\x01\x02")],
         ["sch01-p02_interview_1.txt:3", "binary file"]),
    Case("transcript_mixed_encodings", [("copy", "mixed_encoding.txt", T1)],
         ["sch01-p02_interview_1.txt:5", "mixed encodings"]),
    Case("transcript_corrupt_docx", [("copy", "corrupt.docx", DOCX)],
         ["sch02-p02_interview_1.docx", "not a readable .docx"]),
    Case("transcript_docx_without_document", [("copy", "docx_without_document.docx", DOCX)],
         ["sch02-p02_interview_1.docx", "not a readable .docx"]),
    Case("transcript_unknown_person",
         [("move", T1, "transcripts/sch01/sch01-p42_interview_1.txt")],
         ["sch01-p42_interview_1.txt", "field 'person_id'", "'sch01-p42' is not in staff.csv"]),
    Case("transcript_unknown_person_typed_in_capitals",
         [("move", T1, "transcripts/sch01/SCH01-p02_interview_1.txt")],
         ["SCH01-p02_interview_1.txt", "field 'person_id'",
          "'SCH01-p02' is not in staff.csv; 'sch01-p02' is: rename the file"]),
    Case("transcript_dangling_link",
         [("symlink", "transcripts/sch01/sch01-p02_interview_2.docx", "elders.docx")],
         ["sch01-p02_interview_2.docx", "field 'file name'",
          "a link to a file that is not there"]),
    Case("transcript_wrong_school", [("move", T1, "transcripts/sch02/sch01-p02_interview_1.txt")],
         ["sch01-p02_interview_1.txt", "field 'school_id'", "belongs to school 'sch01'"]),
    Case("transcript_bad_name", [("move", T1, "transcripts/sch01/sch01-p02_gesprek.txt")],
         ["sch01-p02_gesprek.txt", "field 'file name'", "transcript name must be"]),
    Case("transcript_pdf_extension",
         [("write", "transcripts/sch01/sch01-p02_interview_2.pdf", b"%PDF-1.4")],
         ["sch01-p02_interview_2.pdf", "field 'file name'", "save the text as .txt or .docx"]),
    Case("transcript_old_word_format",   # Word 97-2003: the fix, not only the pattern
         [("write", "transcripts/sch01/sch01-p02_interview_2.doc", b"\xd0\xcf\x11\xe0")],
         ["sch01-p02_interview_2.doc", "field 'file name'", "(save it as .docx)"]),
    Case("transcript_duplicate_number",
         [("write", "transcripts/sch01/sch01-p02_interview_1.docx", b"x")],
         ["sch01-p02_interview_1", "field 'file name'", "segment ids would clash"]),
    # labels (pipeline train)
    Case("labels_unknown_code", [R("labels/gold.csv", ",benefits,", ",voordelen,")],
         ["gold.csv:5", "field 'code'", "unknown code 'voordelen'"], command="train"),
    Case("labels_value_not_binary", [R("labels/gold.csv", ",focus,0,", ",focus,misschien,")],
         ["gold.csv:2", "field 'value'", "value must be 0 or 1"], command="train"),
    Case("labels_missing_column", [R("labels/gold.csv", ",annotator,", ",codeur,")],
         ["gold.csv:1", "field 'annotator'", "missing column"], command="train"),
    Case("labels_empty_segment_id", [("replace_line", "labels/gold.csv", 3,
                                      ",approach,0,gold,2026-11-20T12:00:00+00:00")],
         ["gold.csv:3", "field 'segment_id'", "empty value"], command="train"),
    Case("labels_of_another_cohort",
         [("write", "labels/gold.csv", "segment_id,code,value,annotator,time\n"
           "s9-p01_interview_1@1-9,focus,1,gold,2026-11-20T12:00:00+00:00\n")],
         ["labels", "no label of gold.csv matches a segment", "'s9-p01_interview_1@1-9'",
          "no transcript s9-p01_interview_1 in this cohort"], command="train"),
    Case("labels_of_other_offsets",
         [("write", "labels/gold.csv", "segment_id,code,value,annotator,time\n"
           "sch01-p01_interview_1@0-3,focus,1,gold,2026-11-20T12:00:00+00:00\n")],
         ["labels", "its transcript is there: labels made with other segment settings"],
         command="train"),
    Case("labels_store_damaged", [("write", "labels/store.sqlite", b"not a database at all")],
         ["store.sqlite", "cannot be read as a label store", "restore it from a backup"],
         command="train"),
    Case("labels_without_transcripts", [("delete", "transcripts")],
         ["transcripts", "no transcripts, so no segment for the 32 labelled segment id(s)"],
         command="train"),
    # --config
    Case("config_brokerage_attribute_not_in_staff",
         [("config", "brokerage_attribute: role", "brokerage_attribute: afdeling")],
         ["pipeline.yaml:8:", "field 'network.brokerage_attribute'",
          "'afdeling' is not a column of staff.csv (its columns: person_id,", "nickname)"]),
    Case("config_unreadable_yaml", [("config", "seed: 20220103", "seed: [20220103")],
         ["pipeline.yaml", "invalid YAML"]),
    Case("config_bad_policy",
         [("config", "data_quality_policy: drop", "data_quality_policy: skip")],
         ["pipeline.yaml", "network.data_quality_policy"]),
    Case("config_unknown_key", [("config", "seed: 20220103", "seed: 20220103\nsneed: 1")],
         ["pipeline.yaml", "sneed", "Extra inputs are not permitted"]),
    Case("codebook_version_a_number", [("codebook", 'version: "1.0"', "version: 2.0")],
         ["codebook.yaml:", "field 'version': YAML read it as the number 2.0: write it in quotes"]),
    Case("codebook_duplicate_code",
         [("codebook", "      - id: organisational\n", "      - id: benefits\n")],
         ["codebook.yaml:", "field 'families[knowledge_types].codes[benefits].id'",
          "duplicate code id 'benefits'"]),
    Case("codebook_renamed_code_left_in_profiles",
         [("codebook", "      - id: focus\n", "      - id: focus_area\n")],
         [f"profiles.yaml:{FIRST_N_FOCUS}: field 'profiles[super_sharer].criteria[2].feature'",
          "'n_focus'"]),
    # pipeline code
    Case("segments_without_text", [("input", "segments.csv", "id,tekst\ns1,Hallo\n")],
         ["segments.csv:1", "field 'text'", "missing column"], command="code"),
    Case("segments_jsonl_broken", [("input", "segments.jsonl",
                                    '{"id": "s1", "text": "a"}\n{"id": "s2", "text": \n')],
         ["segments.jsonl:2", "invalid JSON"], command="code"),
    Case("segments_jsonl_no_text", [("input", "segments.jsonl", '{"id": "s1", "tekst": "a"}\n')],
         ["segments.jsonl:1", "field 'text'", "missing"], command="code"),
    Case("segments_jsonl_null_id", [("input", "segments.jsonl", '{"id": null, "text": "a"}\n')],
         ["segments.jsonl:1", "field 'id'", "expected a string or an integer"], command="code"),
    Case("segments_header_only", [("input", "segments.csv", "id,text\n")],
         ["segments.csv", "no segments in it", "nothing to code"], command="code"),
    Case("segments_jsonl_blank_lines", [("input", "segments.jsonl", "\n\n")],
         ["segments.jsonl", "file is empty"], command="code"),
    Case("segments_wrong_extension", [("input", "segments.txt", "id,text\n")],
         ["segments.txt", "expected a .csv or .jsonl"], command="code"),
    # pipeline profile
    Case("features_not_a_number",
         [("input", "features.csv", FEATURES_CSV.replace(",3.5,3,", ",3.5,drie,"))],
         ["features.csv:2", "field 'n_focus'", "not a number: 'drie'"], command="profile"),
    Case("features_missing_column",
         [("input", "features.csv", FEATURES_CSV.replace(",n_exchange,", ",n_uitwisseling,"))],
         ["features.csv:1", "field 'n_exchange'", "missing column"], command="profile"),
    Case("features_negative",
         [("input", "features.csv", FEATURES_CSV.replace(",12,10,", ",-12,10,"))],
         ["features.csv:2", "field 'out_ties'", "must be >= 0"], command="profile"),
    Case("features_with_r_row_names",     # R's write.csv without row.names = FALSE
         [("input", "features.csv", '""' + "".join(f",{line}\n" if i == 0 else f"{i},{line}\n"
                                                  for i, line in enumerate(
                                                      FEATURES_CSV.splitlines())))],
         ["features.csv:1", "column 1 of the header has no name (row names of R's write.csv? "
          "write with row.names = FALSE)"], command="profile"),
    # the folders themselves
    Case("cohort_not_found", [("delete_cohort",)], ["cohort folder not found"]),
    Case("model_not_found", [], ["model.skops", "model file not found"], command="run_model"),
]


def _apply(case: Case, root: Path, work: Path) -> dict[str, Path]:
    """Apply the case's edits to the cohort copy ``root``; returns extra inputs by kind."""
    extra: dict[str, Path] = {}
    for edit in case.edits:
        kind, *args = edit
        if kind == "replace":
            path, old, new = root / args[0], args[1], args[2]
            text = path.read_text(encoding="utf-8")
            assert old in text, f"{case.id}: {old!r} not in {args[0]}"
            path.write_text(text.replace(old, new, 1), encoding="utf-8")
        elif kind == "write":
            data = args[1]
            (root / args[0]).write_bytes(data.encode() if isinstance(data, str) else data)
        elif kind == "append":
            with open(root / args[0], "a", encoding="utf-8") as fh:
                fh.write(args[1])
        elif kind == "delete":
            target = root / args[0]
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        elif kind == "move":
            (root / args[1]).parent.mkdir(parents=True, exist_ok=True)
            (root / args[0]).rename(root / args[1])
        elif kind == "copy":
            shutil.copyfile(BAD / args[0], root / args[1])
        elif kind == "symlink":   # to a file that is not there
            (root / args[0]).symlink_to(root / args[1])
        elif kind == "keep_lines":
            lines = (root / args[0]).read_text(encoding="utf-8").splitlines(keepends=True)
            (root / args[0]).write_text("".join(lines[:args[1]]), encoding="utf-8")
        elif kind == "replace_line":
            path = root / args[0]
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            lines[args[1] - 1] = args[2] + "\n"
            path.write_text("".join(lines), encoding="utf-8")
        elif kind == "staff_semicolons":
            path = root / "staff.csv"
            text = path.read_text(encoding="utf-8").replace(",", ";")
            path.write_text(text.replace(";plg_type;", ";plgtype;", 1), encoding="utf-8")
        elif kind == "config":
            extra["config"] = write_config(work, args[0], args[1])
        elif kind == "codebook":  # an edited codebook beside the config, named relatively
            codebook = (REPO / "configs" / "codebook.yaml").read_text(encoding="utf-8")
            assert args[0] in codebook, args[0]
            (work / "codebook.yaml").write_text(codebook.replace(args[0], args[1], 1),
                                                encoding="utf-8")
            extra["config"] = write_config(work, "codebook: configs/codebook.yaml",
                                           "codebook: codebook.yaml")
        elif kind == "input":
            extra["input"] = work / args[0]
            extra["input"].write_text(args[1], encoding="utf-8")
        elif kind == "delete_cohort":
            shutil.rmtree(root)
        else:  # pragma: no cover - a typo in the table
            raise AssertionError(kind)
    return extra


def _command(case: Case, root: Path, work: Path, extra: dict[str, Path], out: Path,
             out_file: Path) -> tuple[list, Path]:
    """The argument list for the case and the output it must leave alone."""
    config = ["--config", extra["config"]] if "config" in extra else []
    if case.command == "run":
        return ["run", root, "--out", out, "--rules", "--jobs", "1", *config], out
    if case.command == "network":
        return ["network", root, "--out", out, *config], out
    if case.command == "run_model":
        return ["run", root, "--out", out, "--model", work / "no-model", "--jobs", "1"], out
    if case.command == "train":
        model = work / "model"
        model.mkdir(exist_ok=True)
        (model / "model_card.json").write_text('{"name": "previous"}\n')
        return ["train", root, "--out", model, *config], model
    if case.command == "code":
        return ["code", extra["input"], "--out", out_file, "--rules", "--jobs", "1"], out_file
    if case.command == "profile":
        return ["profile", extra["input"], "--out", out_file], out_file
    raise AssertionError(case.command)


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    """A good result of ``pipeline run`` on the tiny cohort (made once, never modified)."""
    from pipeline import io, report
    from pipeline.config import load_settings
    from pipeline.run import run_cohort

    out = tmp_path_factory.mktemp("good") / "out"
    settings = load_settings()
    data = io.load_cohort(TINY)
    result = run_cohort(data, settings, rules=True)
    with io.staged_output(out) as stage:
        report.write_run(stage, result, data, settings)
        outputs = {p.relative_to(stage).as_posix(): io.file_sha256(p)
                   for p in sorted(stage.rglob("*")) if p.is_file()}
        io.write_manifest(stage / "manifest.json", {"tool": "sleutelfiguren", "good": True,
                                                     "outputs": outputs})
    return out


def _prepare(case: Case, base: Path, good_run: Path) -> tuple[list, Path, Path]:
    """A fresh cohort copy with the case's edits, a previous good result where the command
    writes, and the command's arguments: (args, the output to guard, work folder)."""
    root = base / "cohort"
    shutil.copytree(TINY, root)
    work = base / "work"
    work.mkdir()
    out = base / "out"
    shutil.copytree(good_run, out)
    out_file = base / "coded.csv"
    out_file.write_text("id,previous\ns0,good\n", encoding="utf-8")
    extra = _apply(case, root, work)
    args, guarded = _command(case, root, work, extra, out, out_file)
    return args, guarded, work


@pytest.fixture
def setup_case(tmp_path, good_run):
    return lambda case: _prepare(case, tmp_path, good_run)


def _check_error(case: Case, code: int, stdout: str, stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert "Traceback" not in stderr, stderr
    assert code == 2, f"{case.id}: exit {code}\n{stderr}"
    assert len(errors) == 1 and len(errors[0]) > 10, stderr
    assert not [ln for ln in lines if not ln.startswith(("error:", "warning:"))], stderr
    for fragment in case.fragments:
        assert fragment in errors[0], f"{case.id}: {fragment!r} not in {errors[0]!r}"
    assert "unexpected" not in errors[0]
    return errors[0]


# ------------------------------------------------------------------ the tests
def test_table_is_big_enough():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert {p.name for p in BAD.iterdir()} >= {"corrupt.docx", "binary_transcript.txt",
                                                "mixed_encoding.txt"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, setup_case, capsys, monkeypatch):
    args, guarded, work = setup_case(case)
    before = snapshot(guarded)
    if case.warn:
        # the default policy drops the row, says so, and carries on
        code, out, err = cli(args, capsys, monkeypatch)
        assert code == 0, err
        warnings = [ln for ln in err.splitlines() if ln.startswith("warning:")]
        assert "Traceback" not in err
        assert any(all(f in w for f in case.warn) for w in warnings), err
        assert snapshot(guarded) != before  # a new result replaced the old one
        # ... and `data_quality_policy: fail` refuses the file, leaving that result alone
        before = snapshot(guarded)
        config = write_config(work, "data_quality_policy: drop", "data_quality_policy: fail")
        args = [*args, "--config", config]
    code, out, err = cli(args, capsys, monkeypatch)
    _check_error(case, code, out, err)
    assert snapshot(guarded) == before, f"{case.id}: the previous result was changed"
    leftovers = [p.name for p in guarded.parent.iterdir() if ".partial-" in p.name
                 or ".old-" in p.name or p.name.endswith(".tmp")]
    assert not leftovers, leftovers


@pytest.mark.parametrize("where", ["before the command", "at the end"])
def test_debug_shows_the_traceback(where, tmp_path, capsys, monkeypatch):
    root = tmp_path / "cohort"
    shutil.copytree(TINY, root)
    (root / "cohort.yaml").write_text("name: [tiny\n")
    from pipeline.io import InputError

    args = ["run", str(root), "--out", str(tmp_path / "out"), "--rules"]
    args = ["--debug", *args] if where == "before the command" else [*args, "--debug"]
    monkeypatch.setattr(sys, "argv", ["pipeline", *args])
    from pipeline import cli as cli_module

    with pytest.raises(InputError, match="invalid YAML"):
        cli_module.main()


@pytest.mark.parametrize("args, says", [
    (["run", TINY], "Missing option '--out'"),
    (["run", TINY, "--out", "x", "--bogus"], "No such option: --bogus"),
    (["nonsense"], "No such command 'nonsense'"),
])
def test_usage_error_shows_usage_and_exits_2(args, says, capsys, monkeypatch):
    code, out, err = cli(args, capsys, monkeypatch)
    assert code == 2, err
    assert says in err and "Usage: pipeline" in err, err
    assert "unexpected" not in err and "Traceback" not in err


def test_unexpected_error_is_one_line(tmp_path, capsys, monkeypatch):
    """A bug inside a stage still gives one line and exit 1 (traceback with --debug)."""
    from pipeline import io

    def boom(*a, **k):
        raise RuntimeError("something\nwent wrong")

    monkeypatch.setattr(io, "load_cohort", boom)
    code, out, err = cli(["run", TINY, "--out", tmp_path / "out", "--rules"], capsys,
                         monkeypatch)
    assert code == 1
    assert err.strip() == ("error: unexpected RuntimeError: something went wrong (rerun with "
                           "--debug for the traceback)")


def test_label_files_saved_as_upper_case_csv_are_read(tmp_path):
    """Windows saves "GOLD.CSV": its labels were left out without a word (train, agreement,
    run); a .CSV is a CSV."""
    from pipeline.io import load_cohort

    root = tmp_path / "cohort"
    shutil.copytree(TINY, root, ignore=shutil.ignore_patterns("store.sqlite*"))
    before = load_cohort(root).labels
    (root / "labels" / "gold.csv").rename(root / "labels" / "GOLD.CSV")
    after = load_cohort(root)
    assert len(before) > 0 and len(after.labels) == len(before)
    assert root / "labels" / "GOLD.CSV" in after.read_files


def test_an_interrupted_run_says_so_and_exits_130(tmp_path, capsys, monkeypatch):
    """Ctrl-C during a run: "aborted", exit 130 and no output folder. It exited 0 without a
    word (typer returns the interrupted command's code when not standalone), so `make` and
    `&&` went on as if the run had succeeded."""
    from pipeline import run

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "run_segments", interrupted)
    code, out, err = cli(["run", TINY, "--out", tmp_path / "out", "--rules"], capsys,
                         monkeypatch)
    assert (code, err.strip()) == (130, "aborted")
    assert not (tmp_path / "out").exists()


def test_unwritable_output_is_one_line(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = cli(["code", _segments(tmp_path), "--out", blocker / "coded.csv",
                          "--rules"], capsys, monkeypatch)
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("error:") and "file" in err


def _segments(tmp_path: Path) -> Path:
    path = tmp_path / "segments.csv"
    path.write_text(SEGMENTS_CSV, encoding="utf-8")
    return path


SUBPROCESS_CASES = ["staff_responded_not_boolean", "segments_without_text"]


def test_bad_input_real_entry_point(tmp_path, good_run):
    """The installed ``pipeline`` script behaves the same (one line, exit 2, out untouched);
    the cases run side by side to save start-up time."""
    runs = []
    for case_id in SUBPROCESS_CASES:
        case = next(c for c in CASES if c.id == case_id)
        args, guarded, _ = _prepare(case, tmp_path / case_id, good_run)
        proc = subprocess.Popen([str(PIPELINE), *map(str, args)], cwd=REPO, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        runs.append((case, proc, guarded, snapshot(guarded)))
    for case, proc, guarded, before in runs:
        out, err = proc.communicate(timeout=300)
        _check_error(case, proc.returncode, out, err)
        assert snapshot(guarded) == before


def test_good_input_variants_are_accepted(tmp_path, capsys, monkeypatch):
    """What is unusual but not wrong loads fine: semicolon CSV from Excel, UTF-16 and
    Windows-1252 transcripts, an extension or "Interview" in capitals, empty trailing
    columns, the files Windows, macOS and Word leave beside transcripts."""
    from pipeline import io

    root = tmp_path / "cohort"
    shutil.copytree(TINY, root)
    staff = (root / "staff.csv").read_text(encoding="utf-8")
    n_true = staff.count(",true,")
    staff = staff.replace(",true,", ",WAAR,", 1).replace(",false,", ",ONWAAR,", 1)
    (root / "staff.csv").write_text(staff.replace(",", ";"), encoding="utf-8")
    noms = (root / "nominations.csv").read_text(encoding="utf-8").replace(NOM_LINE2, NOM2 + "NA")
    noms = noms.splitlines()                                   # R's write.csv: NA for missing
    (root / "nominations.csv").write_text("".join(f"{ln},,\n" for ln in noms), encoding="utf-8")
    t1 = root / "transcripts/sch01/sch01-p02_interview_1.txt"
    text = t1.read_text(encoding="utf-8")
    t1.write_bytes(text.encode("utf-16"))
    t2 = root / "transcripts/sch01/sch01-p01_observation_1.txt"
    t2.write_bytes((t2.read_text(encoding="utf-8") + "Café-overleg.\n").encode("cp1252"))
    t2 = t2.rename(t2.with_suffix(".TXT"))   # Windows writes the extension in capitals
    t3 = root / "transcripts/sch01/sch01-p01_interview_1.txt"
    t3 = t3.rename(t3.with_name("sch01-p01_Interview_1.txt"))   # and a word capitalised
    for litter in ("Thumbs.db", "desktop.ini", ".DS_Store", "~$sch01-p02_interview_1.docx"):
        (root / "transcripts" / "sch01" / litter).write_bytes(b"\x00\x01")
    data = io.load_cohort(root)
    assert "transcripts/sch01/sch01-p01_observation_1.TXT" in data.transcripts["path"].tolist()
    interview = data.transcripts[data.transcripts["path"].str.endswith("_Interview_1.txt")]
    assert interview["source"].tolist() == ["interview"]
    assert len(data.staff) == 24 and len(data.nominations) == 71
    assert data.staff["responded"].sum() == n_true     # Dutch Excel's WAAR / ONWAAR read
    assert np.isnan(data.nominations["strength"].iloc[0])
    assert len(data.transcripts) == 6   # what file managers leave is no transcript
    assert io.read_transcript(t1) == text
    assert io.read_transcript(t2).endswith("Café-overleg.\n")


def test_input_error_survives_a_worker_process():
    """An InputError raised in a joblib worker is pickled back to the parent unchanged."""
    import pickle

    from pipeline.io import InputError

    e = InputError(Path("t.txt"), "mixed encodings", line=5, field="text")
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is InputError and str(back) == str(e) == (
        "t.txt:5: field 'text': mixed encodings")


def test_bad_transcript_in_segmenting_workers_is_one_line_error(tmp_path, monkeypatch):
    """A large cohort is segmented in worker processes; a bad transcript still gives the
    one-line error naming file and line, not a joblib traceback."""
    from pipeline import run
    from pipeline.config import load_settings
    from pipeline.io import InputError, load_cohort

    root = tmp_path / "cohort"
    shutil.copytree(TINY, root)
    shutil.copy(BAD / "mixed_encoding.txt", root / T1)
    monkeypatch.setattr(run, "TRANSCRIPTS_PER_JOB", 1)
    with pytest.raises(InputError, match=r"sch01-p02_interview_1\.txt:5: .*mixed encodings"):
        run.run_segments(load_cohort(root), load_settings(), jobs=2)


# ------------------------------------------------------------------ --out never destroys
OUT_GUARDS = [
    # (command, where --out points, inside the work folder, expected fragment)
    ("run", "cohort", "would replace the input"),
    ("network", ".", "would replace the input"),
    ("network", "cohort/transcripts", "would replace the input"),
    ("segment", "cohort/nominations.csv", "would replace the input"),
    ("network", "home", "no manifest.json of an earlier output"),
    ("run", "model", "no manifest.json of an earlier output"),      # a model is no run
    ("network", "analysis", "no manifest.json of an earlier output"),  # hidden files count
    ("segment", "cohort/labels/store.sqlite", "would replace the input"),
    ("network", "home/thesis.docx", "is a file"),
    ("segment", "home", "is a folder"),
    ("code", "segments.csv", "would replace the input"),
    ("run", "cohort/out", "lies inside the input folder"),
    ("network", "cohort/transcripts/sch01/out", "lies inside the input folder"),
    ("segment", "cohort/labels/segments.csv", "lies inside the input folder"),
    ("network", "webapp", "is no readable manifest of an earlier sleutelfiguren output"),
]


@pytest.mark.parametrize("command, target, fragment", OUT_GUARDS,
                         ids=[f"{c}->{t}" for c, t, _ in OUT_GUARDS])
def test_out_that_would_destroy_something_is_refused(command, target, fragment, tmp_path,
                                                     capsys, monkeypatch):
    """An --out that is an input, holds one, or is a folder of someone else's files is
    refused before any work, with one line and exit 2, and nothing under the work folder
    changes (a run replaces its whole --out folder)."""
    shutil.copytree(TINY, tmp_path / "cohort")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "thesis.docx").write_text("four years of work")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model_card.json").write_text("{}")
    (tmp_path / "webapp").mkdir()   # someone else's manifest.json
    (tmp_path / "webapp" / "manifest.json").write_text('{"name": "my app"}')
    (tmp_path / "webapp" / "index.html").write_text("<p>work</p>")
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / ".RData").write_bytes(b"RDX3")
    (tmp_path / "cohort" / "labels").mkdir(exist_ok=True)
    (tmp_path / "cohort" / "labels" / "store.sqlite").write_bytes(b"annotations")
    segments = _segments(tmp_path)
    before = snapshot(tmp_path)
    source = segments if command == "code" else tmp_path / "cohort"
    rules = ["--rules"] if command in ("run", "code") else []
    code, out, err = cli([command, source, "--out", tmp_path / target, *rules], capsys,
                         monkeypatch)
    assert code == 2, err
    assert err.startswith("error:") and fragment in err and len(err.splitlines()) == 1, err
    assert snapshot(tmp_path) == before


def test_rerun_keeps_an_output_nested_in_its_out(tmp_path, capsys, monkeypatch):
    """`pipeline evaluate --out out/demo/evaluation` lives inside a run's `out/demo`: rerunning
    the run replaces its own files but keeps that other result (and its manifest); it also
    accepts an --out that holds only such results."""
    out = tmp_path / "out"
    nested = out / "evaluation"
    nested.mkdir(parents=True)
    (nested / "manifest.json").write_text("{}")
    (nested / "evaluation.csv").write_text("coder,f1\nmodel,0.8\n")
    kept = snapshot(nested)
    for _ in range(2):
        code, _, err = cli(["network", TINY, "--out", out], capsys, monkeypatch)
        assert code == 0, err
        assert (out / "manifest.json").is_file() and (out / "key_figures.csv").is_file()
        assert snapshot(nested) == kept


def test_rerun_keeps_the_files_it_did_not_write(tmp_path, capsys, monkeypatch):
    """A researcher's notes, a screenshot of the report and a script's results saved in a
    run's folder are not the run's to replace: a rerun keeps them as they were (and does not
    list them as its outputs), while what the earlier run wrote and the new one does not
    (its .qdpx, rerun with a lower report.max_qdpx_schools) goes."""
    out = tmp_path / "out"
    assert cli(["run", TINY, "--out", out, "--rules"], capsys, monkeypatch)[0] == 0
    (out / "notes.txt").write_text("sch02 looks odd\n", encoding="utf-8")
    (out / "figures" / "report.png").write_bytes(b"\x89PNG")
    (out / "nb_weighting").mkdir()
    (out / "nb_weighting" / "nb_weighting.csv").write_text("variant,f1\n", encoding="utf-8")
    (out / "latest").symlink_to("key_figures.csv")
    (out / "interviews" / "round2").mkdir(parents=True)   # made for later, still empty
    mine = {k: v for k, v in snapshot(out).items()
            if k.startswith(("notes", "figures/report", "nb_weighting"))}
    assert len(mine) == 3
    assert (out / "tiny_cohort.qdpx").is_file()
    fewer = write_config(tmp_path, "max_qdpx_schools: 100", "max_qdpx_schools: 1")
    code, _, err = cli(["run", TINY, "--out", out, "--rules", "--config", fewer], capsys,
                       monkeypatch)
    assert code == 0, err
    assert {k: v for k, v in snapshot(out).items() if k in mine} == mine
    assert (out / "latest").is_symlink() and (out / "latest").readlink() == Path("key_figures.csv")
    assert not (out / "tiny_cohort.qdpx").exists() and (out / "interviews" / "round2").is_dir()
    listed = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["outputs"]
    assert not set(mine) & set(listed) and "latest" not in listed


@pytest.mark.parametrize("mine", ["segments.csv", "segments.csv/notes.txt"])
def test_a_file_of_the_user_in_the_way_of_a_new_output_stops_the_rerun(mine, tmp_path, capsys,
                                                                        monkeypatch):
    """A file the earlier run did not write, at the path of one the new run writes (or in a
    folder of that name), is neither replaced nor silently dropped: one line naming it, exit
    2, the folder as it was."""
    out = tmp_path / "out"
    assert cli(["network", TINY, "--out", out], capsys, monkeypatch)[0] == 0
    (out / mine).parent.mkdir(parents=True, exist_ok=True)
    (out / mine).write_text("my own segments\n", encoding="utf-8")
    before = snapshot(tmp_path)
    code, _, err = cli(["run", TINY, "--out", out, "--rules"], capsys, monkeypatch)
    assert code == 2
    assert err.startswith(f"error: {out / mine}: was not written by the earlier"), err
    assert len(err.splitlines()) == 1 and snapshot(tmp_path) == before


@pytest.mark.parametrize("args, fragment", [
    (["annotate", "export", "{c}", "--out", "{c}/staff.csv", "--rules", "--n", "3"],
     "would replace the input"),
    (["annotate", "export", "{c}", "--out", "{c}/labels/tasks.json", "--rules", "--n", "3",
      "--format", "labelstudio"], "lies inside the input folder"),
    (["annotate", "adjudicate", "{c}", "--out", "{c}/nominations.csv"],
     "would replace the input"),
    (["agreement", "{c}", "--out", "{c}/labels"], "lies inside the input folder"),
])
def test_annotation_outputs_never_replace_the_cohort(args, fragment, tmp_path, capsys,
                                                     monkeypatch):
    """The annotation commands' --out is guarded like the others: one line, exit 2, the
    cohort as it was."""
    cohort = tmp_path / "c"
    shutil.copytree(TINY, cohort)
    before = snapshot(tmp_path)
    code, _, err = cli([a.format(c=cohort) for a in args], capsys, monkeypatch)
    assert code == 2 and fragment in err and len(err.splitlines()) == 1, err
    assert snapshot(tmp_path) == before


def test_an_evaluation_does_not_replace_a_run(tmp_path, capsys, monkeypatch):
    """Both leave a manifest.json, but an evaluation into a network/run folder would replace
    that result whole: refused (one line, exit 2, nothing changed); a run into a network
    folder (the same kind of result) goes ahead."""
    out = tmp_path / "out"
    assert cli(["network", TINY, "--out", out], capsys, monkeypatch)[0] == 0
    before = snapshot(tmp_path)
    code, _, err = cli(["evaluate", TINY, "--out", out, "--coders", "rules", "--no-curve"],
                       capsys, monkeypatch)
    assert code == 2 and "holds the result of another kind of command (network" in err, err
    assert len(err.splitlines()) == 1 and snapshot(tmp_path) == before
    code, _, err = cli(["run", TINY, "--out", out, "--rules"], capsys, monkeypatch)
    assert code == 0, err


def test_a_table_changed_by_hand_is_not_replaced(tmp_path, capsys, monkeypatch):
    """A researcher corrects a table in an earlier output folder; the next run into it stops
    with one line naming that file, and the whole folder stays as it was."""
    out = tmp_path / "out"
    assert cli(["network", TINY, "--out", out], capsys, monkeypatch)[0] == 0
    with open(out / "key_figures.csv", "a", encoding="utf-8") as fh:
        fh.write("sch01,4,sch01-p09,boundary_contacts,1.0,True,added by hand\n")
    before = snapshot(tmp_path)
    code, _, err = cli(["network", TINY, "--out", out], capsys, monkeypatch)
    assert code == 2
    assert err.startswith(f"error: {out / 'key_figures.csv'}: changed since the run"), err
    assert len(err.splitlines()) == 1 and snapshot(tmp_path) == before
    (out / "key_figures.csv").unlink()   # deleted (or copied away): the rerun goes ahead
    assert cli(["network", TINY, "--out", out], capsys, monkeypatch)[0] == 0
    assert (out / "key_figures.csv").is_file()


@pytest.mark.parametrize("layout", ["beside", "project", "project, --config relative",
                                    "a copy of configs/ named otherwise"])
def test_config_finds_its_own_codebook(layout, tmp_path, capsys, monkeypatch):
    """A config names its codebook relative to itself (``cb.yaml`` beside it) or to its
    project (``configs/codebook.yaml`` in a copy of this repository's layout, or in a copy of
    ``configs/`` called ``myconf/``): that codebook is used, not the repository's, from
    loading to the manifest's hashes."""
    from pipeline.config import load_settings

    here = {"beside": tmp_path / "cfg", "a copy of configs/ named otherwise": tmp_path / "myconf"
            }.get(layout, tmp_path / "project" / "configs")
    here.mkdir(parents=True)
    named = "cb.yaml" if layout == "beside" else "configs/codebook.yaml"
    codebook = (REPO / "configs" / "codebook.yaml").read_text(encoding="utf-8")
    own = here / Path(named).name
    own.write_text(codebook.replace('version: "1.0"', 'version: "9.9"', 1), encoding="utf-8")
    config = write_config(here, "codebook: configs/codebook.yaml", f"codebook: {named}")
    if layout.endswith("relative"):
        monkeypatch.chdir(here)
        config = Path(config.name)
    settings = load_settings(config)
    assert settings.codebook.version == "9.9"
    assert own.resolve() in [p.resolve() for p in settings.files]
    code, _, err = cli(["run", TINY, "--out", tmp_path / "out", "--rules", "--config", config],
                       capsys, monkeypatch)
    assert code == 0, err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert any(name.endswith(own.name) for name in manifest["config_files"]), manifest


def test_transcript_whose_speakers_are_not_recognised_is_reported(tmp_path, capsys,
                                                                  monkeypatch):
    """A transcript that gives no respondent segment is not dropped in silence: `segment`
    warns with its name, and `run` also keeps the warning in its manifest."""
    root = tmp_path / "cohort"
    shutil.copytree(TINY, root)
    (root / T1).write_text("I: Wat doet het datateam?\nI: En wat deel jij daarvan?\n",
                           encoding="utf-8")
    code, _, err = cli(["segment", root, "--out", tmp_path / "segments.csv"], capsys,
                       monkeypatch)
    assert code == 0, err
    warned = " ".join(ln for ln in err.splitlines())
    assert "sch01-p02_interview_1.txt" in warned and "no respondent turn" in warned, err
    code, _, err = cli(["run", root, "--out", tmp_path / "out", "--rules"], capsys,
                       monkeypatch)
    assert code == 0, err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert any(T1 in w and "no respondent turn" in w for w in manifest["warnings"]), manifest


def test_speaker_notes_carry_no_names(tmp_path, capsys, monkeypatch):
    """A note quotes the speaker prefixes it saw; roster names among them are pseudonymised
    like the texts (the respondent of T1 is Johannes Dijkstra; these two are others)."""
    root = tmp_path / "cohort"
    shutil.copytree(TINY, root)
    (root / T1).write_text("Annelies: Wat doet het team?\nMaarten: Data verzamelen.\n"
                           "Annelies: En jij?\nMaarten: Ik vertel het.\n", encoding="utf-8")
    code, _, err = cli(["run", root, "--out", tmp_path / "out", "--rules"], capsys,
                       monkeypatch)
    assert code == 0, err
    out = tmp_path / "out"
    notes = [w for w in json.loads((out / "manifest.json").read_text())["warnings"] if T1 in w]
    assert notes and "are all taken as the respondent" in notes[0], notes
    for shown in [*notes, err, (out / "report.html").read_text(encoding="utf-8")]:
        assert "Annelies" not in shown and "Maarten" not in shown


def test_profiles_may_count_segments_and_subtypes(tmp_path):
    """Count features the features table has besides the codes (n_segments, a sub-type's
    count) are accepted; a count of a code the codebook lacks is not (see the case table)."""
    from pipeline.config import ConfigError, load_codebook, load_profiles

    codebook = load_codebook(REPO / "configs" / "codebook.yaml")
    text = (REPO / "configs" / "profiles.yaml").read_text(encoding="utf-8")
    for feature in ("n_segments", "n_exchange.input"):
        path = tmp_path / f"{feature}.yaml"
        path.write_text(text.replace("feature: n_focus,", f"feature: {feature},", 1),
                        encoding="utf-8")
        assert load_profiles(path, codebook).profiles[0].criteria[2].feature == feature
    path.write_text(text.replace("feature: n_focus,", "feature: n_fokus,", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="n_fokus"):
        load_profiles(path, codebook)
