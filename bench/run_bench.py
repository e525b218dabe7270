"""Benchmarks at national scale: stage times and memory at 10/100/1,000 schools, and coder
throughput against the tokenise-only floor. ``make bench`` runs this with the defaults.

    python bench/run_bench.py                      # sizes 10,100,1000; 100,000 segments
    python bench/run_bench.py --sizes 10,100 --quick

What it measures (every measurement in a fresh subprocess; see bench/README.md):

* Cohorts of N schools made by ``bench/generate_cohort.py --schools N --seed S
  --respondent-paragraphs 160`` (1,000 schools: ~100k staff, ~1M nominations, ~500k
  segments), cached under ``<out>/cohorts/n<N>-s<S>-p<P>`` and made only when missing.
* Per size, each stage alone (``bench/stage_driver.py stage``: load, network, segment, code,
  profile, report; the inputs of a stage are the pickled outputs of the stage before it, so
  no stage is run twice) and end to end (``pipeline run COHORT --out DIR --jobs J``).
  ``--quick`` runs the stages in one driver process instead of one process each.
* Throughput on ``--segments`` segments (default 100,000; ``--quick``: 5,000): the demo
  corpus segmented (``pipeline segment data/demo``) and repeated with fresh ids. For the
  rule coder and every model backend found (models/default, models/spacy_textcat):
  ``pipeline code IN --out OUT [--model DIR | --rules] --jobs J`` (the whole command:
  start-up, reading, coding, writing) and the in-process ``score_texts(..., jobs=J)``.
  The floor is ``pipeline.nlp.token_batch`` (spaCy tokenizer + lemmas) over J processes in
  the coder's chunks, with spaCy's own ``nlp.pipe`` + lookup lemmatizer (n_process=J) for
  reference.

Wall time, CPU time (process and all descendants, joblib's workers included: on a machine
shared with other jobs, CPU seconds move less than wall seconds), peak RSS of the largest
process (``ru_maxrss`` from ``wait4``) and the peak of the summed RSS of the process tree
(sampled every 100 ms). The load average is recorded with every measurement.

Output: one table on the terminal and ``<out>/stages.csv``, ``<out>/throughput.csv``,
``<out>/targets.csv`` and ``<out>/machine.json`` (cpu count, load, python and packages).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from stage_driver import STAGES, TreeSampler  # noqa: E402

PY = sys.executable
BIN = Path(PY).parent
MB = 1024 * 1024
PACKAGES = ("sleutelfiguren", "numpy", "pandas", "scipy", "scikit-learn", "spacy",
            "spacy-lookups-data", "networkx", "matplotlib", "joblib", "skops")
STAGE_COLUMNS = ["size", "stage", "mode", "coder", "staff", "nominations", "segments",
                 "key_figures", "wall_s", "cpu_s", "peak_rss_mb", "peak_tree_mb", "maxrss_mb",
                 "load1", "rc", "cpu_count", "git", "python", "versions", "time"]
THROUGHPUT_COLUMNS = ["what", "backend", "how", "n", "jobs", "wall_s", "cpu_s",
                      "segments_per_s", "ratio_to_floor", "maxrss_mb", "peak_tree_mb", "load1",
                      "rc", "cpu_count", "git", "python", "versions", "time"]
TARGET_COLUMNS = ["target", "measured", "limit", "holds", "note"]


# ---------------------------------------------------------------------- machine
def versions() -> dict[str, str]:
    from pipeline.io import package_versions

    return {k: v for k, v in package_versions(PACKAGES).items() if k != "python"}


def machine_info() -> dict:
    return {"cpu_count": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "mem_total_mb": _meminfo_mb("MemTotal"), "platform": platform.platform(),
            "python": platform.python_version(), "packages": versions(), "git": _git(),
            "time": datetime.now(UTC).isoformat(timespec="seconds")}


def _git() -> str:
    """The commit measured, with ``+dirty`` when pipeline/ or configs/ have local changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "pipeline", "configs",
                                "models"], cwd=ROOT, text=True, capture_output=True).stdout
        return head + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "-"


def _meminfo_mb(key: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


# ---------------------------------------------------------------------- measuring
def measure(cmd: list[str], log: Path, timeout: float | None = None,
            interval: float = 0.1) -> dict:
    """Run ``cmd`` in a fresh process; wall time, CPU and peak memory of it and its children.

    ``maxrss_mb`` is ``ru_maxrss`` from ``wait4``: the largest single process of the tree
    (the child or any descendant it waited for). ``peak_tree_mb`` is the largest sampled sum
    of the RSS of the child and all its live descendants.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    load1 = os.getloadavg()[0]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log, "wb") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        with TreeSampler(proc.pid, interval) as sampler:
            deadline = t0 + timeout if timeout else None
            killed = False
            while True:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if deadline and time.perf_counter() > deadline and not killed:
                    _kill_tree(proc.pid)
                    killed = True
                time.sleep(0.02)
            wall = time.perf_counter() - t0
            peak = sampler.window()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if killed:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"\n[run_bench] killed after the --timeout of {timeout} s\n")
    return {"wall_s": round(wall, 2), "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
            "maxrss_mb": round(ru.ru_maxrss / 1024, 1), "peak_tree_mb": round(peak / MB, 1),
            "rc": proc.returncode, "load1": round((load1 + os.getloadavg()[0]) / 2, 2),
            "killed": killed}


def _kill_tree(pid: int) -> None:
    """Kill ``pid`` and its descendants (a timed-out measurement and its workers)."""
    import signal

    from stage_driver import descendants

    for p in [*descendants(pid), pid]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _tail(log: Path, n: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _check(res: dict, what: str, log: Path) -> bool:
    if res["rc"] != 0:
        print(f"  !! {what} failed (exit {res['rc']}), log {log}:\n{_tail(log)}", flush=True)
        return False
    return True


# ---------------------------------------------------------------------- cohorts
def cohort_dir(base: Path, n: int, seed: int, paragraphs: int) -> Path:
    return base / f"n{n}-s{seed}-p{paragraphs}"


def ensure_cohort(base: Path, n: int, seed: int, paragraphs: int) -> Path:
    """The cached cohort of ``n`` schools; generated (into a temporary folder, then renamed)
    only when missing."""
    folder = cohort_dir(base, n, seed, paragraphs)
    if (folder / "cohort.yaml").is_file():
        return folder
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"generating cohort {folder.name} ...", flush=True)
    t0 = time.perf_counter()
    import generate_cohort  # bench/ is on sys.path

    with contextlib.redirect_stdout(io.StringIO()):
        generate_cohort.main(["--schools", str(n), "--seed", str(seed),
                              "--respondent-paragraphs", str(paragraphs), "--out", str(tmp)])
    os.replace(tmp, folder)
    print(f"  made in {time.perf_counter() - t0:.1f} s", flush=True)
    return folder


def throughput_segments(out: Path, n: int) -> Path:
    """``n`` segments (id, text, context): the demo corpus segmented, repeated, fresh ids.
    Cached under a digest of what the segments depend on (the demo's transcripts and staff
    table, the settings, the segmenter), so a change to any of them segments it again."""
    import hashlib

    import pandas as pd

    digest = hashlib.sha256()
    sources = [*(ROOT / "data" / "demo" / "transcripts").rglob("*"),
               ROOT / "data" / "demo" / "staff.csv", *(ROOT / "configs").glob("*.yaml"),
               ROOT / "pipeline" / "segment.py", ROOT / "pipeline" / "privacy.py"]
    for f in sorted(sources):
        if f.is_file():
            digest.update(f.relative_to(ROOT).as_posix().encode() + f.read_bytes())
    tag = digest.hexdigest()[:10]
    path = out / f"segments_{n}_{tag}.csv"
    if path.is_file():
        return path
    out.mkdir(parents=True, exist_ok=True)
    demo = out / f"demo_segments_{tag}.csv"
    if not demo.is_file():
        subprocess.run([str(BIN / "pipeline"), "segment", "data/demo", "--out", str(demo)],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    base = pd.read_csv(demo, dtype=str, keep_default_na=False)
    reps = -(-n // len(base))
    table = pd.concat([base[["segment_id", "text", "context"]]] * reps, ignore_index=True)
    table = table.iloc[:n].copy()
    table.insert(0, "id", [f"{s}#{i // len(base)}" for i, s in enumerate(table["segment_id"])])
    table = table.drop(columns=["segment_id"])
    tmp = path.with_suffix(".tmp")
    table.to_csv(tmp, index=False, lineterminator="\n")
    os.replace(tmp, path)
    return path


def model_backends() -> list[tuple[str, Path | None]]:
    """(backend, model folder) of the rule coder and of every trained model found."""
    found: list[tuple[str, Path | None]] = [("rules", None)]
    try:
        from pipeline.config import load_settings

        default = Path(load_settings(None).model_dir)
    except Exception:  # noqa: BLE001 - a broken config shows up in the pipeline runs
        default = ROOT / "models" / "default"
    if (default / "model.skops").is_file() or (default / "nlp").is_dir():
        found.append(("default", default))
    spacy_dir = ROOT / "models" / "spacy_textcat"
    if spacy_dir.is_dir() and (spacy_dir / "model_card.json").is_file():
        found.append(("spacy_textcat", spacy_dir))
    return found


# ---------------------------------------------------------------------- runs
def bench_size(n: int, folder: Path, args: argparse.Namespace, common: dict) -> list[dict]:
    rows: list[dict] = []
    work = args.out / "work" / f"n{n}"
    shutil.rmtree(work, ignore_errors=True)
    cache, logs = work / "cache", args.out / "logs"
    driver = [PY, str(ROOT / "bench" / "stage_driver.py")]
    coder = ["--rules"] if args.rules else []
    counts: dict = {}

    def stage_row(stage: str, mode: str, rec: dict, outer: dict | None) -> dict:
        return {"size": n, "stage": stage, "mode": mode,
                "coder": "rules" if args.rules else "default model", **{k: counts.get(k) for k in
                ("staff", "nominations", "segments", "key_figures")},
                "wall_s": rec["wall_s"], "cpu_s": rec.get("cpu_s"),
                "peak_rss_mb": rec.get("peak_rss_mb"), "peak_tree_mb": rec.get("peak_tree_mb"),
                "maxrss_mb": outer["maxrss_mb"] if outer else None,
                "load1": outer["load1"] if outer else round(os.getloadavg()[0], 2),
                "rc": outer["rc"] if outer else 0, **common}

    if not args.skip_stages:
        if args.quick:
            js = work / "all.json"
            log = logs / f"n{n}_stages.log"
            res = measure(driver + ["all", str(folder), "--cache", str(cache), "--out",
                                    str(work / "report"), "--json", str(js),
                                    "--jobs", str(args.jobs)] + coder, log, args.timeout,
                          interval=1.0)
            if _check(res, f"stages n={n}", log):
                data = json.loads(js.read_text())
                counts.update(data["counts"])
                for stage in STAGES:
                    rows.append(stage_row(stage, "one process", data["stages"][stage], res))
        else:
            # above --breakdown-max schools only the cheap stages run alone (the network
            # target needs them); every stage is in the end-to-end run anyway
            for stage in STAGES if n <= args.breakdown_max else ["load", "network"]:
                js = work / f"{stage}.json"
                log = logs / f"n{n}_{stage}.log"
                res = measure(driver + ["stage", str(folder), "--stage", stage, "--cache",
                                        str(cache), "--out", str(work / "report"), "--json",
                                        str(js), "--jobs", str(args.jobs)] + coder, log,
                              args.timeout, interval=1.0)
                if not _check(res, f"stage {stage} n={n}", log):
                    break
                data = json.loads(js.read_text())
                counts.update(data["counts"])
                rows.append(stage_row(stage, "own process", data["stages"][stage], res))
                print(f"  n={n:<5} {stage:<8} {rows[-1]['wall_s']:8.2f} s  "
                      f"cpu {rows[-1]['cpu_s']:8.2f} s  tree {rows[-1]['peak_tree_mb']:7.0f} MB"
                      f"  load {res['load1']}", flush=True)
        shutil.rmtree(cache, ignore_errors=True)
    # end to end: the real command
    log = logs / f"n{n}_run.log"
    res = measure([str(BIN / "pipeline"), "run", str(folder), "--out", str(work / "run"),
                   "--jobs", str(args.jobs)] + coder, log, args.timeout)
    if res["killed"]:
        print(f"  !! pipeline run n={n} killed after --timeout {args.timeout} s", flush=True)
        rows.append({**stage_row("end_to_end", "pipeline run (killed at --timeout)", res, res),
                     "peak_rss_mb": res["maxrss_mb"], "peak_tree_mb": res["peak_tree_mb"]})
    elif _check(res, f"pipeline run n={n}", log):
        manifest = json.loads((work / "run" / "manifest.json").read_text())
        counts.update(manifest.get("counts", {}))
        rows.append({**stage_row("end_to_end", "pipeline run", res, res),
                     "peak_rss_mb": res["maxrss_mb"], "peak_tree_mb": res["peak_tree_mb"]})
        print(f"  n={n:<5} {'run':<8} {res['wall_s']:8.2f} s  cpu {res['cpu_s']:8.2f} s  "
              f"tree {res['peak_tree_mb']:7.0f} MB  load {res['load1']}", flush=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def bench_throughput(args: argparse.Namespace, common: dict) -> list[dict]:
    n = args.segments
    tdir = args.out / "throughput"
    segs = throughput_segments(tdir, n)
    logs = args.out / "logs"
    driver = [PY, str(ROOT / "bench" / "stage_driver.py"), "throughput", str(segs),
              "--jobs", str(args.jobs)]
    rows: list[dict] = []

    def inproc(what: str, backend: str, how: str, extra: list[str]) -> dict | None:
        js = tdir / f"{backend}_{what}.json"
        log = logs / f"throughput_{backend}_{what}.log"
        res = measure(driver + ["--what", what, "--json", str(js)] + extra, log, args.timeout)
        if not _check(res, f"throughput {backend} {what}", log):
            return None
        data = json.loads(js.read_text())
        row = {"what": what, "backend": backend, "how": how, "n": data["n"], "jobs": args.jobs,
               "wall_s": data["wall_s"], "cpu_s": data["cpu_s"],
               "segments_per_s": data["per_s"], "maxrss_mb": res["maxrss_mb"],
               "peak_tree_mb": res["peak_tree_mb"], "load1": res["load1"], "rc": 0, **common}
        rows.append(row)
        print(f"  {backend:<14} {what:<6} {row['segments_per_s']:>10,.0f} seg/s  "
              f"({row['wall_s']} s, cpu {row['cpu_s']} s, load {row['load1']})", flush=True)
        return row

    floor = inproc("floor", "token_batch", "pipeline.nlp.token_batch, "
                   f"{args.jobs} processes, chunks of 5000", [])
    ref = min(n, args.reference_segments)
    inproc("spacy_pipe", "spacy_nlp_pipe",
           f"spaCy nlp.pipe + lookup lemmatizer, n_process={args.jobs}, first {ref:,} "
           "segments (reference)", ["--limit", str(ref)])
    for backend, folder in model_backends():
        sel = ["--rules"] if folder is None else ["--model", str(folder)]
        # the targets concern the default model; slower backends get a sample (rates only)
        m = n if backend in ("rules", "default") else ref
        part = "" if m == n else f", first {m:,} segments"
        inproc("score", backend, f"score_texts(jobs={args.jobs}) in process{part}",
               sel + ["--limit", str(m)])
        out_csv = tdir / f"coded_{backend}.csv"
        log = logs / f"throughput_{backend}_cli.log"
        res = measure([str(BIN / "pipeline"), "code", str(throughput_segments(tdir, m)), "--out",
                       str(out_csv), "--jobs", str(args.jobs)] + sel, log, args.timeout)
        if _check(res, f"pipeline code {backend}", log):
            rows.append({"what": "cli", "backend": backend,
                         "how": f"pipeline code IN --out OUT (whole command){part}", "n": m,
                         "jobs": args.jobs, "wall_s": res["wall_s"], "cpu_s": res["cpu_s"],
                         "segments_per_s": round(m / res["wall_s"], 1),
                         "maxrss_mb": res["maxrss_mb"], "peak_tree_mb": res["peak_tree_mb"],
                         "load1": res["load1"], "rc": 0, **common})
            print(f"  {backend:<14} cli    {rows[-1]['segments_per_s']:>10,.0f} seg/s  "
                  f"({res['wall_s']} s, cpu {res['cpu_s']} s, load {res['load1']})", flush=True)
        out_csv.unlink(missing_ok=True)
    if floor:
        for row in rows:
            if row["what"] in ("score", "cli", "spacy_pipe"):
                row["ratio_to_floor"] = round(row["segments_per_s"] / floor["segments_per_s"], 3)
        floor["ratio_to_floor"] = 1.0
    return rows


# ---------------------------------------------------------------------- targets
def _find(rows: list[dict], **kw) -> dict | None:
    for row in rows:
        if all(row.get(k) == v for k, v in kw.items()):
            return row
    return None


def targets(stages: list[dict], thr: list[dict]) -> list[dict]:
    """The issue's targets, each with what was measured and whether it holds (``holds``
    None: not measured in this run)."""
    out = []

    def add(name: str, measured, limit: str, holds, note: str = "") -> None:
        out.append({"target": name, "measured": measured, "limit": limit,
                    "holds": None if measured is None or holds is None else bool(holds),
                    "note": note})

    e2e = {r["size"]: r for r in stages if r["stage"] == "end_to_end"}
    r = e2e.get(1000)
    killed = bool(r and r.get("rc") not in (0, "0", None))
    add("end to end, 1,000 schools: wall", r and r["wall_s"], "<= 300 s",
        r and r["wall_s"] <= 300 and not killed,
        r and (f"cpu {r['cpu_s']} s, load {r['load1']}"
               + (" (killed at --timeout: at least this long)" if killed else "")) or "")
    add("end to end, 1,000 schools: peak RSS (process tree)", r and r["peak_tree_mb"],
        "<= 4096 MB", (r["peak_tree_mb"] <= 4096 if not killed or r["peak_tree_mb"] > 4096
                       else None) if r else None,
        r and f"largest single process {r['maxrss_mb']} MB" or "")
    if 1000 in e2e and 100 in e2e and not killed:
        ratio = round(e2e[1000]["wall_s"] / e2e[100]["wall_s"], 2)
        note = (f"CPU-time ratio {e2e[1000]['cpu_s'] / e2e[100]['cpu_s']:.2f}"
                if e2e[100].get("cpu_s") else "")
        add("t(1000) / t(100), end to end", ratio, "<= 12", ratio <= 12, note)
    else:
        add("t(1000) / t(100), end to end", None, "<= 12", None, "needs sizes 100 and 1000")
    net = _find(stages, size=1000, stage="network")
    add("network stage, 1,000 schools", net and net["wall_s"], "< 30 s",
        net and net["wall_s"] < 30, net and f"cpu {net['cpu_s']} s, load {net['load1']}" or "")
    floor = _find(thr, what="floor")
    score = _find(thr, what="score", backend="default")
    ratio = score and floor and score.get("ratio_to_floor")
    add("default model coding / tokenise-only floor (in process)", ratio, ">= 0.5",
        ratio is not None and ratio >= 0.5,
        f"{score['segments_per_s']:,.0f} vs {floor['segments_per_s']:,.0f} seg/s"
        if ratio is not None else "needs the default model")
    cli = _find(thr, what="cli", backend="default")
    note = ""
    if cli:
        note = f"{cli['n']:,} segments in {cli['wall_s']} s, load {cli['load1']}"
        if cli["n"] < 100000:
            note += " (fewer than the 100,000 of the target)"
    add("pipeline code, default model, 100,000 segments", cli and cli["segments_per_s"],
        ">= 10,000 seg/s", cli and cli["segments_per_s"] >= 10000 and cli["n"] >= 100000, note)
    return out


# ---------------------------------------------------------------------- output
def _fmt(x, digits: int = 1) -> str:
    if x is None or x == "":
        return "–"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def print_table(stages: list[dict], thr: list[dict], tgt: list[dict], info: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"sleutelfiguren bench: {info['cpu_count']} CPUs, python {info['python']}, "
                    f"load at start {info['loadavg']}", title_justify="left")
    for name, just in (("what", "left"), ("size / n", "right"), ("wall s", "right"),
                       ("cpu s", "right"), ("seg/s", "right"), ("peak MB (main|tree)", "right"),
                       ("load", "right"), ("note", "left")):
        t.add_column(name, justify=just)
    sizes = sorted({r["size"] for r in stages})
    for n in sizes:
        for r in (r for r in stages if r["size"] == n):
            seg_s = (r["segments"] / r["wall_s"] if r["stage"] in ("segment", "code",
                     "end_to_end") and r.get("segments") and r["wall_s"] else None)
            note = ""
            if r["stage"] == "end_to_end":
                note = (f"{_fmt(r['staff'])} staff, {_fmt(r['nominations'])} nominations, "
                        f"{_fmt(r['segments'])} segments")
            t.add_row(f"{r['stage']}", _fmt(n), _fmt(r["wall_s"], 2), _fmt(r["cpu_s"], 1),
                      _fmt(seg_s, 0), f"{_fmt(r['peak_rss_mb'], 0)} | "
                      f"{_fmt(r['peak_tree_mb'], 0)}", _fmt(r["load1"], 1), note,
                      end_section=r is [x for x in stages if x["size"] == n][-1])
    for r in thr:
        ratio = r.get("ratio_to_floor")
        t.add_row(f"{r['what']}: {r['backend']}", _fmt(r["n"]), _fmt(r["wall_s"], 2),
                  _fmt(r["cpu_s"], 1), _fmt(r["segments_per_s"], 0),
                  f"{_fmt(r['maxrss_mb'], 0)} | {_fmt(r['peak_tree_mb'], 0)}",
                  _fmt(r["load1"], 1),
                  r["how"] + (f"; {ratio:.2f} x floor" if ratio and r["what"] != "floor" else ""),
                  end_section=r is thr[-1])
    for r in tgt:
        mark = {True: "[green]holds[/]", False: "[red]MISSED[/]", None: "[yellow]not measured[/]"}
        t.add_row(f"target: {r['target']}", "", _fmt(r["measured"], 2), "", "", "", "",
                  f"{mark[r['holds']]} ({r['limit']}) {r['note'] or ''}")
    Console(width=max(160, shutil.get_terminal_size().columns)).print(t)


def write_csv(rows: list[dict], columns: list[str], path: Path) -> None:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: ("" if r.get(c) is None else r.get(c)) for c in columns})
    os.replace(tmp, path)


def _save_rows(path: Path, rows: list[dict]) -> None:
    if rows and all(r.get("rc") == 0 for r in rows):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


def _resumed(path: Path, resume: bool) -> list[dict] | None:
    if resume and path.is_file():
        print(f"  --resume: measurements from {path}", flush=True)
        return json.loads(path.read_text(encoding="utf-8"))
    return None


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10,100,1000", help="schools per cohort, comma-separated")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--respondent-paragraphs", type=int, default=160)
    ap.add_argument("--segments", type=int, default=None,
                    help="segments for the throughput runs (default 100,000; --quick: 5,000)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true",
                    help="stages in one process per size, 5,000 throughput segments")
    ap.add_argument("--rules", action="store_true", help="stages and runs with the rule coder")
    ap.add_argument("--skip-stages", action="store_true", help="only end to end per size")
    ap.add_argument("--breakdown-max", type=int, default=100,
                    help="run every stage alone up to this many schools; above it only load "
                         "and network (default 100; 1000 for the full breakdown everywhere)")
    ap.add_argument("--reference-segments", type=int, default=20000,
                    help="segments for the spaCy nlp.pipe reference (default 20,000)")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the run outputs under OUT/work")
    ap.add_argument("--timeout", type=float, default=3600,
                    help="seconds after which one measurement is killed (default 3600)")
    ap.add_argument("--resume", action="store_true",
                    help="reuse the measurements of an earlier run (OUT/results/*.json) "
                         "with the same sizes, seed, jobs and coder instead of measuring again")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench")
    ap.add_argument("--cohorts", type=Path, default=None,
                    help="cache of generated cohorts (default OUT/cohorts)")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    if args.segments is None:
        args.segments = 5000 if args.quick else 100000
    args.out = args.out.resolve()
    cohorts = (args.cohorts or args.out / "cohorts").resolve()
    started = time.perf_counter()
    info = machine_info()
    common = {"cpu_count": info["cpu_count"], "python": info["python"], "git": info["git"],
              "versions": " ".join(f"{k}={v}" for k, v in info["packages"].items()),
              "time": info["time"]}
    print(f"bench: sizes {sizes}, {args.segments:,} throughput segments, jobs {args.jobs}, "
          f"{info['cpu_count']} CPUs, load {info['loadavg']}", flush=True)
    if not args.rules and len(model_backends()) == 1:
        print("  no trained default model found (make train): stages run with the rule coder",
              flush=True)
        args.rules = True
    results = args.out / "results"
    stages: list[dict] = []
    for n in sizes:
        key = (f"stages_n{n}-s{args.seed}-p{args.respondent_paragraphs}-j{args.jobs}"
               f"{'-rules' if args.rules else ''}")
        mode = "quick" if args.quick else "all" if n <= args.breakdown_max else "partial"
        # a full breakdown also serves a request for less
        rows = None
        for m in {"all": ["all"], "partial": ["partial", "all"], "quick": ["quick", "all"]}[mode]:
            rows = rows or _resumed(results / f"{key}-{m}.json", args.resume)
        if rows is None:
            folder = ensure_cohort(cohorts, n, args.seed, args.respondent_paragraphs)
            rows = bench_size(n, folder, args, common)
            _save_rows(results / f"{key}-{mode}.json", rows)
        stages += rows
    thr = []
    if not args.skip_throughput:
        key = f"throughput_n{args.segments}-j{args.jobs}"
        thr = _resumed(results / f"{key}.json", args.resume)
        if thr is None:
            thr = bench_throughput(args, common)
            _save_rows(results / f"{key}.json", thr)
    tgt = targets(stages, thr)
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    info["bench_wall_s"] = round(time.perf_counter() - started, 1)
    info["args"] = {k: str(v) for k, v in vars(args).items()}
    write_csv(stages, STAGE_COLUMNS, args.out / "stages.csv")
    write_csv(thr, THROUGHPUT_COLUMNS, args.out / "throughput.csv")
    write_csv(tgt, TARGET_COLUMNS, args.out / "targets.csv")
    (args.out / "machine.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    print_table(stages, thr, tgt, info)
    print(f"bench took {info['bench_wall_s']} s; CSVs in {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
