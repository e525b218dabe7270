"""Coding throughput at steady state: the default model against the tokenise-only floor,
both with warm worker processes.

``run_bench.py`` times each throughput row in a fresh process, so every row includes starting
its workers (imports, spaCy's tokenizer, the lemma table and, for a coder, the model): a few
seconds that weigh heavily on 100,000 segments and more on the coder than on the floor. Here
each measurement runs once untimed over the same segments in one process (workers started,
caches filled), then ``--rounds`` times timed, floor and coder taking turns so that a slower
or faster spell of the machine meets both: the rate a long run settles at. Each round's ratio
is coder / the same round's floor; the summary is their median (and range).

    .venv/bin/python bench/steady_state.py [--segments CSV] [--jobs 2] [--rounds 3]

Reads the throughput corpus of ``run_bench.py`` (made if missing), prints one line per
measurement and writes ``out/bench/steady_state.csv``.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segments", type=Path, default=None,
                    help="segments CSV (default: the 100,000 of the current demo, made if "
                    "missing, as run_bench.py makes them)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "steady_state.csv")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    if args.segments is None:
        from run_bench import throughput_segments

        args.segments = throughput_segments(ROOT / "out" / "bench" / "throughput", 100_000)
    if not args.segments.is_file():
        print(f"{args.segments}: not found; run `make bench` first (it writes the corpus)",
              file=sys.stderr)
        return 2

    import pandas as pd
    from joblib import Parallel, delayed
    from stage_driver import _floor_chunk

    from pipeline.coding.assign import load_coder, score_texts
    from pipeline.config import load_settings

    table = pd.read_csv(args.segments, dtype=str, keep_default_na=False)
    texts, contexts = table["text"].tolist(), table["context"].tolist()
    n = len(texts)
    spans = [(a, min(a + args.chunk, n)) for a in range(0, n, args.chunk)]

    def floor() -> None:
        list(Parallel(n_jobs=args.jobs, return_as="generator")(
            delayed(_floor_chunk)(texts[a:b]) for a, b in spans))

    settings = load_settings(None)
    coder, _ = load_coder(settings)

    def code() -> None:
        score_texts(coder, texts, contexts, jobs=args.jobs, chunk=args.chunk,
                    shown=settings.codebook.code_ids)   # as code_segments

    runs = (("floor: token_batch", floor), (f"score: {coder.name}", code))
    for _, run in runs:
        run()                                              # warm the workers and caches
    rows, ratios = [], []
    for round_ in range(1, args.rounds + 1):
        rates = []
        for what, run in runs:
            cpu0, t0 = _cpu(), time.perf_counter()
            run()
            wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
            rates.append(n / wall)
            rows.append({"what": what, "round": round_, "n": n, "jobs": args.jobs,
                         "wall_s": round(wall, 3), "segments_per_s": round(n / wall),
                         "ratio_to_floor": round(rates[-1] / rates[0], 3),
                         "load1": round(os.getloadavg()[0], 2)})
            print(f"round {round_}  {what:<28} {n / wall:>10,.0f} seg/s  ({wall:.2f} s wall, "
                  f"main cpu {cpu:.2f} s)")
        ratios.append(rates[1] / rates[0])
    print(f"steady-state coding / floor: median {statistics.median(ratios):.2f} over "
          f"{len(ratios)} rounds (range {min(ratios):.2f}-{max(ratios):.2f}; target >= 0.5)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return 0


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


if __name__ == "__main__":
    sys.exit(main())
