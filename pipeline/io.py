"""Cohort loading and validation, transcript reading, atomic writes and the run manifest.

With ``report.py`` this is the only module that touches files on disk. Everything read is
validated here, once: a bad file raises :class:`InputError` whose message names the file,
the line and the field.

Tables returned (documented columns):

``staff``        person_id, school_id, name, role, years_in_education, years_at_school,
                 plg_id ('' when none; ``dt1;ls1`` for two PLGs), plg_type (one, or one per
                 PLG), responded (bool), line, + extra columns
``nominations``  school_id, ego, alter, strength (float, NaN when not asked), line
``transcripts``  school_id, person_id, source (interview|observation), n, path (relative)
``labels``       segment_id, code, value, annotator, time, file, line
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = [
    "InputError",
    "Cohort",
    "CohortMeta",
    "load_cohort",
    "read_staff",
    "read_nominations",
    "read_labels",
    "read_codes_file",
    "ADJUDICATOR",
    "ZIP_TIME",
    "redated_zip",
    "labels_in_time_order",
    "read_transcript",
    "load_transcript",
    "Transcript",
    "read_segments_file",
    "atomic_write",
    "write_csv",
    "csv_text",
    "staged_output",
    "file_sha256",
    "build_manifest",
    "write_manifest",
    "run_manifest_of",
    "read_features",
    "recover_output",
]

STAFF_COLUMNS = ["person_id", "school_id", "name", "role", "years_in_education",
                 "years_at_school", "plg_id", "plg_type", "responded"]
NOMINATION_COLUMNS = ["school_id", "ego", "alter"]
LABEL_COLUMNS = ["segment_id", "code", "value", "annotator"]
#: what a model coder tells of each segment besides its codes (coding.assign.code_segments
#: appends them last; read_codes_file keeps them): its content words and how many of those the
#: model has a weight for
WORD_COUNT_COLUMNS = ["content_words", "known_words"]
PLG_TYPES = {"", "data_team", "lesson_study"}
#: between the PLGs of one person in ``plg_id`` (and their types in ``plg_type``)
PLG_SEPARATOR = ";"
#: line numbers a warning names at most (a table such as data_quality.csv has them all)
MAX_LINES_SHOWN = 10
TRANSCRIPT_NAME = re.compile(r"^(?P<person>[^/\\]+?)_(?P<source>(?i:interview|observation))_"
                             r"(?P<n>\d+)\.(?P<ext>(?i:txt|docx|vtt))$")   # .DOCX, _Interview_ too
# what to do with a transcript saved in another format
RESAVE = {"doc": "save it as .docx", "odt": "save it as .docx", "rtf": "save it as .docx or .txt",
          "pdf": "save the text as .txt or .docx", "pages": "export it as .docx",
          "srt": "save the captions as .vtt", "md": "save it as .txt"}
csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))  # a segment may be a long text
TRUE = {"true", "1", "yes", "ja", "y", "t", "waar"}   # WAAR / ONWAAR: Dutch Excel
_UMASK = os.umask(0)
os.umask(_UMASK)
FALSE = {"false", "0", "no", "nee", "n", "f", "onwaar"}


# the longest text a segment may have: spaCy refuses texts above 1,000,000 characters to guard
# a parser's or NER's memory; the pipelines here have neither (memory grows with the text, ~1
# GB at this), so a very long respondent turn or text cell is read as any other, up to this
# (nlp.make_nlp; read_segments_file refuses a longer cell by its line)
MAX_TEXT_CHARS = 10_000_000


class InputError(ValueError):
    """Bad input: the message is one line naming file, line and field."""

    def __init__(self, file: Path | str, message: str, line: int | None = None,
                 field: str | None = None):
        self.file, self.line, self.field, self.message = str(file), line, field, message
        where = f"{file}" + (f":{line}" if line else "")
        what = f" field '{field}':" if field else ""
        super().__init__(f"{where}:{what} {message}")

    def __reduce__(self):
        # raised in a worker process (segmenting, coding) it is pickled back to the parent,
        # which must get the same one-line error, not a failure to rebuild it
        return type(self), (self.file, self.message, self.line, self.field)


@dataclass(frozen=True)
class CohortMeta:
    name: str
    language: str = "nl"
    survey_question: str = ""
    strength_min: float | None = None
    strength_max: float | None = None


@dataclass
class Cohort:
    root: Path
    meta: CohortMeta
    staff: pd.DataFrame
    nominations: pd.DataFrame
    transcripts: pd.DataFrame
    labels: pd.DataFrame
    # what is derived from the cohort once and needed by several stages (the pseudonymiser)
    derived: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def read_files(self) -> list[Path]:
        """The files a run reads (cohort.yaml, staff, nominations, transcripts, label CSVs),
        in path order: what the manifests (run, report, segment, evaluate) and the report's
        input hash name, not the notes and scripts beside them."""
        files = [self.root / "cohort.yaml", self.root / "staff.csv",
                 self.root / "nominations.csv",
                 *(self.root / p for p in self.transcripts["path"]),
                 *cohort_label_files(self.root)]
        return sorted({p for p in files if p.is_file()},
                      key=lambda p: p.relative_to(self.root).as_posix())

    @property
    def sources(self) -> list[Path]:
        """What an ``--out`` must not replace (:func:`check_output`): the cohort folder, the
        files a run reads and the annotators' label store."""
        return [self.root, *self.read_files, self.root / "labels" / "store.sqlite"]


# ------------------------------------------------------------------ CSV reading
def _read_csv(path: Path, required: list[str], verbatim: tuple[str, ...] = ()
              ) -> pd.DataFrame:
    """Read a CSV as strings, with a ``line`` column (1-based source line of each row).

    Values are stripped of spaces around them, except in the ``verbatim`` columns (an id a
    user joins the output on). Rows of only separators (a spreadsheet's empty row) are left
    out, their lines in ``attrs["empty_rows"]``."""
    raw = _read_bytes(path)
    text = _decode(raw, path)
    if not text.strip():
        raise InputError(path, "file is empty (expected a header row)")
    first = text.split("\n", 1)[0]
    # Excel in a Dutch locale saves "CSV" with semicolons; tab-separated exports happen too
    delimiter = max([",", ";", "\t"], key=lambda d: (first.count(d), d == ","))
    # strict: a quote never closed is an error, not a value holding the rest of the file
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as e:
        raise InputError(path, f"not a readable CSV ({e})", line=1) from None
    width = len(header)
    while header and not header[-1]:  # spreadsheet exports add empty trailing columns
        header.pop()
    blank = [i + 1 for i, h in enumerate(header) if not h]
    if blank:
        hint = (" (row names of R's write.csv? write with row.names = FALSE)"
                if blank == [1] else "")
        raise InputError(path, f"column {blank[0]} of the header has no name{hint}", line=1)
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}; found: "
                         f"{', '.join(header) or '(none)'}", line=1, field=missing[0])
    dupes = {h for h in header if header.count(h) > 1}
    if dupes:
        raise InputError(path, "duplicate column in header", line=1, field=sorted(dupes)[0])
    rows, lines, empty = [], [], []
    keep = [h in verbatim for h in header]
    end = reader.line_num
    try:
        for row in reader:
            # a quoted value may span lines: a row is named by the line it starts on
            start, end = end + 1, reader.line_num
            if not "".join(row).strip():   # a blank line, or only separators and spaces
                if row:
                    empty.append(start)
                continue
            if len(header) < len(row) <= width and not any(c.strip() for c in row[len(header):]):
                row = row[:len(header)]
            if len(row) != len(header):
                raise InputError(path, f"expected {len(header)} fields, found {len(row)}"
                                 + (" (a separator inside a value? quote the value)"
                                    if len(row) > len(header) else ""), line=start)
            rows.append([c if k else c.strip() for c, k in zip(row, keep, strict=True)])
            lines.append(start)
    except csv.Error as e:
        if "unexpected end of data" in str(e):
            raise InputError(path, 'a quoted value is never closed (a missing ")',
                             line=end + 1) from None
        if "expected after" in str(e):
            raise InputError(path, 'text after a quoted value\'s closing quote (a quote inside '
                             'a quoted value is written twice: "")', line=reader.line_num) from None
        raise InputError(path, f"malformed CSV ({e})", line=reader.line_num) from None
    df = pd.DataFrame(rows, columns=header, dtype=object)
    df["line"] = pd.Series(lines, dtype="int64")
    df.attrs["empty_rows"] = empty
    return df


def _read_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except OSError as e:
        raise InputError(path, f"cannot read ({e.strerror})") from None


MAGIC = [(b"PK\x03\x04", "a ZIP archive (a .docx or .xlsx saved under another name?)"),
         (b"%PDF", "a PDF file"), (b"\xd0\xcf\x11\xe0", "an old Word/Excel file (.doc/.xls)"),
         (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
         (b"{\\rtf", "an RTF document (save it as .txt or .docx)")]
UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|"
                           rb"[\xf0-\xf4][\x80-\xbf]{3}")
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _line_of(raw: bytes, pos: int) -> int:
    return raw.count(b"\n", 0, pos) + 1


def _decode(raw: bytes, path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 (with BOM, or without as Latin text shows),
    else Windows-1252; binary files and files mixing UTF-8 with another encoding are
    refused (naming the first bad line)."""
    for magic, what in MAGIC:
        if raw.startswith(magic):
            raise InputError(path, f"this is {what}, expected text (UTF-8 or Windows-1252)")
    utf16 = ("utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff"))
             else _utf16_without_bom(raw) if b"\x00" in raw else None)
    if utf16:
        try:
            text = raw.decode(utf16)
        except UnicodeDecodeError as e:
            raise InputError(path, f"cannot decode as UTF-16 (byte {e.start})") from None
    else:
        if b"\x00" in raw:
            raise InputError(path, "binary file, expected text (UTF-8 or Windows-1252)",
                             line=_line_of(raw, raw.index(b"\x00")))
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = _line_of(raw, e.start)
            if UTF8_SEQUENCE.search(raw):
                first = _line_of(raw, UTF8_SEQUENCE.search(raw).start())
                raise InputError(path, f"mixed encodings: UTF-8 text (line {first}) and "
                                 f"bytes that are not UTF-8 (0x{raw[e.start]:02x}); save the "
                                 "file as UTF-8", line=line) from None
            try:
                text = raw.decode("cp1252")
            except UnicodeDecodeError as e2:
                raise InputError(path, f"cannot decode as UTF-8 or Windows-1252 (byte "
                                 f"0x{raw[e2.start]:02x})", line=_line_of(raw, e2.start)
                                 ) from None
    text = text.lstrip("\ufeff")
    controls = CONTROL.findall(text)
    if len(controls) > max(8, len(text) // 100):
        raise InputError(path, f"binary file ({len(controls)} control characters), expected "
                         "text (UTF-8 or Windows-1252)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _utf16_without_bom(raw: bytes) -> str | None:
    """``utf-16-le`` or ``-be`` for text saved as UTF-16 without its byte-order mark (by some
    transcription tools): Latin text then has a NUL as every second byte, on one side only;
    a binary file has them anywhere."""
    head = raw[:4096]
    if len(raw) % 2 or len(head) < 2:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    # a few NULs on the other side are characters such as U+0300 (a combining accent)
    if odd > len(head) // 4 and even <= odd // 20:
        return "utf-16-le"
    if even > len(head) // 4 and odd <= even // 20:
        return "utf-16-be"
    return None


# how a missing number is written: empty, R's write.csv NA, pandas' NaN (any case)
MISSING_NUMBER = frozenset({"", "na", "nan"})


def _to_float(df: pd.DataFrame, col: str, path: Path, *, lo: float | None = None,
              required: bool = False, whole: bool = False) -> pd.Series:
    """A column as finite floats, refused cell by cell (naming the line): not a number,
    infinite, below ``lo``, missing where ``required``, or not whole where ``whole`` (a count:
    ``3.0`` is fine, ``2.7`` is not). Missing values (:data:`MISSING_NUMBER`) become NaN."""
    out = []
    for v, line in zip(df[col], df["line"], strict=True):
        if v is None or v.strip().lower() in MISSING_NUMBER:
            if required:
                raise InputError(path, f"missing value {v!r}" if v else "empty value",
                                 line=line, field=col)
            out.append(np.nan)
            continue
        try:
            x = float(v.replace(",", "."))
        except ValueError:
            raise InputError(path, f"not a number: {v!r}", line=line, field=col) from None
        if np.isinf(x):
            raise InputError(path, f"not a finite number: {v!r}", line=line, field=col)
        if lo is not None and x < lo:
            raise InputError(path, f"must be >= {lo}, got {v!r}", line=line, field=col)
        if whole and not x.is_integer():
            raise InputError(path, f"a count must be a whole number, got {v!r}", line=line,
                             field=col)
        out.append(x)
    return pd.Series(out, index=df.index, dtype="float64")


def _to_bool(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    out = []
    for v, line in zip(df[col], df["line"], strict=True):
        s = str(v).strip().lower()
        if s in TRUE:
            out.append(True)
        elif s in FALSE:
            out.append(False)
        else:
            raise InputError(path, f"expected true/false (or ja/nee, WAAR/ONWAAR, 1/0, "
                             f"yes/no), got {v!r}", line=line, field=col)
    return pd.Series(out, index=df.index, dtype=bool)


def _check_plg_types(df: pd.DataFrame, path: Path) -> None:
    """Each ``plg_type`` known; a person in several PLGs (``dt1;ls1``) has one type for all
    or one per PLG, in the same order."""
    listed = df["plg_type"].str.contains(PLG_SEPARATOR, regex=False)
    rows = df[listed | ~df["plg_type"].isin(PLG_TYPES)]     # a national cohort: few, if any
    types = rows["plg_type"].str.split(PLG_SEPARATOR, regex=False)
    plgs = rows["plg_id"].str.split(PLG_SEPARATOR, regex=False)
    for kinds, ids, line in zip(types, plgs, rows["line"], strict=True):
        bad = [k.strip() for k in kinds if k.strip() not in PLG_TYPES]
        if bad:
            raise InputError(path, f"unknown plg_type {bad[0]!r} (expected data_team, "
                             "lesson_study or empty)", line=int(line), field="plg_type")
        if len(kinds) > 1 and len(kinds) != len(ids):
            raise InputError(path, f"{len(kinds)} plg_types for {len(ids)} plg_id(s): give one "
                             f"type, or one per PLG separated by {PLG_SEPARATOR!r}",
                             line=int(line), field="plg_type")


def _check_people(df: pd.DataFrame, path: Path) -> None:
    """A person_id and school_id in every row, and each person once (naming the first line)."""
    for col in ("person_id", "school_id"):
        empty = df[df[col] == ""]
        if len(empty):
            raise InputError(path, "empty value", line=int(empty["line"].iloc[0]), field=col)
    dup = df[df["person_id"].duplicated(keep="first")]
    if len(dup):
        rows = df[df["person_id"] == dup["person_id"].iloc[0]]
        hint = ("; someone working in two schools needs an id in each"
                if rows["school_id"].nunique() > 1 else "")
        raise InputError(path, f"duplicate person_id {dup['person_id'].iloc[0]!r} "
                         f"(first on line {rows['line'].iloc[0]}{hint})",
                         line=int(dup["line"].iloc[0]), field="person_id")


def read_staff(path: Path) -> pd.DataFrame:
    df = _read_csv(path, STAFF_COLUMNS)
    if df.empty:
        raise InputError(path, "no staff rows below the header", line=2)
    _check_people(df, path)
    _check_plg_types(df, path)
    for col in ("years_in_education", "years_at_school"):
        df[col] = _to_float(df, col, path, lo=0)
    df["responded"] = _to_bool(df, "responded", path)
    return df


def read_nominations(path: Path) -> pd.DataFrame:
    df = _read_csv(path, NOMINATION_COLUMNS)
    if "strength" not in df.columns:
        df["strength"] = ""
    for col in ("school_id", "ego", "alter"):
        empty = df[df[col] == ""]
        if len(empty):
            raise InputError(path, "empty value", line=int(empty["line"].iloc[0]), field=col)
    df["strength"] = _to_float(df, "strength", path)
    return df[["school_id", "ego", "alter", "strength", "line"]]


ADJUDICATOR = "adjudicator:"  # annotator prefix of an adjudicated label (``adjudicator:<name>``)


def labels_in_time_order(labels: pd.DataFrame) -> pd.DataFrame:
    """Labels oldest first, so that the last of an annotator's is the one that counts: by
    ``time`` (UTC, sortable as text), an undated label after the dated ones (the label store
    gives it the import time), else in row order. The one order of ``train``, ``evaluate``
    and ``agreement``.

    >>> t = pd.DataFrame({"value": [1, 0, 1], "time": ["2024-02-01", "", "2024-01-01"]})
    >>> labels_in_time_order(t)["value"].tolist()
    [1, 1, 0]
    """
    if "time" not in labels.columns:
        return labels
    time = labels["time"].fillna("").astype(str).to_numpy()
    keys = pd.DataFrame({"undated": time == "", "time": time})
    return labels.iloc[keys.sort_values(["undated", "time"], kind="stable").index.to_numpy()]


def read_labels(path: Path) -> pd.DataFrame:
    """A labels table (``segment_id, code, value, annotator[, time]``, one label a row)."""
    try:
        df = _read_csv(path, LABEL_COLUMNS)
    except InputError as e:   # an annotation task file has a column per code instead
        first = _decode(_read_bytes(path), path).split("\n", 1)[0]
        if e.field == "code" and "segment_id" in first and ("suggestion" in first
                                                              or "reviewed" in first):
            raise InputError(path, "an annotation task file (a column per code), not a "
                             "labels table: import it with `pipeline annotate import FILE "
                             "--cohort COHORT` (then `pipeline agreement COHORT` compares "
                             "the annotators)", line=1) from None
        raise
    for col in ("segment_id", "code", "annotator"):
        empty = df[df[col] == ""]
        if len(empty):
            raise InputError(path, "empty value", line=int(empty["line"].iloc[0]), field=col)
    if "time" not in df.columns:
        df["time"] = ""
    df["file"] = str(path)
    return df[["segment_id", "code", "value", "annotator", "time", "file", "line"]]


COHORT_KEYS = ("name", "language", "survey_question", "tie_strength")


def read_meta(path: Path) -> CohortMeta:
    try:
        data = yaml.safe_load(_decode(_read_bytes(path), path)) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(path, f"invalid YAML ({getattr(e, 'problem', e)})",
                         line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise InputError(path, "expected a mapping (name, language, survey_question, tie_strength)")
    for key in data:   # a misspelt key would silently leave its setting at the default
        if key not in COHORT_KEYS:
            import difflib

            close = difflib.get_close_matches(str(key), COHORT_KEYS, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(COHORT_KEYS)}"
            raise InputError(path, f"unknown key ({hint})", field=str(key))
    if not data.get("name"):
        raise InputError(path, "missing", field="name")
    scale = data.get("tie_strength")
    lo = hi = None
    if scale is not None:
        if not isinstance(scale, dict) or not {"min", "max"} <= set(scale):
            raise InputError(path, "expected null or a mapping with min and max",
                             field="tie_strength")
        try:
            lo, hi = float(scale["min"]), float(scale["max"])
        except (TypeError, ValueError):
            raise InputError(path, "min and max must be numbers", field="tie_strength") from None
        if lo >= hi:
            raise InputError(path, "min must be below max", field="tie_strength")
    return CohortMeta(name=str(data["name"]), language=str(data.get("language", "nl")),
                      survey_question=str(data.get("survey_question", "")),
                      strength_min=lo, strength_max=hi)


# what file managers and editors leave beside documents: never a transcript
SYSTEM_FILES = ("thumbs.db", "desktop.ini")
# hidden files (".DS_Store", "._x.docx") and Word's lock files ("~$x.docx"): never read
HIDDEN_OR_LOCK = (".", "~$")


# what a transcripts/ folder gets called by mistake (a team's own word for it, Dutch too)
TRANSCRIPT_FOLDER_NAMES = {"transcripts", "transcript", "transcripten", "transcriptie",
                           "transcripties"}


SPREADSHEETS = {".xlsx", ".xls", ".xlsm", ".ods", ".numbers"}


def cohort_label_files(root: Path) -> list[Path]:
    """The label CSVs of a cohort's ``labels/`` (``.csv`` in any case, as Windows saves it),
    sorted; a spreadsheet there is refused rather than left unread without a word."""
    folder = Path(root) / "labels"
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(HIDDEN_OR_LOCK))
    for p in files:
        if p.suffix.lower() in SPREADSHEETS:
            raise InputError(p, "labels are read from CSV files only: save it as CSV UTF-8 "
                             "(or move it out of labels/)", field="file name")
    return [p for p in files if p.suffix.lower() == ".csv"]


def _find_transcripts(root: Path, staff: pd.DataFrame) -> pd.DataFrame:
    folder = root / "transcripts"
    misnamed = sorted(p.name for p in root.iterdir()
                      if p.is_dir() and p.name.casefold() in TRANSCRIPT_FOLDER_NAMES
                      and p.name != "transcripts")
    if misnamed and not folder.is_dir():
        raise InputError(root / misnamed[0], "the folder must be named transcripts (plural, "
                         "lower case): its transcripts would not be read", field="folder name")
    rows = []
    school_of = dict(zip(staff["person_id"], staff["school_id"], strict=True))
    seen: dict[tuple[str, str, int], str] = {}
    if folder.is_dir():
        for p in sorted(folder.rglob("*")):
            if p.is_symlink() and not p.exists():
                raise InputError(p, "a link to a file that is not there (moved or deleted?): "
                                 "its transcript cannot be read", field="file name")
            if (not p.is_file() or p.name.startswith(HIDDEN_OR_LOCK)
                    or p.name.casefold() in SYSTEM_FILES):
                continue
            rel = p.relative_to(root)
            m = TRANSCRIPT_NAME.match(p.name)
            if not m or len(rel.parts) != 3:
                ext = p.suffix.lower().lstrip(".")
                raise InputError(p, "transcript name must be transcripts/<school_id>/"
                                 "<person_id>_<interview|observation>_<n>.<txt|docx|vtt>"
                                 + (f" ({RESAVE[ext]})" if ext in RESAVE else ""),
                                 field="file name")
            school, person = rel.parts[1], m["person"]
            if person not in school_of:
                like = [pid for pid in school_of if str(pid).casefold() == person.casefold()]
                raise InputError(p, f"person {person!r} is not in staff.csv"
                                 + (f"; {like[0]!r} is: rename the file" if like else ""),
                                 field="person_id")
            if school_of[person] != school:
                raise InputError(p, f"person {person!r} belongs to school "
                                 f"{school_of[person]!r}, not {school!r}", field="school_id")
            key = (person, m["source"].lower(), int(m["n"]))
            if key in seen:
                raise InputError(p, f"same person, kind and number as {seen[key]} (segment "
                                 "ids would clash): rename one", field="file name")
            seen[key] = rel.as_posix()
            rows.append({"school_id": school, "person_id": person,
                         "source": m["source"].lower(),
                         "n": int(m["n"]), "path": rel.as_posix()})
    return pd.DataFrame(rows, columns=["school_id", "person_id", "source", "n", "path"])


def load_cohort(root: Path | str) -> Cohort:
    """Load and validate a cohort folder (see DESIGN.md, "Cohort folder")."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "cohort folder not found")
    if not (root / "cohort.yaml").exists():
        raise InputError(root, "is no cohort folder: it has no cohort.yaml (a cohort folder "
                         "holds cohort.yaml, staff.csv, nominations.csv and transcripts/; "
                         "README.md, 'Your own cohort', shows how to make one)")
    meta = read_meta(root / "cohort.yaml")
    staff = read_staff(root / "staff.csv")
    nominations = read_nominations(root / "nominations.csv")
    transcripts = _find_transcripts(root, staff)
    label_files = cohort_label_files(root)
    labels = (pd.concat([read_labels(p) for p in label_files], ignore_index=True) if label_files
              else pd.DataFrame(columns=["segment_id", "code", "value", "annotator", "time",
                                         "file", "line"]))
    return Cohort(root=root, meta=meta, staff=staff, nominations=nominations,
                  transcripts=transcripts, labels=labels)


# ------------------------------------------------------------------ transcripts
@dataclass(frozen=True)
class Transcript:
    """A transcript as read: its ``text`` (segment offsets index into it) and, for a .docx,
    the ``formats`` of its lines (one per ``\\n``-separated line: ``"**"`` where all its
    words are bold, ``"*"`` italic, ``"_"`` underlined, ``"~"`` coloured or highlighted
    (:data:`EMPHASIS`), else ``""``; empty for other files), which can tell the speakers
    apart where no label does (segment.py)."""

    text: str
    formats: tuple[str, ...] = ()


def read_transcript(path: Path) -> str:
    """The text of a .txt (UTF-8, UTF-8 with BOM or Windows-1252), .docx or .vtt transcript.

    Line endings are normalised to ``\\n``; segment offsets index into this string. A .docx
    gives one paragraph per line, and one line per table row (:func:`_docx_lines`); a .vtt
    (Teams, Zoom) one line per speaker turn (:func:`_vtt_text`).
    """
    return load_transcript(path).text


def load_transcript(path: Path) -> Transcript:
    """:func:`read_transcript` with the formats of a .docx's lines."""
    path = Path(path)
    raw = _read_bytes(path)
    formats: tuple[str, ...] = ()
    if path.suffix.lower() == ".docx":
        text, formats = _docx_text(raw, path)
    elif path.suffix.lower() == ".vtt":
        text = _vtt_text(raw, path)
    else:
        text = _decode(raw, path)
    if not text.strip():
        raise InputError(path, "transcript is empty")
    return Transcript(text, formats)


def _docx_text(raw: bytes, path: Path) -> tuple[str, tuple[str, ...]]:
    import docx  # python-docx: reads the WordprocessingML paragraphs for us

    if raw.startswith(b"\xd0\xcf\x11\xe0"):   # an OLE compound file, not a ZIP
        raise InputError(path, "not a readable .docx: a password-protected Word document or "
                         "an old .doc (Word 97-2003); save it as .docx without a password")
    try:
        document = docx.Document(io.BytesIO(raw))
    except Exception as e:  # zipfile, lxml and python-docx raise several types on bad parts
        raise InputError(path, f"not a readable .docx: {_docx_kind(raw)}; save it as .docx "
                         f"({type(e).__name__})") from None
    lines = list(_docx_lines(document.element.body, _docx_styles(document)))
    return "\n".join(text for text, _ in lines), tuple(f for _, kinds in lines for f in kinds)


@dataclass(frozen=True)
class _DocxStyles:
    """What a .docx's style definitions say of its text: the ids of the character styles
    that hide it, the heading level (1: top) of each paragraph style that makes a heading
    (Word's Heading 1-9, any style with an outline level, Title, Subtitle), and the ids of
    the styles (paragraph or character) that set each property of :data:`EMPHASIS` (by its
    tag: ``b``, ``i``, ...); and the colour most of its runs are given (``auto``: none), the
    text's own, which sets nothing apart (a document typed all in dark grey)."""

    hidden: frozenset[str]
    headings: dict[str, int]
    emphasis: dict[str, frozenset[str]] = field(default_factory=dict)
    text_color: str = "auto"


#: a line's format as io.Transcript.formats writes it, by the run properties (``w:rPr``) that
#: give it, the first that all its words have: bold, italic, underlined, then a colour or
#: highlight (the ways a typist sets the questions apart from the answers)
EMPHASIS = (("**", ("b",)), ("*", ("i",)), ("_", ("u",)), ("~", ("color", "highlight")))


def _docx_styles(document) -> _DocxStyles:
    styles = {style.get(f"{_W}styleId"): style
              for style in document.styles.element.iter(f"{_W}style")}

    def inherited(style_id: str | None, own, seen: frozenset[str] = frozenset()):
        """``own(style)`` of a style, else of the style it is based on (None: nowhere)."""
        style = styles.get(style_id)
        if style is None or style_id in seen:
            return None
        found = own(style)
        based = style.find(f"{_W}basedOn")
        return found if found is not None or based is None else inherited(
            based.get(f"{_W}val"), own, seen | {style_id})

    def level(style) -> int | None:
        name = style.find(f"{_W}name")
        name = "" if name is None else (name.get(f"{_W}val") or "").casefold()
        outline = _outline_level(style.find(f"{_W}pPr"))
        if outline is not None or name in ("title", "subtitle"):
            return outline if outline is not None else 1 + (name == "subtitle")
        return None

    def setting(tag: str) -> frozenset[str]:
        return frozenset(i for i in styles if inherited(
            i, lambda style: _toggle(style.find(f"{_W}rPr"), tag)))

    colors = Counter(_run_color(run) for run in document.element.body.iter(f"{_W}r"))
    return _DocxStyles(
        frozenset(i for i, style in styles.items()
                  if _toggle(style.find(f"{_W}rPr"), "vanish")),
        {i: n for i, style in styles.items()
         if style.get(f"{_W}type") == "paragraph" and (n := inherited(i, level))},
        {tag: setting(tag) for _, tags in EMPHASIS for tag in tags},
        colors.most_common(1)[0][0] if colors else "auto")


def _run_color(run) -> str:
    """A run's own colour (``w:color``), lower case; ``auto`` where it gives none."""
    found = run.find(f"{_W}rPr/{_W}color")
    return "auto" if found is None else (found.get(f"{_W}val") or "auto").lower()


# the values that turn a run property off: a toggle's (bold: ``w:b w:val="0"``), no underline,
# the text colour of the theme (automatic, or black), no highlight
_PROPERTY_OFF = {"u": {"none"}, "color": {"auto", "000000"}, "highlight": {"none"}}


def _toggle(properties, tag: str) -> bool | None:
    """What run properties (``w:rPr``) say of a property such as bold (``w:b``) or a colour
    (``w:color``): on, off, or nothing (None)."""
    found = None if properties is None else properties.find(f"{_W}{tag}")
    return None if found is None else (found.get(f"{_W}val", "true").lower()
                                       not in _PROPERTY_OFF.get(tag, _OFF))


def _outline_level(properties) -> int | None:
    """The heading level a paragraph's properties give it (1: top; 0: body text, as Word's
    outline level 9 says), None where they give none."""
    found = None if properties is None else properties.find(f"{_W}outlineLvl")
    value = None if found is None else found.get(f"{_W}val", "")
    return (int(value) + 1) % 10 if value is not None and value.isdigit() else None


def _heading_level(paragraph, styles: _DocxStyles) -> int:
    """A paragraph's heading level (0: none): its own outline level, else its style's."""
    properties = paragraph.find(f"{_W}pPr")
    own = _outline_level(properties)
    if own is not None:
        return own
    style = None if properties is None else properties.find(f"{_W}pStyle")
    return 0 if style is None else styles.headings.get(style.get(f"{_W}val"), 0)


def _docx_kind(raw: bytes) -> str:
    """What a file that python-docx cannot open is, as far as its package says."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as package:
            names = set(package.namelist())
            mimetype = (package.read("mimetype").decode("ascii", "replace").strip()
                        if "mimetype" in names else "")
            types = (package.read("[Content_Types].xml") if "[Content_Types].xml" in names
                     else b"")
    except (zipfile.BadZipFile, OSError, KeyError):
        return "damaged, or not a Word document"
    if mimetype.startswith("application/vnd.oasis.opendocument"):
        return "an OpenDocument file (.odt) under another name"
    if b"macroEnabled" in types:
        return "a macro-enabled Word document (.docm) under another name"
    if "word/document.xml" not in names:
        return "a ZIP archive without a Word document in it (.xlsx, .pptx?)"
    return "damaged, or not a Word document"


#: a transcript's time stamp, ``01:10``, ``00:01:10``, ``00:01:10.5``, and with dots as Dutch
#: tools write it, ``00.01.10`` (three parts: "08.15 uur" is no stamp) (segment.py's prefixes too)
TIME_STAMP = r"(?:\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?|\d{1,2}\.\d{2}\.\d{2})"
_DOCX_STAMP = re.compile(rf"[\[(]?{TIME_STAMP}[\])]?")
#: a word a typist broke over two lines with a hyphen, as word-wrap hyphenation leaves it
#: ("Jans-\nsen", also "Jans- \r\n sen"): the hyphen after a letter, one line break (any that
#: str.splitlines knows) with spaces around it, a letter. The text keeps it as typed, so
#: offsets stay the transcript's; segmenting never cuts there, pseudonymising reads one word
_LINE_BREAKS = "\n\r\v\f\x1c-\x1e\x85\u2028\u2029"
WORD_BREAK = re.compile(rf"-(?<=[^\W\d_]-)[^\S{_LINE_BREAKS}]*(?:\r\n|[{_LINE_BREAKS}])"
                        rf"[^\S{_LINE_BREAKS}]*(?=[^\W\d_])")   # "-" first: found fast


def _docx_lines(element, styles: _DocxStyles, in_table: bool = False
                ) -> Iterator[tuple[str, tuple[str, ...]]]:
    """The lines of a .docx body (or of a table cell) in reading order: a paragraph each, and
    a table row each, with the format of each of their lines (:func:`_line_formats`; a
    heading's and a table's lines have none). A heading of the body reads as in Markdown,
    ``# Thema 2`` (``##`` a level below): a section title, no one's words (segment.py). A
    row's cells are joined as a transcript line: ``speaker | turn`` reads ``R: ...``,
    ``time | speaker | turn`` reads ``00:01:10 R: ...`` (under a header row that names them,
    only those columns: :func:`_table_lines`); a cell's own paragraphs (and a table nested in
    it) continue that speaker on lines of their own. Paragraphs, rows and cells inside a
    content control (``w:sdt``, as interview templates use; not its placeholder text) or
    custom XML are read too; text hidden by its format is not (:func:`_paragraph_text`)."""
    for child in _unwrapped(element):
        if child.tag == f"{_W}p":
            pieces = list(_paragraph_pieces(child, styles.hidden))
            said = "".join(piece for piece, _ in pieces)
            level = 0 if in_table or not said.strip() else _heading_level(child, styles)
            if level:   # every line of a heading broken with Shift+Enter is the heading's
                said = "\n".join(f"{'#' * min(level, 6)} {line.strip()}" if line.strip() else ""
                                  for line in said.split("\n"))
            yield said, (("",) * (said.count("\n") + 1) if level or in_table
                         else _line_formats(child, pieces, styles))
        elif child.tag == f"{_W}tbl":
            for line in _table_lines(child, styles):
                yield line, ("",) * (line.count("\n") + 1)


def _line_formats(paragraph, pieces: list[tuple[str, object]], styles: _DocxStyles
                  ) -> tuple[str, ...]:
    """Per line of a paragraph (its text, from its ``pieces`` (:func:`_paragraph_pieces`),
    split at its breaks): the :data:`EMPHASIS` that every word of it has (by the run's format,
    its character style or the paragraph's style), else ''."""
    style = paragraph.find(f"{_W}pPr/{_W}pStyle")
    own = None if style is None else style.get(f"{_W}val")
    lines: list[list] = [[]]   # per line, the runs of its words
    for piece, run in pieces:
        for k, part in enumerate(piece.split("\n")):
            if k:
                lines.append([])
            if part.strip() and run is not None:
                lines[-1].append(run)
    return tuple(_emphasis(runs, own, styles) for runs in lines)


def _emphasis(runs: list, paragraph_style: str | None, styles: _DocxStyles) -> str:
    """The first mark of :data:`EMPHASIS` that all ``runs`` have, else (or none) ''."""
    def on(run, tag: str) -> bool:
        properties = run.find(f"{_W}rPr")
        if tag == "color" and (own := _run_color(run)) != "auto":   # not the text's colour
            return own not in _PROPERTY_OFF["color"] and own != styles.text_color
        direct = _toggle(properties, tag)
        if direct is not None:
            return direct
        char_style = None if properties is None else properties.find(f"{_W}rStyle")
        styled = styles.emphasis.get(tag, frozenset())
        return (char_style is not None and char_style.get(f"{_W}val") in styled
                or paragraph_style in styled)

    return next((mark for mark, tags in EMPHASIS
                 if runs and all(any(on(run, tag) for tag in tags) for run in runs)), "")


# a transcript table's header row: the columns read (time, speaker, text) and those left out
TABLE_HEADER = {
    "time": {"tijd", "time", "tijdstip", "tijdcode", "timestamp", "start", "begin"},
    "speaker": {"spreker", "speaker", "naam", "name", "wie", "persoon", "deelnemer", "rol"},
    "text": {"tekst", "text", "transcript", "transcriptie", "uitspraak", "gezegd", "inhoud",
             "citaat", "utterance"},
    "other": {"nr", "nr.", "no", "no.", "#", "regel", "regelnummer", "line", "opmerking",
              "opmerkingen", "notitie", "notities", "comment", "comments", "toelichting",
              "code", "codes"},
}


def _table_lines(table, styles: _DocxStyles) -> Iterator[str]:
    """A table's rows as transcript lines (:func:`_docx_lines`). A header row that names
    its columns ("Nr | Spreker | Tekst | Opmerking") is no line, and of the rows below only
    the time, speaker and text columns are read, in that order: a line number or a remark
    is no part of the turn. Without such a row, the columns are told apart by what their
    cells hold (:func:`_content_columns`)."""
    rows = [["\n".join(text for text, _ in _docx_lines(cell, styles, in_table=True)).strip()
             for cell in _unwrapped(row) if cell.tag == f"{_W}tc"]
            for row in _unwrapped(table) if row.tag == f"{_W}tr"]
    columns = _header_columns(rows[0]) if rows else None
    if columns:
        rows = rows[1:]
    else:
        columns = _content_columns(rows)
    for cells in rows:
        if columns:
            cells = [cells[k] for k in columns if k < len(cells)]
        *lead, last = [c for c in cells if c] or [""]
        lead = [c.rstrip(":").strip() for c in lead]
        yield "".join(c + (" " if _DOCX_STAMP.fullmatch(c) else ": ") for c in lead) + last


def _content_columns(rows: list[list[str]]) -> list[int] | None:
    """Where a table without a header row has its time, speaker and text columns, as their
    cells show (None: read every column, as two columns are: ``speaker | turn``). Of three
    or more columns, one of only numbers is a line number's (left out), one of only time
    stamps the time's, the speaker's holds short cells with few values (a label or a name
    that recurs), and the text's is the one with the most words, turns of
    :data:`TURN_WORDS` words or more on average, right of the speaker's (else it is no
    transcript: a table of results or a plan in an answer is read whole); any other (a
    remark) is left out."""
    width = max(map(len, rows), default=0)
    if width < 3 or len(rows) < 2:
        return None
    cells = [[row[k] for row in rows if k < len(row) and row[k]] for k in range(width)]
    kinds: dict[str, int] = {}
    numbers = {k for k, column in enumerate(cells) if column and all(map(str.isdigit, column))}
    for k, column in enumerate(cells):
        if k in numbers:
            continue
        if column and all(_DOCX_STAMP.fullmatch(c) for c in column):
            kinds.setdefault("time", k)
        elif (len(column) * 2 > len(rows) and all(len(c) <= SPEAKER_NAME_CHARS for c in column)
              and len(set(column)) * 3 <= len(column) + 3):
            kinds.setdefault("speaker", k)
    said = [k for k in range(width) if k not in kinds.values() and k not in numbers and cells[k]]
    if "speaker" not in kinds or not said:
        return None
    words = {k: sum(len(c.split()) for c in cells[k]) for k in said}
    text = max(said, key=words.get)
    if words[text] < TURN_WORDS * len(cells[text]) or text < kinds["speaker"]:
        return None   # no turns said after their speaker: results or a plan in an answer
    kinds["text"] = text
    return [kinds[r] for r in ("time", "speaker", "text") if r in kinds]


TURN_WORDS = 3   # the fewest words a transcript table's turns have on average


def _header_columns(cells: list[str]) -> list[int] | None:
    """Where a header row's time, speaker and text columns are (None: no header row)."""
    roles = {}
    for k, cell in enumerate(cells):
        name = " ".join(cell.rstrip(":").split()).casefold()
        role = next((r for r, names in TABLE_HEADER.items() if name in names), None)
        if name and role is None:
            return None
        if role and role != "other":
            roles.setdefault(role, k)
    if "text" not in roles or len(roles) < 2:
        return None
    return [roles[r] for r in ("time", "speaker", "text") if r in roles]


def _unwrapped(element) -> Iterator:
    """``element``'s children, those of a content control or custom XML in their place
    (a control still showing its placeholder, "Klik of tik om tekst in te voeren.", is
    nothing typed)."""
    for child in element:
        if child.tag in _BLOCK_WRAPPERS:
            if not _placeholder(child):
                yield from _unwrapped(child)
        else:
            yield child


def _placeholder(element) -> bool:
    return (element.tag == f"{_W}sdt"
            and element.find(f"{_W}sdtPr/{_W}showingPlcHdr") is not None)


# a cue's own speaker prefix, as Zoom writes it ("Marieke de Vries: Goedemorgen"); not the
# start of a sentence with a colon in it ("Dus, ik vind: ...")
_CUE_SPEAKER = re.compile(r"([^\W\d_][^:\n,?!]{0,40}):\s")
_CUE_TIMING = re.compile(r"\s*((?:\d+:)?\d{2}:\d{2}\.\d{3})\s+-->\s+((?:\d+:)?\d{2}:\d{2}\.\d{3})")
# a line meant as a cue timing, readable or not (not a cue's text or a NOTE with "-->" in it)
_TIMING_LIKE = re.compile(r"\s*[^\s<]*\d[^\s<]*\s*-->")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]*)>")
_TAG = re.compile(r"<[^>]*>")
# a display name with the surname first: "Vries, M. de (Marieke)", "Verbeek, Ingrid"
_SURNAME_FIRST = re.compile(r"\s*(?P<surname>[^,()]+?)\s*,\s*(?P<rest>[^,()]*?)\s*"
                            r"(?:\((?P<called>[^()]*)\))?\s*")
#: the longest speaker name a transcript prefix holds (segment.LABEL)
SPEAKER_NAME_CHARS = 41


def _vtt_text(raw: bytes, path: Path) -> str:
    """A WebVTT transcript (Teams, Zoom) as transcript lines, one per speaker turn:
    ``[00:01:10] Marieke de Vries: ...``. The speaker is the voice of each part of a cue
    (``<v Marieke de Vries>``, Teams; :func:`speaker_name`) or the cue's own prefix (Zoom);
    the parts of one speaker in a row are one turn, and the time stamp is its first cue's
    start, to find it back in the recording. Tags are left out, character references such as
    ``&amp;`` read."""
    import webvtt  # webvtt-py: the WebVTT grammar (header, NOTE/STYLE blocks, cue settings)

    text = _decode(raw, path)
    try:
        captions = webvtt.from_string(text)
    except webvtt.errors.MalformedFileError:
        raise InputError(path, "not a WebVTT file: it must start with the line WEBVTT",
                         line=1) from None
    lines = list(enumerate(text.split("\n"), 1))
    timings = [(i, line) for i, line in lines if _TIMING_LIKE.match(line)]
    if arrow := next(((i, line) for i, line in lines if "-->" in line and not
                      _TIMING_LIKE.match(line) and not line.lstrip().startswith("NOTE")), None):
        # webvtt-py reads such a cue as empty: its words would be lost
        raise InputError(path, f"'-->' in a cue's text ({arrow[1].strip()!r}), which WebVTT "
                         "does not allow: write it otherwise", line=arrow[0])
    if len(captions) != len(timings):   # webvtt-py skips a cue it cannot read, and says nothing
        line, timing = next(((i, t) for i, t in timings if not _CUE_TIMING.match(t)),
                            timings[-1] if timings else (1, ""))
        raise InputError(path, f"unreadable cue timing {timing.strip()!r} (expected "
                         "'00:01:10.000 --> 00:01:12.500')", line=line)
    turns: list[tuple[str | None, str, list[str]]] = []   # (speaker, start, words said)
    for caption in captions:
        for speaker, said in _cue_parts(caption.raw_text):
            if speaker is None and (m := _CUE_SPEAKER.match(said)):
                speaker, said = m[1], said[m.end():]   # as written: it is the cue's text
            if not said:
                continue
            if turns and speaker is not None and turns[-1][0] == speaker:
                turns[-1][2].append(said)
            else:
                turns.append((speaker, caption.start.split(".")[0], [said]))
    return "\n".join(f"[{start}] {speaker + ': ' if speaker else ''}{' '.join(said)}"
                     for speaker, start, said in turns)


def _cue_parts(raw: str) -> list[tuple[str | None, str]]:
    """``(speaker or None, text)`` of each voice of a cue's text, as plain text."""
    def plain(part: str) -> str:
        return " ".join(html.unescape(_TAG.sub("", part)).split())

    voices = list(_VOICE.finditer(raw))
    parts = [(None, plain(raw[:voices[0].start() if voices else len(raw)]))]
    ends = [v.start() for v in voices[1:]] + [len(raw)] if voices else []
    parts += [(speaker_name(v[1]), plain(raw[v.end():end]))
              for v, end in zip(voices, ends, strict=True)]
    return [(speaker, said) for speaker, said in parts if said]


def speaker_name(name: str) -> str:
    """A display name as a transcript's speaker prefix can hold it: the surname moved back
    ("Vries, M. de (Marieke)" -> "Marieke de Vries"), an organisation after ``|`` left out,
    other characters than letters, digits, spaces, ``.'-()`` made spaces, at most
    :data:`SPEAKER_NAME_CHARS` characters. So the speakers are recognised, and a roster name
    is pseudonymised as it is written in staff.csv."""
    name = html.unescape(name).split("|")[0]
    if m := _SURNAME_FIRST.fullmatch(name):
        rest = m["rest"].split()
        given = [m["called"]] if m["called"] else [w for w in rest if not w.islower()]
        name = " ".join([*given, *(w for w in rest if w.islower()), m["surname"]])
    name = " ".join(re.sub(r"[^\w'’.\-() ]", " ", name).split())
    return name if len(name) <= SPEAKER_NAME_CHARS else name[:SPEAKER_NAME_CHARS].rsplit(" ", 1)[0]


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"   # WordprocessingML
# what holds a document's paragraphs, rows and cells in its place: content controls, custom XML
_BLOCK_WRAPPERS = {f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml"}
# what Word shows of a run's elements besides its text (w:t): a break of any kind (line,
# page, column) ends the line, so the words around it are not glued together
_RUN_CHARS = {f"{_W}tab": "\t", f"{_W}ptab": "\t", f"{_W}br": "\n", f"{_W}cr": "\n",
              f"{_W}noBreakHyphen": "-"}
# what is no text of the paragraph: deleted and moved-away text (tracked changes), field
# instructions ("PAGE \\* MERGEFORMAT"; a field's result is read), properties, drawings and
# text boxes (alternate content that would be read twice), note and comment references
_NOT_TEXT = {f"{_W}{tag}" for tag in ("del", "moveFrom", "instrText", "delInstrText", "rPr",
                                       "pPr", "sdtPr", "drawing", "pict", "object")} | {
    "{http://schemas.openxmlformats.org/markup-compatibility/2006}AlternateContent"}
_OFF = {"0", "false", "off"}


def _paragraph_text(paragraph, hidden: frozenset[str] = frozenset()) -> str:
    """A paragraph's (``w:p``) text as Word shows it, its tracked changes accepted.

    python-docx's ``text`` would leave out words a transcriber typed with track changes on
    (``w:ins``, ``w:moveTo``), in a content control or smart tag (``w:sdt``, ``w:smartTag``,
    common in templates and in documents converted from .doc) and in a simple field
    (``w:fldSimple``), and read a page or column break as nothing ("vraag?R: antwoord").
    Text formatted as hidden (``w:vanish``, a typist's note; directly or by a character
    style in ``hidden``) is not shown, so not read, and neither is a content control's
    placeholder."""
    return "".join(piece for piece, _ in _paragraph_pieces(paragraph, hidden))


def _paragraph_pieces(paragraph, hidden: frozenset[str]) -> Iterator[tuple[str, object]]:
    """:func:`_paragraph_text`'s pieces of text, each with the run (``w:r``) it is in."""
    def pieces(element, run) -> Iterator[tuple[str, object]]:
        for child in element:
            tag = child.tag
            if tag == f"{_W}t":
                yield child.text or "", run
            elif tag in _RUN_CHARS:
                yield _RUN_CHARS[tag], run
            elif not (not isinstance(tag, str)   # an XML comment or processing instruction
                      or tag in _NOT_TEXT or tag == f"{_W}r" and _hidden(child, hidden)
                      or _placeholder(child)):
                yield from pieces(child, child if tag == f"{_W}r" else run)
    return pieces(paragraph, None)


def _hidden(run, hidden: frozenset[str]) -> bool:
    style = run.find(f"{_W}rPr/{_W}rStyle")
    return (_toggle(run.find(f"{_W}rPr"), "vanish")
            or style is not None and style.get(f"{_W}val") in hidden)


def read_segments_file(path: Path) -> pd.DataFrame:
    """A CSV or JSONL of segments with at least ``id`` and ``text`` (the coding contract).
    Where there is no ``id``, a ``segment_id`` is the id: the segments table of ``pipeline
    segment`` and ``pipeline run`` codes as it is."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        text = _decode(_read_bytes(path), path)
        if not text.strip():   # a script that crashed before writing: no output to replace
            raise InputError(path, "file is empty (expected one JSON object per line)")
        records = []
        for i, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(path, f"invalid JSON ({e.msg})", line=i) from None
            except (ValueError, RecursionError) as e:
                raise InputError(path, f"invalid JSON ({type(e).__name__})", line=i) from None
            if not isinstance(obj, dict):
                raise InputError(path, "expected a JSON object", line=i)
            if "id" not in obj and "segment_id" in obj:
                obj["id"] = obj.pop("segment_id")
            for col in ("id", "text"):
                if col not in obj:
                    raise InputError(path, "missing", line=i, field=col)
            if isinstance(obj["id"], bool) or not isinstance(obj["id"], str | int):
                raise InputError(path, f"expected a string or an integer, got "
                                 f"{json.dumps(obj['id'])[:40]}", line=i, field="id")
            if not isinstance(obj["text"], str):
                raise InputError(path, f"expected a string, got {json.dumps(obj['text'])[:40]}",
                                 line=i, field="text")
            obj["id"] = str(obj["id"])
            obj["line"] = i
            records.append(obj)
        df = pd.DataFrame(records)
    elif path.suffix.lower() == ".csv":
        df = _with_segment_ids(_read_csv(path, ["text"], verbatim=("id", "segment_id")), path)
    else:
        raise InputError(path, "expected a .csv or .jsonl file of segments")
    if df.empty:   # a script that stopped before its rows: no output to replace with nothing
        raise InputError(path, "no segments in it (a header, or blank lines, only): nothing "
                         "to code")
    empty = df[df["id"].map(lambda v: not str(v).strip())]
    if len(empty):
        raise InputError(path, "empty value", line=int(empty["line"].iloc[0]), field="id")
    df["id"] = pd.Series([str(v) for v in df["id"]], index=df.index, dtype=object)
    df["text"] = pd.Series([str(v) for v in df["text"]], index=df.index, dtype=object)
    long = df[df["text"].str.len() > MAX_TEXT_CHARS]
    if len(long):
        raise InputError(path, f"{len(long.iloc[0]['text']):,} characters, more than the "
                         f"{MAX_TEXT_CHARS:,} a segment may have (a whole document in one "
                         "cell?)", line=int(long["line"].iloc[0]), field="text")
    return df


def segments_file_notes(segments: pd.DataFrame, path: Path) -> list[str]:
    """What to know of a file of segments (:func:`read_segments_file`) before relying on its
    codes: rows of only separators (not coded), rows without text (coded, but nothing in them
    can carry a code) and ids on several rows (each row is coded, in order; a join on ``id``
    matches all of them)."""
    notes = []
    if empty := segments.attrs.get("empty_rows"):
        notes.append(f"{path}: {len(empty)} row(s) with only separators "
                     f"({_lines(pd.Series(empty))}): not coded (no id, no text)")
    blank = segments.loc[segments["text"].str.strip() == "", "line"]
    if len(blank):
        notes.append(f"{path}: {len(blank)} row(s) with empty text "
                     f"({_lines(blank)}): nothing in them to code, so they have no codes "
                     "and empty probabilities")
    shared = segments[segments["id"].duplicated(keep=False)]
    if len(shared):
        first = shared["id"].iloc[0]
        notes.append(f"{path}: {shared['id'].nunique()} id(s) on several rows, such as "
                     f"'{first}' ({_lines(shared.loc[shared['id'] == first, 'line'])}): each "
                     "row is coded, and a join on id matches all of them")
    return notes


def line_list(lines: Iterable[int], limit: int | None = MAX_LINES_SHOWN) -> str:
    """Line numbers, sorted, as text: the first ``limit`` and ``...`` (None: all of them)."""
    lines = np.sort(np.asarray(list(lines), dtype=np.int64))
    shown = ", ".join(str(x) for x in lines[:limit])
    return shown + (", ..." if limit is not None and len(lines) > limit else "")


LISTED = 5   # ids named in a note about several people or schools; the rest are counted


def id_list(ids: list[str]) -> str:
    """``a, b, c, d, e and 3 more``: the first :data:`LISTED` of ``ids``, the rest counted."""
    more = len(ids) - LISTED
    return ", ".join(ids[:LISTED]) + (f" and {more} more" if more > 0 else "")


def _lines(lines: pd.Series) -> str:
    return f"line{'s' if len(lines) > 1 else ''} {line_list(lines)}"


def _with_segment_ids(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A read CSV of segments with its id column as ``id``: where there is no ``id``, a
    ``segment_id`` is the id (the segments table of ``pipeline segment`` and ``run``)."""
    if "id" not in df.columns and "segment_id" in df.columns:
        df = df.rename(columns={"segment_id": "id"})
    if "id" not in df.columns:
        raise InputError(path, "missing column(s) id (or segment_id); found: "
                         f"{', '.join(c for c in df.columns if c != 'line')}", line=1,
                         field="id")
    return df


def read_codes_file(path: Path, codebook) -> pd.DataFrame:
    """A CSV of coded segments: a run's ``segments.csv`` or what ``pipeline code`` wrote,
    possibly corrected by hand. Columns ``id`` (or ``segment_id``), ``knowledge_types``,
    ``activities``, ``activity_subtypes`` (profiles count them: a table without is refused,
    not read as "none") and ``p_<code>`` for every code; ``p_<activity>.<subtype>``,
    ``evidence`` and ``coder`` when there. Every code is checked against the codebook (a
    sub-type needs its code; case and spaces for underscores are forgiven) and written back
    in codebook order; probabilities must lie in [0, 1]. A run's ``content_words`` and
    ``known_words`` are kept where there (whole numbers, empty for the rule coder)."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise InputError(path, "expected a .csv file of coded segments (pipeline code or "
                         "the segments.csv of pipeline run)")
    probs = [f"p_{c}" for c in codebook.code_ids]
    df = _with_segment_ids(_read_csv(path, ["knowledge_types", "activities",
                                            "activity_subtypes", *probs]), path)
    empty = df[df["id"] == ""]
    if len(empty):
        raise InputError(path, "empty value", line=int(empty["line"].iloc[0]), field="id")
    dupes = df[df["id"].duplicated()]
    if len(dupes):
        raise InputError(path, f"segment {dupes['id'].iloc[0]!r} has a second row",
                         line=int(dupes["line"].iloc[0]), field="id")
    allowed = {"knowledge_types": codebook.family_codes("knowledge_types"),
               "activities": codebook.family_codes("activities"),
               "activity_subtypes": codebook.subtype_ids}
    for col, codes in allowed.items():
        df[col] = _code_list(df, col, codes, path)
    for sub, acts, line in zip(df["activity_subtypes"], df["activities"], df["line"],
                               strict=True):
        lone = [s for s in sub.split(";") if s and s.split(".")[0] not in acts.split(";")]
        if lone:
            raise InputError(path, f"sub-type {lone[0]} without its code "
                             f"{lone[0].split('.')[0]} in activities", line=line,
                             field="activity_subtypes")
    probs += [f"p_{s}" for s in codebook.subtype_ids if f"p_{s}" in df.columns]
    for col in probs:
        given = df[col]
        df[col] = _to_float(df, col, path, lo=0)
        bad = df[df[col].isna() | (df[col] > 1)]
        if len(bad):
            raise InputError(path, "empty value" if given[bad.index[0]] == "" else
                             f"expected a probability in [0, 1], got {given[bad.index[0]]!r}",
                             line=int(bad["line"].iloc[0]), field=col)
    for col in ("evidence", "coder"):
        if col not in df.columns:
            df[col] = ""
    counts = [c for c in WORD_COUNT_COLUMNS if c in df.columns]
    for col in counts:   # a model coder's counts of the words it knows (empty: rules)
        df[col] = _to_float(df, col, path, lo=0, whole=True)
    return df[["id", "knowledge_types", "activities", "activity_subtypes", *probs, "evidence",
               "coder", *counts, "line"]]


def _code_list(df: pd.DataFrame, col: str, codes: list[str], path: Path) -> pd.Series:
    """``;``-separated codes of ``col`` in codebook order; an unknown one is an error.
    ``Knowledge Management`` is ``knowledge_management``: hand-typed codes are forgiven case
    and spaces."""
    order = {c: i for i, c in enumerate(codes)}
    known, out = {}, []
    for value, line in zip(df[col], df["line"], strict=True):
        if value not in known:
            typed = {p.strip() for p in value.split(";")} - {""}
            parts = {"_".join(p.lower().split()) for p in typed}
            unknown = sorted(p for p in typed if "_".join(p.lower().split()) not in order)
            if unknown:
                raise InputError(path, f"unknown code {unknown[0]!r} (expected some of "
                                 f"{', '.join(codes)}, ';'-separated)", line=line, field=col)
            known[value] = ";".join(sorted(parts, key=order.__getitem__))
        out.append(known[value])
    return pd.Series(out, index=df.index, dtype=object)


# ------------------------------------------------------------------ writing
#: the date of every entry of a zip we write (the zip format's earliest): the same content
#: gives the same bytes
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def redated_zip(archive: bytes, rename: Callable[[str], str] = str,
                replace: dict[str, bytes] | None = None) -> bytes:
    """``archive`` with every entry dated :data:`ZIP_TIME` (libraries stamp the time of
    saving: a .docx, a skops model), its name through ``rename`` and, for a name in
    ``replace``, that body instead; order, compression and attributes kept."""
    replace = replace or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w") as dst:
        for entry in src.infolist():
            fixed = zipfile.ZipInfo(rename(entry.filename), date_time=ZIP_TIME)
            fixed.compress_type, fixed.external_attr = entry.compress_type, entry.external_attr
            dst.writestr(fixed, replace[entry.filename] if entry.filename in replace
                         else src.read(entry))
    return out.getvalue()


def atomic_write(path: Path, data: bytes | str | Iterable[bytes | str]) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    ``data`` may also be an iterable of pieces, written as they come (a large output made
    chunk by chunk never has to be whole in memory); an error while they are made leaves
    ``path`` as it was. The temporary file is named ``.<name>.<pid>.<random>.tmp``; one left
    behind by a killed process is removed by the next write to the same path. A ``path``
    that is a symbolic link stays one: the file it points to is replaced.
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    _refuse_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pieces = [data] if isinstance(data, bytes | bytearray | memoryview | str) else data
    _remove_stale(path.parent.glob(f".{glob_escape(path.name)}.*.tmp"))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs are ordinary files
        with os.fdopen(fd, "wb") as fh:
            for piece in pieces:
                fh.write(piece.encode("utf-8") if isinstance(piece, str) else piece)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        if hasattr(pieces, "close"):   # a generator: stop what makes the pieces, now
            pieces.close()
        raise


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(paths) -> None:
    """Remove leftovers (temporary files, staging folders) of processes no longer running."""
    for p in paths:
        pid = _pid_of(p)
        if pid and _pid_alive(pid):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def _pid_of(path: Path) -> int:
    """The pid in ``.<name>.partial-<pid>-x``, ``.<name>.old-<pid>``, ``.<name>.<pid>.x.tmp``
    (0 when there is none)."""
    m = (re.search(r"\.(?:old|partial)-(\d+)(?:-[^.]*)?$", path.name)
         or re.search(r"\.(\d+)\.[^.]*\.tmp$", path.name))
    return int(m.group(1)) if m else 0


def write_csv(df: pd.DataFrame, path: Path, *, bom: bool = False) -> None:
    """Deterministic CSV (UTF-8, ``\\n`` line ends, no index); ``bom`` for Excel users."""
    atomic_write(path, ("\ufeff" if bom else "") + csv_text(df))


def csv_text(df: pd.DataFrame, *, header: bool = True) -> str:
    """``df`` as :func:`write_csv` writes it; without ``header``, the rows alone, so that the
    texts of consecutive slices of a table, the first with its header, join into the text
    of the whole table.

    A table of strings, numbers and booleans (a coded table, every table of a run) is turned
    into text column by column (floats as Python's shortest round-trip ``repr``, missing
    values empty) and written by the ``csv`` module, as pandas writes it: the same text, in
    about half the time (5,000 coded segments: ~40 instead of ~80 ms; every chunk of
    ``pipeline code`` pays it). Anything else (missing strings, dates, categories) is
    written by pandas, after its float columns are turned into text the same way."""
    columns = ([_csv_column(df[c]) for c in df.columns]
               if len(df.columns) and not df.columns.has_duplicates
               and all(type(c) is str for c in df.columns) else [None])
    if all(c is not None for c in columns):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if header:
            writer.writerow(df.columns)
        writer.writerows(zip(*columns, strict=True))
        return buffer.getvalue()
    floats = [c for c, t in df.dtypes.items() if t == np.float64]
    if floats and not df.columns.has_duplicates:
        df = df.copy(deep=False)
        for c in floats:
            df[c] = _float_texts(df[c])
    return df.to_csv(index=False, header=header, lineterminator="\n")


def _float_texts(values: pd.Series) -> list[str]:
    return [repr(v) if v == v else "" for v in values.tolist()]


def _csv_column(values: pd.Series) -> list[str] | None:
    """A column's values as the text pandas writes for them, or None for a column whose
    text only pandas knows (a missing string, a date, a category)."""
    kind = values.dtype.kind
    if values.dtype == np.float64:
        return _float_texts(values)
    if kind in "iub" and isinstance(values.dtype, np.dtype):   # not pandas' nullable ones
        return list(map(str, values.tolist()))
    if kind in "OT":   # object, or pandas' own strings
        texts = values.tolist()
        return texts if all(type(v) is str for v in texts) else None
    return None


OUTPUT_MARKERS = ("manifest.json", "model_card.json")   # what the tool's output folders hold
LEFTOVERS = re.compile(r"\..+\.(partial|old)-\d+.*|\.DS_Store")   # ours, and macOS's


# what an output folder is, by the command that wrote it: `report` writes what `run` writes;
# `network` only the network part of it; an evaluation is another kind of result
OUTPUT_KINDS = {"run": "run", "report": "run", "network": "network", "evaluate": "evaluation"}
# what each kind of output holds, to say what an --out of another kind would lose
KIND_HOLDS = {"run": "coded segments, profiles and report", "network": "network files",
              "evaluation": "coder evaluation files"}
# the other kinds each kind may replace: a run writes all a network output holds, so nothing
# is lost; a network output in a run's folder would lose the run's codes and profiles
REPLACES = {"run": {"network"}}


def _kind(command: object) -> str | None:
    """The kind of output (:data:`OUTPUT_KINDS`) a manifest's ``command`` wrote, if known."""
    if not isinstance(command, list):
        return None
    words = [str(w) for w in command[1:] if not str(w).startswith("-")]
    return OUTPUT_KINDS.get(words[0]) if words else None


def check_output(out: Path, inputs: Iterable[Path] = (), *, folder: bool = False,
                 marker: str = "manifest.json", kind: str | None = None) -> None:
    """Refuse an ``--out`` that would destroy what nobody asked to replace, before any work:
    an input (``inputs``: files and folders read) or a folder holding one; a folder where a
    file is to be written; and, for an output folder (whose earlier outputs are replaced),
    an existing folder that is not empty and is not an earlier output of the same kind (it holds no
    ``marker``: ``manifest.json`` for a run, ``model_card.json`` for a model), unless all it
    holds are such outputs (kept: :func:`_keep_nested_outputs`); an output folder inside an
    input folder (the cohort's); an earlier output with a file changed since its manifest
    was written (a correction by hand); and an earlier output of another ``kind`` (a
    command of :data:`OUTPUT_KINDS`: an evaluation into a run's folder, a network into a
    run's, which would lose its coded segments), unless the new kind writes all the earlier
    one holds (:data:`REPLACES`: a run into a network's folder)."""
    out = Path(out)
    try:
        target = out.resolve()
    except (RuntimeError, OSError):   # Python 3.11-3.12: RuntimeError; 3.13: OSError
        raise InputError(out, "is a symbolic link that leads back to itself (a loop): "
                         "give another path") from None
    for source in inputs:
        resolved = Path(source).resolve()
        if resolved == target or target in resolved.parents:
            raise InputError(out, f"--out would replace the input {source}: choose another "
                             "path")
    for source in inputs:
        # a folder output anywhere in an input folder, a file where a cohort's inputs are read
        inside = ([Path(source)] if folder else
                  [Path(source) / "labels", Path(source) / "transcripts"])
        hit = next((d for d in inside if Path(source).is_dir()
                    and d.resolve() in target.parents), None)
        if hit is not None:
            raise InputError(out, f"lies inside the input folder {hit}: it would become an "
                             "input of the next run; choose a path outside it")
    if not folder:
        _refuse_folder(out)
        return
    if out.exists() and not out.is_dir():
        raise InputError(out, "is a file: --out names the folder to write")
    if (out.is_dir() and not (out / marker).is_file()
            and not all(map(_is_output, _entries(out)))):
        raise InputError(out, f"is a folder with other files in it and no {marker} of an "
                         "earlier output of this kind, so nothing says which of its files the "
                         "output may replace: give a new or empty folder (files you add to an "
                         "output folder later are kept)")
    if not (out / "manifest.json").is_file():
        return
    manifest = _earlier_manifest(out)
    if manifest is None:
        raise InputError(out / "manifest.json", "is no readable manifest of an earlier "
                         "sleutelfiguren output, so nothing says which files here may be "
                         "replaced: give a new or empty folder")
    earlier, new = _kind(manifest.get("command")), OUTPUT_KINDS.get(kind)
    if (new is not None and earlier is not None and new != earlier
            and earlier not in REPLACES.get(new, ())):
        raise InputError(out, f"holds the result of another kind of command "
                         f"({' '.join(map(str, manifest['command'][1:3]))} ...: "
                         f"{KIND_HOLDS[earlier]}), which this one would replace with "
                         f"{KIND_HOLDS[new]} only: choose another --out")
    changed = [name for name, digest in sorted(manifest["outputs"].items())
               if (out / name).is_file() and file_sha256(out / name) != digest]
    if changed:
        raise InputError(out / changed[0], "changed since the run that wrote it (corrected by "
                         "hand?) and the new output would replace it: copy it elsewhere first "
                         "(`pipeline report --codes` takes a corrected segments.csv), or "
                         "delete it")


def _earlier_manifest(out: Path) -> dict | None:
    """The manifest of an earlier output in ``out``; None when it is no readable manifest
    of this tool (someone else's, or broken: then nothing says what may be replaced)."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if (not isinstance(manifest, dict) or manifest.get("tool") != "sleutelfiguren"
            or not isinstance(manifest.get("outputs"), dict)):
        return None
    return manifest


def _refuse_folder(path: Path) -> None:
    """A file is to be written where a folder is: say so, not a temporary file's error."""
    if path.is_dir():
        raise InputError(path, "is a folder: give the name of the file to write")


def _entries(folder: Path) -> list[Path]:
    """What a folder holds, less staging leftovers and ``.DS_Store``."""
    return sorted(p for p in folder.iterdir() if not LEFTOVERS.fullmatch(p.name))


def _is_output(folder: Path) -> bool:
    return (folder.is_dir() and not folder.is_symlink()
            and any((folder / m).is_file() for m in OUTPUT_MARKERS))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _keep_nested_outputs(out: Path, stage: Path) -> None:
    """An output folder inside ``out`` that the new result does not have (``pipeline
    evaluate --out out/demo/evaluation`` inside a run's ``out/demo``) is another command's
    result, not part of what replaces ``out``: it goes into ``stage`` too, as hard links (a
    copy where the file system has none), so the original stays whole until the swap."""
    if out.is_dir() and not out.is_symlink():
        for nested in filter(_is_output, _entries(out)):
            if not (stage / nested.name).exists():
                shutil.copytree(nested, stage / nested.name, symlinks=True,
                                copy_function=_link_or_copy)


def _foreign_files(out: Path, own: Iterable[str] = ()) -> list[Path]:
    """Files in an earlier output folder that it does not consist of (the researcher's
    notes, a screenshot of the report, a script's results), relative to ``out``: those its
    manifest does not list as outputs, or where it has none (a model folder), those outside
    the top-level entries ``own``; outputs nested in it (:func:`_keep_nested_outputs`) and
    staging leftovers aside."""
    if not out.is_dir() or out.is_symlink():
        return []
    manifest = _earlier_manifest(out)
    if manifest is None and not own:
        return []
    listed = {*manifest["outputs"], "manifest.json"} if manifest is not None else set()
    found: list[Path] = []
    for root, dirs, files in os.walk(out):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not (here == out and (
            LEFTOVERS.fullmatch(d) or _is_output(here / d))))
        found += [(here / f).relative_to(out) for f in sorted(files)
                  if not (here == out and LEFTOVERS.fullmatch(f))]
        found += [(here / d).relative_to(out) for d in dirs if (here / d).is_symlink()
                  or not any((here / d).iterdir())]   # a link, or a folder made for later
    if manifest is None:
        own = set(own)
        return [f for f in found if f.parts[0] not in own]
    return [f for f in found if f.as_posix() not in listed]


def _keep_foreign_files(out: Path, stage: Path, own: Iterable[str] = ()) -> None:
    """What the earlier output did not write in ``out`` (:func:`_foreign_files`) is not its to
    replace: it goes into ``stage`` too (hard links, symbolic links as links). A file of the
    new result at the same path stops the swap, with ``out`` as it was. An empty folder is
    kept as one."""
    for rel in _foreign_files(out, own):
        source, target = out / rel, stage / rel
        if source.is_dir() and not source.is_symlink() and target.is_dir():
            continue   # an empty folder the new result has too
        # the new result has a file there, or a file where one of its folders would go
        prefixes = [stage.joinpath(*rel.parts[:k]) for k in range(1, len(rel.parts))]
        if target.exists() or target.is_symlink() or any(
                p.exists() and not p.is_dir() for p in prefixes):
            raise InputError(source, "was not written by the earlier run in this folder, and "
                             "the new one writes a file of that name: move it elsewhere first")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        elif source.is_dir():
            target.mkdir()
        else:
            _link_or_copy(source, target)


@contextmanager
def staged_output(out: Path, marker: str = "manifest.json", own: Iterable[str] = ()
                  ) -> Iterator[Path]:
    """Build a whole output folder aside, then swap it in: old or new, never half.

    Yields a fresh staging folder ``.<out>.partial-<pid>-<random>`` next to ``out``. On
    success the staged folder and ``out`` are exchanged in one atomic step (Linux
    ``renameat2(RENAME_EXCHANGE)``), so at every moment ``out`` is the old or the new complete
    result, and the old one is then removed. Where the exchange is not available the old
    ``out`` is renamed aside (``.<out>.old-<pid>``) and the staged one renamed into place; a
    kill between those two renames is repaired by the next call (:func:`recover_output`). On
    an error or a kill while building, the previous ``out`` is untouched. An ``out`` that
    is a file, or a folder that is not an earlier output (no ``marker`` file), is refused
    (:func:`check_output`); an earlier output nested in ``out`` is kept
    (:func:`_keep_nested_outputs`), and so are files the earlier run did not write
    (:func:`_keep_foreign_files`; ``own``: the top-level entries a folder without a manifest
    consists of, such as a model's). An ``out`` that is a symbolic link stays one: the result
    goes where it points.
    """
    out = Path(out)
    check_output(out, folder=True, marker=marker)
    if out.is_symlink():   # a link to the output folder (on a larger disk): write there
        out = Path(os.path.realpath(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    recover_output(out)
    stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-{os.getpid()}-"))
    try:
        yield stage
        os.chmod(stage, 0o777 & ~_UMASK)  # mkdtemp makes 0700; an output folder is ordinary
        _keep_nested_outputs(out, stage)
        _keep_foreign_files(out, stage, own)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if out.exists() and not out.is_symlink() and out.is_dir() and _exchange(stage, out):
        shutil.rmtree(stage, ignore_errors=True)  # now holds the previous result
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists() or out.is_symlink():
        os.rename(out, old)
    os.rename(stage, out)
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    elif old.exists() or old.is_symlink():
        old.unlink()


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux ``renameat2``); False where not supported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    return False  # EINVAL / ENOSYS / EXDEV ...: fall back to two renames


def recover_output(out: Path) -> None:
    """Undo the effects of a run killed mid-swap or mid-build (see :func:`staged_output`):
    restore ``out`` from ``.<out>.old-<pid>`` if a swap was cut between its two renames, and
    remove staging folders and old copies left by processes that no longer run."""
    out = Path(out)
    olds = [p for p in sorted(out.parent.glob(f".{glob_escape(out.name)}.old-*"))
            if not _pid_alive(_pid_of(p))]
    if olds and not (out.exists() or out.is_symlink()):
        os.rename(olds[-1], out)
        olds = olds[:-1]
    for p in olds:
        shutil.rmtree(p, ignore_errors=True)
    _remove_stale(out.parent.glob(f".{glob_escape(out.name)}.partial-*"))


# ------------------------------------------------------------------ manifest
def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# the readers of .docx and .vtt transcripts too: segment offsets index into the text they give
MANIFEST_PACKAGES = ("sleutelfiguren", "spacy", "spacy-lookups-data", "scikit-learn", "pandas",
                     "numpy", "networkx", "skops", "matplotlib", "typer", "pydantic",
                     "python-docx", "webvtt-py")


def package_versions(names: Iterable[str] = MANIFEST_PACKAGES) -> dict[str, str]:
    """Python's and each package's installed version ("not installed" when missing): what
    manifests, the report and the benchmarks record."""
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


def build_manifest(*, command: list[str], config: dict, config_files: list[Path],
                   inputs: list[Path], input_root: Path, outputs: Path | None,
                   started: datetime, extra: dict | None = None,
                   digests: dict[Path, str] | None = None) -> dict:
    """What produced a result: versions, config, hashes of every input and output file
    (``outputs``: a folder, every file in it but its manifest, or one file). ``digests``:
    sha256 of input or config files the caller has hashed already (the report's), so that a
    national cohort's transcripts are not read twice."""
    known = digests or {}

    def digest(p: Path) -> str:
        return known.get(Path(p)) or file_sha256(p)

    def rel(p: Path, base: Path) -> str:
        try:
            return Path(p).resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            return Path(p).as_posix()

    out_files = {}
    if outputs is not None and outputs.is_file():
        out_files[outputs.name] = file_sha256(outputs)
    elif outputs is not None:
        for p in sorted(outputs.rglob("*")):
            if p.is_file() and p.name != "manifest.json":
                out_files[p.relative_to(outputs).as_posix()] = file_sha256(p)
    return {
        "tool": "sleutelfiguren",
        "command": command,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "platform": {"system": platform.system(), "machine": platform.machine(),
                     "python_implementation": sys.implementation.name},
        "config": config,
        "config_files": {rel(p, input_root.parent): digest(p) for p in config_files},
        "inputs": {rel(p, input_root): digest(p) for p in inputs},
        "outputs": out_files,
        **(extra or {}),
    }


def write_manifest(path: Path, manifest: dict) -> None:
    atomic_write(path, json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


def manifest_beside(path: Path) -> Path:
    """Where a command that writes one file (``pipeline code``, ``segment``, ``profile``)
    writes its manifest: ``coded.csv`` -> ``coded.manifest.json``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.manifest.json")


def run_manifest_of(path: Path) -> dict | None:
    """The manifest of the command that wrote ``path`` as it is now (same sha256): its own
    (:func:`manifest_beside`), else the ``manifest.json`` of the run whose folder holds it;
    None where neither did: where a table came from."""
    path = Path(path)
    for candidate in (manifest_beside(path), path.parent / "manifest.json"):
        try:
            manifest = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        outputs = manifest.get("outputs") if isinstance(manifest, dict) else None
        if isinstance(outputs, dict) and outputs.get(path.name) == file_sha256(path):
            return manifest
    return None


def read_features(path: Path, codebook) -> pd.DataFrame:
    """A person-features CSV per the profile contract (DESIGN.md), checked per cell so that a
    broken table is refused rather than profiled: at least one person, ids given and each
    person once, numbers finite and >= 0 (counts given and whole), n_activity_kinds at most
    the codebook's sub-types, and, where the optional ``n_segments`` is given (0: no coded
    segments, so what the person shares is unknown), no code on more segments than that."""
    path = Path(path)
    codes = [f"n_{c}" for c in codebook.code_ids]
    numeric = ["out_ties", "in_ties", "reciprocal_ties", "mean_strength", *codes,
               "n_activity_kinds"]
    df = _read_csv(path, ["person_id", "school_id", *numeric])
    if df.empty:
        raise InputError(path, "no rows below the header: no key figure to profile")
    _check_people(df, path)
    if "n_segments" in df.columns:
        numeric.append("n_segments")
    for col in numeric:
        count = col != "mean_strength"   # may be missing: a survey without tie strengths
        df[col] = _to_float(df, col, path, lo=0, required=count, whole=count)
    if "n_segments" in df.columns:
        for col in codes:
            bad = df[df[col] > df["n_segments"]]
            if len(bad):
                raise InputError(path, f"{bad[col].iloc[0]:.0f} segments coded, but n_segments "
                                 f"is {bad['n_segments'].iloc[0]:.0f} (a code counts a segment "
                                 "once)", line=int(bad["line"].iloc[0]), field=col)
    kinds = len(codebook.subtype_ids)
    bad = df[df["n_activity_kinds"] > kinds]
    if len(bad):
        raise InputError(path, f"{bad['n_activity_kinds'].iloc[0]:.0f} is more than the codebook's "
                         f"{kinds} activity sub-types",
                         line=int(bad["line"].iloc[0]), field="n_activity_kinds")
    bad = df[df["reciprocal_ties"] > df[["out_ties", "in_ties"]].min(axis=1)]
    if len(bad):
        raise InputError(path, "reciprocal_ties exceeds out_ties or in_ties",
                         line=int(bad["line"].iloc[0]), field="reciprocal_ties")
    return df.drop(columns=["line"])
