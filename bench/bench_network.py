"""Benchmark the network stage on a large synthetic cohort, generated in memory.

1,000 schools (seeded) of 60-140 staff; every respondent nominates about 10 colleagues
(Poisson), with a preference for colleagues in their own PLG, strengths on a 1-5 scale and
~10% non-respondents. Prints the wall time of ``person_metrics`` and ``school_metrics``
(and, for information, ``check_nominations`` and ``key_figures``).

Usage: ``python bench/bench_network.py [--schools N] [--seed S]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import network  # noqa: E402
from pipeline.config import KeyFigureConfig, NetworkConfig  # noqa: E402
from pipeline.io import CohortMeta  # noqa: E402

ROLES = np.array(["teacher", "teacher", "teacher", "team_leader", "school_leader", "support"])


def generate(schools: int = 1000, seed: int = 20220103, mean_out: float = 10.0
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A random cohort: (staff, nominations), in the io.py table formats."""
    rng = np.random.default_rng(seed)
    staff_parts, nom_parts = [], []
    line = 2
    for s in range(schools):
        n = int(rng.integers(60, 141))
        sid = f"s{s:04d}"
        pids = np.array([f"{sid}_p{i:03d}" for i in range(n)], dtype=object)
        n_plg = max(1, n // 12)
        plg = np.where(rng.random(n) < 0.4, rng.integers(0, n_plg, n), -1)
        plg_id = np.array([f"{sid}_g{g}" if g >= 0 else "" for g in plg], dtype=object)
        responded = rng.random(n) > 0.1
        staff_parts.append(pd.DataFrame({
            "person_id": pids, "school_id": sid, "name": "", "role": rng.choice(ROLES, n),
            "years_in_education": rng.integers(0, 40, n).astype(float),
            "years_at_school": rng.integers(0, 20, n).astype(float), "plg_id": plg_id,
            "plg_type": np.where(plg >= 0, "data_team", ""), "responded": responded,
            "line": np.arange(n) + 2}))
        # each respondent picks ~Poisson(mean_out) distinct others, twice as likely in-PLG:
        # weighted sampling without replacement via exponential keys (smallest k win)
        k = np.where(responded, np.minimum(rng.poisson(mean_out, n), n - 1), 0)
        w = np.where((plg[:, None] >= 0) & (plg[:, None] == plg[None, :]), 2.0, 1.0)
        keys = rng.exponential(size=(n, n)) / w
        np.fill_diagonal(keys, np.inf)
        ranks = np.argsort(keys, axis=1)
        chosen = np.arange(n)[None, :] < k[:, None]
        e = np.repeat(np.arange(n), k)
        a = ranks[chosen]
        nom_parts.append(pd.DataFrame({
            "school_id": sid, "ego": pids[e], "alter": pids[a],
            "strength": rng.integers(1, 6, len(e)).astype(float),
            "line": np.arange(line, line + len(e))}))
        line += len(e)
    return (pd.concat(staff_parts, ignore_index=True),
            pd.concat(nom_parts, ignore_index=True))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schools", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20220103)
    args = ap.parse_args(argv)

    t = time.perf_counter()
    staff, noms = generate(args.schools, args.seed)
    print(f"generated {args.schools} schools, {len(staff):,} staff, {len(noms):,} "
          f"nominations in {time.perf_counter() - t:.1f} s")
    config = NetworkConfig(key_figures=KeyFigureConfig(k=3))
    meta = CohortMeta(name="bench", strength_min=1, strength_max=5)

    t = time.perf_counter()
    clean, quality = network.check_nominations(staff, noms, meta, "drop")
    t_check = time.perf_counter() - t
    t = time.perf_counter()
    metrics = network.person_metrics(staff, clean, config)
    t_person = time.perf_counter() - t
    t = time.perf_counter()
    schools = network.school_metrics(staff, clean)
    t_school = time.perf_counter() - t
    t = time.perf_counter()
    network.key_figures(metrics, config)
    t_key = time.perf_counter() - t
    assert len(metrics) == len(staff) and len(schools) == args.schools and quality.empty
    print(f"check_nominations  {t_check:6.2f} s")
    print(f"person_metrics     {t_person:6.2f} s")
    print(f"school_metrics     {t_school:6.2f} s")
    print(f"key_figures        {t_key:6.2f} s")
    print(f"person_metrics + school_metrics: {t_person + t_school:.2f} s (target < 30 s)")


if __name__ == "__main__":
    main()
