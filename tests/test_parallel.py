"""pipeline/parallel.py: the same results, in task order, in process or over workers."""

from __future__ import annotations

import os

import pytest

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


_LOADED: list[str] = []   # stands for a model loaded in this process


def _loaded_and_pid(x: int) -> tuple[int, list[str], int]:
    return x * x, list(_LOADED), os.getpid()


def test_inheriting_workers_start_with_what_this_process_loaded():
    """``inherit=True``: forked workers see what was loaded here before the call, and the
    results come back in task order."""
    from pipeline.parallel import can_fork

    _LOADED.append("model")
    try:
        results = list(ordered_map(_loaded_and_pid, [(x,) for x in range(10)], 2,
                                   inherit=True))
    finally:
        _LOADED.clear()
    assert [r for r, _, _ in results] == [x * x for x in range(10)]
    assert all(loaded == ["model"] for _, loaded, _ in results)
    if can_fork():
        assert os.getpid() not in {p for _, _, p in results}


def _fail(x: int) -> int:
    if x == 3:
        raise ValueError(f"task {x} failed")
    return x


def test_an_error_in_an_inheriting_worker_reaches_the_caller():
    with pytest.raises(ValueError, match="task 3 failed"):
        list(ordered_map(_fail, [(x,) for x in range(6)], 2, inherit=True))


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def test_aside_runs_beside_and_hands_back_value_or_error(tmp_path):
    from pipeline.parallel import aside

    (tmp_path / "a.txt").write_text("inhoud", encoding="utf-8")
    with aside(_read, str(tmp_path / "a.txt")) as reading:
        here = sum(range(1000))
        assert reading.result() == "inhoud" and here == 499500
    with aside(_read, str(tmp_path / "missing.txt")) as reading:
        with pytest.raises(FileNotFoundError, match="missing.txt"):
            reading.result()


def _sleep_forever() -> None:
    import time

    time.sleep(600)


def test_aside_left_early_stops_the_process():
    from pipeline.parallel import aside

    with pytest.raises(KeyError):
        with aside(_sleep_forever) as work:
            raise KeyError("the coder failed to load")
    assert work._process is None or not work._process.is_alive()
