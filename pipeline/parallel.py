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
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["ordered_map", "aside", "can_fork", "collector_paused"]

_INHERITED: tuple[Callable[..., Any], list[tuple]] | None = None  # what forked workers read


def can_fork() -> bool:
    """Whether worker processes can be forked from this one: on Linux, and only while this
    process runs no other thread (a fork copies only the calling thread, and a lock another
    thread holds at that moment would stay locked in the child). They then start in
    milliseconds with everything this process has imported and loaded, instead of importing
    and loading it again (~2-4 s per worker for the coder)."""
    return (sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


def ordered_map(fn: Callable[..., Any], tasks: Iterable[tuple], jobs: int,
                inherit: bool = False) -> Iterator[Any]:
    """``fn(*task)`` for every task, lazily and in task order: over ``jobs`` worker processes
    when ``jobs > 1`` and there is more than one task, else in this process. Lazy, so callers
    can show progress as results arrive.

    Workers are joblib (loky) processes, which loky keeps between calls; ``fn`` and the tasks
    are pickled to them. With ``inherit`` (and :func:`can_fork`) the workers are forked from
    this process instead and read ``fn`` and the tasks from the memory they inherit: nothing
    is pickled but the results, and nothing is imported or loaded again. A worker that dies
    (killed, out of memory) stops the map with an error instead of leaving it waiting."""
    tasks = list(tasks)
    if jobs > 1 and len(tasks) > 1:
        if inherit and can_fork():
            return _forked_map(fn, tasks, jobs)
        from joblib import Parallel, delayed

        return Parallel(n_jobs=jobs, return_as="generator")(delayed(fn)(*t) for t in tasks)
    return (fn(*t) for t in tasks)


@contextmanager
def collector_paused() -> Iterator[Callable[[], None]]:
    """For a process that loads what it keeps to the end and then forks workers that use it
    (``pipeline code``): the garbage collector pauses while loading, as its passes over what
    is loaded free nothing (~0.5 s for the coder, spaCy and the input). The function yielded
    marks the end of loading: what exists is frozen, so that later passes, here and in the
    workers, skip it, and collecting resumes. On leaving, the collector is as it was (what
    was frozen here is unfrozen, unless the caller had frozen objects itself)."""
    collecting, frozen = gc.isenabled(), gc.get_freeze_count()
    gc.disable()

    def loaded() -> None:
        gc.freeze()
        if collecting:
            gc.enable()

    try:
        yield loaded
    finally:
        if not frozen:
            gc.unfreeze()
        if collecting:
            gc.enable()


@contextmanager
def _fork_context():
    """The fork context, with gc frozen while forking: objects made so far move out of the
    collector's view, so the children's collections do not touch (and copy) every page they
    share with this process (left alone when a caller has frozen objects itself)."""
    freeze = gc.get_freeze_count() == 0
    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork whenever the process has a second OS thread; ours
        # are the BLAS library's idle workers, which re-initialise themselves in a child
        warnings.filterwarnings("ignore", "This process .* is multi-threaded",
                                DeprecationWarning)
        if freeze:
            gc.freeze()
        try:
            yield multiprocessing.get_context("fork")
        finally:
            if freeze:
                gc.unfreeze()


def _forked_map(fn: Callable[..., Any], tasks: list[tuple], jobs: int) -> Iterator[Any]:
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    global _INHERITED
    _INHERITED = (fn, tasks)
    try:
        with _fork_context() as context:
            # with fork, the executor starts all its workers at the first submit (map submits
            # every task), here, while _INHERITED holds this map's work
            executor = ProcessPoolExecutor(min(jobs, len(tasks)), mp_context=context,
                                           initializer=_ignore_interrupt)
            results = executor.map(_run_inherited, range(len(tasks)))
    finally:
        _INHERITED = None
    try:
        yield from results
    except BrokenProcessPool:
        raise RuntimeError(f"a worker process running {getattr(fn, '__name__', fn)} "
                           "ended abruptly (killed, or out of memory?); fewer jobs or a "
                           "smaller input need less memory") from None
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _run_inherited(i: int) -> Any:
    fn, tasks = _INHERITED
    return fn(*tasks[i])


def _ignore_interrupt() -> None:
    """Ctrl-C reaches the whole process group: the parent stops its workers, which should
    not each print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Aside:
    """Work running beside this process (:func:`aside`)."""

    def __init__(self, fn: Callable[..., Any], args: tuple):
        self._fn, self._args = fn, args
        self._value: tuple[bool, Any] | None = None
        self._process = None
        if not can_fork():
            return   # runs here, in result()
        with _fork_context() as context:
            self._conn, child = context.Pipe(duplex=False)
            self._process = context.Process(target=_send_outcome,
                                            args=(self._conn, child, fn, args), daemon=True)
            self._process.start()
        child.close()

    def result(self) -> Any:
        """What ``fn(*args)`` returned (waiting for it), or the exception it raised. When the
        other process could not hand it back (it died, or the value or error would not pickle),
        ``fn`` runs again here, so the outcome is always the one running it here would give."""
        if self._value is None:
            if self._process is not None:
                try:
                    self._value = self._conn.recv()
                except Exception:  # noqa: BLE001  (EOF: it ended without a result; or unpickling)
                    self._value = None
                self._conn.close()
                self._process.join()
            if self._value is None or self._value[0] is None:
                self._value = _outcome(self._fn, self._args)
        ok, value = self._value
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._conn.close()


@contextmanager
def aside(fn: Callable[..., Any], *args: Any) -> Iterator[_Aside]:
    """``fn(*args)`` in a forked process while the ``with`` block runs here; ``.result()``
    inside the block gives its value or raises its exception. Leaving the block early stops
    it. Where processes cannot be forked, ``fn`` runs here, when ``.result()`` asks."""
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


def _send_outcome(reader, conn, fn: Callable[..., Any], args: tuple) -> None:
    reader.close()   # else a parent killed meanwhile leaves this one blocked in send for ever
    _ignore_interrupt()
    outcome = _outcome(fn, args)
    try:
        conn.send(outcome)
    except Exception:  # noqa: BLE001  (would not pickle: the parent runs fn itself)
        conn.send((None, None))
    conn.close()
