"""Determinism: the same inputs give byte-identical outputs, run after run.

Every file of two runs is compared byte for byte; only the ``started`` and ``finished``
timestamps of ``manifest.json`` may differ. The runs use the default model when there is one
(``models/default``), else the rule coder, and two worker processes for coding, so that
parallel coding is covered too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import run_in_process  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "tiny_cohort"
DEMO = REPO / "data" / "demo"
PIPELINE = REPO / ".venv" / "bin" / "pipeline"
TIMESTAMPS = ("started", "finished")


def coder_args() -> list[str]:
    from pipeline.coding.model import MODEL_FILE
    from pipeline.config import load_settings

    return [] if (load_settings().model_dir / MODEL_FILE).is_file() else ["--rules"]


def differences(a: Path, b: Path) -> list[str]:
    """Files that differ between two output folders (manifest timestamps excepted)."""
    files_a = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    diffs = [f"only in one run: {f}" for f in sorted(files_a ^ files_b)]
    for rel in sorted(files_a & files_b):
        x, y = (a / rel).read_bytes(), (b / rel).read_bytes()
        if rel == "manifest.json":
            mx, my = json.loads(x), json.loads(y)
            for key in TIMESTAMPS:
                assert key in mx and key in my
                mx.pop(key), my.pop(key)
            if mx != my:
                diffs.append(f"manifest.json: {[k for k in mx if mx[k] != my.get(k)]}")
            # the rest of the file, apart from the two timestamp lines, is identical too
            strip = [ln for ln in x.splitlines() if not ln.strip().startswith(b'"started"')
                     and not ln.strip().startswith(b'"finished"')]
            strip_y = [ln for ln in y.splitlines() if not ln.strip().startswith(b'"started"')
                       and not ln.strip().startswith(b'"finished"')]
            if strip != strip_y:
                diffs.append("manifest.json: layout")
        elif x != y:
            diffs.append(rel)
    return diffs




def test_tiny_cohort_twice_is_identical(tmp_path):
    """Two runs into the same folder (so that the recorded command is the same)."""
    out = tmp_path / "out"
    args = ["run", TINY, "--out", out, "--jobs", "2", *coder_args()]
    run_in_process(args)
    first = tmp_path / "first"
    shutil.copytree(out, first)
    run_in_process(args)
    assert differences(first, out) == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["outputs"] and manifest["inputs"]


def test_differences_sees_a_change(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "manifest.json").write_text(json.dumps({"started": str(d), "finished": str(d),
                                                     "outputs": {}}, indent=2))
        (d / "x.csv").write_text("1\n")
    assert differences(a, b) == []
    (b / "x.csv").write_text("2\n")
    (b / "y.csv").write_text("")
    assert differences(a, b) == ["only in one run: y.csv", "x.csv"]


@pytest.mark.slow
def test_demo_twice_is_identical(tmp_path):
    """The whole demo cohort, two runs side by side (separate processes, same arguments:
    each in its own working folder with the same relative ``--out``)."""
    procs, outs = [], []
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    for name in ("a", "b"):
        cwd = tmp_path / name
        cwd.mkdir()
        args = [str(PIPELINE), "run", str(DEMO), "--out", "out", "--jobs", "2", *coder_args()]
        procs.append(subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
        outs.append(cwd / "out")
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    assert differences(*outs) == []
