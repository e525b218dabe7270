"""`pipeline evaluate COHORT --out DIR`: every coder side by side, leave-one-school-out.

The rule coder, the scikit-learn model (the default backend), the spaCy model and a majority
baseline are trained (where they learn) on four schools and scored on the fifth, for every
school, on the cohort's pseudonymised labelled segments; thresholds are tuned inside the
training schools only. Writes, staged and swapped in whole:

- ``evaluation.csv``: one row per family/code (+ macro, micro, sub-types), the coders'
  precision, recall, F1 and Cohen's kappa side by side (``<coder>_<metric>``)
- ``evaluation_long.csv``: the same, one row per coder and code (``SCORE_COLUMNS``), with
  each F1's and kappa's interval over resampled transcripts (``f1_low, f1_high, kappa_low,
  kappa_high``: :func:`pipeline.coding.evaluate.bootstrap_intervals`)
- ``evaluation_per_school.csv``: each coder's macro-/micro-F1 and macro-kappa per family on
  each held-out school alone (``PER_SCHOOL_COLUMNS``)
- ``evaluation.md``: the tables, the issue's targets for the default model (with their
  intervals), how sure the figures are, the human coders' agreement, timings
- ``human_agreement.csv`` (where the labels hold two or more human coders): per code their
  Cohen's kappa with each other beside the default model's (``family, code, n_units,
  human_kappa, <model>_kappa``)
- ``learning_curve.csv`` / ``learning_curve.png``: macro-F1 per family against the number of
  training segments (fractions of each LOSO training fold)
- ``manifest.json``
"""

from __future__ import annotations

import io as _io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline import io
from pipeline.cli_common import err, warn
from pipeline.config import load_settings

__all__ = ["evaluate", "CODERS"]

CODERS = ("rules", "sklearn", "spacy", "majority")
NAMES = {"rules": "rules", "sklearn": "sklearn_tfidf_lr", "spacy": "spacy_textcat",
         "majority": "majority"}


def _fractions(text: str) -> list[float]:
    try:
        values = sorted({float(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise typer.BadParameter("comma-separated numbers in (0, 1], e.g. 0.1,0.5,1") from None
    if not values or any(not 0 < v <= 1 for v in values):
        raise typer.BadParameter("comma-separated numbers in (0, 1], e.g. 0.1,0.5,1")
    return values


def _log(bar: Progress, task, what: str) -> None:
    """Without a terminal (CI, a log file) the bar is off: print one line per step."""
    if bar.disable:
        t = bar.tasks[task]
        err.print(f"[{int(t.completed)}/{int(t.total or 0)}] {what} "
                  f"({t.elapsed or 0:.0f} s)", highlight=False)


def evaluate(
    cohort: Annotated[Path, typer.Argument(help="cohort folder with labels/")],
    out: Annotated[Path, typer.Option("--out", help="output folder")],
    config: Annotated[Path | None, typer.Option("--config", help="pipeline.yaml to use "
                                                "(default: configs/pipeline.yaml)")] = None,
    coders: Annotated[str, typer.Option("--coders", help="comma-separated subset of "
                                        "rules,sklearn,spacy,majority")] = ",".join(CODERS),
    spacy_config: Annotated[Path | None, typer.Option("--spacy-config", help="spaCy config "
                                                      "(default: configs/textcat.cfg)")] = None,
    fractions: Annotated[str, typer.Option("--fractions", help="learning-curve fractions "
                                           "of each training fold")] = "0.1,0.25,0.5,0.75,1",
    curve: Annotated[bool, typer.Option("--curve/--no-curve", help="compute the learning "
                                        "curve")] = True,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="processes to use")] = 2,
) -> None:
    """Leave-one-school-out evaluation of every coder, side by side, with a learning curve."""
    from pipeline.coding import evaluate as ev
    from pipeline.coding.rules import RuleCoder
    from pipeline.coding.spacy_model import make_spacy_model
    from pipeline.coding.train import (
        cohort_labels,
        interval_table,
        labelled_segments,
        make_model,
        validate_labels,
    )
    from pipeline.nlp import make_nlp
    from pipeline.segment import transcript_of

    started = datetime.now(UTC)
    chosen = [c.strip() for c in coders.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in CODERS]
    if unknown or not chosen:
        raise typer.BadParameter(f"unknown coder(s) {', '.join(unknown) or '(none)'}; "
                                 f"choose from {', '.join(CODERS)}", param_hint="--coders")
    steps = _fractions(fractions)
    settings = load_settings(config)
    data = io.load_cohort(cohort)
    io.check_output(out, data.sources, folder=True, kind="evaluate")
    labels, everyone, store = cohort_labels(data, settings)
    notes: list[str] = []
    seg, Y, names, summary = labelled_segments(data, settings, labels, notes)
    groups = seg["school_id"].tolist()
    if len(set(groups)) < 2:
        raise io.InputError(cohort / "labels", "leave-one-school-out needs labelled segments "
                            f"of at least two schools, found {len(set(groups))}")
    texts = seg[["text", "context"]].reset_index(drop=True)
    codebook, seed = settings.codebook, settings.pipeline.seed

    fit_predicts: dict[str, ev.FitPredict | object] = {}
    for c in chosen:
        if c == "rules":
            # the rule coder learns nothing: code every segment once, look the folds up
            scores, _ = RuleCoder(codebook, make_nlp()).score(seg["text"].tolist())
            rule_pred = (scores.reindex(columns=names, fill_value=0.0).to_numpy()
                         >= RuleCoder.threshold).astype("int64")
            fit_predicts[NAMES[c]] = rule_pred
        elif c == "sklearn":
            fit_predicts[NAMES[c]] = ev.estimator_fit_predict(
                lambda: make_model(settings, names))
        elif c == "spacy":
            fit_predicts[NAMES[c]] = ev.estimator_fit_predict(
                lambda: make_spacy_model(settings, names, spacy_config))
        else:
            fit_predicts[NAMES[c]] = ev.majority_fit_predict

    n_schools = len(set(groups))
    learners = [NAMES[c] for c in chosen if c in ("sklearn", "spacy")]
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=err, transient=True,
                   disable=not err.is_terminal)
    with bar:
        task = bar.add_task("leave-one-school-out", total=len(fit_predicts) * n_schools)

        def tick(label: str) -> None:
            bar.update(task, advance=1, description=f"LOSO: {label}")
            _log(bar, task, f"LOSO: {label}")

        comparison = ev.compare_coders(texts, Y, groups, fit_predicts, names, codebook,
                                       jobs=jobs, progress=tick)
        curve_df = None
        if curve and learners:
            partial = [f for f in steps if f < 1.0]
            task2 = bar.add_task("learning curve", total=len(partial) * len(learners)
                                 * n_schools)

            def tick2(label: str) -> None:
                bar.update(task2, advance=1, description=f"learning curve: {label}")
                _log(bar, task2, f"learning curve: {label}")

            curve_df = ev.learning_curve(
                texts, Y, groups, {n: fit_predicts[n] for n in learners}, names, codebook,
                fractions=steps, seed=seed,
                full={n: comparison.predictions[n] for n in learners}, jobs=jobs,
                progress=tick2)

    scores = comparison.scores.merge(
        interval_table(Y, comparison.predictions, seg["segment_id"].tolist(), names, settings,
                       subtypes=True), on=["coder", "family", "code"], how="left")
    how_sure = settings.pipeline.evaluation
    per_school = ev.per_school_scores(Y, comparison.predictions, groups, names, codebook)
    intervals_said = (
        f"Intervals: {how_sure.interval * 100:g}% percentile intervals from {how_sure.resamples} "
        f"resamples of the {seg['segment_id'].map(transcript_of).nunique()} labelled "
        "transcripts (whole transcripts drawn with replacement, every coder on the same "
        "resamples; `evaluation.resamples` and `evaluation.interval` in the config): how much "
        "each figure depends on which interviews and observations happened to be labelled.")
    default = NAMES["sklearn"] if NAMES["sklearn"] in fit_predicts else learners[0] \
        if learners else None
    target_table = (ev.targets(scores, default, NAMES["rules"], codebook)
                    if default and NAMES["rules"] in fit_predicts else None)
    summary_lines = [
        f"Cohort `{data.meta.name}`: {summary['segments']} labelled segments from "
        f"{n_schools} schools ({', '.join(sorted(set(groups)))}); their decisions per "
        f"segment and code come from "
        f"{', '.join(f'{n} {source}' for source, n in summary['sources'].items())} labels"
        f"{' (the label store)' if store else ''}; "
        f"{summary['no_code']} segments carry no code.",
        *(f"Note: {note}." for note in notes),
        "Leave-one-school-out: each coder is trained (and its thresholds tuned) on the other "
        "schools only and scored on the held-out school; predictions of all folds are pooled "
        "before scoring. Macro = mean over the family's codes; micro = pooled decisions.",
        f"Default model: `{default}`. Seed {seed}.",
    ]
    humans = ev.human_agreement(validate_labels(everyone, names), scores, default, codebook)
    md = ev.markdown_report(scores, title=f"Evaluation of the coders on {data.meta.name}",
                            summary=summary_lines, target_table=target_table,
                            seconds=comparison.seconds, curve=curve_df, humans=humans,
                            per_school=per_school, intervals_said=intervals_said)
    with io.staged_output(out) as stage:
        io.write_csv(ev.wide_table(scores), stage / "evaluation.csv")
        io.write_csv(scores, stage / "evaluation_long.csv")
        io.write_csv(per_school, stage / "evaluation_per_school.csv")
        if humans is not None:
            io.write_csv(humans, stage / "human_agreement.csv")
        io.atomic_write(stage / "evaluation.md", md + "\n")
        if curve_df is not None:
            io.write_csv(curve_df, stage / "learning_curve.csv")
            flat = {}
            for name in (NAMES["rules"], NAMES["majority"]):
                if name in fit_predicts:
                    macro = scores[(scores["coder"] == name) & (scores["code"] == "macro")]
                    flat[name] = dict(zip(macro["family"], macro["f1"], strict=True))
            fig = ev.plot_learning_curve(curve_df, codebook, flat)
            buf = _io.BytesIO()
            fig.savefig(buf, format="png", dpi=120)
            io.atomic_write(stage / "learning_curve.png", buf.getvalue())
        extra = {"coders": list(fit_predicts), "seconds_per_fold": comparison.seconds,
                 "labelled_segments": {k: v for k, v in summary.items() if k != "files"},
                 "label_store": str(store) if store else None, "warnings": notes,
                 "targets": json.loads(target_table.to_json(orient="records"))
                 if target_table is not None else []}
        # the label store is named (label_store) and its labels hashed (labelled_segments'
        # sha256), not its bytes: those of a SQLite file in WAL mode do not fix its labels
        manifest = io.build_manifest(
            command=sys.argv, config=settings.pipeline.model_dump(mode="json"),
            config_files=settings.files + ([Path(spacy_config)] if spacy_config else []),
            inputs=data.read_files, input_root=data.root, outputs=stage, started=started,
            extra=extra)
        io.write_manifest(stage / "manifest.json", manifest)
    warn(*notes)
    macro = scores[scores["code"] == "macro"]
    for row in macro.itertuples(index=False):
        if row.family != "subtypes":
            typer.echo(f"{row.coder:18s} {row.family:16s} macro-F1 {row.f1:.4f}  "
                       f"kappa {row.kappa:.4f}")
    if target_table is not None:
        missed = target_table[~target_table["met"]]
        typer.echo(f"targets for {default}: {len(target_table) - len(missed)}/"
                   f"{len(target_table)} met" + (f"; missed: {', '.join(missed['target'])}"
                                                 if len(missed) else ""))
    typer.echo(f"-> {out}")
