"""Active learning on the demo cohort: does choosing the next labels by uncertainty beat
choosing them at random?

Simulation with the gold labels of ``data/demo`` (``labels/gold.csv``) as the annotator.
For each rotation over the five schools: one school is held out for testing, two schools
are the labelled seed set, the other two the unlabelled pool. From the pool ``--add``
segments (default 100) are "labelled" (their gold labels revealed), chosen

- ``uncertain``     by ``annotate.select_uncertain`` on the seed model's scores (one batch);
- ``uncertain-4x``  the same in four rounds of ``add/4``, retraining after each round;
- ``disagreement``  by ``annotate.select_disagreement`` (rule coder versus seed model);
- ``random``        by ``annotate.select_random`` (stratified by school and source), averaged
                    over ``--repeats`` seeds;

then the model (the default coder, ``train.make_model``, settings of configs/pipeline.yaml)
is retrained on seed + added and scored on the held-out school: micro and macro F1 over
the eight codes (the model's tuned thresholds). Prints one line per rotation and strategy
and a summary table (mean over rotations).

Usage: ``python bench/active_learning.py [--cohort data/demo] [--add 100] [--repeats 3]
[--rotations 5] [--out results.csv]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import annotate as an  # noqa: E402
from pipeline.coding.assign import (
    load_coder,  # noqa: E402
    score_texts,  # noqa: E402
)
from pipeline.coding.model import label_matrix  # noqa: E402
from pipeline.coding.train import make_model, resolve_labels, validate_labels  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.io import load_cohort, write_csv  # noqa: E402
from pipeline.run import run_segments  # noqa: E402


def main(argv: list[str] | None = None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cohort", default="data/demo")
    ap.add_argument("--add", type=int, default=100, help="labels (segments) to add")
    ap.add_argument("--repeats", type=int, default=3, help="seeds of the random arm")
    ap.add_argument("--rotations", type=int, default=5, help="held-out schools to try")
    ap.add_argument("--out", default=None, help="CSV of all results")
    args = ap.parse_args(argv)

    settings = load_settings()
    seed = settings.pipeline.seed
    cohort = load_cohort(args.cohort)
    if cohort.labels.empty:
        sys.exit(f"{args.cohort}: no labels/*.csv: the simulation needs gold labels")
    names = settings.codebook.code_ids + settings.codebook.subtype_ids
    codes = settings.codebook.code_ids
    gold = resolve_labels(validate_labels(cohort.labels, names))
    seg = run_segments(cohort, settings)
    seg = seg[seg["segment_id"].isin(set(gold["segment_id"]))].reset_index(drop=True)
    Y = label_matrix(seg["segment_id"].tolist(), gold, names)
    X = seg[["text", "context"]]
    rules, _ = load_coder(settings, rules=True)
    rule_scores, _ = score_texts(rules, seg["text"].tolist())
    schools = sorted(seg["school_id"].unique())
    print(f"{args.cohort}: {len(seg)} labelled segments in {len(schools)} schools; "
          f"adding {args.add} labels to a seed set of two schools", flush=True)

    def fit(idx: np.ndarray):
        return make_model(settings, names).fit(X.iloc[idx], Y[idx])

    def score(model, test: np.ndarray) -> dict:
        pred = model.predict(X.iloc[test])[:, :len(codes)]
        true = Y[test][:, :len(codes)]
        return {"micro_f1": f1_score(true, pred, average="micro", zero_division=0),
                "macro_f1": f1_score(true, pred, average="macro", zero_division=0)}

    def proba(model, idx: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(model.predict_proba(X.iloc[idx]), columns=names)

    rows = []
    for r in range(min(args.rotations, len(schools))):
        test_school = schools[r]
        others = [s for s in schools if s != test_school]
        seed_schools = [others[(r + k) % len(others)] for k in range(2)]
        pool_schools = [s for s in others if s not in seed_schools]
        where = seg["school_id"].to_numpy()
        test = np.flatnonzero(where == test_school)
        base = np.flatnonzero(np.isin(where, seed_schools))
        pool = np.flatnonzero(np.isin(where, pool_schools))
        t0 = time.time()
        model0 = fit(base)
        thresholds = dict(zip(names, map(float, model0.thresholds_), strict=True))
        results = {"seed only": (0, score(model0, test))}

        chosen = an.select_uncertain(proba(model0, pool), thresholds, codes, args.add, seed)
        results["uncertain"] = (args.add, score(fit(np.r_[base, pool[chosen["position"]]]),
                                               test))

        model, have, left = model0, base, pool
        for _ in range(4):
            thr = dict(zip(names, map(float, model.thresholds_), strict=True))
            ch = an.select_uncertain(proba(model, left), thr, codes, args.add // 4, seed)
            picked = left[ch["position"].to_numpy(int)]
            have, left = np.r_[have, picked], np.setdiff1d(left, picked)
            model = fit(have)
        results["uncertain-4x"] = (len(have) - len(base), score(model, test))

        ch = an.select_disagreement(proba(model0, pool), thresholds,
                                    rule_scores.iloc[pool].reset_index(drop=True),
                                    rules.thresholds, codes, args.add, seed)
        results["disagreement"] = (args.add, score(fit(np.r_[base, pool[ch["position"]]]),
                                                  test))

        rnd = []
        for k in range(args.repeats):
            ch = an.select_random(seg.iloc[pool].reset_index(drop=True), args.add, seed + k)
            rnd.append(score(fit(np.r_[base, pool[ch["position"]]]), test))
        results["random"] = (args.add, {m: float(np.mean([x[m] for x in rnd]))
                                        for m in ("micro_f1", "macro_f1")})
        for strategy, (added, sc) in results.items():
            rows.append({"test_school": test_school, "seed_schools": "+".join(seed_schools),
                         "strategy": strategy, "added": added, "n_train": len(base) + added,
                         **sc})
            print(f"  test {test_school}, seed {'+'.join(seed_schools)}: {strategy:<13} "
                  f"+{added:<4} micro-F1 {sc['micro_f1']:.3f}  macro-F1 {sc['macro_f1']:.3f}",
                  flush=True)
        print(f"  ({time.time() - t0:.0f} s)", flush=True)

    table = pd.DataFrame(rows)
    summary = (table.groupby("strategy", sort=False)[["added", "micro_f1", "macro_f1"]]
               .agg(["mean", "std"]))
    print("\nMean over rotations (std in brackets), F1 on the held-out school, 8 codes:")
    print(f"{'strategy':<14}{'labels added':>13}{'micro-F1':>18}{'macro-F1':>18}")
    for strategy, rec in summary.iterrows():
        print(f"{strategy:<14}{rec[('added', 'mean')]:>13.0f}"
              f"{rec[('micro_f1', 'mean')]:>11.3f} ({rec[('micro_f1', 'std')]:.3f})"
              f"{rec[('macro_f1', 'mean')]:>11.3f} ({rec[('macro_f1', 'std')]:.3f})")
    if args.out:
        write_csv(table, Path(args.out))
    return table


if __name__ == "__main__":
    main()
