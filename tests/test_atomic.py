"""Outputs are atomic: a run killed at any moment leaves the old result or the new one, whole.

``pipeline run`` builds its output folder aside (``.<out>.partial-<pid>-*``) and swaps it in at
the end (``io.staged_output``). These tests start real runs on the tiny cohort writing to an
``--out`` that already holds a good result, kill them with SIGKILL while the staging folder is
being filled, right at the swap, and between the two renames of the fallback swap, and check
that ``--out`` is then exactly the old result or a complete new one (file set and hashes as
listed in its manifest), never a mixture; and that the next run repairs the leftovers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import io

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "tiny_cohort"
PIPELINE = REPO / ".venv" / "bin" / "pipeline"
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

# a `pipeline` whose swap is interrupted by SIGKILL at a chosen point
INJECT = r"""
import os, signal, sys
from pipeline import cli, io
mode = sys.argv[1]
if mode == "none":
    pass
elif mode == "after_exchange":
    real = io._exchange
    def exchange(a, b):
        done = real(a, b)
        os.kill(os.getpid(), signal.SIGKILL)
    io._exchange = exchange
elif mode == "between_renames":
    io._exchange = lambda a, b: False
    real_rename = os.rename
    def rename(a, b, *args, **kw):
        real_rename(a, b, *args, **kw)
        if ".old-" in os.fspath(b):
            os.kill(os.getpid(), signal.SIGKILL)
    os.rename = rename
elif mode == "in_atomic_write":
    real_replace = os.replace
    def replace(a, b, *args, **kw):
        if os.fspath(b).endswith("coded.csv"):
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(a, b, *args, **kw)
    os.replace = replace
sys.argv = ["pipeline", *sys.argv[2:]]
cli.main()
"""


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def is_complete(folder: Path) -> bool:
    """A whole result: a manifest whose output list matches the files, hash for hash."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return False
    listed = json.loads(manifest.read_text(encoding="utf-8"))["outputs"]
    files = {k: hashlib.sha256(v).hexdigest() for k, v in snapshot(folder).items()
             if k != "manifest.json"}
    return files == listed


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir()
                  if p.name.startswith(f".{out.name}.") or p.name.endswith(".tmp"))


def run_args(out: Path) -> list[str]:
    return ["run", str(TINY), "--out", str(out), "--rules", "--jobs", "1"]


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """A good, complete result of a run on the tiny cohort (in-process, made once)."""
    from pipeline import cli

    out = tmp_path_factory.mktemp("good") / "out"
    argv = sys.argv
    sys.argv = ["pipeline", *run_args(out)]
    try:
        cli.main()
    except SystemExit as e:
        assert not e.code
    finally:
        sys.argv = argv
    assert is_complete(out)
    return out


@pytest.fixture
def out(tmp_path, good) -> Path:
    target = tmp_path / "results" / "out"
    shutil.copytree(good, target)
    # mark the old result so that "old" and "new" can be told apart
    (target / "report.html").write_bytes(b"<!-- old -->" + (target / "report.html").read_bytes())
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["outputs"]["report.html"] = hashlib.sha256(
        (target / "report.html").read_bytes()).hexdigest()
    (target / "manifest.json").write_text(json.dumps(manifest))
    assert is_complete(target)
    return target


def _kill_when(proc, out: Path, min_files: int, timeout: float = 240) -> bool:
    """SIGKILL ``proc`` once it has written ``min_files`` files anywhere next to or inside
    ``out`` (files newer than the start; ``min_files=0``: as soon as a staging folder or any
    new file appears). False if the run ended before that."""
    deadline = time.monotonic() + timeout
    start = time.time() - 0.01
    old = {p for p in out.parent.rglob("*")}
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        new = 0
        for p in out.parent.rglob("*"):
            try:
                if p not in old and p.is_dir():
                    new += min_files == 0
                elif p.is_file() and p.stat().st_mtime >= start:
                    new += 1
            except FileNotFoundError:
                continue
        if new and new >= min_files:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    proc.kill()
    raise AssertionError("the run never wrote anything")


def _check_old_or_new(out: Path, old: dict[str, bytes]) -> str:
    assert out.is_dir(), "the output folder is gone"
    now = snapshot(out)
    if now == old:
        return "old"
    assert is_complete(out), f"partial result: {sorted(now)}"
    assert not now["report.html"].startswith(b"<!-- old -->")
    return "new"


@pytest.mark.parametrize("min_files, how", [(0, "fork"), (6, "script"), (14, "fork")])
def test_kill_while_staging(out, min_files, how):
    """Killed while the staging folder fills (as it appears, a third in, most files in);
    once through the installed ``pipeline`` script, otherwise in a forked child."""
    old = snapshot(out)
    if how == "script":
        proc = subprocess.Popen([str(PIPELINE), *run_args(out)], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        argv = list(sys.argv)
        proc = _Forked(_fork("none", run_args(out)))
        sys.argv = argv
    killed = _kill_when(proc, out, min_files)
    assert killed, "the run finished before it could be killed"
    assert _check_old_or_new(out, old) == "old"
    assert any(".partial-" in name for name in leftovers(out))
    # the next run cleans up and writes a complete new result
    io.recover_output(out)
    assert leftovers(out) == []
    assert snapshot(out) == old or is_complete(out)


def _fork(mode: str, args: list[str]) -> int:
    """Run ``pipeline ARGS`` (with the injected kill ``mode``) in a forked child of this
    process, which has the package imported already: a subprocess without the start-up cost.
    Returns the child's pid."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.setpgid(0, 0)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            exec(compile(INJECT, "<inject>", "exec"), {"__name__": "inject",
                                                       "sys": _argv(mode, args)})
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        finally:
            os._exit(code)
    return pid


def _argv(mode: str, args: list[str]):
    sys.argv = ["inject", mode, *args]
    return sys


class _Forked:
    """The little of ``subprocess.Popen`` that :func:`_kill_when` needs, for a forked pid."""

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self):
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode

    def send_signal(self, sig):
        os.kill(self.pid, sig)

    def kill(self):
        self.send_signal(signal.SIGKILL)


def _injected(mode: str, args: list[str]) -> int:
    """Exit status of ``pipeline ARGS`` killed by ``mode``, in a forked child."""
    argv = list(sys.argv)
    try:
        return _Forked(_fork(mode, args)).wait()
    finally:
        sys.argv = argv


def test_kill_right_after_the_swap(out):
    """Killed just after the atomic exchange: the new result is in place and complete; the
    old one, left in the staging folder, goes with the next run."""
    old = snapshot(out)
    assert _injected("after_exchange", run_args(out)) == -signal.SIGKILL
    assert _check_old_or_new(out, old) == "new"
    assert any(".partial-" in name for name in leftovers(out))
    io.recover_output(out)
    assert leftovers(out) == [] and is_complete(out)


def test_kill_between_the_fallback_renames_is_repaired(out):
    """Without an atomic exchange, a kill between "old aside" and "new in place" leaves no
    ``out`` at all for a moment: the next run puts the old result back first."""
    old = snapshot(out)
    assert _injected("between_renames", run_args(out)) == -signal.SIGKILL
    assert not out.exists()
    names = leftovers(out)
    assert any(".old-" in n for n in names) and any(".partial-" in n for n in names)
    io.recover_output(out)
    assert snapshot(out) == old and leftovers(out) == []


def test_next_run_repairs_and_replaces(out, capsys, monkeypatch):
    """After a kill mid-swap, `pipeline run` itself repairs, then writes a new result."""
    from pipeline import cli

    assert _injected("between_renames", run_args(out)) == -signal.SIGKILL
    monkeypatch.setattr(sys, "argv", ["pipeline", *run_args(out)])
    try:
        cli.main()
    except SystemExit as e:
        assert not e.code
    assert is_complete(out) and leftovers(out) == []
    assert not (out / "report.html").read_bytes().startswith(b"<!-- old -->")


def test_kill_inside_a_single_file_write(tmp_path):
    """`pipeline code --out FILE`: a kill before the rename keeps the old file; the stale
    temporary file is removed by the next write."""
    segments = tmp_path / "segments.csv"
    segments.write_text("id,text\ns1,In de teamvergadering heb ik verteld wat we deden.\n")
    target = tmp_path / "coded.csv"
    target.write_bytes(b"id,previous\n")
    args = ["code", str(segments), "--out", str(target), "--rules", "--jobs", "1"]
    assert _injected("in_atomic_write", args) == -signal.SIGKILL
    assert target.read_bytes() == b"id,previous\n"
    stale = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(stale) == 1
    io.atomic_write(target, "id,new\n")
    assert target.read_text() == "id,new\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_error_while_building_keeps_the_old_result(out):
    old = snapshot(out)
    with pytest.raises(RuntimeError), io.staged_output(out) as stage:
        (stage / "half.csv").write_text("a\n")
        raise RuntimeError("stage failed")
    assert snapshot(out) == old and leftovers(out) == []


def test_recovery_spares_a_running_process(tmp_path):
    """Two runs into one folder: the second must not delete the first one's staging folder."""
    out = tmp_path / "out"
    out.mkdir()
    mine = tmp_path / f".out.partial-{os.getpid()}-abc"
    mine.mkdir()
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = tmp_path / f".out.partial-{int(done.stdout)}-xyz"
    dead.mkdir()
    older = tmp_path / ".out.partial-q1w2e3"  # older naming, no pid: stale
    older.mkdir()
    io.recover_output(out)
    assert mine.exists() and not dead.exists() and not older.exists()


def test_write_csv_writes_floats_as_pandas_does(tmp_path):
    """Floats are written as their shortest round-trip text, exactly what pandas writes
    (tiny and huge values, negative zero, infinities, missing values), next to other types."""
    import numpy as np
    import pandas as pd

    from pipeline.io import write_csv

    df = pd.DataFrame({"p": [0.1 + 0.2, 1e-06, 5e-05, 123456789.0, 1e20, -0.0, np.inf, np.nan],
                       "n": range(8), "s": ["a,b", "", None, "x", "é", "q\"", "1", "2"],
                       "b": [True, False] * 4,
                       "f32": np.arange(8, dtype=np.float32) / 3})
    write_csv(df, tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_text(encoding="utf-8") == df.to_csv(index=False,
                                                                         lineterminator="\n")


def test_csv_text_of_slices_joins_into_the_whole_table():
    """`pipeline code` writes its CSV chunk by chunk: the first slice with its header, the
    others without, give the text of the whole table."""
    import numpy as np
    import pandas as pd

    df = pd.DataFrame({"id": [f"s{i}" for i in range(7)], "p": np.linspace(0, 1, 7) / 3,
                       "codes": ["a;b", "", "c", "a,\"q\"", "", "b", "é"]})
    whole = io.csv_text(df)
    assert whole == df.to_csv(index=False, lineterminator="\n")
    for cut in ([3], [1, 2, 6], []):
        bounds = [0, *cut, len(df)]
        parts = [io.csv_text(df.iloc[a:b], header=a == 0)
                 for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        assert "".join(parts) == whole


def test_atomic_write_of_pieces(tmp_path):
    """Pieces are written as they come; an error while they are made keeps the old file and
    leaves no temporary file."""
    target = tmp_path / "coded.csv"
    io.atomic_write(target, iter(["id,x\n", b"s1,1\n", "s2,é\n"]))
    assert target.read_text(encoding="utf-8") == "id,x\ns1,1\ns2,é\n"

    def failing():
        yield "id,new\n"
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError):
        io.atomic_write(target, failing())
    assert target.read_text(encoding="utf-8") == "id,x\ns1,1\ns2,é\n"
    assert [p.name for p in tmp_path.iterdir()] == ["coded.csv"]

    closed = []

    def unwritable():   # the writer fails: what makes the pieces is stopped at once
        try:
            yield "id,new\n"
            yield 42
            yield "never asked for\n"
        finally:
            closed.append(True)

    with pytest.raises(TypeError):
        io.atomic_write(target, unwritable())
    assert closed == [True] and target.read_text(encoding="utf-8") == "id,x\ns1,1\ns2,é\n"


def test_an_out_that_is_a_link_stays_a_link(tmp_path, capsys, monkeypatch):
    """`out` links to a folder on a larger disk: a rerun writes the new result there and
    leaves the link in place (it used to become a folder beside the link's target's copy)."""
    from helpers import cli

    disk = tmp_path / "disk" / "results"
    assert cli(["network", TINY, "--out", disk], capsys, monkeypatch)[0] == 0
    (disk / "key_figures.csv").unlink()   # so that the new result can be told from the old
    link = tmp_path / "out"
    link.symlink_to(disk, target_is_directory=True)
    assert cli(["network", TINY, "--out", link], capsys, monkeypatch)[0] == 0
    assert link.is_symlink() and link.resolve() == disk.resolve()
    assert (disk / "key_figures.csv").is_file()
    assert sorted(p.name for p in disk.parent.iterdir()) == ["results"]   # no leftovers


def test_a_file_output_that_is_a_link_stays_a_link(tmp_path):
    """The same for a single file written atomically (``pipeline code --out``, a CSV)."""
    target = tmp_path / "disk" / "codes.csv"
    target.parent.mkdir()
    target.write_text("old\n", encoding="utf-8")
    link = tmp_path / "codes.csv"
    link.symlink_to(target)
    io.atomic_write(link, "new\n")
    assert link.is_symlink() and target.read_text(encoding="utf-8") == "new\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["codes.csv"]



def test_an_out_that_is_a_link_loop_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    from helpers import cli

    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    code, _, err = cli(["network", TINY, "--out", tmp_path / "a"], capsys, monkeypatch)
    assert code == 2 and "leads back to itself" in err and len(err.splitlines()) == 1, err


def test_a_network_does_not_replace_a_run(good, tmp_path, capsys, monkeypatch):
    """`pipeline network --out` of a run's or a report's folder would replace its coded
    segments, profiles and report with network files only: refused in one line saying so,
    the folder as it was. A run or a report into a network's folder loses nothing (it writes
    all the network wrote) and goes ahead, as do network into network, run into run, report
    into a run's folder and run into a report's."""
    from helpers import cli

    def ok(*args) -> None:
        code, _, err = cli(list(args), capsys, monkeypatch)
        assert code == 0, err

    def network_refused(folder: Path, written_by: str) -> None:
        before = snapshot(tmp_path)
        code, _, err = cli(["network", TINY, "--out", folder], capsys, monkeypatch)
        assert code == 2 and len(err.splitlines()) == 1, err
        assert (f"holds the result of another kind of command ({written_by} {TINY} ...: coded "
                "segments, profiles and report), which this one would replace with network "
                "files only: choose another --out") in err, err
        assert snapshot(tmp_path) == before

    net, run_out, codes = tmp_path / "net", tmp_path / "run", good / "segments.csv"
    report = ["report", TINY, "--codes", codes, "--rules", "--jobs", "1", "--out"]
    ok("network", TINY, "--out", net)
    ok("network", TINY, "--out", net)
    ok(*report, net)                      # report into a network's folder
    network_refused(net, "report")
    ok(*run_args(net))                    # run into a report's folder
    assert (net / "segments.csv").is_file()
    shutil.copytree(good, run_out)
    ok(*run_args(run_out))                # run into a run's folder
    network_refused(run_out, "run")
    ok(*report, run_out)                  # report into a run's folder
