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
