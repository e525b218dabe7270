"""Helpers shared by several test modules (not a test module itself)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cli(args: list, capsys, monkeypatch) -> tuple[int, str, str]:
    """``pipeline ARGS`` through ``pipeline.cli.main`` in this process: (status, out, err)."""
    from pipeline import cli as cli_module

    monkeypatch.setattr(sys, "argv", ["pipeline", *map(str, args)])
    capsys.readouterr()
    try:
        cli_module.main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_in_process(args: list) -> None:
    """``pipeline ARGS`` in this process, failing on a non-zero exit (for module-scoped
    fixtures, which cannot use capsys)."""
    from pipeline import cli as cli_module

    argv = sys.argv
    sys.argv = ["pipeline", *map(str, args)]
    try:
        cli_module.main()
    except SystemExit as e:
        assert not e.code, f"pipeline {args} exited with {e.code}"
    finally:
        sys.argv = argv


def write_config(work: Path, old: str, new: str) -> Path:
    """A copy of ``configs/pipeline.yaml`` in ``work`` with ``old`` (which must be there)
    replaced by ``new``."""
    text = (REPO / "configs" / "pipeline.yaml").read_text(encoding="utf-8")
    assert old in text, old
    path = work / "pipeline.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def measures_named(reasons: str) -> list[tuple[str, str | None]]:
    """The measures a profile's reasons name (pipeline/profile.py), as ``(name, value)``:
    ``name = value ...``, or ``not evaluated (no name in the data)`` with value None."""
    from pipeline.report import parse_reasons

    blocks = parse_reasons(reasons)
    assert blocks is not None, reasons
    named = []
    for criterion in (c for b in blocks for c in b["criteria"]):
        said = re.match(r"(?P<name>[^=]+?) = (?P<value>[^ ,]+)", criterion["detail"])
        absent = re.fullmatch(r"not evaluated \(no (?P<name>\S+) in the data\)",
                              criterion["detail"])
        if said or absent:
            named.append(((said or absent)["name"], said["value"] if said else None))
    return named


def untraceable(profiles, tables: dict) -> list[str]:
    """What the reasons of ``profiles`` name that a reader cannot find in ``tables`` (file
    name -> table with person_id, as the run writes them): a measure that is no column, or a
    value its key figure's row does not hold (as the reasons round it, to 2 decimals). A share
    of codes (``share of a+b``) is named by its codes, whose counts ``n_a``, ``n_b`` must be
    columns."""
    indexed = {file: t.set_index(t["person_id"].astype(str)) for file, t in tables.items()}
    problems = []
    for pid, reasons in zip(profiles["person_id"].astype(str), profiles["reasons"], strict=True):
        for name, value in measures_named(reasons):
            columns = ([f"n_{code}" for code in name.removeprefix("share of ").split("+")]
                       if name.startswith("share of ") else [name])
            for column in columns:
                holding = [t for t in indexed.values() if column in t.columns]
                if not holding:
                    problems.append(f"{pid}: {column} is a column of no table")
                elif column == name and value not in (None, "n/a"):
                    cell = float(holding[0].loc[pid, column])
                    if abs(cell - float(value)) > 0.005 + 1e-9:
                        problems.append(f"{pid}: {name} = {value}, the table has {cell}")
    return problems
