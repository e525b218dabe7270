"""One way to spread independent work over processes.

Every stage that parallelises (segmenting transcripts, scoring chunks of segments, writing
each school's graphs and sociograms, cross-validation folds) calls :func:`ordered_map`, so the
joblib settings, the in-process fallback and the result order are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["ordered_map"]


def ordered_map(fn: Callable[..., Any], tasks: Iterable[tuple], jobs: int) -> Iterator[Any]:
    """``fn(*task)`` for every task, lazily and in task order: over ``jobs`` joblib (loky)
    processes when ``jobs > 1`` and there is more than one task, else in this process. Lazy,
    so callers can show progress as results arrive; loky keeps its workers between calls, so
    a later call starts no new processes."""
    tasks = list(tasks)
    if jobs > 1 and len(tasks) > 1:
        from joblib import Parallel, delayed

        return Parallel(n_jobs=jobs, return_as="generator")(delayed(fn)(*t) for t in tasks)
    return (fn(*t) for t in tasks)
