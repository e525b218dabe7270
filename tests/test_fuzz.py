"""Property tests (hypothesis): the readers and the segmenter take anything without crashing.

- any text -> ``parse_turns`` / ``segment_document`` (interview and observation): no exception,
  and every segment's offsets give back its text;
- any bytes -> ``read_transcript`` (.txt and .docx): text, or :class:`InputError`;
- any CSV-ish text -> ``read_staff``, ``read_nominations``, ``read_labels``,
  ``read_segments_file``: :class:`InputError`, or a frame with the documented columns.

Example counts are kept modest so the file runs in seconds.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline import io
from pipeline.io import InputError

FAST = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
_counter = itertools.count()


@pytest.fixture(scope="module")
def seg_env():
    from pipeline.config import load_settings
    from pipeline.nlp import make_nlp

    return load_settings().pipeline.segment, make_nlp()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _file(folder: Path, suffix: str, data: bytes) -> Path:
    path = folder / f"f{next(_counter)}{suffix}"
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------ segmentation
PIECES = ["I: ", "R: ", "Interviewer: ", "Respondent:", "Annelies: ", "Annelies Brouwer: ",
          "Onderzoeker:", "\n", "\n\n", "\r\n", "  ", "\t", ".", "? ", "! ", ":", "Ja.",
          "We delen het in de teamvergadering. ", "é", "ß", "\u00a0", "\u2028", "\u0085",
          "\x0c", "\x1e", "ﬁ", "İ", "🙂", "[persoon-1a2b]", "Dhr. Jansen zei: 'nee'.", "R:I:",
          "0: ", "__: ", "- ", "x" * 700 + ". ", "Zin een. Zin twee. " * 40]
PREFIXES = ["I: ", "R: ", "", "", "Annelies: ", "Interviewer:", "R:", " I : ", "Dhr. Jansen: "]
BODIES = st.lists(st.sampled_from(PIECES[7:]) | st.text(max_size=12), min_size=1,
                  max_size=6).map("".join)
PARAGRAPHS = st.lists(st.tuples(st.sampled_from(PREFIXES), BODIES,
                                st.sampled_from(["\n", "\n\n", "\n \n", "\r\n", "\r"])),
                      max_size=8).map(lambda ps: "".join(p + b + s for p, b, s in ps))
TEXTS = st.one_of(
    st.text(max_size=400),
    st.lists(st.sampled_from(PIECES) | st.text(max_size=30), max_size=30).map("".join),
    PARAGRAPHS,
)


@FAST
@given(text=TEXTS, source=st.sampled_from(["interview", "observation"]))
def test_segments_reproduce_their_text(seg_env, text, source):
    from pipeline.segment import SEGMENT_COLUMNS, parse_turns, segment_document

    config, nlp = seg_env
    for turn in parse_turns(text, source, config):
        assert 0 <= turn.start < turn.end <= len(text)
    seg = segment_document(text, doc="transcripts/s/p_interview_1.txt", school_id="s",
                           person_id="p", source=source, config=config, nlp=nlp)
    assert list(seg.columns) == SEGMENT_COLUMNS
    for row in seg.itertuples(index=False):
        assert 0 <= row.start < row.end <= len(text)
        assert row.text == text[row.start:row.end]
        assert row.text.strip() == row.text and row.text
        assert row.segment_id == f"p_interview_1@{row.start}-{row.end}"
    assert seg["segment_id"].is_unique


# ------------------------------------------------------------------ transcripts
@FAST
@given(data=st.binary(max_size=600) | TEXTS.map(lambda t: t.encode("utf-8", "surrogatepass"))
       | TEXTS.map(lambda t: t.encode("cp1252", "ignore")),
       suffix=st.sampled_from([".txt", ".docx"]))
def test_read_transcript_text_or_input_error(scratch, data, suffix):
    path = _file(scratch, suffix, data)
    try:
        text = io.read_transcript(path)
    except InputError as e:
        assert "\n" not in str(e) and str(path) in str(e)
    else:
        assert isinstance(text, str) and text.strip() and "\r" not in text


# ------------------------------------------------------------------ CSV loaders
CELLS = st.one_of(st.sampled_from(["", "sch01", "sch01-p01", "sch01-p02", "true", "nee", "3",
                                   "-1", "2,5", "1e400", "nan", "data_team", "lesson_study",
                                   "focus", "exchange.input", "1", "0", '"', '""', "a\nb",
                                   "x;y", "\x00", "é", "[/b]", "drie"]),
                  st.text(max_size=8))
COLUMNS = ["person_id", "school_id", "name", "role", "years_in_education", "years_at_school",
           "plg_id", "plg_type", "responded", "ego", "alter", "strength", "segment_id", "code",
           "value", "annotator", "time", "id", "text", "line", "", "extra"]


def _quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\n;') else cell


@st.composite
def csvish(draw, required: list[str]) -> bytes:
    header = draw(st.lists(st.sampled_from(COLUMNS), max_size=10) | st.just(list(required)))
    if draw(st.booleans()):
        header = list(required) + header
    sep = draw(st.sampled_from([",", ",", ";", "\t"]))
    n = len(header)
    row = (st.lists(CELLS, min_size=n, max_size=n)  # mostly the right width
           | st.lists(CELLS, min_size=max(0, n - 1), max_size=n + 1))
    rows = draw(st.lists(st.one_of(row, st.lists(CELLS, min_size=n, max_size=n)), max_size=6))
    quote = draw(st.booleans())
    lines = [sep.join(header)] + [sep.join(_quote(c) if quote else c for c in r) for r in rows]
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    if draw(st.integers(0, 9)) == 0:  # sometimes not text at all
        return draw(st.binary(max_size=80))
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"])),
                       "replace")


STAFF_OUT = ["person_id", "school_id", "name", "role", "years_in_education", "years_at_school",
             "plg_id", "plg_type", "responded", "line"]


@FAST
@given(data=csvish(io.STAFF_COLUMNS))
def test_read_staff(scratch, data):
    try:
        df = io.read_staff(_file(scratch, ".csv", data))
    except InputError:
        return
    assert set(STAFF_OUT) <= set(df.columns)
    assert df["responded"].dtype == bool
    assert df["years_in_education"].dtype == "float64"
    assert (df["person_id"] != "").all() and df["person_id"].is_unique
    assert df["plg_type"].isin(["", "data_team", "lesson_study"]).all()


@FAST
@given(data=csvish(["school_id", "ego", "alter", "strength"]))
def test_read_nominations(scratch, data):
    try:
        df = io.read_nominations(_file(scratch, ".csv", data))
    except InputError:
        return
    assert list(df.columns) == ["school_id", "ego", "alter", "strength", "line"]
    assert df["strength"].dtype == "float64"
    assert df["line"].dtype == "int64"


@FAST
@given(data=csvish(["segment_id", "code", "value", "annotator", "time"]))
def test_read_labels(scratch, data):
    try:
        df = io.read_labels(_file(scratch, ".csv", data))
    except InputError:
        return
    assert list(df.columns) == ["segment_id", "code", "value", "annotator", "time", "file",
                                "line"]


JSON_VALUES = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
               | st.lists(st.integers(), max_size=2))
JSONL = st.lists(st.one_of(
    st.fixed_dictionaries({"id": JSON_VALUES, "text": JSON_VALUES}),
    st.fixed_dictionaries({"id": st.text(max_size=5), "text": st.text(max_size=20)}),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.sampled_from(["[1, 2]", "nul", "{", '"x"', "", "NaN", "[" * 3000]),
), max_size=5).map(lambda xs: "\n".join(x if isinstance(x, str) else json.dumps(x)
                                        for x in xs).encode())


def _check_segments(path: Path) -> None:
    try:
        df = io.read_segments_file(path)
    except InputError as e:
        assert "\n" not in str(e)
        return
    assert isinstance(df, pd.DataFrame)
    assert {"id", "text"} <= set(df.columns)
    assert all(isinstance(x, str) and x.strip() for x in df["id"])
    assert all(isinstance(x, str) for x in df["text"])


@FAST
@given(data=csvish(["id", "text"]), suffix=st.sampled_from([".csv", ".txt"]))
def test_read_segments_csv(scratch, data, suffix):
    _check_segments(_file(scratch, suffix, data))


@FAST
@given(data=JSONL)
@example(data=b"[" * 3000)  # deeper than the JSON decoder's recursion limit
@example(data=b'{"id": null, "text": null}')
def test_read_segments_jsonl(scratch, data):
    _check_segments(_file(scratch, ".jsonl", data))


_csv_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_csv_columns = {
    "str": st.lists(_csv_text, min_size=4, max_size=4),
    "str_or_none": st.lists(st.none() | _csv_text, min_size=4, max_size=4),
    "float": st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=4, max_size=4),
    "int": st.lists(st.integers(-10**12, 10**12), min_size=4, max_size=4),
    "bool": st.lists(st.booleans(), min_size=4, max_size=4),
}


@FAST
@given(st.lists(st.sampled_from(sorted(_csv_columns)), min_size=1, max_size=4).flatmap(
    lambda kinds: st.tuples(*(st.tuples(st.just(k), _csv_columns[k]) for k in kinds))),
    st.integers(0, 4), st.booleans())
@example(columns=(("str", ["", "a,b", 'q"', "x\ny"]),), rows=4, header=True)
@example(columns=(("str", ["", "", "", ""]),), rows=4, header=False)
def test_csv_text_is_what_pandas_writes(columns, rows, header):
    """``csv_text`` writes tables of strings, numbers and booleans itself (faster): the text
    is pandas' own, with floats as their shortest round trip, for any values (quotes,
    separators, line breaks, empty and missing strings, NaN, infinities), with or without
    the header, for any number of rows."""
    df = pd.DataFrame({f"{kind}{i}": values[:rows] for i, (kind, values) in enumerate(columns)})
    assert io.csv_text(df, header=header) == df.to_csv(index=False, header=header,
                                                       lineterminator="\n")
