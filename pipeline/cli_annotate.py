"""CLI of the annotation loop and the exports: ``pipeline annotate ...``, ``pipeline export
...`` and ``pipeline agreement``. Thin: parse arguments, call the stage functions in
``annotate``, ``agreement`` and ``exports``, write through ``io``.

Examples::

    pipeline annotate export data/demo --n 100 --strategy uncertain --format csv \\
        --out tasks/batch1.csv --annotator alice
    pipeline annotate import tasks/batch1.csv --annotator alice --cohort data/demo
    pipeline annotate adjudicate data/demo
    pipeline annotate adjudicate data/demo --segment ID --code focus --value 1 --by carla
    pipeline annotate rename-code data/demo benefits opbrengsten
    pipeline annotate retire-code data/demo knowledge_management.product
    pipeline agreement data/demo --out out/agreement --model models/default
    pipeline export qdpx data/demo --out out/demo.qdpx
    pipeline export qdc data/demo --out out/codebook.qdc
    pipeline export matrix data/demo --out out/matrix.csv
    pipeline export ena data/demo --out out/ena.csv
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from pipeline import io
from pipeline.cli_common import one_coder, warn
from pipeline.config import Settings, load_settings

__all__ = ["annotate_app", "export_app", "agreement"]

annotate_app = typer.Typer(no_args_is_help=True, add_completion=False,
                           help="Annotation tasks: export, import, adjudicate, rename-code, "
                                "retire-code.")
export_app = typer.Typer(no_args_is_help=True, add_completion=False,
                         help="Exports for other tools: qdpx, qdc, matrix, ena.")

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="pipeline.yaml to use "
                                                "(default: configs/pipeline.yaml)")]
ModelOpt = Annotated[Path | None, typer.Option("--model", help="model folder (default: the "
                                               "configured model)")]
RulesOpt = Annotated[bool, typer.Option("--rules", help="use the rule coder instead of the "
                                        "model")]
CohortArg = Annotated[Path, typer.Argument(help="cohort folder (DESIGN.md layout)")]


class Strategy(StrEnum):
    uncertain = "uncertain"
    disagreement = "disagreement"
    random = "random"


class Format(StrEnum):
    csv = "csv"
    labelstudio = "labelstudio"
    doccano = "doccano"


class Skip(StrEnum):
    annotated = "annotated"
    labelled = "labelled"
    none = "none"


def _names(settings: Settings) -> list[str]:
    return settings.codebook.code_ids + settings.codebook.subtype_ids


def _store(cohort: Path, settings: Settings, *, check: bool = True):
    """The cohort's label store, in step with its gold files; refused while it holds labels
    of codes the codebook has no more (``check``: not for the commands that fix that)."""
    from pipeline.annotate import LabelStore

    store = LabelStore.for_cohort(cohort, _names(settings))
    if check:
        store.check_codes(_names(settings))
    return store


def _refuse_filled(path: Path, names: list[str], fmt: str | None, store) -> None:
    """Tasks must not be written over an annotator's work: a file at ``path`` that holds
    labelled segments not in ``store`` yet, or, for the tasks themselves (``fmt`` given), one
    that is no task file of that format. A side file (``fmt`` None) that import cannot read
    is an earlier labelling config or label types list: replaced."""
    from pipeline.annotate import unimported_segments_in

    data = path.read_bytes() if path.is_file() else b""
    if not data.strip():
        return
    try:
        n = unimported_segments_in(data, path, names, fmt, store)
    except io.InputError as e:
        if fmt is None:
            return
        raise io.InputError(path, f"cannot be read as a {fmt} task file ({e.message}), so it "
                            "may hold labels: fix and import it, or choose another --out",
                            line=e.line, field=e.field) from None
    if n:
        raise io.InputError(path, f"holds {n} labelled segment(s) not in the label store yet: "
                            "import it first (`pipeline annotate import`) or choose another "
                            "--out")


def _find_cohort(path: Path) -> Path | None:
    for folder in Path(path).resolve().parents:
        if (folder / "cohort.yaml").is_file() and (folder / "staff.csv").is_file():
            return folder
    return None


# ====================================================================== annotate
@annotate_app.command("export")
def export_tasks(
        cohort: CohortArg,
        out: Annotated[Path, typer.Option("--out", help="task file to write")],
        n: Annotated[int, typer.Option("--n", min=1, help="number of segments")] = 50,
        strategy: Annotated[Strategy, typer.Option("--strategy", help="how to choose "
                                                   "segments")] = Strategy.uncertain,
        fmt: Annotated[Format, typer.Option("--format", help="task format")] = Format.csv,
        seed: Annotated[int | None, typer.Option("--seed", help="random seed (default: the "
                                                 "config's seed)")] = None,
        annotator: Annotated[str, typer.Option("--annotator", help="annotator id to put in "
                                               "the tasks")] = "",
        prefill: Annotated[bool, typer.Option("--prefill", help="fill the code columns with "
                                              "the model's suggestion (csv; a row counts once "
                                              "marked in its reviewed column)")] = False,
        skip: Annotated[Skip, typer.Option("--skip", help="annotated: skip segments a human "
                                           "annotator labelled (gold files do not count); "
                                           "labelled: skip gold-labelled ones too; none")
                        ] = Skip.annotated,
        model: ModelOpt = None, rules: RulesOpt = False, config: ConfigOpt = None) -> None:
    """Choose segments to label and write them as annotation tasks."""
    from pipeline import annotate as an
    from pipeline.coding.assign import load_coder, score_texts
    from pipeline.run import run_segments

    if prefill and fmt != Format.csv:
        raise typer.BadParameter(
            "only csv tasks can be prefilled: they have a reviewed column, so the model's "
            "suggestions are not taken for an annotator's labels (Label Studio shows them as "
            "predictions anyway)", param_hint="--prefill")
    settings = load_settings(config)
    seed = settings.pipeline.seed if seed is None else seed
    data = io.load_cohort(cohort)
    side = {Format.labelstudio: ".labelstudio.xml", Format.doccano: ".doccano-labels.json"}
    names = _names(settings)
    paths = [out, *([out.with_name(out.stem + side[fmt])] if fmt in side else [])]
    for path in paths:
        io.check_output(path, data.sources)
    store = _store(cohort, settings)
    for path in paths:
        _refuse_filled(path, names, fmt.value if path == out else None, store)
    segments = run_segments(data, settings)
    skipped = ""
    if skip != Skip.none:
        done = store.labelled_segments(include_gold=skip == Skip.labelled)
        left = segments[~segments["segment_id"].isin(done)].reset_index(drop=True)
        if len(left) < len(segments):   # fewer tasks than --n asks: say why
            skipped = (f"; {len(segments) - len(left)} segment(s) already labelled skipped "
                       "(--skip none to code them again, for agreement)")
        segments = left
    coder, card = load_coder(settings, model, rules=rules)
    texts = segments["text"].tolist()
    contexts = segments["context"].fillna("").astype(str).tolist()
    scores, _ = score_texts(coder, texts, contexts)
    codes = settings.codebook.code_ids
    if strategy == Strategy.uncertain:
        chosen = an.select_uncertain(scores, coder.thresholds, codes, n, seed)
    elif strategy == Strategy.disagreement:
        if rules:
            raise io.InputError(cohort, "the disagreement strategy compares the rule coder "
                                "with the model: drop --rules")
        rule, _ = load_coder(settings, rules=True)
        rule_scores, _ = score_texts(rule, texts, contexts)
        chosen = an.select_disagreement(scores, coder.thresholds, rule_scores,
                                        rule.thresholds, codes, n, seed)
    else:
        chosen = an.select_random(segments, n, seed)
    tasks = an.build_tasks(segments, chosen, scores, coder.thresholds, names,
                           strategy=strategy.value, annotator=annotator)
    if fmt == Format.csv:
        io.write_csv(an.csv_tasks(tasks, names, prefill=prefill), out, bom=True)
        extra = ""
    elif fmt == Format.labelstudio:
        io.atomic_write(out, an.labelstudio_tasks(tasks, names, coder.name))
        config_file = out.with_name(out.stem + side[fmt])
        io.atomic_write(config_file, an.labelstudio_config(settings.codebook))
        extra = f" (labelling config: {config_file})"
    else:
        io.atomic_write(out, an.doccano_tasks(tasks, names))
        labels_file = out.with_name(out.stem + side[fmt])
        io.atomic_write(labels_file, an.doccano_label_types(settings.codebook))
        extra = f" (label types: {labels_file})"
    typer.echo(f"{len(tasks)} tasks ({strategy.value}, model {coder.name}) of "
               f"{len(segments)} candidate segments{skipped} -> {out}{extra}")


@annotate_app.command("import")
def import_labels(
        file: Annotated[Path, typer.Argument(help="annotated task file: .csv, .json (Label "
                                             "Studio) or .jsonl (doccano)")],
        annotator: Annotated[str | None, typer.Option(
            "--annotator", help="who labelled: fills rows without an annotator (a file that "
            "names another is refused); names a Label Studio file's only user")] = None,
        map_annotator: Annotated[list[str] | None, typer.Option(
            "--map-annotator", metavar="FROM=NAME", help="store the labels of the annotator "
            "the file calls FROM (a name, or a Label Studio user's id or e-mail) as NAME; "
            "repeat per annotator")] = None,
        cohort: Annotated[Path | None, typer.Option(
            "--cohort", help="cohort folder whose label store receives the labels (default: "
            "the cohort folder the file lies in)")] = None,
        fmt: Annotated[Format | None, typer.Option("--format", help="default: from the file "
                                                   "extension")] = None,
        config: ConfigOpt = None) -> None:
    """Read annotated tasks back into the cohort's label store (idempotent)."""
    from pipeline.annotate import parse_annotations, respell, unmatched_segments

    settings = load_settings(config)
    if cohort is None:
        cohort = _find_cohort(file)
        if cohort is None:
            raise io.InputError(file, "not inside a cohort folder: give --cohort")
    payload = file.read_bytes() if file.is_file() else None
    if payload is None:
        raise io.InputError(file, "file not found")
    mapping = {}
    for pair in map_annotator or []:
        old, _, new = pair.partition("=")
        if not old.strip() or not new.strip():
            raise io.InputError(file, f"{pair!r}: expected FROM=NAME (as the file names the "
                                "annotator = the name to store)",
                                field="--map-annotator")
        mapping[old] = new
    labels, stats = parse_annotations(payload, file, _names(settings), annotator=annotator,
                                      fmt=fmt.value if fmt else None, annotator_map=mapping)
    unmatched = unmatched_segments(labels, file, io.load_cohort(cohort), settings)
    store = _store(cohort, settings)
    labels, to_store = respell(labels, store.annotators())
    counts = store.add(labels, f"import {file.name} ({fmt.value if fmt else file.suffix})")
    skipped = f", {stats['repeats']} identical repeat(s) skipped" if stats["repeats"] else ""
    if stats.get("not_reviewed"):
        skipped += (f", {stats['not_reviewed']} prefilled row(s) not marked in the reviewed "
                    "column (skipped)")
    if stats.get("activities_implied"):
        skipped += (f", {stats['activities_implied']} activity label(s) left empty under a "
                    "ticked sub-type taken as 1")
    per = labels.groupby("annotator")["segment_id"].nunique()   # whom the labels went to
    by = ", ".join(f"{a} ({n})" if len(per) > 1 else a for a, n in per.items())
    by = f" by {by}" if by else ""
    typer.echo(f"{stats['rows_read']} rows read, {stats['segments_labelled']} labelled "
               f"segment(s){by}, {stats['not_labelled']} not labelled{skipped}: "
               f"{counts['added']} labels added, {counts['unchanged']} unchanged -> {store.path}")
    respelled: dict[str, list[str]] = {}
    in_file = {old: to_store.get(new, new) for old, new in stats["respelled"].items()}
    for old, new in {**to_store, **in_file}.items():
        if old != new:
            respelled.setdefault(new, []).append(repr(old))
    for new, olds in respelled.items():
        typer.echo(f"note: {', '.join(sorted(olds))} stored as {new!r} (annotator names are "
                   "matched ignoring case and spaces)", err=True)
    if edited := stats.get("edited_lines"):
        warn(f"{file}: {len(edited)} prefilled row(s) changed but not marked reviewed "
             f"(line{'s' if len(edited) > 1 else ''} {io.line_list(edited)}), so not "
             "imported: mark them in the reviewed column (x) and import the file again")
    if missing := stats.get("no_column"):
        typer.echo(f"note: {file} has no column for {', '.join(missing)}: no labels of "
                   f"{'it' if len(missing) == 1 else 'them'} were imported", err=True)
    _warn_unmatched(unmatched, "stored, but train and evaluate leave them out")


def _warn_unmatched(unmatched: list[str], fate: str) -> None:
    """Say which labelled segments are no segment of their transcript now, and what became
    of their labels (``fate``)."""
    if unmatched:
        warn(f"{len(unmatched)} labelled segment(s) match no segment of their transcript now "
             "(edited since the export, other segment settings, or segments cut otherwise by "
             f"a newer version?): {io.id_list(unmatched)}; {fate}")


@annotate_app.command("adjudicate")
def adjudicate(
        cohort: CohortArg,
        segment: Annotated[str | None, typer.Option("--segment", help="segment id")] = None,
        code: Annotated[str | None, typer.Option("--code", help="code or sub-type id")] = None,
        value: Annotated[str | None, typer.Option("--value", help="0 or 1")] = None,
        by: Annotated[str | None, typer.Option("--by", help="adjudicator's name")] = None,
        out: Annotated[Path | None, typer.Option("--out", help="also write the "
                                                 "disagreements to this CSV")] = None,
        config: ConfigOpt = None) -> None:
    """List disagreements, or record an adjudicated label (annotator adjudicator:<name>)."""
    from pipeline.annotate import binary_label

    settings = load_settings(config)
    if out is not None:
        io.check_output(out, io.load_cohort(cohort).sources)
    given = [x is not None for x in (segment, code, value, by)]
    if any(given) and not all(given):
        raise io.InputError(cohort, "to adjudicate give all of --segment, --code, --value "
                            "and --by (or none of them to list disagreements)")
    if all(given):
        if code not in _names(settings):
            raise io.InputError(cohort, f"unknown code {code!r} (not in the codebook)",
                                field="code")
        v = binary_label(value)
        if v is None:
            raise io.InputError(cohort, f"value must be 0 or 1, got {value!r}", field="value")
        if not by.strip():
            raise io.InputError(cohort, "empty: give the adjudicator's name", field="by")
        store = _store(cohort, settings)
        if not store.has_labels(segment):
            raise io.InputError(cohort, f"no annotator labelled {segment!r}, so there is "
                                f"nothing to adjudicate: `pipeline annotate adjudicate "
                                f"{cohort}` lists the open disagreements", field="segment")
        counts = store.adjudicate(segment, code, v, by)
        typer.echo(f"{segment} {code} = {v} by adjudicator:{by} "
                   f"({'recorded' if counts['added'] else 'unchanged'}) -> {store.path}")
        return
    dis = _store(cohort, settings).disagreements()
    if out is not None:
        io.write_csv(dis, out, bom=True)
    open_ = dis[dis["adjudicated"] == ""] if len(dis) else dis
    typer.echo(f"{len(dis)} disagreement(s), {len(open_)} not adjudicated")
    for rec in dis.to_dict(orient="records"):
        mark = f"  -> adjudicated {rec['adjudicated']}" if rec["adjudicated"] else ""
        typer.echo(f"{rec['segment_id']}\t{rec['code']}\t{rec['values']}{mark}")


def _relabel_store(cohort: Path, old: str, new: str | None, settings: Settings):
    """The cohort's label store, once ``old`` has gone from the codebook and from
    ``labels/*.csv`` (their rows are the team's to edit; the store follows them); None (said)
    without a store. ``new``: the code's new id, which the codebook must have."""
    from pipeline.annotate import STORE_NAME

    codebook = settings.resolve(settings.pipeline.codebook)
    done = "rename it there" if new is not None else "remove it there"
    if old in _names(settings):
        raise io.InputError(codebook, f"{old!r} is still in the codebook: {done} first",
                            field="id")
    if new is not None and new not in _names(settings):
        raise io.InputError(codebook, f"{new!r} is not in the codebook (codes: "
                            f"{', '.join(settings.codebook.code_ids)})", field="id")
    fix = f"replace it by {new!r}" if new is not None else "remove those rows"
    for gold in io.cohort_label_files(cohort):
        labels = io.read_labels(gold)
        hits = labels[(labels["code"] == old) | labels["code"].str.startswith(old + ".")]
        if len(hits):
            more = f" (and {len(hits) - 1} more line(s))" if len(hits) > 1 else ""
            raise io.InputError(gold, f"still names {old!r}{more}: {fix} there first (the "
                                "label store follows labels/*.csv); nothing changed",
                                line=int(hits["line"].iloc[0]), field="code")
    if not (Path(cohort) / "labels" / STORE_NAME).is_file():
        io.load_cohort(cohort)   # a cohort folder after all?
        typer.echo(f"no label store in {Path(cohort) / 'labels'}: its labels/*.csv are all its "
                   "labels, nothing to change")
        return None
    return _store(cohort, settings, check=False)


@annotate_app.command("rename-code")
def rename_code(
        cohort: CohortArg,
        old: Annotated[str, typer.Argument(help="the code's id before the rename")],
        new: Annotated[str, typer.Argument(help="its id in the codebook now")],
        config: ConfigOpt = None) -> None:
    """Follow a code renamed in the codebook: the label store's labels of OLD (imports,
    adjudications, sub-types OLD.x too) become labels of NEW; the history keeps both."""
    settings = load_settings(config)
    store = _relabel_store(cohort, old, new, settings)
    if store is None:
        return
    try:
        counts = store.rename_code(old, new, _names(settings))
    except ValueError as e:
        raise io.InputError(settings.resolve(settings.pipeline.codebook), str(e)) from None
    if not counts["labels"]:
        typer.echo(f"no current label of {old!r} in {store.path}: nothing to rename")
        return
    typer.echo(f"{counts['labels']} label(s) of {counts['annotators']} annotator(s) renamed "
               f"{old} -> {new} (the history keeps the old ones) -> {store.path}")


@annotate_app.command("rename-annotator")
def rename_annotator(
        cohort: CohortArg,
        old: Annotated[str, typer.Argument(help="the name the store has the labels under")],
        new: Annotated[str, typer.Argument(help="the annotator's name")],
        config: ConfigOpt = None) -> None:
    """One person under two names in the label store (a Label Studio user id of an older
    import, a misspelling): the labels of OLD become NEW's; the history keeps both."""
    from pipeline.annotate import ADJUDICATOR, respell

    settings = load_settings(config)
    store = _store(cohort, settings)
    old, given = old.strip(), " ".join(new.split())
    known = store.annotators()
    if old not in known:
        raise io.InputError(store.path, f"no annotator {old!r} in the label store (it has "
                            f"{', '.join(map(repr, known)) or 'none'})", field="OLD")
    # spelled as the store spells that person, as an import of the name would be
    new = respell(pd.DataFrame({"annotator": [given]}),
                  [a for a in known if a != old])[0]["annotator"].iloc[0]
    if new == old or old.startswith(ADJUDICATOR) != new.startswith(ADJUDICATOR) or not new:
        raise io.InputError(store.path, f"{new!r} cannot replace {old!r}: give another name "
                            f"(an adjudicator stays one: {ADJUDICATOR}NAME)", field="NEW")
    counts = store.rename_annotator(old, new)
    typer.echo(f"{counts['labels']} label(s) of {counts['segments']} segment(s) moved from "
               f"{old!r} to {new!r} (the history keeps the old ones) -> {store.path}")
    if new != given:
        typer.echo(f"note: {given!r} stored as {new!r} (annotator names are matched ignoring "
                   "case and spaces)", err=True)


@annotate_app.command("retire-code")
def retire_code(
        cohort: CohortArg,
        old: Annotated[str, typer.Argument(help="the id of the code (or code.subtype) "
                                                "removed from the codebook")],
        config: ConfigOpt = None) -> None:
    """Follow a code removed from the codebook: the label store's labels of OLD (imports,
    adjudications, sub-types OLD.x too) are withdrawn; the history keeps them."""
    settings = load_settings(config)
    store = _relabel_store(cohort, old, None, settings)
    if store is None:
        return
    counts = store.retire_code(old)
    if not counts["labels"]:
        typer.echo(f"no current label of {old!r} in {store.path}: nothing to retire")
        return
    typer.echo(f"{counts['labels']} label(s) of {counts['annotators']} annotator(s) of {old} "
               f"withdrawn (the history keeps them) -> {store.path}")


# ====================================================================== agreement
def _read_label_source(labels: Path, settings: Settings) -> tuple[pd.DataFrame, Path | None]:
    """Labels from a cohort folder (its store; its gold files while it has none: reading
    makes no store, as in ``train``), a store.sqlite, or a CSV."""
    from pipeline.annotate import STORE_NAME, LabelStore

    if labels.is_dir():
        if not (labels / "labels" / STORE_NAME).is_file():
            return _file_labels(io.load_cohort(labels).labels, labels, settings), labels
        return _store(labels, settings).current(), labels
    if labels.suffix.lower() in (".sqlite", ".db", ".sqlite3"):
        if not labels.is_file():
            raise io.InputError(labels, "label store not found")
        store = LabelStore(labels)
        store.check_codes(_names(settings))
        return store.current(), None
    if labels.suffix.lower() == ".csv":
        return _file_labels(io.read_labels(labels), labels, settings), None
    raise io.InputError(labels, "expected a cohort folder, a store.sqlite or a labels CSV")


def _codebook_values(table: pd.DataFrame, path: Path, settings: Settings) -> pd.DataFrame:
    """A labels table (with ``line``, and ``file`` where not ``path``) whose values of the
    codebook's codes are read as ``train`` reads them (``1.0``, as pandas writes a column with
    a gap, or ``ja`` is ``1``; anything else refused): spelt otherwise they were other
    categories, disagreeing with ``1``. Other codes are nominal (any category but empty)."""
    from pipeline.annotate import binary_label

    known, values = set(_names(settings)), []
    files = table["file"] if "file" in table.columns else [path] * len(table)
    for code, value, line, file in zip(table["code"], table["value"], table["line"], files,
                                       strict=True):
        v = binary_label(value) if code in known else value.strip() or None
        if v is None:
            raise io.InputError(file, f"value must be 0 or 1, got {value!r}" if value.strip()
                                else "empty value (a label not given: leave its row out)",
                                line=int(line), field="value")
        values.append(v)
    return table.assign(value=values)


def _file_labels(table: pd.DataFrame, path: Path, settings: Settings) -> pd.DataFrame:
    """Labels read from CSV files (``io.read_labels``), values and times read as ``train``
    reads them (:func:`_codebook_values`, :func:`pipeline.annotate.label_times`)."""
    from pipeline.annotate import label_times

    return _codebook_values(table, path, settings).assign(time=label_times(table))


def _read_predictions(path: Path, settings: Settings) -> pd.DataFrame:
    """Model predictions: a labels-format CSV (segment_id, code, value) or a coded segments
    CSV (segment_id or id, knowledge_types, activities[, activity_subtypes])."""
    from pipeline.exports import machine_codings

    head = io._read_csv(path, [])
    if {"segment_id", "code", "value"} <= set(head.columns):
        return _codebook_values(head, path, settings)[["segment_id", "code", "value"]]
    idcol = "segment_id" if "segment_id" in head.columns else "id"
    if idcol not in head.columns or "knowledge_types" not in head.columns:
        raise io.InputError(path, "expected segment_id, code, value or a coded segments "
                            "table (id, knowledge_types, activities)", line=1)
    coded = head.rename(columns={idcol: "segment_id"})
    return _predictions_from_coded(coded, settings, machine_codings)


def _predictions_from_coded(coded: pd.DataFrame, settings: Settings, machine_codings
                            ) -> pd.DataFrame:
    on = machine_codings(coded, "model")
    on = set(zip(on["segment_id"], on["code"], strict=True))
    names = _names(settings)
    return pd.DataFrame([(s, c, "1" if (s, c) in on else "0")
                         for s in coded["segment_id"] for c in names],
                        columns=["segment_id", "code", "value"])


AGREEMENT_FILES = {"agreement": "agreement.csv", "pairwise": "pairwise_kappa.csv",
                   "per_segment": "per_segment.csv", "markdown": "agreement.md"}


def agreement(labels: Annotated[Path, typer.Argument(
                  metavar="LABELS", help="cohort folder, store.sqlite, or CSV with "
                  "segment_id, code, value, annotator")],
              out: Annotated[Path, typer.Option("--out", help="folder for agreement.csv, "
                                                "agreement.md, pairwise_kappa.csv")],
              predictions: Annotated[Path | None, typer.Option(
                  "--predictions", help="model predictions CSV (segment_id, code, value, or "
                  "a coded segments table)")] = None,
              model: Annotated[Path | None, typer.Option(
                  "--model", help="score the labelled segments with this model (LABELS "
                  "must be a cohort folder)")] = None,
              rules: Annotated[bool, typer.Option(
                  "--rules", help="score the labelled segments with the rule coder")] = False,
              seed: Annotated[int | None, typer.Option("--seed", help="seed of Shaffer's rho "
                                                       "(default: the config's seed)")] = None,
              replicates: Annotated[int, typer.Option("--replicates", min=10, help="simulated "
                                                      "codesets for Shaffer's rho")] = 800,
              config: ConfigOpt = None) -> None:
    """Inter-annotator and model-vs-human agreement, per code and overall.

    Krippendorff's alpha, Cohen's kappa per annotator pair, and with --predictions,
    --model or --rules the model's kappa against the reference labels and Shaffer's rho.
    """
    from pipeline import agreement as ag

    settings = load_settings(config)
    seed = settings.pipeline.seed if seed is None else seed
    sources = [labels, *(io.load_cohort(labels).sources if labels.is_dir() else [])]
    for name in AGREEMENT_FILES.values():
        io.check_output(out / name, sources)   # before the store is opened (and made)
    table, cohort = _read_label_source(labels, settings)
    if table.empty:
        raise io.InputError(labels, "no labels found")
    annotators, shared = ag.annotator_overlap(table)
    other = sorted(set(table["code"]) - set(_names(settings)))
    if other:   # nominal categories by design (a team's own variable), or a typo of a code
        warn(f"{', '.join(map(repr, other))} "
             f"{'is no code' if len(other) == 1 else 'are no codes'} of the codebook: counted "
             "as a nominal category of its own, also in (all); if meant as a code, correct "
             "the labels")
    for names in ag.spelling_variants(table):
        warn(f"annotators {', '.join(map(repr, names))} differ only in letter case or "
             "spaces and are counted apart: write them alike in the labels to count them as "
             "one")
    between = (f"agreement needs two or more annotators on the same segments: {annotators} "
               f"annotator{'s' if annotators != 1 else ''}, {shared} segments labelled by two "
               "or more")
    if not shared and predictions is None and model is None and not rules:
        raise io.InputError(labels, f"{between} (add --predictions, --model or --rules to "
                            "compare the model with the labels)")
    preds = None
    if predictions is not None:
        preds = _read_predictions(predictions, settings)
    elif model is not None or rules:
        if cohort is None:
            raise io.InputError(labels, "--model/--rules need LABELS to be a cohort folder")
        from pipeline.coding.assign import code_segments, load_coder
        from pipeline.exports import machine_codings
        from pipeline.run import run_segments

        data = io.load_cohort(cohort)
        segs = run_segments(data, settings)
        segs = segs[segs["segment_id"].isin(set(table["segment_id"]))]
        coder, _ = load_coder(settings, model, rules=rules)
        coded = code_segments(segs.reset_index(drop=True), coder, settings.codebook)
        preds = _predictions_from_coded(coded, settings, machine_codings)
    result = ag.agreement(table, preds, codes=_names(settings), seed=seed,
                          replicates=replicates)
    for name in ("agreement", "pairwise", "per_segment"):
        io.write_csv(result[name], out / AGREEMENT_FILES[name])
    io.atomic_write(out / AGREEMENT_FILES["markdown"],
                    ag.agreement_markdown(result, source=str(labels), seed=seed,
                                          replicates=replicates))
    overall = result["agreement"].iloc[-1]
    if shared:
        summary = (f"{int(overall['n_units'])} units, {annotators} annotators: alpha "
                   f"{overall['krippendorff_alpha']:.3f}, mean kappa "
                   f"{overall['mean_pairwise_kappa']:.3f}, agreement "
                   f"{overall['percent_agreement']:.3f}")
    else:
        summary = (f"no inter-annotator agreement ({between}); model kappa "
                   f"{overall['model_kappa']:.3f} on {int(overall['model_n_units'])} units")
    typer.echo(f"{summary} -> {out}")


# ====================================================================== exports
@export_app.command("qdpx")
def export_qdpx(cohort: CohortArg,
                out: Annotated[Path, typer.Option("--out", help=".qdpx file to write")],
                model: ModelOpt = None, rules: RulesOpt = False, config: ConfigOpt = None,
                labels: Annotated[bool, typer.Option(
                    "--labels/--no-labels", help="include the label store's human "
                    "codings")] = True,
                reveal_names: Annotated[bool, typer.Option(
                    "--reveal-names", help="keep real names in the source texts")] = False,
                codes: Annotated[Path | None, typer.Option(
                    "--codes", help="coded segments to export instead of coding again: a "
                    "run's segments.csv (corrected or not) or the output of pipeline code; "
                    "--model/--rules then name what made them")] = None
                ) -> None:
    """REFI-QDA project (.qdpx) for ATLAS.ti, NVivo, MAXQDA, QualCoder.

    Pseudonymised transcripts, machine and human codings, key figures as cases with their
    profile and network metrics.
    """
    from pipeline.report import qdpx_project
    from pipeline.run import coded_by, report_cohort, run_cohort

    one_coder(model, rules)
    settings = load_settings(config)
    data = io.load_cohort(cohort)
    io.check_output(out, [*data.sources, *([codes] if codes else [])])
    if codes is None:
        result = run_cohort(data, settings, model_dir=model, rules=rules)
    else:   # as `pipeline report --codes` reads them
        made = coded_by(codes, settings, model, rules)
        result = report_cohort(data, settings, made.table, codes, made.coder, made.card,
                               warnings=made.notes)
    human = _store(cohort, settings).current() if labels else None
    payload, holds, dropped = qdpx_project(result, data, settings, reveal_names=reveal_names,
                                           human=human)
    io.atomic_write(out, payload)
    note = f" ({dropped} codings outside the texts skipped)" if dropped else ""
    typer.echo(f"{holds} -> {out}{note}")
    warn(*result.warnings)


@export_app.command("qdc")
def export_qdc(cohort: CohortArg,
               out: Annotated[Path, typer.Option("--out", help=".qdc file to write")],
               config: ConfigOpt = None) -> None:
    """The codebook alone as a REFI-QDA codebook (.qdc)."""
    from pipeline.exports import build_qdc

    settings = load_settings(config)
    meta = io.read_meta(Path(cohort) / "cohort.yaml")
    io.check_output(out, [Path(cohort), Path(cohort) / "cohort.yaml"])
    io.atomic_write(out, build_qdc(settings.codebook, origin=f"sleutelfiguren ({meta.name})"))
    typer.echo(f"{len(settings.codebook.codes)} codes, {len(settings.codebook.subtype_ids)} "
               f"sub-types -> {out}")


def _coded(cohort: Path, settings: Settings, model: Path | None, rules: bool):
    from pipeline.coding.assign import code_segments, load_coder
    from pipeline.run import run_segments

    data = io.load_cohort(cohort)
    segments = run_segments(data, settings)
    coder, _ = load_coder(settings, model, rules=rules)
    return data, code_segments(segments, coder, settings.codebook), coder.name


@export_app.command("matrix")
def export_matrix(cohort: CohortArg,
                  out: Annotated[Path, typer.Option("--out", help="CSV to write")],
                  model: ModelOpt = None, rules: RulesOpt = False, config: ConfigOpt = None,
                  machine: Annotated[bool, typer.Option(
                      "--machine/--no-machine", help="include the machine coder's rows")] = True
                  ) -> None:
    """Segment x code 0/1 matrix, one row per segment and annotator (machine and human)."""
    from pipeline.annotate import segment_ids_of, segment_offsets
    from pipeline.exports import code_matrix
    from pipeline.run import cohort_documents

    settings = load_settings(config)
    if machine:
        data, coded, name = _coded(cohort, settings, model, rules)
    else:
        data, coded, name = io.load_cohort(cohort), None, ""
    io.check_output(out, data.sources)
    current = _store(cohort, settings).current()
    mat = code_matrix(coded, current, settings.codebook,
                      cohort_documents(data, texts=False), name)
    io.write_csv(mat, out, bom=True)
    typer.echo(f"{len(mat)} rows ({mat['segment_id'].nunique()} segments, "
               f"{mat['annotator'].nunique()} annotators) -> {out}")
    labelled = set(current["segment_id"])
    now = (set(coded["segment_id"]) if coded is not None else segment_ids_of(
        data, settings, {(segment_offsets(s) or ("",))[0] for s in labelled}))
    _warn_unmatched(sorted(labelled - now),
                    "their rows are in the matrix, but they are no segment a coder sees now")


@export_app.command("ena")
def export_ena(cohort: CohortArg,
               out: Annotated[Path, typer.Option("--out", help="CSV to write")],
               model: ModelOpt = None, rules: RulesOpt = False, config: ConfigOpt = None,
               prefer_labels: Annotated[bool, typer.Option(
                   "--prefer-labels", help="use the human reference labels (adjudicated > "
                   "gold > majority) where a segment has them")] = False) -> None:
    """ENA table: one row per coded segment of everyone with transcripts (key figure or not),
    units = person_id, conversation = transcript."""
    from pipeline.agreement import reference_labels
    from pipeline.exports import ena_table

    settings = load_settings(config)
    data, coded, name = _coded(cohort, settings, model, rules)
    io.check_output(out, data.sources)
    reference = reference_labels(_store(cohort, settings).current()) if prefer_labels else None
    table = ena_table(coded, settings.codebook, name, reference)
    io.write_csv(table, out, bom=True)
    typer.echo(f"{len(table)} segments, {table['units'].nunique()} units, "
               f"{table['conversation'].nunique()} conversations -> {out}")
