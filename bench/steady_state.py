"""Coding throughput at steady state: the default model against the tokenise-only floor,
both with warm worker processes.

``run_bench.py`` times each throughput row in a fresh process, so every row includes starting
its workers (imports, spaCy's tokenizer, the lemma table and, for a coder, the model): a few
seconds that weigh heavily on 100,000 segments and more on the coder than on the floor. Here
each measurement runs twice over the same segments in one process, and only the second pass
(same joblib workers, caches filled) is timed: the rate a long run settles at.

    .venv/bin/python bench/steady_state.py [--segments CSV] [--jobs 2]

Reads the throughput corpus of ``run_bench.py`` (made by ``make bench``), prints one line per
measurement and writes ``out/bench/steady_state.csv``.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segments", type=Path,
                    default=ROOT / "out" / "bench" / "throughput" / "segments_100000.csv")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "steady_state.csv")
    args = ap.parse_args(argv)
    if not args.segments.is_file():
        print(f"{args.segments}: not found; run `make bench` first (it writes the corpus)",
              file=sys.stderr)
        return 2

    import pandas as pd
    from joblib import Parallel, delayed
    from stage_driver import _floor_chunk

    from pipeline.coding.assign import score_texts
    from pipeline.config import load_settings
    from pipeline.run import load_coder

    table = pd.read_csv(args.segments, dtype=str, keep_default_na=False)
    texts, contexts = table["text"].tolist(), table["context"].tolist()
    n = len(texts)
    spans = [(a, min(a + args.chunk, n)) for a in range(0, n, args.chunk)]

    def floor() -> None:
        list(Parallel(n_jobs=args.jobs, return_as="generator")(
            delayed(_floor_chunk)(texts[a:b]) for a, b in spans))

    coder, _ = load_coder(load_settings(None))

    def code() -> None:
        score_texts(coder, texts, contexts, jobs=args.jobs, chunk=args.chunk)

    rows = []
    for what, run in (("floor: token_batch", floor), (f"score: {coder.name}", code)):
        run()                                              # warm the workers and caches
        cpu0, t0 = _cpu(), time.perf_counter()
        run()
        wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
        rows.append({"what": what, "n": n, "jobs": args.jobs, "wall_s": round(wall, 3),
                     "segments_per_s": round(n / wall), "load1": round(os.getloadavg()[0], 2)})
        print(f"{what:<28} {n / wall:>10,.0f} seg/s  ({wall:.2f} s wall, main cpu {cpu:.2f} s)")
    ratio = rows[1]["segments_per_s"] / rows[0]["segments_per_s"]
    for r in rows:
        r["ratio_to_floor"] = round(r["segments_per_s"] / rows[0]["segments_per_s"], 3)
    print(f"steady-state coding / floor: {ratio:.2f} (target >= 0.5)")
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
