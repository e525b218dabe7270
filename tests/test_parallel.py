"""pipeline/parallel.py: the same results, in task order, in process or over workers."""

from __future__ import annotations

import os

from pipeline.parallel import ordered_map


def _square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def test_ordered_map_keeps_task_order_in_workers_and_in_process():
    tasks = [(x,) for x in range(12)]
    here = list(ordered_map(_square_and_pid, tasks, 1))
    there = list(ordered_map(_square_and_pid, tasks, 2))
    assert [r for r, _ in here] == [r for r, _ in there] == [x * x for x in range(12)]
    assert {p for _, p in here} == {os.getpid()}
    assert os.getpid() not in {p for _, p in there}


def test_one_task_stays_in_process():
    [(result, pid)] = list(ordered_map(_square_and_pid, [(3,)], 2))
    assert result == 9 and pid == os.getpid()


# Forking needs a process without other threads, and this test process has loky's after the
# test above: the forked paths are checked in fresh interpreters.
def _fresh(script: str, timeout: float = 120) -> str:
    """Run ``script`` (with this package importable) in a new interpreter; its stdout."""
    import subprocess
    import sys
    import textwrap

    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_forked_workers_start_with_what_this_process_loaded():
    """``inherit=True``: workers forked at the call see what was loaded before it (nothing
    pickled to them), and the results come back in task order."""
    out = _fresh("""
        import os, time
        from pipeline.parallel import can_fork, ordered_map
        LOADED = ["model"]
        def task(x):
            time.sleep(0.1)   # so that on a busy machine one worker cannot take every task
            return x * x, list(LOADED), os.getpid()
        assert can_fork()
        res = list(ordered_map(task, [(x,) for x in range(10)], 2, inherit=True))
        assert [r for r, _, _ in res] == [x * x for x in range(10)], res
        assert all(loaded == ["model"] for _, loaded, _ in res)
        assert os.getpid() not in {p for _, _, p in res}
        print("ok", len({p for _, _, p in res}))
    """)
    assert out == "ok 2"


def test_forked_map_errors_reach_the_caller_and_a_dead_worker_does_not_hang():
    out = _fresh("""
        import os, signal
        from pipeline.parallel import ordered_map
        def fail(x):
            if x == 3:
                raise ValueError(f"task {x} failed")
            return x
        def die(x):
            if x == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return x
        try:
            list(ordered_map(fail, [(x,) for x in range(6)], 2, inherit=True))
        except ValueError as e:
            print("raised:", e)
        try:
            list(ordered_map(die, [(x,) for x in range(6)], 2, inherit=True))
        except RuntimeError as e:
            print("died:", "ended abruptly" in str(e))
    """, timeout=60)
    assert out.splitlines() == ["raised: task 3 failed", "died: True"]


def test_aside_hands_back_value_or_error_and_runs_again_here_when_it_cannot():
    """The value or the exception of the work done aside; a value that cannot be sent back
    (here: too deeply nested to pickle) is made again in this process."""
    out = _fresh("""
        import os
        from pipeline.parallel import aside
        def pid():
            return os.getpid()
        def missing():
            return open("/nonexistent/x.txt").read()
        def deep():
            x = []
            for _ in range(100_000):
                x = [x]
            return os.getpid(), x
        with aside(pid) as work:
            print("aside:", work.result() != os.getpid())
        with aside(missing) as work:
            try:
                work.result()
            except FileNotFoundError as e:
                print("error:", e.filename)
        with aside(deep) as work:
            print("again here:", work.result()[0] == os.getpid())
    """)
    assert out.splitlines() == ["aside: True", "error: /nonexistent/x.txt", "again here: True"]


def test_aside_left_early_stops_the_process():
    out = _fresh("""
        import time
        from pipeline.parallel import aside
        def sleep():
            time.sleep(600)
        try:
            with aside(sleep) as work:
                raise KeyError("the coder failed to load")
        except KeyError:
            print("stopped:", work._process is not None and not work._process.is_alive())
    """, timeout=60)
    assert out == "stopped: True"


def test_collector_paused_while_loading_then_frozen_then_as_before():
    import gc

    from pipeline.parallel import collector_paused

    assert gc.isenabled() and gc.get_freeze_count() == 0
    with collector_paused() as loaded:
        assert not gc.isenabled()
        kept = [[i] for i in range(1000)]       # what a command loads and keeps
        loaded()
        assert gc.isenabled() and gc.get_freeze_count() >= len(kept)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:                                       # a caller that had the collector off
        with collector_paused() as loaded:
            loaded()
            assert not gc.isenabled()
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()
