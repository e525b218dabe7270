"""Tests for pipeline/config.py: what a codebook may hold, and config errors that name file,
line and key.

Most cases edit the small codebook ``tests/data/config/codebook.yaml`` (its line numbers are
part of the expectations); the repository's own configs must keep loading unchanged.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import (
    DERIVED_COUNTS,
    ID_PATTERN,
    TABLE_COLUMNS,
    ConfigError,
    load_codebook,
    load_pipeline_config,
    load_profiles,
    load_settings,
)

REPO = Path(__file__).resolve().parents[1]
CODEBOOK = REPO / "tests" / "data" / "config" / "codebook.yaml"
TEXT = CODEBOOK.read_text(encoding="utf-8")
EXCHANGE = "families[activities].codes[exchange]"


def edited(tmp_path: Path, old: str, new: str, text: str = TEXT,
           name: str = "codebook.yaml") -> Path:
    """A copy of ``text`` in ``tmp_path`` with ``old`` (which must be there) replaced."""
    assert old in text, old
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def error(path: Path, load=load_codebook) -> str:
    """The one-line message ``load`` refuses ``path`` with."""
    with pytest.raises(ConfigError) as e:
        load(path)
    message = str(e.value)
    assert "\n" not in message, message
    return message


def test_shipped_configs_and_fixture_load():
    settings = load_settings()
    assert settings.codebook.family_codes("activities")
    codebook = load_codebook(CODEBOOK)
    assert codebook.code_ids == ["focus", "outcomes", "exchange"]
    assert codebook.subtype_ids == ["exchange.input", "exchange.support"]


def test_config_stays_light():
    """The reserved column names are kept in config.py, not imported from the modules that
    define their tables, because those import pandas and spaCy."""
    code = "import sys, pipeline.config; print(sorted({'pandas', 'spacy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout
    assert out.strip() == "[]"


def test_reserved_columns_cover_the_tables():
    """TABLE_COLUMNS is a copy: it must keep covering the columns the tables define."""
    import pandas as pd

    from pipeline.annotate import META_COLUMNS, TASK_COLUMNS
    from pipeline.coding.assign import CODED_COLUMNS, WORD_COUNT_COLUMNS
    from pipeline.io import LABEL_COLUMNS
    from pipeline.profile import person_codes
    from pipeline.segment import SEGMENT_COLUMNS

    tables = {*META_COLUMNS, *TASK_COLUMNS, *SEGMENT_COLUMNS, *LABEL_COLUMNS, *CODED_COLUMNS,
              *WORD_COUNT_COLUMNS, "evidence", "coder"}
    assert tables <= TABLE_COLUMNS, sorted(tables - TABLE_COLUMNS)
    codebook = load_codebook(CODEBOOK)
    own = {f"n_{c}" for c in [*codebook.code_ids, *codebook.subtype_ids]}
    derived = {c for c in person_codes(pd.DataFrame(), codebook, 1).columns
               if c.startswith("n_")} - own
    assert derived <= {f"n_{d}" for d in DERIVED_COUNTS}, derived


# ---------------------------------------------------------------- families
@pytest.mark.parametrize("old, new, line, field, says", [
    ("  - id: knowledge_types\n", "  - id: kennistypen\n", 7, "families[kennistypen].id",
     "unknown family 'kennistypen'"),
    ("  - id: knowledge_types\n", "  - id: activities\n", 21, "families[activities].id",
     "family 'activities' given twice"),
    (TEXT[TEXT.index("  - id: activities\n"):], "", 6, "families",
     "missing family 'activities'"),
])
def test_families_are_the_contracts(tmp_path, old, new, line, field, says):
    """The output columns are named after knowledge_types and activities (assign.py): a
    renamed, doubled or missing family would code nothing, without a word."""
    message = error(edited(tmp_path, old, new))
    assert message.startswith(f"{tmp_path / 'codebook.yaml'}:{line}: field '{field}': {says}")
    assert "knowledge_types and activities" in message
    assert "output columns" in message or "each once" in message


def test_a_third_family_is_refused(tmp_path):
    third = ("  - id: leiderschap\n    label: {nl: Leiderschap, en: Leadership}\n"
             "    definition: Steering.\n    codes:\n      - id: sturing\n"
             "        label: {nl: Sturing, en: Steering}\n        color: \"#111111\"\n"
             "        definition: Steering.\n        patterns: [sturen]\n")
    message = error(edited(tmp_path, "  - id: activities\n", third + "  - id: activities\n"))
    assert ":21: field 'families[leiderschap].id': unknown family 'leiderschap'" in message


def test_a_family_without_codes_is_refused(tmp_path):
    block = TEXT[TEXT.index("      - id: exchange\n"):]
    message = error(edited(tmp_path, "    codes:\n" + block, "    codes: []\n"))
    assert message.endswith(":24: field 'families[activities].codes': a family needs at "
                            "least one code"), message


# ---------------------------------------------------------------- ids
@pytest.mark.parametrize("bad", ['""', "student voice", "StudentVoice", "leerling_één",
                                 "student.voice", "student;voice", "student-voice", "'1'",
                                 "_voice", "2voice"])
def test_code_ids_follow_one_rule(tmp_path, bad):
    message = error(edited(tmp_path, "      - id: outcomes\n", f"      - id: {bad}\n"))
    assert ":16: field 'families[knowledge_types].codes[" in message
    written = bad.strip("\"'")
    assert f"].id': id {written!r} does not match {ID_PATTERN}" in message


@pytest.mark.parametrize("bad", ['""', "Oral", "pro.duct", "in put", "in;put"])
def test_subtype_ids_follow_the_same_rule(tmp_path, bad):
    message = error(edited(tmp_path, "          - id: input\n", f"          - id: {bad}\n"))
    assert f":31: field '{EXCHANGE}.subtypes[" in message
    assert f"does not match {ID_PATTERN}" in message


@pytest.mark.parametrize("reserved", sorted(TABLE_COLUMNS | set(DERIVED_COUNTS)))
def test_code_ids_may_not_be_column_names(tmp_path, reserved):
    """A code named ``text`` blanked the task file's text; ``segments`` crashed on the
    second ``n_segments`` column."""
    message = error(edited(tmp_path, "      - id: outcomes\n", f"      - id: {reserved}\n"))
    assert f":16: field 'families[knowledge_types].codes[{reserved}].id': id {reserved!r} " \
           "is reserved" in message


@pytest.mark.parametrize("prefixed", ["p_focus", "s_focus"])
def test_code_ids_may_not_look_like_a_codes_task_column(tmp_path, prefixed):
    message = error(edited(tmp_path, "      - id: outcomes\n", f"      - id: {prefixed}\n"))
    assert f"id {prefixed!r} starts with {prefixed[:2]!r}" in message


def test_good_ids_load(tmp_path):
    """The rule allows digits and underscores; a sub-type may share a name with a column,
    as it is only ever written ``<code>.<subtype>``."""
    path = edited(tmp_path, "      - id: outcomes\n", "      - id: student_voice2\n",
                  TEXT.replace("          - id: support\n", "          - id: text\n"))
    codebook = load_codebook(path)
    assert "student_voice2" in codebook.code_ids
    assert "exchange.text" in codebook.subtype_ids


def test_duplicate_code_names_both_families_and_the_second_line(tmp_path):
    message = error(edited(tmp_path, "      - id: exchange\n", "      - id: focus\n"))
    assert message == (f"{tmp_path / 'codebook.yaml'}:25: field 'families[activities]"
                       ".codes[focus].id': duplicate code id 'focus' in family activities "
                       "(first in family knowledge_types)")


def test_duplicate_subtype_names_code_and_the_second_line(tmp_path):
    message = error(edited(tmp_path, "          - id: support\n", "          - id: input\n"))
    assert message.endswith(f":34: field '{EXCHANGE}.subtypes[input].id': duplicate sub-type "
                            "id 'input' under code 'exchange' of family activities"), message


# ---------------------------------------------------------------- sub-types
def test_subtypes_only_under_activities(tmp_path):
    """Sub-types are activity kinds: one under a knowledge type raised n_activity_kinds."""
    sub = ("        subtypes:\n          - id: panel\n"
           "            label: {nl: Panel, en: Panel}\n")
    message = error(edited(tmp_path, "        patterns: [resultaat]\n",
                           "        patterns: [resultaat]\n" + sub))
    assert message.endswith(":21: field 'families[knowledge_types].codes[outcomes].subtypes': "
                            "code 'outcomes' of family knowledge_types has sub-types: only "
                            "codes of activities may (sub-types are activity kinds)"), message


# ---------------------------------------------------------------- patterns
@pytest.mark.parametrize("bad", ["''", "'...'", "' '", "'-'"])
def test_patterns_need_a_letter_or_digit(tmp_path, bad):
    """'...' coded segments with evidence '...'."""
    message = error(edited(tmp_path, "[probleem, thema]", f"[probleem, {bad}]"))
    assert ":15: field 'families[knowledge_types].codes[focus].patterns[1]': pattern " in message
    assert "has no letter or digit" in message
    message = error(edited(tmp_path, "[vragen]", f"[{bad}]"))
    assert f":33: field '{EXCHANGE}.subtypes[input].patterns[0]'" in message


def test_patterns_with_a_word_load_and_none_is_fine(tmp_path):
    """Wildcards are the rule coder's business; a code without patterns can be learned."""
    path = edited(tmp_path, "[probleem, thema]", "[leerling*, '3e klas', a.b]",
                  TEXT.replace("        patterns: [resultaat]\n", ""))
    codebook = load_codebook(path)
    assert codebook.code("focus").patterns == ["leerling*", "3e klas", "a.b"]
    assert codebook.code("outcomes").patterns == []


# ---------------------------------------------------------------- where an error is
@pytest.mark.parametrize("old, new, expected", [
    ('color: "#1b9e77"', "color: groen",
     ":13: field 'families[knowledge_types].codes[focus].color': String should match"),
    ("{nl: Focus, en: Focus}", "{nl: Focus}",
     ":12: field 'families[knowledge_types].codes[focus].label.en': Field required"),
    ("[probleem, thema]", "[probleem, null]",
     ":15: field 'families[knowledge_types].codes[focus].patterns[1]': Input should be a "
     "valid string"),
    ("[vertellen]", "vertellen",
     f":29: field '{EXCHANGE}.patterns': Input should be a valid list"),
    ("name: test codebook\n", "name: test codebook\nnaam: x\n",
     ":5: field 'naam': Extra inputs are not permitted"),
    ('version: "1.0"\n', "",
     ":3: field 'version': Field required"),
])
def test_schema_errors_name_file_line_and_key(tmp_path, old, new, expected):
    message = error(edited(tmp_path, old, new))
    assert message.startswith(f"{tmp_path / 'codebook.yaml'}{expected}"), message


LABEL_NEEDS = "a label needs a Dutch and an English text: {nl: ..., en: ...}, not "


@pytest.mark.parametrize("name, old, line, field", [
    ("codebook.yaml", "{nl: Focus, en: Focus}", 12, "families[knowledge_types].codes[focus]"),
    ("codebook.yaml", "{nl: Kennistypen, en: Knowledge types}", 8, "families[knowledge_types]"),
    ("codebook.yaml", "{nl: Input, en: Input}", 32, f"{EXCHANGE}.subtypes[input]"),
    ("profiles.yaml", "{nl: zender, en: sender}", 59, "profiles[sender]"),
    ("profiles.yaml", "{nl: onbepaald, en: undetermined}", 66, "undetermined"),
])
def test_a_label_of_one_text_says_it_needs_both_languages(tmp_path, name, old, line, field):
    """``label: Focus`` was refused with pydantic's 'Input should be a valid dictionary or
    instance of Label': every label (codes, families, sub-types, profiles) says what it takes."""
    text = TEXT if name == "codebook.yaml" else (REPO / "configs" / name).read_text("utf-8")
    path = edited(tmp_path, old, "Sender", text, name=name)
    load = load_codebook if name == "codebook.yaml" else load_profiles
    assert error(path, load) == f"{path}:{line}: field '{field}.label': {LABEL_NEEDS}'Sender'"


def test_cli_names_a_label_of_one_text(tmp_path, capsys, monkeypatch):
    from tests.helpers import cli

    for name in ("pipeline.yaml", "codebook.yaml", "profiles.yaml"):
        text = (REPO / "configs" / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("label: {nl: Focus, en: Focus}",
                                                  "label: Focus"), encoding="utf-8")
    line = next(i for i, ln in enumerate((tmp_path / "codebook.yaml").read_text().splitlines(),
                                         1) if ln.strip() == "label: Focus")
    code, _, err = cli(["profile", REPO / "tests" / "data" / "profile" / "features.csv",
                        "--out", tmp_path / "p.csv", "--config", tmp_path / "pipeline.yaml"],
                       capsys, monkeypatch)
    assert code == 2 and " ".join(err.split()) == (
        f"error: {tmp_path / 'codebook.yaml'}:{line}: field 'families[knowledge_types]"
        f".codes[focus].label': {LABEL_NEEDS}'Focus'"), err


def test_yaml_errors_name_the_line(tmp_path):
    message = error(edited(tmp_path, "[probleem, thema]", "[probleem, thema]]"))
    assert message.startswith(f"{tmp_path / 'codebook.yaml'}:15: invalid YAML ("), message


@pytest.mark.parametrize("text, line", [("", 1), ("\n\n- a\n- b\n", 3)])
def test_not_a_mapping_names_the_line(tmp_path, text, line):
    path = tmp_path / "codebook.yaml"
    path.write_text(text, encoding="utf-8")
    assert error(path) == f"{path}:{line}: expected a mapping at the top level"


def test_pipeline_config_errors_name_the_line(tmp_path):
    text = (REPO / "configs" / "pipeline.yaml").read_text(encoding="utf-8")
    path = edited(tmp_path, "    k: ", "    k: 0  #", text, name="pipeline.yaml")
    line = next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if "k: 0" in ln)
    message = error(path, load_pipeline_config)
    assert message.startswith(f"{path}:{line}: field 'network.key_figures.k': "), message


@pytest.mark.parametrize(("pairs", "says"), [
    ('[["Vraag", ""]]', "both non-empty"),
    ('[["Vraag"]]', "Field required"),
    ('["Vraag"]', "valid"),
])
def test_paired_prefixes_are_pairs_of_labels(tmp_path, pairs, says):
    text = (REPO / "configs" / "pipeline.yaml").read_text(encoding="utf-8")
    path = edited(tmp_path, '[["Vraag", "Antwoord"]]', pairs, text, name="pipeline.yaml")
    line = next(i for i, ln in enumerate(path.read_text().splitlines(), 1)
                if "paired_prefixes" in ln)
    message = error(path, load_pipeline_config)
    assert message.startswith(f"{path}:{line}: field 'segment.paired_prefixes"), message
    assert says in message, message


def test_profile_errors_name_the_line(tmp_path):
    codebook = load_settings().codebook
    text = (REPO / "configs" / "profiles.yaml").read_text(encoding="utf-8")
    feature = edited(tmp_path, "feature: n_focus,", "feature: n_fokus,", text,
                     name="profiles.yaml")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "feature: n_focus," in ln)
    message = error(feature, lambda p: load_profiles(p, codebook))
    assert message.startswith(f"{feature}:{line}: field 'profiles[") and \
        ".criteria[2].feature': 'n_fokus' counts a code" in message, message
    codes = "share_of, codes: ["
    code = edited(tmp_path, codes, codes + "fokus, ", text, name="profiles.yaml")
    line = text[:text.index(codes)].count("\n") + 1
    message = error(code, lambda p: load_profiles(p, codebook))
    assert message.startswith(f"{code}:{line}: field 'profiles[") and \
        "unknown code 'fokus'" in message, message


@pytest.mark.parametrize("name, key, field", [("codebook.yaml", "families", "codebook"),
                                              ("profiles.yaml", "profiles", "profiles")])
def test_a_codebook_or_profiles_given_as_config_is_named_so(tmp_path, capsys, monkeypatch,
                                                            name, key, field):
    """--config on the edited codebook (the config a team changes) said that 'seed' was
    missing; now it says which file it is and which one --config takes."""
    from tests.helpers import cli

    text = (REPO / "configs" / name).read_text(encoding="utf-8")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith(f"{key}:"))
    message = error(path, load_pipeline_config)
    assert message.startswith(f"{path}:{line}: field '{key}': this file holds"), message
    assert "--config takes a pipeline.yaml" in message and f"`{field}:`" in message, message
    code, _, err = cli(["profile", REPO / "tests" / "data" / "profile" / "features.csv",
                        "--out", tmp_path / "p.csv", "--config", path], capsys, monkeypatch)
    assert code != 0 and err.strip().endswith(message), err
    assert "'seed'" not in err, err


@pytest.mark.parametrize("inside", ["configs/pipeline.yaml", "pipeline.yaml", None])
def test_a_folder_given_as_config_names_the_file_to_give(tmp_path, capsys, monkeypatch,
                                                         inside):
    """--config on a project folder said "Is a directory": now one line says that it takes
    a pipeline.yaml file and names the one the folder holds (none is guessed)."""
    from tests.helpers import cli

    folder = tmp_path / "project"
    folder.mkdir()
    such = ""
    if inside:
        config = folder / inside
        config.parent.mkdir(exist_ok=True)
        config.write_text((REPO / "configs" / "pipeline.yaml").read_text(encoding="utf-8"),
                          encoding="utf-8")
        such = f", such as {config}"
    expected = f"{folder}: is a folder: --config takes a pipeline.yaml file{such}"
    assert error(folder, load_pipeline_config) == expected
    code, _, err = cli(["profile", REPO / "tests" / "data" / "profile" / "features.csv",
                        "--out", tmp_path / "p.csv", "--config", folder], capsys, monkeypatch)
    assert code == 2 and " ".join(err.split()) == f"error: {expected}", err
    assert not (tmp_path / "p.csv").exists()


def test_share_of_takes_codes_of_one_family(tmp_path, shared_datadir, capsys, monkeypatch):
    """share_of divides by the first code's family: a code of the other family in it made a
    share of the wrong whole (above 1, or a criterion held by the wrong counts), silently."""
    from tests.helpers import cli

    text = (REPO / "configs" / "profiles.yaml").read_text(encoding="utf-8")
    mixed = "codes: [approach, outcomes, exchange]"
    profiles = edited(tmp_path, "codes: [approach, outcomes]", mixed, text,
                      name="profiles.yaml")
    line = text[:text.index("codes: [approach, outcomes]")].count("\n") + 1
    message = error(profiles, lambda p: load_profiles(p, load_settings().codebook))
    assert message.startswith(f"{profiles}:{line}: field 'profiles[basic_interactive]"
                              ".criteria[1].codes[2]': code 'exchange' is of family "
                              "activities, 'approach' of knowledge_types"), message
    config = tmp_path / "pipeline.yaml"
    config.write_text((REPO / "configs" / "pipeline.yaml").read_text(encoding="utf-8")
                      .replace("profiles: configs/profiles.yaml", "profiles: profiles.yaml"),
                      encoding="utf-8")
    code, _, err = cli(["profile", shared_datadir / "profile" / "features.csv", "--out",
                        tmp_path / "p.csv", "--config", config], capsys, monkeypatch)
    assert code != 0 and f"{profiles}:{line}:" in err and "share_of" in err, err
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("pattern, ok", [
    ("leerling*", True), ("mening van ouder*", True), ("e-mail", True), ("ouders & school", True),
    ("leerling(en)?", False), ("leerling.*", False), ("a|b", False), ("leer*ling", False),
    ("*panel", False), ("mening *", False)])
def test_patterns_are_words_with_at_most_a_trailing_star(pattern, ok):
    """The rule coder matches words, and a word ending in * as a prefix: a regular expression
    or another tool's wildcard would match nothing, silently."""
    from pipeline.config import _check_pattern

    if ok:
        assert _check_pattern(pattern) == pattern
    else:
        with pytest.raises(ValueError, match="pattern"):
            _check_pattern(pattern)


def test_a_key_given_twice_is_refused(tmp_path):
    """Two ``patterns:`` under one code: YAML keeps the last without a word."""
    twice = "        patterns: [dubbel]\n        patterns: ["
    path = edited(tmp_path, "        patterns: [", twice)
    message = error(path)
    line = TEXT[:TEXT.index("        patterns: [")].count("\n") + 2
    assert message == (f"{path}:{line}: field 'patterns': given twice in one mapping (first on "
                       f"line {line - 1}); YAML would keep only this one")


def test_knowledge_types_come_first_whatever_the_file_order(tmp_path):
    blocks = TEXT.index("  - id: activities\n")
    start = TEXT.index("  - id: knowledge_types\n")
    swapped = TEXT[:start] + TEXT[blocks:] + TEXT[start:blocks]
    path = tmp_path / "codebook.yaml"
    path.write_text(swapped, encoding="utf-8")
    assert load_codebook(path).code_ids == ["focus", "outcomes", "exchange"]
