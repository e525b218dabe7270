"""variables.csv, the data dictionary of an output folder: it describes exactly the columns of
every CSV table there, with types and allowed values the data holds, for a team's own codebook
too; an undescribed column is an error."""

import re
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO, run_in_process, write_config

from pipeline.config import load_settings
from pipeline.variables import TYPES, descriptions, variable_table

TINY = REPO / "tests" / "data" / "tiny_cohort"
NETWORK_FILES = ["network_metrics.csv", "school_metrics.csv", "key_figures.csv",
                 "data_quality.csv"]


@pytest.fixture(scope="module")
def run_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("variables") / "run"
    run_in_process(["run", TINY, "--out", out, "--jobs", "1"])
    return out


def read(path: Path) -> pd.DataFrame:
    """A table as R's read.csv sees the text: every cell a string, empty ones ''."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def tables(out: Path) -> dict[str, list[str]]:
    """The CSV tables of an output folder (its dictionary aside) and their header rows."""
    return {p.name: list(read(p).columns) for p in sorted(out.glob("*.csv"))
            if p.name != "variables.csv"}


def described(out: Path) -> dict[str, list[str]]:
    variables = read(out / "variables.csv")
    return {file: list(group["column"]) for file, group in variables.groupby("file", sort=True)}


def allowed(values: str) -> set[str] | None:
    """The values a column may take, where ``values`` lists them (``a/b/c``, or codes
    ``zero or more of a, b, ;-separated``); None where it gives a unit or range."""
    codes = re.fullmatch(r"zero or more of (.*), ;-separated", values)
    if codes:
        return set(codes.group(1).split(", "))
    return set(values.split("/")) if re.fullmatch(r"[\w.]+(/[\w.]+)+", values) else None


def conforms(kind: str, values: str, cells: pd.Series) -> bool:
    """Whether a column's cells are of the declared type and within the declared values."""
    filled = cells[cells != ""]
    if kind in ("integer", "boolean") and len(filled) < len(cells):
        return False   # only decimals and texts say what an empty cell means
    if kind == "integer" and not filled.str.fullmatch(r"-?\d+").all():
        return False
    if kind == "decimal" and pd.to_numeric(filled, errors="coerce").isna().any():
        return False
    numbers = pd.to_numeric(filled, errors="coerce")
    low = {"0-1": 0, ">= 0": 0, ">= 1": 1, "> 0": 1e-12}.get(values)
    if (low is not None and (numbers < low).any()) or (values == "0-1" and (numbers > 1).any()):
        return False
    options = allowed(values)
    if options is None:
        return True
    if kind == "text" and values.startswith("zero or more"):
        return all(set(filter(None, cell.split(";"))) <= options for cell in cells)
    return filled.isin(options).all()


def test_variables_describe_exactly_the_columns_of_every_table(run_out):
    assert set(tables(run_out)) == {*NETWORK_FILES, "segments.csv", "person_codes.csv",
                                    "person_features.csv", "profiles.csv"}
    assert described(run_out) == tables(run_out)
    variables = read(run_out / "variables.csv")
    assert list(variables.columns) == ["file", "column", "type", "values", "description"]
    assert variables["type"].isin(TYPES).all()
    assert variables["description"].str.fullmatch(r"\S.{10,}\.").all()   # one sentence each
    assert not variables["description"].str.contains(". ", regex=False).any()


def test_declared_types_and_values_hold_in_the_data(run_out):
    variables = read(run_out / "variables.csv")
    data = {file: read(run_out / file) for file in variables["file"].unique()}
    wrong = [f"{v.file}:{v.column} ({v.type}, {v.values})" for v in variables.itertuples()
             if not conforms(v.type, v.values, data[v.file][v.column])]
    assert not wrong
    assert len(data["segments.csv"]) and len(data["profiles.csv"])   # something was checked


def test_a_wrong_declaration_fails_the_check():
    assert not conforms("integer", ">= 0", pd.Series(["1", "2.5"]))
    assert not conforms("boolean", "True/False", pd.Series(["True", "yes"]))
    assert not conforms("decimal", "0-1", pd.Series(["0.5", "1.5"]))
    assert not conforms("text", "zero or more of focus, approach, ;-separated",
                        pd.Series(["focus;benefits"]))
    assert conforms("text", "zero or more of focus, approach, ;-separated",
                    pd.Series(["focus;approach", ""]))


def test_every_description_has_its_column(run_out):
    """No description is left over from a column a table no longer has."""
    settings = load_settings()
    known = descriptions(settings.codebook, settings.profiles)
    assert {file: list(columns) for file, columns in known.items()} == tables(run_out)


def test_a_network_output_describes_only_its_tables(tmp_path):
    out = tmp_path / "network"
    run_in_process(["network", TINY, "--out", out, "--jobs", "1"])
    assert sorted(tables(out)) == sorted(NETWORK_FILES)
    assert described(out) == tables(out)


def own_codebook(work: Path) -> Path:
    """A pipeline.yaml in ``work`` with a codebook beside it in which organisational is
    renamed logistics, exchange's sub-type input is renamed asking, and a code is added."""
    text = (REPO / "configs" / "codebook.yaml").read_text(encoding="utf-8")
    added = ("      - id: student_voice\n"
             "        label: {nl: Leerlingstem, en: Student voice}\n"
             "        color: \"#123456\"\n"
             "        definition: What students say about the PLG's theme.\n"
             "        patterns: [leerlingenpanel]\n"
             "  - id: activities\n")
    for old, new in (("- id: organisational\n", "- id: logistics\n"),
                     ("- id: input\n", "- id: asking\n"), ("  - id: activities\n", added)):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (work / "codebook.yaml").write_text(text, encoding="utf-8")
    return write_config(work, "codebook: configs/codebook.yaml", "codebook: codebook.yaml")


def test_a_codebook_of_your_own_gets_its_own_columns_described(tmp_path):
    out = tmp_path / "run"
    run_in_process(["run", TINY, "--out", out, "--config", own_codebook(tmp_path), "--rules",
                    "--jobs", "1"])
    assert described(out) == tables(out)
    variables = read(out / "variables.csv").set_index(["file", "column"])
    about = variables["description"]
    assert "Student voice" in about["person_codes.csv", "n_student_voice"]
    assert "Student voice" in about["segments.csv", "p_student_voice"]
    assert "logistics" in about["person_features.csv", "n_logistics"]
    assert "asking" in about["person_codes.csv", "n_exchange.asking"]
    assert "student_voice" in allowed(variables.loc[("segments.csv", "knowledge_types"),
                                                    "values"])
    assert "exchange.asking" in allowed(variables.loc[("segments.csv", "activity_subtypes"),
                                                      "values"])
    assert not variables.index.get_level_values("column").str.contains("organisational").any()


@pytest.mark.parametrize("file, table, column", [
    ("network_metrics.csv", pd.DataFrame(columns=["person_id", "popularity"]), "popularity"),
    ("segments.csv", pd.DataFrame(columns=["segment_id", "p_organisational"]),
     "p_organisational"),   # a code the codebook below does not have
    ("notes.csv", pd.DataFrame(columns=["person_id"]), "person_id"),
])
def test_an_undescribed_column_is_an_error(file, table, column):
    settings = load_settings()
    codebook = settings.codebook.model_copy(update={"families": [
        f.model_copy(update={"codes": [c for c in f.codes if c.id != "organisational"]})
        for f in settings.codebook.families]})
    with pytest.raises(ValueError, match=rf"^{re.escape(file)}: column '{column}' has no "):
        variable_table({file: table}, codebook, settings.profiles)
