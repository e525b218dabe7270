"""The annotation loop: label store, task selection, task export and label import.

Label store
-----------
One SQLite file per cohort, ``<cohort>/labels/store.sqlite`` (stdlib ``sqlite3``), created on
first use. Its table ``labels`` is append-only: a changed mind is a new row, never an update,
so the full history stays. Every ``labels/*.csv`` of the cohort is imported once per version
(by content hash) with source ``gold file <name>``, and the store follows the file: a label
changed in it, or a row removed from it (or the whole file), changes or withdraws that label
(a row with value ``''``; :meth:`LabelStore.sync_gold_files`). A code renamed in the codebook
is followed by ``annotate rename-code`` (:meth:`LabelStore.rename_code`): the labels under the
old name are stored anew under the new one and withdrawn under the old; one removed from it by
``annotate retire-code`` (:meth:`LabelStore.retire_code`): its labels are withdrawn.

=============  ===============================================================
id             row number (insertion order)
segment_id     ``<file stem>@<start>-<end>`` (see ``segment.py``)
code           a code id (``focus``) or a sub-type id (``exchange.input``)
value          text; ``0``/``1`` for codebook labels, ``''`` for a label withdrawn
annotator      who labelled (``gold``, ``alice``, ``adjudicator:<name>``)
time           ISO 8601, UTC, milliseconds (``2024-03-01T10:00:00.000+00:00``)
source         ``gold file <name>``, ``import <file> (<format>)``, ``adjudication``
import_hash    sha256 of (segment_id, code, value, annotator, time): unique
=============  ===============================================================

Views: ``current_labels`` (the latest row per segment, code and annotator, by time then id)
and ``adjudicated_labels`` (the latest ``adjudicator:*`` row per segment and code).

Idempotency: a row is added only when it differs from that annotator's current label for
the segment and code, and (when it carries a time) the same (segment, code, value,
annotator, time) is not stored yet (``import_hash`` is unique). A row without a time (an
edited CSV) gets the import time. So importing the same file twice adds nothing, while a
later change of mind is kept as history. Writes run in
``BEGIN IMMEDIATE`` transactions in WAL mode with a busy timeout: concurrent imports queue,
none is lost.

Task selection (``annotate export``)
------------------------------------
``uncertain``     the model's scores are mapped per code so that the code's tuned threshold
                  sits at 0.5 (``q``); the codes take turns, each taking its not yet chosen
                  segment closest to its threshold (ties: highest total binary entropy of
                  ``q`` over the codes), so every code gets its borderline cases.
``disagreement``  segments where the rule coder and the model assign different codes, most
                  differences first (ties: largest summed probability difference).
``random``        stratified random: ``n`` split over (school, source) in proportion to
                  their number of segments (largest remainder), sampled with ``seed``.
Only the eight codes (not the sub-types) drive the selection. By default segments that
already carry a current label of a human annotator are skipped (``skip="annotated"``);
labels from the cohort's gold files do not count, so the gold set can be double-coded for
agreement. ``skip="labelled"`` skips those too, ``skip="none"`` skips nothing.

Task formats
------------
``csv``          for Excel: UTF-8 with BOM, one row per segment, one 0/1 column per code
                 and sub-type (empty unless ``prefill``), the model's ``suggestion`` and an
                 ``annotator`` column. On import a row with at least one filled code cell
                 counts as labelled (its empty cells are 0, but an activity left empty
                 under a sub-type marked 1 is 1; marked 0 there, the row is refused); a row
                 without any is skipped. A ``prefill`` file also has a ``reviewed`` column:
                 only rows marked there (``1``, ``x``, ``ja``) count, so the model's
                 suggestions never pass for an annotator's unseen (a row changed but not
                 marked is named). ``;``-separated files (Dutch Excel) are read too.
``labelstudio``  Label Studio JSON tasks: ``data`` (segment_id, text, context, ...) and
                 ``predictions`` with a ``choices`` result (from_name ``codes``, to_name
                 ``text``); :func:`labelstudio_config` is the matching labelling config.
                 Import reads Label Studio's JSON export (``annotations[].result[]`` with
                 ``value.choices``; cancelled annotations skipped) and its JSON-MIN export.
``doccano``      JSONL, one object per segment: ``text``, ``label`` (list of code ids) and
                 the metadata as extra keys (doccano keeps them and exports them back). An
                 empty ``label`` list means "not labelled"; the label ``none`` means "no code
                 applies" (all codes 0).
In Label Studio an annotation with no choice (or ``none``) means all codes 0.

Import checks (``annotate import``)
-----------------------------------
Nothing is stored unless the whole file passes; each refusal names the file, line and field.
``annotator``     a CSV ``annotator`` cell or a doccano ``annotator`` key (``meta.annotator``,
                  ``user``) names who labelled; ``--annotator`` fills rows that name nobody.
                  A file naming someone other than ``--annotator`` is refused (a copy of
                  Anna's file imported by Bob would store his labels as hers, replacing
                  them): clear the column, or leave out ``--annotator``. Label Studio names
                  users by internal id (``completed_by``: an id, or id and e-mail), nobody's
                  name elsewhere, so each user is named by ``--map-annotator ID=NAME`` (the
                  id or the e-mail), or, the file's only user, by ``--annotator``; a user
                  left unnamed is refused, as is a ``--map-annotator`` the file does not
                  name. The task's ``data.annotator`` is whom the tasks were made for, not
                  who labelled, and is not read. ``--map-annotator`` renames any name a file
                  gives (``Anna K.=anna``).
names             compared ignoring letter case and spaces (``'Anna '`` is ``anna``): one
                  person is one annotator, spelled as the store first did (said in a note).
                  Names that differ otherwise are different people: map them explicitly.
repeats           the same segment, code, annotator and time twice with different values is
                  refused (naming both lines: which one is meant?); an identical repeat is
                  skipped and counted. Different times are history: the later one counts.
segment ids       an id that is no segment id, or whose transcript the cohort does not have
                  (a made-up id, another cohort's tasks), is refused. An id of one of the
                  cohort's transcripts that is no segment of it now (the transcript edited
                  since the export, other segment settings) is stored with a counted warning:
                  ``train`` and ``evaluate`` leave such labels out, as they do gold labels of
                  no segment. Only the transcripts the file names are segmented.

``annotate export`` does not write over an annotator's work: a file at ``--out``, or where
its side file goes (``.labelstudio.xml``, ``.doccano-labels.json``), that holds labelled
segments (read as ``annotate import`` reads it) is refused, and so is a file at ``--out``
that cannot be read as a task file of the format. An earlier task file nobody labelled yet
is replaced, as is one whose labels are all in the store already (imported), or a
``--prefill`` CSV with no row marked reviewed or changed.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io as _io
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.io import (
    ADJUDICATOR,
    Cohort,
    InputError,
    _decode,
    cohort_label_files,
    file_sha256,
    read_labels,
)
from pipeline.io import FALSE as io_FALSE
from pipeline.io import TRUE as io_TRUE

if TYPE_CHECKING:
    from pipeline.config import Settings

__all__ = [
    "STORE_NAME",
    "LABEL_COLUMNS",
    "NONE_LABEL",
    "FORMATS",
    "STRATEGIES",
    "LabelStore",
    "store_labels_for_training",
    "normalise_time",
    "label_times",
    "check_labels",
    "select_uncertain",
    "select_disagreement",
    "select_random",
    "build_tasks",
    "csv_tasks",
    "labelstudio_tasks",
    "labelstudio_config",
    "doccano_tasks",
    "doccano_label_types",
    "parse_annotations",
    "name_key",
    "respell",
    "unimported_segments_in",
    "unmatched_segments",
    "segment_ids_of",
    "ADJUDICATOR",
]

STORE_NAME = "store.sqlite"
LABEL_COLUMNS = ["segment_id", "code", "value", "annotator", "time"]
NONE_LABEL = "none"
FORMATS = ("csv", "labelstudio", "doccano")
STRATEGIES = ("uncertain", "disagreement", "random")
SEGMENT_ID = re.compile(r"^(?P<stem>.+)@(?P<start>\d+)-(?P<end>\d+)$")
# as for staff.csv's responded, a cross in a task file, and 1.0 / 1,0 (Excel in a Dutch locale)
TRUE = io_TRUE | {"1.0", "1,0", "x"}
REVIEWED_MARKS = {"v", "V", "✓", "✔", "☑", "√"}   # ticks, besides the spellings of TRUE
FALSE = io_FALSE | {"0.0", "0,0"}
#: CSV columns that are not codes (everything else in a task CSV must be a code id)
META_COLUMNS = {"segment_id", "school_id", "person_id", "source", "doc", "annotator", "time",
                "context", "text", "suggestion", "strategy", "priority", "reason", "notes",
                "note", "comment", "comments", "line", "reviewed", "opmerking", "opmerkingen",
                "toelichting", "notitie"}
TASK_COLUMNS = ["segment_id", "school_id", "person_id", "source", "doc", "annotator",
                "context", "text", "suggestion", "strategy", "priority", "reason"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    segment_id TEXT NOT NULL,
    code TEXT NOT NULL,
    value TEXT NOT NULL,
    annotator TEXT NOT NULL,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    import_hash TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS labels_key ON labels (segment_id, code, annotator, time);
CREATE TABLE IF NOT EXISTS imported_files (
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    time TEXT NOT NULL,
    rows INTEGER NOT NULL,
    PRIMARY KEY (name, sha256)
);
CREATE VIEW IF NOT EXISTS current_labels AS
SELECT id, segment_id, code, value, annotator, time, source FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY segment_id, code, annotator
                                 ORDER BY time DESC, id DESC) AS rn
    FROM labels) WHERE rn = 1;
CREATE VIEW IF NOT EXISTS adjudicated_labels AS
SELECT id, segment_id, code, value, annotator, time, source FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY segment_id, code
                                 ORDER BY time DESC, id DESC) AS rn
    FROM labels WHERE annotator LIKE 'adjudicator:%') WHERE rn = 1;
"""
STORE_COLUMNS = ["id", "segment_id", "code", "value", "annotator", "time", "source"]
WITHDRAWN = ""   # the value of a label taken back: its row was removed from a gold file


# ====================================================================== helpers
def normalise_time(value: object) -> str | None:
    """ISO 8601 in UTC with milliseconds (sortable as text); ``None`` for an empty value.

    A time without a zone is taken as UTC. Raises ``ValueError`` for an unreadable time.

    >>> normalise_time("2024-03-01T11:00:00+01:00")
    '2024-03-01T10:00:00.000+00:00'
    >>> normalise_time("") is None
    True
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    s = str(value).strip()
    if not s:
        return None
    dt = datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="milliseconds")


def _now() -> datetime:
    return datetime.now(UTC)


def _row_hash(segment_id: str, code: str, value: str, annotator: str, time: str) -> str:
    key = "\x1f".join((segment_id, code, value, annotator, time))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _append(con: sqlite3.Connection, current: dict[tuple[str, str, str], tuple[str, str]],
            rows: list[tuple], now: datetime) -> tuple[int, int]:
    """Insert ``(segment_id, code, value, annotator, time, source)`` rows: one that says what
    its annotator's ``current`` label says is left out; one without a time gets ``now``, or
    just after the current label if that is later (whatever the clock); one already stored
    (same import hash) is left out. ``current`` follows. Returns (added, left out)."""
    added = unchanged = 0
    for seg, code, value, ann, t, source in rows:
        key = (seg, code, ann)
        cur = current.get(key)
        if cur is not None and cur[0] == value:
            unchanged += 1  # the annotator's current label already says so
            continue
        if t is None:
            stamp = now
            if cur is not None and datetime.fromisoformat(cur[1]) >= stamp:
                stamp = datetime.fromisoformat(cur[1]) + timedelta(milliseconds=1)
            t = stamp.isoformat(timespec="milliseconds")
        if con.execute("INSERT OR IGNORE INTO labels (segment_id, code, value, annotator, time, "
                       "source, import_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (seg, code, value, ann, t, source,
                        _row_hash(seg, code, value, ann, t))).rowcount:
            added += 1
            if cur is None or t >= cur[1]:
                current[key] = (value, t)
        else:
            unchanged += 1
    return added, unchanged


def _move(con: sqlite3.Connection, rows: list[tuple], source: str) -> None:
    """Move current labels ``(segment_id, code, annotator, new code, new annotator, value,
    time)``: each is withdrawn (stamped now) and, unless its new code is None, stored anew
    there with its value and time, or now if the label there was withdrawn (moved away
    before: A -> B -> A), so that it counts."""
    current = {(seg, code, ann): (value, t) for seg, code, ann, value, t in
               con.execute("SELECT segment_id, code, annotator, value, time "
                           "FROM current_labels")}
    _append(con, current, [
        (seg, code, value, ann, None if current.get((seg, code, ann), ("x",))[0] == WITHDRAWN
         else t, source)
        for seg, _, _, code, ann, value, t in rows if code is not None], _now())
    _append(con, current, [(seg, code, WITHDRAWN, ann, None, source)
                           for seg, code, ann, *_ in rows], _now())


def binary_label(value: object) -> str | None:
    """'1' / '0' for the accepted spellings of a binary label, else ``None``."""
    s = str(value).strip().lower()
    if s in TRUE:
        return "1"
    if s in FALSE:
        return "0"
    return None


def check_labels(labels: pd.DataFrame, known: list[str], file: Path | str) -> pd.DataFrame:
    """Codebook labels (``segment_id, code, value, annotator[, time], line``) checked: known
    code, binary value, readable time, a segment id; values become ``'0'``/``'1'`` and times
    are normalised. Errors name the file, the line and the field."""
    ok = set(known)
    out = labels.copy()
    if "time" not in out.columns:
        out["time"] = ""
    if "line" not in out.columns:
        out["line"] = np.arange(2, len(out) + 2)
    values, times = [], []
    for row in out.itertuples(index=False):
        line = int(row.line)
        if not str(row.segment_id).strip():
            raise InputError(file, "empty segment id", line=line, field="segment_id")
        if row.code not in ok:
            raise InputError(file, unknown_code(row.code, ok), line=line, field="code")
        v = binary_label(row.value)
        if v is None:
            raise InputError(file, f"value must be 0 or 1, got {row.value!r}", line=line,
                             field="value")
        values.append(v)
        times.append(_time(row.time, file, line, "time"))
    return out.assign(value=values, time=times)


def unknown_code(code: str, known: Iterable[str] = (), *, in_store: bool = False,
                 column: bool = False) -> str:
    """The message for a label of a code the codebook does not have: the ``known`` code it is
    likely a misspelling of, else a codebook of one's own left unnamed; and how to follow a
    code renamed or removed in the codebook since the label was made: in the label store by
    ``annotate rename-code`` / ``retire-code``, in a file (a task file exported before, a
    gold file; ``column``: a task CSV's column) by hand first, the store then as well."""
    close = difflib.get_close_matches(code, sorted(known), n=1)
    what = ("a column that is neither a code of the codebook nor a task column" if column
            else "not in the codebook")
    commands = ("`pipeline annotate rename-code COHORT OLD NEW`",
                "`pipeline annotate retire-code COHORT OLD`")
    hint = ("; renamed there? {}; removed? {}" if in_store else
            "; renamed or removed there since this file was made? give it the new id here or "
            "leave it out, then the label store's labels of it: {} or {}").format(*commands)
    return (f"unknown code {code!r} ({what}; " + (
        f"did you mean {close[0]!r}?" if close else
        "a codebook of your own? name its pipeline.yaml with --config") + f"{hint})")


# ====================================================================== the store
class LabelStore:
    """Append-only label store in one SQLite file (see the module docstring).

    >>> import tempfile, pathlib
    >>> store = LabelStore(pathlib.Path(tempfile.mkdtemp()) / "store.sqlite")
    >>> df = pd.DataFrame({"segment_id": ["d@0-5"], "code": ["focus"], "value": ["1"],
    ...                    "annotator": ["alice"], "time": [""]})
    >>> store.add(df, "example")["added"], store.add(df, "example")["added"]
    (1, 0)
    """

    def __init__(self, path: Path | str, timeout: float = 60.0):
        self.path = Path(path)
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(self._connect()) as con:
                mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":  # e.g. a file system without shared memory
                    con.execute("PRAGMA journal_mode=DELETE")
                con.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
        except sqlite3.DatabaseError as e:   # another file under its name, or damaged
            if isinstance(e, sqlite3.OperationalError):   # locked, no permission: not its data
                raise
            raise InputError(self.path, f"cannot be read as a label store ({e}): restore it "
                             "from a backup, or move it away to start a new one from "
                             "labels/*.csv") from None

    # ------------------------------------------------------------ plumbing
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        con.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        return con

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _query(self, sql: str, params: tuple = ()) -> pd.DataFrame:
        with closing(self._connect()) as con:
            cur = con.execute(sql, params)
            cols = [d[0] for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=cols, dtype=object)

    # ------------------------------------------------------------ cohort store
    @classmethod
    def for_cohort(cls, root: Path | str, known: list[str] | None = None) -> LabelStore:
        """The store of a cohort folder (``labels/store.sqlite``), created on first use, kept
        in step with the cohort's ``labels/*.csv`` (:meth:`sync_gold_files`). ``known``: the
        label names to accept (codes and sub-types); a file with another code is refused,
        naming its line."""
        root = Path(root)
        if not root.is_dir():
            raise InputError(root, "cohort folder not found")
        store = cls(root / "labels" / STORE_NAME)
        store.sync_gold_files(cohort_label_files(root), known)
        return store

    def sync_gold_files(self, paths: list[Path], known: list[str] | None = None) -> dict:
        """Make the store's gold-file labels (source ``gold file <name>``) what the files
        ``paths`` say now, taken together, so that renaming, splitting or merging them changes
        nothing. Per segment, code and annotator the files' latest row counts (by its time; a
        row without one, like an import's, is the latest). A label new to the files is added
        with the time it carries; one the files changed is added, and one no file has any more
        is withdrawn (value ``''``), both stamped with this sync's time (the history keeps the
        earlier rows). A label the files did not change stays as it is, also where an
        annotator's import has relabelled it since. Nothing is done (``skipped``) when the
        files are the ones synced last (names and content hashes). Counts of what it did."""
        versions = {(Path(p).name, file_sha256(p)) for p in paths}
        synced = {(r.name, r.sha256) for r in self._query(
            "SELECT name, sha256 FROM imported_files").itertuples(index=False)}
        if versions == synced:
            return {"rows": 0, "added": 0, "unchanged": 0, "withdrawn": 0, "skipped": True}
        frames = []
        for p in paths:
            labels = read_labels(p)
            frames.append((check_labels(labels, known, p) if known is not None else labels)
                          .assign(source=f"gold file {Path(p).name}"))
        rows = (pd.concat(frames, ignore_index=True) if frames
                else pd.DataFrame(columns=[*LABEL_COLUMNS, "source"]))
        times = [normalise_time(t) for t in rows["time"]]
        rows = rows.assign(time=times, undated=[t is None for t in times],
                           order=np.arange(len(rows)))
        ordered = [((str(r.segment_id).strip(), str(r.code).strip(), str(r.annotator).strip()),
                    (str(r.value).strip(), r.time if isinstance(r.time, str) else None,
                     r.source))
                   for r in rows.sort_values(["undated", "time", "order"], kind="stable",
                                             na_position="last").itertuples()]
        wanted = dict(ordered)   # per segment, code and annotator the files' latest row
        with self._transaction() as con:
            current, gold = {}, {}   # gold: the current labels that came from a gold file
            for seg, code, ann, value, t, src in con.execute(
                    "SELECT segment_id, code, annotator, value, time, source FROM current_labels"):
                current[(seg, code, ann)] = (value, t)
                if src.startswith("gold file ") and value != WITHDRAWN:
                    gold[(seg, code, ann)] = src
            said = {(seg, code, ann): value for seg, code, ann, value in con.execute(
                "SELECT segment_id, code, annotator, value FROM (SELECT *, ROW_NUMBER() OVER "
                "(PARTITION BY segment_id, code, annotator ORDER BY time DESC, id DESC) AS rn "
                "FROM labels WHERE source LIKE 'gold file %') WHERE rn = 1")}
            now = _now()
            # a label new to the files comes with its rows and their times (their history);
            # one they changed is stamped now
            changed = [(seg, code, value, ann, t, src)
                       for (seg, code, ann), (value, t, src) in ordered
                       if (seg, code, ann) not in said]
            changed += [(seg, code, value, ann, None, src)
                        for (seg, code, ann), (value, _, src) in wanted.items()
                        if (seg, code, ann) in said and said[(seg, code, ann)] != value]
            gone = [(seg, code, WITHDRAWN, ann, None, src)
                    for (seg, code, ann), src in sorted(gold.items())
                    if (seg, code, ann) not in wanted]
            added, unchanged = _append(con, current, changed, now)
            withdrawn, _ = _append(con, current, gone, now)
            unchanged += sum(said.get(key) == value for key, (value, _, _) in wanted.items())
            con.execute("DELETE FROM imported_files")
            con.executemany("INSERT INTO imported_files VALUES (?, ?, ?, ?)",
                            [(name, sha, now.isoformat(timespec="milliseconds"),
                              int((rows["source"] == f"gold file {name}").sum()))
                             for name, sha in sorted(versions)])
        return {"rows": len(rows), "added": added, "unchanged": unchanged,
                "withdrawn": withdrawn}

    def check_codes(self, known: list[str]) -> None:
        """Refuse a store whose current labels name a code or sub-type the codebook does not
        have (renamed or removed since they were made), naming its first row: train,
        evaluate, agreement and the exports would each count them differently."""
        row = self._query("SELECT id, code FROM current_labels WHERE value != '' AND code NOT "
                          f"IN ({','.join('?' * len(known))}) ORDER BY id LIMIT 1", tuple(known))
        if len(row):
            raise InputError(self.path, unknown_code(str(row["code"].iloc[0]), known,
                                                     in_store=True),
                             line=int(row["id"].iloc[0]), field="code")

    # ------------------------------------------------------------ writing
    def add(self, labels: pd.DataFrame, source: str) -> dict:
        """Append labels (``segment_id, code, value, annotator`` and optionally ``time``).

        Returns ``{"rows", "added", "unchanged"}``. Idempotent: see the module docstring.
        """
        missing = [c for c in ("segment_id", "code", "value", "annotator") if c not in labels]
        if missing:
            raise ValueError(f"labels lack column(s) {', '.join(missing)}")
        rows = []
        times = labels["time"] if "time" in labels.columns else pd.Series([""] * len(labels))
        for seg, code, value, ann, t in zip(labels["segment_id"], labels["code"],
                                            labels["value"], labels["annotator"], times,
                                            strict=True):
            seg, code, ann = str(seg).strip(), str(code).strip(), str(ann).strip()
            if not seg or not code or not ann:
                raise ValueError("labels need a segment_id, code and annotator in every row")
            rows.append((seg, code, str(value).strip(), ann, normalise_time(t), source))
        with self._transaction() as con:
            current: dict[tuple[str, str, str], tuple[str, str]] = {}
            annotators = sorted({r[3] for r in rows})
            for i in range(0, len(annotators), 500):
                chunk = annotators[i:i + 500]
                marks = ",".join("?" * len(chunk))
                for seg, code, ann, value, t in con.execute(
                        "SELECT segment_id, code, annotator, value, time FROM current_labels "
                        f"WHERE annotator IN ({marks})", chunk):
                    current[(seg, code, ann)] = (value, t)
            added, unchanged = _append(con, current, rows, _now())
        return {"rows": len(rows), "added": added, "unchanged": unchanged}

    def rename_code(self, old: str, new: str, known: list[str]) -> dict:
        """Follow a code renamed in the codebook: every current label of ``old`` (and of its
        sub-types ``old.x``, which become ``new.x``) that an import or an adjudication gave is
        stored anew under the new name, with its annotator, value and time, and withdrawn
        under the old one (stamped now); the history keeps both. Labels from gold files follow
        their files (:meth:`sync_gold_files`), so they are left alone. Nothing is stored when
        a new name is not in ``known`` (``ValueError`` naming it). Idempotent: a second call
        finds nothing under ``old``. Returns ``{"labels", "annotators"}``."""
        return self._relabel(old, new, known)

    def retire_code(self, old: str) -> dict:
        """Follow a code (or sub-type) removed from the codebook: its current labels from
        imports and adjudications, and those of its sub-types, are withdrawn (stamped now; the
        history keeps them). Returns ``{"labels", "annotators"}``, as :meth:`rename_code`."""
        return self._relabel(old, None, [])

    def _relabel(self, old: str, new: str | None, known: list[str]) -> dict:
        """Withdraw the current non-gold labels of ``old`` and its sub-types, stored anew under
        ``new`` (its sub-types ``new.x``) unless ``new`` is None."""
        def renamed(code: str) -> str:
            return f"{new}{code[len(old):]}"

        with self._transaction() as con:
            rows = con.execute(
                "SELECT segment_id, code, annotator, value, time FROM current_labels "
                "WHERE value != '' AND source NOT LIKE 'gold file %' "
                "AND (code = ? OR substr(code, 1, ?) = ?)",
                (old, len(old) + 1, old + ".")).fetchall()
            missing = sorted({renamed(code) for _, code, *_ in rows} - set(known))
            if new is not None and missing:
                raise ValueError(f"{', '.join(map(repr, missing))} not in the codebook: "
                                 f"rename the sub-types of {old!r} there too")
            _move(con, [(seg, code, ann, None if new is None else renamed(code), ann, value, t)
                       for seg, code, ann, value, t in rows],
                  f"rename {old} -> {new}" if new is not None else f"retire {old}")
        return {"labels": len(rows), "annotators": len({ann for _, _, ann, _, _ in rows})}

    def rename_annotator(self, old: str, new: str) -> dict:
        """One person stored under two names (a Label Studio user id of an older import, a
        misspelt name) becomes one annotator: the current labels of ``old`` from imports are
        stored anew under ``new``, with their value and time, and withdrawn under ``old``
        (stamped now); the history keeps both. Where ``new`` has a label of the same segment
        and code, the later one counts, as between two imports. Gold files' labels follow
        their files and adjudications their adjudicator, so they are left alone. Idempotent.
        Returns ``{"labels", "segments"}``."""
        with self._transaction() as con:
            rows = con.execute(
                "SELECT segment_id, code, value, time FROM current_labels WHERE annotator = ? "
                "AND value != '' AND source NOT LIKE 'gold file %'", (old,)).fetchall()
            _move(con, [(seg, code, old, code, new, value, t) for seg, code, value, t in rows],
                  f"rename annotator {old} -> {new}")
        return {"labels": len(rows), "segments": len({seg for seg, *_ in rows})}

    def adjudicate(self, segment_id: str, code: str, value: str, by: str,
                   time: str | None = None) -> dict:
        """Record an adjudicated label: annotator ``adjudicator:<by>``, source adjudication."""
        if not by.strip():
            raise ValueError("the adjudicator needs a name")
        name = by if by.startswith(ADJUDICATOR) else ADJUDICATOR + by.strip()
        df = pd.DataFrame({"segment_id": [segment_id], "code": [code], "value": [str(value)],
                           "annotator": [name], "time": [time or ""]})
        return self.add(df, "adjudication")

    # ------------------------------------------------------------ reading
    def history(self) -> pd.DataFrame:
        """Every label ever stored, in insertion order."""
        return self._query("SELECT id, segment_id, code, value, annotator, time, source, "
                           "import_hash FROM labels ORDER BY id")

    def current(self) -> pd.DataFrame:
        """The latest label per segment, code and annotator (adjudicators included), less the
        withdrawn ones."""
        return self._query("SELECT * FROM current_labels WHERE value != '' "
                           "ORDER BY segment_id, code, annotator")

    def adjudicated(self) -> pd.DataFrame:
        """The latest adjudicated label per segment and code, less the withdrawn ones."""
        return self._query("SELECT * FROM adjudicated_labels WHERE value != '' "
                           "ORDER BY segment_id, code")

    def disagreements(self) -> pd.DataFrame:
        """Segment-code pairs on which annotators' current labels differ.

        Columns: ``segment_id, code, n_annotators, values`` (``alice=1; bob=0``) and
        ``adjudicated`` (the adjudicated value, empty when not yet adjudicated).
        """
        cur = self.current()
        cols = ["segment_id", "code", "n_annotators", "values", "adjudicated"]
        if cur.empty:
            return pd.DataFrame(columns=cols)
        adj = cur[cur["annotator"].str.startswith(ADJUDICATOR)]
        hum = cur[~cur["annotator"].str.startswith(ADJUDICATOR)]
        latest_adj = (adj.sort_values(["time", "id"]).groupby(["segment_id", "code"])["value"]
                      .last().to_dict())
        rows = []
        for (seg, code), g in hum.groupby(["segment_id", "code"], sort=True):
            if g["value"].nunique() > 1:
                g = g.sort_values("annotator")
                rows.append({"segment_id": seg, "code": code, "n_annotators": len(g),
                             "values": "; ".join(f"{a}={v}" for a, v in
                                                 zip(g["annotator"], g["value"], strict=True)),
                             "adjudicated": latest_adj.get((seg, code), "")})
        return pd.DataFrame(rows, columns=cols)

    def has_labels(self, segment_id: str) -> bool:
        """Whether an annotator (not an adjudicator) labelled the segment: what there is to
        adjudicate."""
        return not self._query("SELECT 1 FROM current_labels WHERE segment_id = ? AND value != "
                               "'' AND annotator NOT LIKE 'adjudicator:%' LIMIT 1",
                               (segment_id,)).empty

    def annotators(self) -> list[str]:
        """Every name labels were ever stored under: first those with a current label (the
        spellings in use), then those whose labels were all moved away or withdrawn, each
        in the order first stored. The spellings an import matches its names to
        (:func:`respell`): after ``rename-annotator Anna anna``, ``anna``."""
        return self._query(
            "SELECT annotator FROM labels GROUP BY annotator ORDER BY annotator NOT IN "
            "(SELECT annotator FROM current_labels WHERE value != ''), MIN(id)"
        )["annotator"].tolist()

    def labelled_segments(self, *, include_gold: bool = True) -> set[str]:
        """Segment ids with a current label (of anyone but adjudicators); without gold-file
        labels when ``include_gold`` is false."""
        sql = "SELECT DISTINCT segment_id FROM current_labels WHERE value != '' AND " \
              "annotator NOT LIKE 'adjudicator:%'"
        if not include_gold:
            sql += " AND source NOT LIKE 'gold file %'"
        return set(self._query(sql)["segment_id"])


def store_labels_for_training(store: LabelStore, current: pd.DataFrame | None = None
                              ) -> pd.DataFrame:
    """The store's labels in the labels-table format for ``train``: per segment and code the
    adjudicated label when there is one, else every annotator's current label (``current``:
    :meth:`LabelStore.current`, when the caller has it already).

    Columns: segment_id, code, value, annotator, time, file (the store), line (row id), as
    ``io.read_labels`` gives them, so ``train.train_default(..., labels=...)`` takes it as is
    (it then prefers ``gold`` over the majority of the other annotators).
    """
    cur = store.current() if current is None else current
    cols = ["segment_id", "code", "value", "annotator", "time", "file", "line"]
    if cur.empty:
        return pd.DataFrame(columns=cols)
    is_adj = cur["annotator"].str.startswith(ADJUDICATOR)
    adj = (cur[is_adj].sort_values(["time", "id"]).groupby(["segment_id", "code"]).tail(1))
    done = set(zip(adj["segment_id"], adj["code"], strict=True))
    rest = cur[~is_adj]
    keep = [k not in done for k in zip(rest["segment_id"], rest["code"], strict=True)]
    out = pd.concat([adj, rest[keep]], ignore_index=True)
    out = out.sort_values(["segment_id", "code", "annotator"], kind="stable")
    out = out.assign(file=str(store.path), line=out["id"].astype("int64"))
    return out[cols].reset_index(drop=True)


# ====================================================================== selection
def _q(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Scores rescaled per code so that the code's threshold maps to 0.5."""
    t = np.clip(t, 1e-6, 1 - 1e-6)
    return np.where(p < t, 0.5 * p / t, 0.5 + 0.5 * (p - t) / (1 - t))


def _entropy(q: np.ndarray) -> np.ndarray:
    q = np.clip(q, 1e-12, 1 - 1e-12)
    return -(q * np.log2(q) + (1 - q) * np.log2(1 - q))


def select_uncertain(scores: pd.DataFrame, thresholds: dict[str, float], codes: list[str],
                     n: int, seed: int = 0) -> pd.DataFrame:
    """Uncertainty sampling: positions (into ``scores``) of ``n`` segments and why.

    Codes take turns; each takes its not yet chosen segment whose score is closest to the
    code's threshold (after :func:`_q` rescaling); ties go to the highest total entropy.
    Returns ``position, score, reason`` in the order chosen.
    """
    codes = [c for c in codes if c in scores.columns]
    m = len(scores)
    if m == 0 or n <= 0 or not codes:
        return pd.DataFrame(columns=["position", "score", "reason"])
    P = scores[codes].to_numpy(dtype=float)
    T = np.array([thresholds.get(c, 0.5) for c in codes])
    Q = _q(P, T)
    margin = np.abs(Q - 0.5)
    total = _entropy(Q).sum(axis=1)
    jitter = np.random.default_rng(seed).random(m)
    orders = [np.lexsort((jitter, -total, margin[:, j])) for j in range(len(codes))]
    taken = np.zeros(m, bool)
    ptr = [0] * len(codes)
    out = []
    while len(out) < min(n, m):
        for j, code in enumerate(codes):
            if len(out) >= min(n, m):
                break
            order = orders[j]
            while ptr[j] < m and taken[order[ptr[j]]]:
                ptr[j] += 1
            if ptr[j] == m:
                continue
            i = int(order[ptr[j]])
            taken[i] = True
            out.append({"position": i, "score": round(float(total[i]), 6),
                        "reason": f"{code}: p={P[i, j]:.3f} (threshold {T[j]:.3f})"})
    return pd.DataFrame(out, columns=["position", "score", "reason"])


def select_disagreement(model: pd.DataFrame, model_thresholds: dict[str, float],
                        rules: pd.DataFrame, rule_thresholds: dict[str, float],
                        codes: list[str], n: int, seed: int = 0) -> pd.DataFrame:
    """Rule-versus-model disagreement: segments where the two assign different codes, most
    differing codes first, ties by summed |p_model - p_rules|. Returns ``position, score,
    reason``; segments without any disagreement come last, by probability difference."""
    codes = [c for c in codes if c in model.columns and c in rules.columns]
    m = len(model)
    if m == 0 or n <= 0 or not codes:
        return pd.DataFrame(columns=["position", "score", "reason"])
    PM, PR = model[codes].to_numpy(float), rules[codes].to_numpy(float)
    AM = PM >= np.array([model_thresholds.get(c, 0.5) for c in codes])
    AR = PR >= np.array([rule_thresholds.get(c, 0.5) for c in codes])
    diff = AM != AR
    count = diff.sum(axis=1)
    gap = np.abs(PM - PR).sum(axis=1)
    jitter = np.random.default_rng(seed).random(m)
    order = np.lexsort((jitter, -gap, -count))[:n]
    out = []
    for i in order:
        which = [c for c, d in zip(codes, diff[i], strict=True) if d]
        why = ", ".join(f"{c} ({'model' if AM[i, codes.index(c)] else 'rules'})"
                        for c in which) or "no disagreement"
        out.append({"position": int(i), "score": float(count[i]),
                    "reason": f"assigned only by: {why}"})
    return pd.DataFrame(out, columns=["position", "score", "reason"])


def select_random(segments: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """Stratified random sample: ``n`` split over (school_id, source) in proportion to the
    number of segments (largest remainder), drawn with ``seed``. Returns ``position, score,
    reason`` in a shuffled order."""
    m = len(segments)
    if m == 0 or n <= 0:
        return pd.DataFrame(columns=["position", "score", "reason"])
    n = min(n, m)
    rng = np.random.default_rng(seed)
    keys = list(zip(segments["school_id"].astype(str), segments["source"].astype(str),
                    strict=True))
    groups: dict[tuple[str, str], list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    names = sorted(groups)
    sizes = np.array([len(groups[k]) for k in names], dtype=float)
    exact = n * sizes / m
    quota = np.floor(exact).astype(int)
    rest = n - quota.sum()
    for j in np.lexsort((rng.random(len(names)), -(exact - quota)))[:rest]:
        quota[j] += 1
    picked = []
    for k, q in zip(names, quota, strict=True):
        if q:
            picked += [(int(i), k) for i in rng.choice(groups[k], size=q, replace=False)]
    perm = rng.permutation(len(picked))
    out = [{"position": picked[j][0], "score": 0.0,
            "reason": f"random in {picked[j][1][0]}/{picked[j][1][1]}"} for j in perm]
    return pd.DataFrame(out, columns=["position", "score", "reason"])


# ====================================================================== tasks
def build_tasks(segments: pd.DataFrame, chosen: pd.DataFrame, scores: pd.DataFrame,
                thresholds: dict[str, float], names: list[str], *, strategy: str,
                annotator: str = "") -> pd.DataFrame:
    """The task table: the chosen segments (by ``position``) with the model's suggestion.

    Columns: :data:`TASK_COLUMNS` plus ``p_<name>`` and ``s_<name>`` (0/1 suggestion) for
    every label name.
    """
    pos = chosen["position"].astype(int).to_numpy()
    seg = segments.iloc[pos].reset_index(drop=True)
    sc = scores.iloc[pos].reset_index(drop=True)
    out = pd.DataFrame({c: seg[c] if c in seg.columns else "" for c in
                        ["segment_id", "school_id", "person_id", "source", "doc", "context",
                         "text"]})
    sugg = {}
    for name in names:
        p = sc[name].to_numpy(float) if name in sc.columns else np.zeros(len(sc))
        out[f"p_{name}"] = np.round(p, 4)
        sugg[name] = (p >= thresholds.get(name, 0.5)).astype(int)
    for name in names:  # a sub-type is only suggested under its suggested code
        parent = name.split(".")[0]
        if "." in name and parent in sugg:
            sugg[name] = sugg[name] & sugg[parent]
        out[f"s_{name}"] = sugg[name]
    out["suggestion"] = ["; ".join(nm for nm in names if sugg[nm][i]) for i in range(len(out))]
    out["annotator"] = annotator
    out["strategy"] = strategy
    out["priority"] = np.arange(1, len(out) + 1)
    out["reason"] = chosen["reason"].to_numpy() if "reason" in chosen else ""
    return out[TASK_COLUMNS + [f"p_{n}" for n in names] + [f"s_{n}" for n in names]]


def csv_tasks(tasks: pd.DataFrame, names: list[str], *, prefill: bool = False) -> pd.DataFrame:
    """The Excel task table: metadata, text, suggestion, annotator and one column per label
    (empty, or the model's 0/1 suggestion with ``prefill``, and then an empty ``reviewed``
    column: a prefilled row is the model's until an annotator marks it reviewed). Write it
    with ``io.write_csv(..., bom=True)``."""
    cols = ["segment_id", "school_id", "person_id", "source", "annotator", "context", "text",
            "suggestion"]
    out = tasks[cols].copy()
    if prefill:
        out["reviewed"] = ""
    for name in names:
        out[name] = tasks[f"s_{name}"].astype(str) if prefill else ""
    return out


def labelstudio_tasks(tasks: pd.DataFrame, names: list[str], model_name: str) -> str:
    """Label Studio JSON tasks with the model's suggestion as a prediction."""
    items = []
    for row in tasks.to_dict(orient="records"):
        chosen = [n for n in names if int(row[f"s_{n}"])]
        ps = [float(row[f"p_{n}"]) for n in names if int(row[f"s_{n}"])]
        result = ([{"id": f"s{row['priority']}", "from_name": "codes", "to_name": "text",
                    "type": "choices", "value": {"choices": chosen}}] if chosen else [])
        items.append({
            "data": {k: _plain(row[k]) for k in ["segment_id", "text", "context", "school_id",
                                                 "person_id", "source", "doc", "annotator",
                                                 "suggestion", "strategy", "priority"]},
            "predictions": [{"model_version": model_name,
                             "score": round(float(np.mean(ps)) if ps else 0.0, 4),
                             "result": result}],
        })
    return json.dumps(items, ensure_ascii=False, indent=1) + "\n"


def labelstudio_config(codebook) -> str:
    """The Label Studio labelling config matching :func:`labelstudio_tasks`."""
    from xml.sax.saxutils import quoteattr

    lines = ['<View>', '  <Header value="Context (interviewer / previous note)"/>',
             '  <Text name="context" value="$context"/>', '  <Header value="Segment"/>',
             '  <Text name="text" value="$text"/>',
             '  <Choices name="codes" toName="text" choice="multiple" showInline="false">']
    for code in codebook.codes:
        lines.append(f"    <Choice value={quoteattr(code.id)} "
                     f"hint={quoteattr(code.label.en + ': ' + code.definition)}/>")
        for sub in code.subtypes:
            lines.append(f"    <Choice value={quoteattr(code.id + '.' + sub.id)} "
                         f"hint={quoteattr(code.label.en + ' / ' + sub.label.en)}/>")
    lines.append(f'    <Choice value="{NONE_LABEL}" hint="no code applies"/>')
    lines += ["  </Choices>", "</View>"]
    return "\n".join(lines) + "\n"


def doccano_tasks(tasks: pd.DataFrame, names: list[str]) -> str:
    """doccano JSONL: ``text``, an empty ``label`` list, the model's ``suggestion`` and the
    metadata as extra keys (no prefill: doccano cannot mark a task reviewed, so a prefilled
    label could not be told from an annotator's)."""
    lines = []
    for row in tasks.to_dict(orient="records"):
        chosen = [n for n in names if int(row[f"s_{n}"])]
        obj = {"text": row["text"], "label": []}
        for k in ["segment_id", "context", "school_id", "person_id", "source", "doc",
                  "annotator", "strategy", "priority"]:
            obj[k] = _plain(row[k])
        obj["suggestion"] = chosen
        lines.append(json.dumps(obj, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def doccano_label_types(codebook) -> str:
    """doccano label types (Project > Labels > Import) for the codebook, colours included."""
    items = []
    for code in codebook.codes:
        items.append({"text": code.id, "background_color": code.color.lower(),
                      "text_color": "#ffffff"})
        for sub in code.subtypes:
            items.append({"text": f"{code.id}.{sub.id}", "background_color": code.color.lower(),
                          "text_color": "#ffffff"})
    items.append({"text": NONE_LABEL, "background_color": "#bbbbbb", "text_color": "#000000"})
    return json.dumps(items, ensure_ascii=False, indent=1) + "\n"


def _plain(v: object) -> object:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return v


# ====================================================================== import
#: what a position in a task file is called, per format (errors name it)
UNIT = {"csv": "line", "labelstudio": "task", "doccano": "line"}


def parse_annotations(data: bytes, file: Path | str, names: list[str], *,
                      annotator: str | None = None, fmt: str | None = None,
                      annotator_map: dict[str, str] | None = None
                      ) -> tuple[pd.DataFrame, dict]:
    """Labels from an annotated task file (any of :data:`FORMATS`, or a labels-table CSV).

    ``fmt`` defaults to the extension: ``.csv`` -> csv, ``.json`` -> labelstudio, ``.jsonl``
    -> doccano. Returns the labels (``segment_id, code, value, annotator, time, line``;
    values ``'0'``/``'1'``, times normalised or empty) and counts ``rows_read`` (rows or
    tasks in the file), ``segments_labelled``, ``not_labelled``, ``repeats`` (identical
    repeats skipped) and ``respelled`` (name in the file -> name stored).

    Annotator: a CSV ``annotator`` cell or a doccano ``annotator`` key names who labelled,
    ``annotator_map`` (name in the file -> name to store) renames, ``annotator`` fills the
    rest, and a file naming someone else is refused; Label Studio's users (``completed_by``,
    an internal id) must each be mapped, or be the file's only user, named by ``annotator``
    (:func:`_name_annotators`). Names that differ only in case and spaces (:func:`name_key`)
    are one annotator, spelled as ``annotator``, else as the file first does (the store's
    spelling: :func:`respell`).
    """
    file = Path(file)
    fmt = _format(file, fmt)
    labels, stats = _read_tasks(data, file, names, fmt)
    labels = _name_annotators(labels, annotator, annotator_map or {}, file, fmt)
    labels, stats["respelled"] = respell(labels, [_spaced(annotator)] if annotator else [])
    labels, stats["repeats"] = _skip_repeats(labels, file, fmt)
    stats["segments_labelled"] = _n_labelled(labels)
    return labels[[*LABEL_COLUMNS, "line"]].reset_index(drop=True), stats


def unimported_segments_in(data: bytes, file: Path | str, names: list[str],
                           fmt: str | None = None, store: LabelStore | None = None) -> int:
    """How many segments a task file holds labels for, whoever labelled them, that are not
    in ``store`` yet, and how many prefilled rows it has changed but not marked reviewed:
    what ``annotate export`` must not write over. A label is in the store when it is the
    current label there of the annotator the file names (:func:`name_key`) or stored by an
    import of this file (under a name ``--map-annotator`` gave), or, where the file names
    nobody or a Label Studio user (named on import), of any annotator but gold files and
    adjudicators. ``InputError`` for a file that is no task file of ``fmt`` (default: from
    the extension)."""
    file = Path(file)
    fmt = _format(file, fmt)
    labels, stats = _read_tasks(data, file, names, fmt)
    if store is not None and len(labels):
        cur = store.current()
        cur = cur[~cur["source"].str.startswith("gold file ")
                  & ~cur["annotator"].str.startswith(ADJUDICATOR)]
        by_anyone = set(zip(cur["segment_id"], cur["code"], cur["value"], strict=True))
        by_name = {(*key, name_key(a)) for *key, a in zip(
            cur["segment_id"], cur["code"], cur["value"], cur["annotator"], strict=True)}
        # the source `annotate import` gives the labels it stores (pipeline/cli_annotate.py)
        here = cur[cur["source"].str.startswith(f"import {file.name} (")]
        by_this_file = set(zip(here["segment_id"], here["code"], here["value"], strict=True))
        named = labels["named_in"].ne("") & (fmt != "labelstudio")
        labels = labels[[(seg, code, value, name_key(a)) not in by_name
                         and (seg, code, value) not in by_this_file if n
                         else (seg, code, value) not in by_anyone
                         for seg, code, value, a, n in zip(
                             labels["segment_id"], labels["code"], labels["value"],
                             labels["annotator"], named, strict=True)]]
    return _n_labelled(labels) + stats.get("edited_not_reviewed", 0)


def _format(file: Path, fmt: str | None) -> str:
    if fmt is None:
        fmt = {".csv": "csv", ".json": "labelstudio", ".jsonl": "doccano"}.get(
            file.suffix.lower())
        if fmt is None:
            raise InputError(file, "unknown task file type: expected .csv, .json (Label "
                             "Studio) or .jsonl (doccano)")
    if fmt not in FORMATS:
        raise InputError(file, f"unknown format {fmt!r} (expected {', '.join(FORMATS)})")
    return fmt


def _read_tasks(data: bytes, file: Path, names: list[str], fmt: str
                ) -> tuple[pd.DataFrame, dict]:
    """The labels as the file gives them: ``annotator`` is the name the file gives ('' for
    none; a Label Studio user id), ``also`` another name of it (the user's e-mail),
    ``named_in`` the field that gives it, ``field`` the field that holds the value. Counts
    ``rows_read`` and ``not_labelled``."""
    text = _decode(data, file)
    parse = {"csv": _parse_csv, "labelstudio": _parse_labelstudio, "doccano": _parse_doccano}
    return parse[fmt](text, file, names)


def _n_labelled(labels: pd.DataFrame) -> int:
    """Segments labelled, however many annotators each (a count of tasks, as the file has)."""
    return int(labels["segment_id"].nunique())


def name_key(name: object) -> str:
    """An annotator's name as compared: letter case and spaces tell no people apart.

    >>> name_key(" Anna  de Vries") == name_key("anna de vries")
    True
    """
    return _spaced(name).casefold()


def _spaced(name: object) -> str:
    """A name as stored: no spaces around it, one between its words."""
    return " ".join(str(name).split())


def _name_annotators(labels: pd.DataFrame, annotator: str | None, annotator_map: dict[str, str],
                     file: Path, fmt: str) -> pd.DataFrame:
    """Who labelled each row: the name the file gives, renamed by ``annotator_map`` (keys
    matched by :func:`name_key`, a Label Studio user by id or e-mail), else ``annotator``.
    Refused: a file naming someone other than ``annotator`` (stored under the file's name, one
    person's labels would silently replace another's); a map key the file does not name (a
    typo would leave someone misnamed); a Label Studio user not mapped, unless the file's only
    one and ``annotator`` is given (an id is nobody's name: stored as such, one person was
    another annotator in each format)."""
    given = _spaced(annotator or "")
    named = labels["named_in"] != ""
    users = dict.fromkeys(f"{a} ({e})" if e else a for a, e in
                          zip(labels.loc[named, "annotator"], labels.loc[named, "also"],
                              strict=True))
    in_file = {name_key(n) for n in pd.concat([labels.loc[named, "annotator"],
                                               labels.loc[named, "also"]])}
    mapping = {}
    for old, new in annotator_map.items():
        if name_key(old) not in in_file - {""}:
            raise InputError(file, f"{old.strip()}={new.strip()}: this file names no "
                             f"annotator {old.strip()!r} (it names "
                             f"{', '.join(users) or 'none'})", field="--map-annotator")
        mapping[name_key(old)] = _spaced(new)
    mapped = pd.Series([(mapping.get(name_key(a)) or mapping.get(name_key(e))) if n else None
                        for a, e, n in zip(labels["annotator"], labels["also"], named,
                                           strict=True)], index=labels.index, dtype=object)
    names = labels["annotator"].where(mapped.isna(), mapped)
    if fmt == "labelstudio":
        ids = named & mapped.isna()
        if ids.any() and not (given and len(users) == 1):
            row = labels[ids].iloc[0]
            user = f"{row.annotator} ({row.also})" if row.also else row.annotator
            hint = "; --annotator names the only user of a file" if given else ""
            raise InputError(file, f"Label Studio user {user} has no name: give "
                             f"--map-annotator {row.annotator}=NAME for each user (this file "
                             f"has {', '.join(users)}){hint}", line=int(row.line),
                             field=row.named_in)
        names = names.mask(ids, given)
    elif given:
        where = "column" if fmt == "csv" else "key"
        other = labels[named & (names.map(name_key) != name_key(given))]
        if len(other):
            row = other.iloc[0]
            raise InputError(file, f"names {names[other.index[0]]!r}, not --annotator "
                             f"{given!r}: clear the {row.named_in} {where} to store the labels "
                             f"as {given!r}, or leave out --annotator to store them as named",
                             line=int(row.line), field=row.named_in)
    unnamed = names == ""
    if unnamed.any() and not given:
        where = "column" if fmt == "csv" else "key"
        raise InputError(file, f"no annotator: fill the annotator {where} or give "
                         "--annotator", line=int(labels.loc[unnamed, "line"].iloc[0]),
                         field="annotator")
    return labels.assign(annotator=names.mask(unnamed, given))


def respell(labels: pd.DataFrame, known: list[str] | tuple = ()) -> tuple[pd.DataFrame, dict]:
    """One spelling per annotator (:func:`name_key`): the first of ``known`` (the store's,
    :meth:`LabelStore.annotators`), else the labels' first. Returns the labels and what was
    respelled (old -> new).

    >>> respell(pd.DataFrame({"annotator": ["Anna", "anna ", "bob"]}), ["ANNA"])[1]
    {'Anna': 'ANNA', 'anna ': 'ANNA'}
    """
    spelling: dict[str, str] = {}
    for name in [*known, *labels["annotator"].unique()]:
        spelling.setdefault(name_key(name), name)
    changed = {a: spelling[name_key(a)] for a in labels["annotator"].unique()
               if spelling[name_key(a)] != a}
    return labels.assign(annotator=labels["annotator"].replace(changed)), changed


def _skip_repeats(labels: pd.DataFrame, file: Path, fmt: str) -> tuple[pd.DataFrame, int]:
    """``labels`` less the rows that repeat an earlier one (same segment, code, annotator and
    time), and how many rows of the file were such repeats. A repeat with another value is
    refused: the file does not say which one is meant."""
    if clash := conflicting_repeat(labels):
        row, first = clash
        raise InputError(file, repeat_message(row, first, UNIT[fmt]), line=int(row.line),
                         field=row.field)
    repeat = labels.duplicated(REPEAT_KEY)
    return labels[~repeat], int(labels.loc[repeat, "line"].nunique())


REPEAT_KEY = ["segment_id", "code", "annotator", "time"]   # one label: the same label again


def conflicting_repeat(labels: pd.DataFrame, key: list[str] = REPEAT_KEY) -> tuple | None:
    """The first row that repeats an earlier label (the same ``key``) with another value, and
    that earlier row; None where there is none."""
    first: dict[tuple, tuple] = {}
    for row in labels[labels.duplicated(key, keep=False)].itertuples(index=False):
        earlier = first.setdefault(tuple(getattr(row, k) for k in key), row)
        if earlier.value != row.value:
            return row, earlier
    return None


def repeat_message(row, first, unit: str = "line") -> str:
    """What to say of a label given twice with two values (:func:`conflicting_repeat`)."""
    return (f"{row.code} of segment {row.segment_id!r} ({row.annotator}) is {row.value} here "
            f"but {first.value} on {unit} {first.line}: keep one of the two")


def unmatched_segments(labels: pd.DataFrame, file: Path | str, cohort: Cohort,
                       settings: Settings) -> list[str]:
    """The labelled segment ids that are no segment of their transcript now (to warn of). An
    id that is no segment id, or names a transcript ``cohort`` does not have, is refused.
    Only the transcripts named are segmented (:func:`segment_ids_of`)."""
    stems = [PurePosixPath(p).stem for p in cohort.transcripts["path"]]
    known, used = set(stems), set()
    for seg, line in labels[["segment_id", "line"]].drop_duplicates("segment_id").itertuples(
            index=False):
        where = segment_offsets(seg)
        if where is None:
            raise InputError(file, f"{seg!r} is no segment id (<transcript>@<start>-<end>)",
                             line=int(line), field="segment_id")
        if where[0] not in known:
            raise InputError(file, f"{seg!r} is no segment of {cohort.root}: it has no "
                             f"transcript {where[0]!r} (labels of another cohort?)",
                             line=int(line), field="segment_id")
        used.add(where[0])
    return sorted(set(labels["segment_id"]) - segment_ids_of(cohort, settings, used))


def segment_ids_of(cohort: Cohort, settings: Settings, stems: Iterable[str]) -> set[str]:
    """The segment ids the transcripts ``stems`` (file names without extension) have now. Only
    those transcripts are segmented, so a task file or a store costs what it names."""
    from dataclasses import replace

    from pipeline.run import run_segments

    wanted = set(stems)
    named = cohort.transcripts[[PurePosixPath(p).stem in wanted
                                for p in cohort.transcripts["path"]]]
    return set(run_segments(replace(cohort, transcripts=named), settings,
                            reveal_names=True)["segment_id"])


def _expand(segment_id: str, chosen: set[str], names: list[str], annotator: str, time: str,
            line: int, *, named_in: str = "", field: str | None = None, also: str = ""
            ) -> list[dict]:
    """One label per name; ``field`` defaults to the name (a CSV column per code); ``also``:
    another name of the annotator (a Label Studio user's e-mail)."""
    return [{"segment_id": segment_id, "code": n, "value": "1" if n in chosen else "0",
             "annotator": annotator, "time": time, "line": line, "named_in": named_in,
             "field": field or n, "also": also} for n in names]


def _labels_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[*LABEL_COLUMNS, "line", "named_in", "field", "also"])


def _time(value: object, file: Path, line: int, field: str) -> str:
    try:
        return normalise_time(value) or ""
    except (ValueError, TypeError):
        raise InputError(file, f"not an ISO 8601 time: {value!r}", line=line,
                         field=field) from None


def label_times(labels: pd.DataFrame) -> list[str]:
    """The ``time`` of each row of a labels table read from files (``file``, ``line``) as
    the label store keeps it (UTC, sortable as text; '' undated): the latest label of an
    annotator counts, so a time that is no time is refused, naming its file and line,
    rather than sorted as text among the others."""
    times = labels["time"] if "time" in labels.columns else [""] * len(labels)
    return [_time(t, file, int(line), "time")
            for t, file, line in zip(times, labels["file"], labels["line"], strict=True)]


def _parse_csv(text: str, file: Path, names: list[str]) -> tuple[pd.DataFrame, dict]:
    first = text.split("\n", 1)[0]
    delim = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(_io.StringIO(text, newline=""), delimiter=delim)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        raise InputError(file, "file is empty (expected a header row)") from None
    if "segment_id" not in header:
        raise InputError(file, "missing column segment_id", line=1, field="segment_id")
    if {"code", "value"} <= set(header):  # the labels-table format
        return _parse_long_csv(reader, header, file, names)
    known = set(names)
    codes = []
    for h in header:
        if h in known:
            codes.append(h)
        elif h and h not in META_COLUMNS and not h.startswith(("p_", "s_")):
            raise InputError(file, unknown_code(h, names, column=True), line=1, field=h)
    if not codes:
        raise InputError(file, "no code columns (expected a column per code, e.g. "
                         f"{names[0]!r})", line=1)
    col = {h: i for i, h in enumerate(header)}
    rows, n_read, skipped, unreviewed, implied = [], 0, 0, 0, 0
    edited: list[int] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            n_read += 1
            if len(cells) < len(header):
                cells = cells + [""] * (len(header) - len(cells))
            seg = cells[col["segment_id"]].strip()
            filled = {c: cells[col[c]].strip() for c in codes if cells[col[c]].strip()}
            if not filled:
                skipped += 1
                continue
            if not seg:
                raise InputError(file, "empty segment id", line=line, field="segment_id")
            chosen = set()
            for c, v in filled.items():
                b = binary_label(v)
                if b is None:
                    raise InputError(file, f"expected 0 or 1, got {v!r}", line=line, field=c)
                if b == "1":
                    chosen.add(c)
            for sub in sorted(c for c in chosen if "." in c):   # a kind of its activity
                activity = sub.split(".")[0]
                if activity in filled and activity not in chosen:
                    raise InputError(file, f"{sub} is 1 but {activity} is 0: a sub-type is a "
                                     f"kind of its activity; mark {activity} 1 too, or {sub} "
                                     "0", line=line, field=sub)
                if activity in codes and activity not in chosen:
                    chosen.add(activity)   # left empty under a ticked sub-type
                    implied += 1
            if "reviewed" in col and not _reviewed(cells[col["reviewed"]], file, line):
                unreviewed += 1   # the model's prefill, not (yet) an annotator's
                suggested = cells[col["suggestion"]] if "suggestion" in col else ""
                if chosen != {n.strip() for n in suggested.split(";") if n.strip()}:
                    edited.append(line)
                continue
            ann = cells[col["annotator"]].strip() if "annotator" in col else ""
            t = _time(cells[col["time"]], file, line, "time") if "time" in col else ""
            rows += _expand(seg, chosen, codes, ann, t, line,
                            named_in="annotator" if ann else "")
    except csv.Error as e:
        raise InputError(file, f"malformed CSV ({e})", line=reader.line_num) from None
    return _labels_frame(rows), {"rows_read": n_read, "not_labelled": skipped + unreviewed,
                                 "not_reviewed": unreviewed, "edited_not_reviewed": len(edited),
                                 "edited_lines": edited, "activities_implied": implied,
                                 # a column deleted from an exported task file
                                 "no_column": [n for n in names if n not in codes
                                               and "." not in n] if "suggestion" in col
                                 else []}


def _reviewed(mark: str, file: Path, line: int) -> bool:
    """A prefilled row's ``reviewed`` cell: marked (``x``, ``1``, ``ja``, ``✓``), or empty or
    ``0``/``nee`` (not reviewed); anything else is refused, not taken for either."""
    b = binary_label(mark) if mark.strip() not in REVIEWED_MARKS else "1"
    if b is None and mark.strip():
        raise InputError(file, f"expected x, 1, ja or a tick (reviewed), or empty or 0 (not "
                         f"reviewed), got {mark.strip()!r}", line=line, field="reviewed")
    return b == "1"


def _parse_long_csv(reader, header: list[str], file: Path, names: list[str]
                    ) -> tuple[pd.DataFrame, dict]:
    col = {h: i for i, h in enumerate(header)}
    recs = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        cells = cells + [""] * (len(header) - len(cells))
        ann = cells[col["annotator"]].strip() if "annotator" in col else ""
        recs.append({"segment_id": cells[col["segment_id"]].strip(),
                     "code": cells[col["code"]].strip(), "value": cells[col["value"]].strip(),
                     "annotator": ann,
                     "time": cells[col["time"]].strip() if "time" in col else "",
                     "line": reader.line_num, "named_in": "annotator" if ann else "",
                     "field": "value", "also": ""})
    df = check_labels(_labels_frame(recs), names, file)
    return df, {"rows_read": len(recs), "not_labelled": 0}


def _ls_user(completed_by: object) -> tuple[str, str]:
    """A Label Studio user as (id, e-mail): exports give the id, some the e-mail too."""
    if isinstance(completed_by, dict):
        uid, email = (str(completed_by.get(k) or "").strip() for k in ("id", "email"))
        return (uid, email) if uid else (email, "")
    return ("" if completed_by is None else str(completed_by).strip()), ""


def _parse_labelstudio(text: str, file: Path, names: list[str]) -> tuple[pd.DataFrame, dict]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(file, f"invalid JSON ({e.msg})", line=e.lineno) from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise InputError(file, "expected a JSON list of Label Studio tasks")
    known = set(names)

    def chosen_of(choices: list, task: int) -> set[str]:
        out = set()
        for c in choices:
            c = str(c)
            if c == NONE_LABEL:
                continue
            if c not in known:
                raise InputError(file, f"task {task}: unknown code {c!r} (not in the "
                                 "codebook)", line=task, field="choices")
            out.add(c)
        return out

    rows, skipped = [], 0
    for k, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise InputError(file, f"task {k}: expected a JSON object", line=k)
        if "data" not in item:  # JSON-MIN export: flat records
            seg = str(item.get("segment_id") or "").strip()
            if not seg:
                raise InputError(file, f"task {k}: no segment_id", line=k, field="segment_id")
            value = item.get("codes")
            if value is None:
                skipped += 1
                continue
            if isinstance(value, dict):
                value = value.get("choices", [])
            if isinstance(value, str):
                value = [value]
            t = _time(item.get("updated_at") or item.get("created_at"), file, k, "updated_at")
            user, email = _ls_user(item.get("annotator"))
            rows += _expand(seg, chosen_of(value, k), names, user, t, k, field="codes",
                            named_in="annotator" if user else "", also=email)
            continue
        data = item.get("data") or {}
        seg = str(data.get("segment_id") or "").strip()
        if not seg:
            raise InputError(file, f"task {k}: data has no segment_id", line=k,
                             field="segment_id")
        annotations = [a for a in (item.get("annotations") or item.get("completions") or [])
                       if isinstance(a, dict) and not a.get("was_cancelled")]
        if not annotations:
            skipped += 1
            continue
        for a in annotations:
            choices: list = []
            for r in a.get("result") or []:
                if isinstance(r, dict) and r.get("type", "choices") == "choices":
                    choices += list((r.get("value") or {}).get("choices") or [])
            t = _time(a.get("updated_at") or a.get("created_at"), file, k, "updated_at")
            user, email = _ls_user(a.get("completed_by"))
            rows += _expand(seg, chosen_of(choices, k), names, user, t, k, field="choices",
                            named_in="completed_by" if user else "", also=email)
    return _labels_frame(rows), {"rows_read": len(items), "not_labelled": skipped}


def _parse_doccano(text: str, file: Path, names: list[str]) -> tuple[pd.DataFrame, dict]:
    known = set(names)
    rows, n_read, skipped = [], 0, 0
    for line, raw in enumerate(text.split("\n"), 1):
        if not raw.strip():
            continue
        n_read += 1
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InputError(file, f"invalid JSON ({e.msg})", line=line) from None
        if not isinstance(obj, dict):
            raise InputError(file, "expected a JSON object", line=line)
        meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
        seg = str(obj.get("segment_id") or meta.get("segment_id") or "").strip()
        if not seg:
            raise InputError(file, "no segment_id", line=line, field="segment_id")
        labels = obj.get("label", obj.get("labels", []))
        if not isinstance(labels, list):
            raise InputError(file, "expected a list of code ids", line=line, field="label")
        if not labels:
            skipped += 1
            continue
        chosen = set()
        for lab in labels:
            if not isinstance(lab, str):
                raise InputError(file, f"expected code ids (text classification), got "
                                 f"{lab!r}", line=line, field="label")
            if lab == NONE_LABEL:
                continue
            if lab not in known:
                raise InputError(file, unknown_code(lab, known), line=line, field="label")
            chosen.add(lab)
        named = [(key, str(v).strip()) for key, v in (("annotator", obj.get("annotator")),
                                                      ("meta.annotator", meta.get("annotator")),
                                                      ("user", obj.get("user")))
                 if str(v or "").strip()]
        named_in, ann = named[0] if named else ("", "")
        t = _time(obj.get("time") or "", file, line, "time")
        rows += _expand(seg, chosen, names, ann, t, line, named_in=named_in, field="label")
    return _labels_frame(rows), {"rows_read": n_read, "not_labelled": skipped}


def segment_offsets(segment_id: str) -> tuple[str, int, int] | None:
    """``(file stem, start, end)`` of a segment id, ``None`` when it is not one."""
    m = SEGMENT_ID.match(segment_id)
    return (m["stem"], int(m["start"]), int(m["end"])) if m else None
