"""Helpers shared by several test modules (not a test module itself)."""

from __future__ import annotations

import sys


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
