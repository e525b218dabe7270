"""Run pipeline stages (or one throughput measurement) in this process and time them.

Called by ``bench/run_bench.py``, once per measurement, in a fresh subprocess, so that every
measurement starts from a cold process and its memory can be read on its own. Results are
one JSON object written to ``--json``.

    # one stage alone: its inputs come from the pickles the stage before it left in CACHE
    python bench/stage_driver.py stage COHORT --stage code --cache CACHE --json R.json --jobs 2
    # every stage, in order, in this one process (each stage timed on its own); --save also
    # leaves every stage's output in CACHE, so any stage can then be rerun (or profiled) alone
    python bench/stage_driver.py all COHORT --cache CACHE --save --json R.json --jobs 2
    python bench/stage_driver.py stage COHORT --stage report --cache CACHE --json R.json \\
        --pyinstrument out/bench/profiles
    # throughput: segments/s of one coder, or of the tokenise-only floor, on a segments CSV
    python bench/stage_driver.py throughput SEGMENTS.csv --what score --model DIR --json R.json

Stages (the wiring of :func:`pipeline.run.run_cohort` and ``pipeline run``, stage by stage):

=========  =======================================================================
load       ``io.load_cohort``: staff, nominations, transcript list (validated)
network    ``run.run_network``: nomination checks, person/school metrics, key figures
segment    ``run.run_segments``: read transcripts, segment, pseudonymise (``--jobs``)
code       ``coding.assign.load_coder`` + ``coding.assign.code_segments`` over ``--jobs`` processes
profile    ``profile.person_codes`` + ``person_features`` + ``assign_profiles``
report     ``report.write_run`` (tables, sociograms and graphs over ``--jobs``, report) + manifest
=========  =======================================================================

Memory: before each stage the process's peak RSS (``VmHWM``) is reset through
``/proc/self/clear_refs`` (Linux), so ``peak_rss_mb`` is the main process's own peak during
that stage (it includes what the earlier stages' tables hold, as in a real run). A sampler
thread sums the RSS of this process and all its descendants (joblib's worker processes)
every 100 ms: ``peak_tree_mb`` is the largest sum seen during the stage.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STAGES = ["load", "network", "segment", "code", "profile", "report"]
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


# ---------------------------------------------------------------------- memory
def _parents() -> dict[int, list[int]]:
    """parent pid -> child pids, from one scan of ``/proc/<pid>/stat`` (the per-task
    ``children`` files are not reliable while the children run)."""
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(name))
    return kids


def descendants(pid: int) -> list[int]:
    """``pid``'s live descendants (not ``pid`` itself)."""
    kids = _parents()
    seen, todo = [], list(kids.get(pid, []))
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += kids.get(p, [])
    return seen


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (``/proc/<pid>/stat``)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def own_cpu() -> float:
    """CPU seconds of this process and its reaped children."""
    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def cpu_mark() -> tuple[float, dict[int, float]]:
    return own_cpu(), {p: cpu_seconds(p) for p in descendants(os.getpid())}


def cpu_since(mark: tuple[float, dict[int, float]]) -> float:
    """CPU seconds used by this process and its descendants (live or reaped) since ``mark``."""
    own0, kids0 = mark
    return own_cpu() - own0 + sum(cpu_seconds(p) - kids0.get(p, 0.0)
                                  for p in descendants(os.getpid()))


def tree_rss(pid: int) -> int:
    return rss_bytes(pid) + sum(rss_bytes(p) for p in descendants(pid))


class TreeSampler:
    """Samples the summed RSS of ``pid`` and its descendants every ``interval`` seconds;
    :meth:`window` returns the peak since the last call and starts a new window."""

    def __init__(self, pid: int | None = None, interval: float = 0.1) -> None:
        self.pid = pid or os.getpid()
        self.interval = interval
        self._peak = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> int:
        now = tree_rss(self.pid)
        with self._lock:
            self._peak = max(self._peak, now)
        return now

    def window(self) -> int:
        self.sample()
        with self._lock:
            peak, self._peak = self._peak, 0
        return peak

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def reset_peak() -> bool:
    """Reset this process's VmHWM (peak RSS) to its current RSS; False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def measured(name: str, fn: Callable[[], object], sampler: TreeSampler,
             record: dict) -> object:
    """Run ``fn`` once, store wall time and memory of this stage under ``record[name]``."""
    import gc

    gc.collect()
    reset_ok = reset_peak()
    sampler.window()
    rss0 = rss_bytes(os.getpid())
    mark = cpu_mark()
    t0 = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t0
    cpu = cpu_since(mark)
    kids = descendants(os.getpid())
    record[name] = {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 2),
        "rss_start_mb": round(rss0 / MB, 1),
        "peak_rss_mb": round(status_kb(os.getpid(), "VmHWM") / 1024, 1) if reset_ok else None,
        "peak_tree_mb": round(sampler.window() / MB, 1),
        "children": len(kids),
        "children_peak_mb": round(sum(status_kb(p, "VmHWM") for p in kids) / 1024, 1),
    }
    return result


# ---------------------------------------------------------------------- stages
def _dump(cache: Path, name: str, obj: object) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{name}.pkl.tmp"
    with open(tmp, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, cache / f"{name}.pkl")


def _load(cache: Path, name: str) -> object:
    path = cache / f"{name}.pkl"
    if not path.is_file():
        raise SystemExit(f"{path} missing: run the stages before this one first")
    with open(path, "rb") as fh:
        return pickle.load(fh)


class Stages:
    """The pipeline's stages, one method each, with their tables kept on ``self``."""

    def __init__(self, cohort_dir: Path, out: Path, jobs: int, model: Path | None,
                 rules: bool) -> None:
        import pipeline.coding.assign
        import pipeline.profile
        import pipeline.report
        import pipeline.run  # noqa: F401  (imports are not part of any stage's time)
        from pipeline.config import load_settings

        self.cohort_dir, self.out, self.jobs = cohort_dir, out, jobs
        self.model, self.rules = model, rules
        self.settings = load_settings(None)
        self.cohort = self.net = self.segments = self.coded = None
        self.codes = self.features = self.profiles = None
        self.coder_name, self.card = "", {}
        self.counts: dict[str, int] = {}

    # inputs and outputs of each stage, for running a stage alone from the cache
    NEEDS = {"load": [], "network": ["cohort"], "segment": ["cohort"],
             "code": ["segments"], "profile": ["cohort", "net", "coded"],
             "report": ["cohort", "net", "coded", "codes", "features", "profiles", "coder"]}
    MAKES = {"load": ["cohort"], "network": ["net"], "segment": ["segments"],
             "code": ["coded", "coder"], "profile": ["codes", "features", "profiles"],
             "report": []}

    def restore(self, cache: Path, stage: str) -> None:
        for name in self.NEEDS[stage]:
            if name == "coder":
                self.coder_name, self.card = _load(cache, name)
            else:
                setattr(self, name, _load(cache, name))

    def save(self, cache: Path, stage: str) -> None:
        for name in self.MAKES[stage]:
            _dump(cache, name, (self.coder_name, self.card) if name == "coder"
                  else getattr(self, name))

    def load(self) -> None:
        from pipeline import io

        self.cohort = io.load_cohort(self.cohort_dir)
        self.counts.update(staff=len(self.cohort.staff),
                           nominations=len(self.cohort.nominations),
                           transcripts=len(self.cohort.transcripts))

    def network(self) -> None:
        from pipeline.run import run_network

        self.net = run_network(self.cohort, self.settings)
        self.counts.update(key_figures=len(self.net.key_figures))

    def segment(self) -> None:
        from pipeline.run import run_segments

        self.segments = run_segments(self.cohort, self.settings, jobs=self.jobs)
        self.counts.update(segments=len(self.segments))

    def code(self) -> None:
        from pipeline.coding.assign import code_segments, load_coder

        coder, self.card = load_coder(self.settings, self.model, rules=self.rules)
        self.coder_name = coder.name
        self.coded = code_segments(self.segments, coder, self.settings.codebook, jobs=self.jobs)
        self.counts.update(segments=len(self.coded))

    def profile(self) -> None:
        from pipeline.profile import assign_profiles, person_codes, person_features

        s = self.settings
        self.codes = person_codes(self.coded, s.codebook, s.pipeline.coding.min_segments_per_kind)
        self.features = person_features(self.net.key_figures, self.net.metrics, self.codes,
                                        s.codebook, s.pipeline.network.tie_scope,
                                        s.profiles.min_segments_for_category)
        self.profiles = assign_profiles(self.features, s.profiles, s.codebook)
        self.counts.update(key_figures=len(self.profiles))

    def report(self) -> None:
        from datetime import UTC, datetime

        from pipeline import io, report
        from pipeline.run import RunResult, network_notes, unprofiled_notes, untranscribed_notes

        started = datetime.now(UTC)
        warnings = (network_notes(self.cohort, self.net)
                    + unprofiled_notes(self.net, self.coded, self.settings.pipeline.network)
                    + untranscribed_notes(self.net.key_figures, self.coded)
                    + self.profiles.attrs.get("notes", []))
        result = RunResult(self.net, self.coded, self.codes, self.features, self.profiles,
                           self.coder_name, self.card, warnings)
        s = self.settings
        with io.staged_output(self.out) as stage:
            report.write_run(stage, result, self.cohort, s, jobs=self.jobs)
            manifest = io.build_manifest(
                command=["bench/stage_driver.py", "report"],
                config=s.pipeline.model_dump(mode="json"), config_files=s.files,
                inputs=self.cohort.read_files, input_root=self.cohort.root, outputs=stage,
                started=started, extra={"coder": self.coder_name, "bench": True})
            io.write_manifest(stage / "manifest.json", manifest)


def profiled(fn: Callable[[], object], path: Path) -> Callable[[], object]:
    """``fn`` run under pyinstrument (``pip install pyinstrument``); text profile to ``path``."""
    from pyinstrument import Profiler

    def run() -> object:
        prof = Profiler(interval=0.005)
        prof.start()
        try:
            return fn()
        finally:
            prof.stop()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(prof.output_text(unicode=True, show_all=False), encoding="utf-8")

    return run


def run_stages(args: argparse.Namespace, names: list[str], cache_in: bool, save: bool) -> dict:
    st = Stages(args.cohort, args.out, args.jobs, args.model, args.rules)
    record: dict[str, dict] = {}
    with TreeSampler() as sampler:
        if cache_in:
            st.restore(args.cache, names[0])
        for name in names:
            fn = getattr(st, name)
            if args.pyinstrument:
                fn = profiled(fn, args.pyinstrument / f"{name}.txt")
            measured(name, fn, sampler, record)
            if args.cache and save and name != "report":
                st.save(args.cache, name)
    return {"stages": record, "counts": st.counts, "coder": st.coder_name}


# ---------------------------------------------------------------------- throughput
def _floor_chunk(texts: list[str]) -> int:
    from pipeline.nlp import token_batch

    return len(token_batch(texts).types)


def _spacy_lookup_nlp():
    """spaCy's own pipeline for the reference: blank nl + the built-in lookup lemmatizer."""
    import spacy

    nlp = spacy.blank("nl")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    return nlp


def throughput(args: argparse.Namespace) -> dict:
    """Segments/s of one thing on the texts (and contexts) of ``args.segments``."""
    import pandas as pd

    table = pd.read_csv(args.segments, dtype=str, keep_default_na=False)
    if args.limit:
        table = table.iloc[:args.limit]
    texts = table["text"].tolist()
    contexts = table["context"].tolist() if "context" in table.columns else None
    n, jobs, chunk = len(texts), args.jobs, args.chunk
    spans = [(i, min(i + chunk, n)) for i in range(0, n, chunk)]
    detail: dict = {}
    mark = None
    if args.what == "floor":
        from joblib import Parallel, delayed

        mark, t0 = cpu_mark(), time.perf_counter()
        if jobs > 1:
            tokens = sum(Parallel(n_jobs=jobs, return_as="generator")(
                delayed(_floor_chunk)(texts[a:b]) for a, b in spans))
        else:
            tokens = sum(_floor_chunk(texts[a:b]) for a, b in spans)
        wall = time.perf_counter() - t0
        detail["tokens"] = tokens
    elif args.what == "spacy_pipe":
        nlp = _spacy_lookup_nlp()
        mark, t0 = cpu_mark(), time.perf_counter()
        tokens = 0
        for doc in nlp.pipe(texts, batch_size=1000, n_process=jobs):
            tokens += sum(1 for t in doc if not (t.is_punct or t.is_space))
        wall = time.perf_counter() - t0
        detail["tokens"] = tokens
    elif args.what == "score":
        from pipeline.coding.assign import load_coder, score_texts
        from pipeline.config import load_settings

        settings = load_settings(None)
        coder, card = load_coder(settings, args.model, rules=args.rules)
        detail["coder"] = coder.name
        mark, t0 = cpu_mark(), time.perf_counter()
        scores, _ = score_texts(coder, texts, contexts, jobs=jobs, chunk=chunk,
                                shown=settings.codebook.code_ids)   # as code_segments
        wall = time.perf_counter() - t0
        assert len(scores) == n
    else:
        raise SystemExit(f"unknown --what {args.what}")
    cpu = cpu_since(mark)
    return {"n": n, "wall_s": round(wall, 3), "cpu_s": round(cpu, 2),
            "per_s": round(n / wall, 1) if wall else None, **detail}


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for cmd in ("stage", "all"):
        p = sub.add_parser(cmd)
        p.add_argument("cohort", type=Path)
        if cmd == "stage":
            p.add_argument("--stage", choices=STAGES, required=True)
        p.add_argument("--stages", default=",".join(STAGES) if cmd == "all" else None,
                       help="(all) comma-separated stages to run, in order")
        p.add_argument("--cache", type=Path, default=None,
                       help="folder for the stages' tables (pickles) between processes")
        p.add_argument("--save", action="store_true", help="(all) also write the cache")
        p.add_argument("--out", type=Path, default=None, help="report output folder")
        p.add_argument("--pyinstrument", type=Path, default=None, metavar="DIR",
                       help="profile each stage with pyinstrument into DIR/<stage>.txt")
    p = sub.add_parser("throughput")
    p.add_argument("segments", type=Path, help="CSV with id, text (and context)")
    p.add_argument("--what", choices=["floor", "spacy_pipe", "score"], required=True)
    p.add_argument("--chunk", type=int, default=5000, help="segments per task (as score_texts)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N segments")
    for p in sub.choices.values():
        p.add_argument("--jobs", type=int, default=2)
        p.add_argument("--model", type=Path, default=None)
        p.add_argument("--rules", action="store_true")
        p.add_argument("--json", type=Path, required=True, help="write the result here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.cmd == "throughput":
        result = throughput(args)
    else:
        if args.out is None:
            args.out = (args.cache or Path("out/bench/tmp")) / "report"
        if args.cmd == "stage":
            if args.cache is None:
                ap.error("stage needs --cache")
            names, cache_in = [args.stage], args.stage != "load"
        else:
            names, cache_in = [s.strip() for s in args.stages.split(",") if s.strip()], False
        result = run_stages(args, names, cache_in, args.cmd == "stage" or args.save)
    self_ru = resource.getrusage(resource.RUSAGE_SELF)
    result.update(process_wall_s=round(time.perf_counter() - t0, 3),
                  self_maxrss_mb=round(self_ru.ru_maxrss / 1024, 1),
                  process_cpu_s=round(self_ru.ru_utime + self_ru.ru_stime, 2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
