"""Helpers shared by several test modules (not a test module itself)."""

from __future__ import annotations

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

