"""One way to spread independent work over processes.

Every stage that parallelises (segmenting transcripts, scoring chunks of segments, writing
each school's graphs and sociograms, cross-validation folds) calls :func:`ordered_map`, so the
settings, the in-process fallback and the result order are the same everywhere;
:func:`aside` runs one piece of work beside this process (reading the input while the coder
loads).
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["ordered_map", "aside", "can_fork"]

_INHERITED: tuple[Callable[..., Any], list[tuple]] | None = None  # what forked workers read


def can_fork() -> bool:
    """Whether worker processes can be forked from this one (Linux): they then start in
    milliseconds with everything this process has imported and loaded, instead of importing
    and loading it again (~2-4 s per worker for the coder)."""
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


def ordered_map(fn: Callable[..., Any], tasks: Iterable[tuple], jobs: int,
                inherit: bool = False) -> Iterator[Any]:
    """``fn(*task)`` for every task, lazily and in task order: over ``jobs`` worker processes
    when ``jobs > 1`` and there is more than one task, else in this process. Lazy, so callers
    can show progress as results arrive.

    Workers are joblib (loky) processes, which loky keeps between calls; ``fn`` and the tasks
    are pickled to them. With ``inherit`` (and :func:`can_fork`) the workers are forked from
    this process instead and read ``fn`` and the tasks from the memory they inherit: nothing
    is pickled but the results, and nothing is imported or loaded again. Use it where the work
    needs large state loaded here (a model) and no thread of this process may hold a lock at
    that moment (a fork copies only the calling thread)."""
    tasks = list(tasks)
    if jobs > 1 and len(tasks) > 1:
        if inherit and can_fork():
            return _forked_map(fn, tasks, jobs)
        from joblib import Parallel, delayed

        return Parallel(n_jobs=jobs, return_as="generator")(delayed(fn)(*t) for t in tasks)
    return (fn(*t) for t in tasks)


@contextmanager
def _fork_context():
    """The fork context, with gc frozen while forking: objects made so far move out of the
    collector's view, so the children's collections do not touch (and copy) every page they
    share with this process."""
    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork whenever the process has a second OS thread; ours
        # are the BLAS library's idle workers, which re-initialise themselves in a child
        warnings.filterwarnings("ignore", "This process .* is multi-threaded",
                                DeprecationWarning)
        gc.freeze()
        try:
            yield multiprocessing.get_context("fork")
        finally:
            gc.unfreeze()


def _forked_map(fn: Callable[..., Any], tasks: list[tuple], jobs: int) -> Iterator[Any]:
    global _INHERITED
    _INHERITED = (fn, tasks)
    try:
        with _fork_context() as context:
            pool = context.Pool(min(jobs, len(tasks)))
        with pool:
            yield from pool.imap(_run_inherited, range(len(tasks)))
    finally:
        _INHERITED = None


def _run_inherited(i: int) -> Any:
    fn, tasks = _INHERITED
    return fn(*tasks[i])


class _Aside:
    """Work running beside this process (:func:`aside`)."""

    def __init__(self, fn: Callable[..., Any], args: tuple):
        self._value: tuple[bool, Any] | None = None
        self._process = None
        self._what = getattr(fn, "__name__", "the work")
        if not can_fork():
            self._value = _outcome(fn, args)
            return
        with _fork_context() as context:
            self._conn, child = context.Pipe(duplex=False)
            self._process = context.Process(target=_send_outcome, args=(child, fn, args),
                                            daemon=True)
            self._process.start()
        child.close()

    def result(self) -> Any:
        """What ``fn(*args)`` returned (waiting for it), or the exception it raised."""
        if self._value is None:
            try:
                self._value = self._conn.recv()
            except EOFError:   # it died (killed, out of memory) or its result would not pickle
                self._process.join()
                self._value = (False, RuntimeError(
                    f"the process running {self._what} ended without a result "
                    f"(exit code {self._process.exitcode})"))
            self._process.join()
        ok, value = self._value
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join()


@contextmanager
def aside(fn: Callable[..., Any], *args: Any) -> Iterator[_Aside]:
    """``fn(*args)`` in a forked process while the ``with`` block runs here; ``.result()``
    inside the block gives its value or raises its exception. Leaving the block early stops
    it. Where processes cannot be forked, ``fn`` runs here first."""
    work = _Aside(fn, args)
    try:
        yield work
    finally:
        work.stop()


def _outcome(fn: Callable[..., Any], args: tuple) -> tuple[bool, Any]:
    try:
        return True, fn(*args)
    except Exception as e:  # noqa: BLE001  (handed to the caller, who raises it)
        return False, e


def _send_outcome(conn, fn: Callable[..., Any], args: tuple) -> None:
    conn.send(_outcome(fn, args))
    conn.close()
