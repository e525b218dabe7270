"""The `pipeline` command: a thin layer that parses arguments, calls stages and writes results.

Every command turns bad input into one line on stderr naming the file, line and field, and
exits with status 2 (``--debug`` shows the traceback instead). Outputs are written through
``io`` (temporary file + rename; whole output folders staged and swapped), so an error or a
kill never leaves a half-written result in place of a good one.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline import io
from pipeline.cli_annotate import agreement, annotate_app, export_app
from pipeline.cli_common import err, one_coder, warn
from pipeline.cli_evaluate import evaluate
from pipeline.config import ConfigError, load_settings

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Sleutelfiguren: who spreads knowledge about PLGs in a school, what and how.")
DEBUG = {"on": False}

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="pipeline.yaml to use "
                                                "(default: configs/pipeline.yaml)")]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, help="processes to use")]
RevealOpt = Annotated[bool, typer.Option("--reveal-names", help="keep real names in texts "
                                         "and outputs (recorded in the manifest)")]


def _progress() -> tuple[Progress, callable]:
    """A progress bar that redraws when told, not from a thread of its own: coding forks its
    workers (``parallel.ordered_map(inherit=True)``), and a fork must not copy a thread that
    may hold the console's lock."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=err, transient=True, auto_refresh=False,
                   disable=not err.is_terminal)
    tasks: dict[str, int] = {}

    def update(what: str, done: int, total: int) -> None:
        if what not in tasks:
            tasks[what] = bar.add_task(what, total=total)
        bar.update(tasks[what], completed=done, total=total, refresh=True)

    return bar, update


def _manifest(command: list[str], settings, cohort_root: Path, inputs: list[Path], out: Path,
              started: datetime, extra: dict, digests: dict[Path, str] | None = None) -> dict:
    return io.build_manifest(command=command, config=settings.pipeline.model_dump(mode="json"),
                             config_files=settings.files, inputs=inputs, input_root=cohort_root,
                             outputs=out, started=started, extra=extra, digests=digests)


def _write_beside(out: Path, settings, root: Path, inputs: list[Path], started: datetime,
                  **extra) -> None:
    """The manifest of a command that writes one file, beside it (``io.manifest_beside``):
    versions, config, the inputs' and the output's sha256 and ``extra`` (what made it)."""
    io.write_manifest(io.manifest_beside(out),
                      _manifest(sys.argv, settings, root, inputs, out, started, extra))


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False):
    DEBUG["on"] = debug


@app.command()
def run(cohort: Annotated[Path, typer.Argument(help="cohort folder (DESIGN.md layout)")],
        out: Annotated[Path, typer.Option("--out", help="output folder")],
        config: ConfigOpt = None,
        model: Annotated[Path | None, typer.Option("--model", help="model folder")] = None,
        rules: Annotated[bool, typer.Option("--rules", help="code with the rule coder")] = False,
        jobs: JobsOpt = 2, reveal_names: RevealOpt = False) -> None:
    """Run every stage on a cohort folder and write all results to OUT."""
    from pipeline.run import run_cohort

    one_coder(model, rules)
    started = datetime.now(UTC)
    settings = load_settings(config)
    data = io.load_cohort(cohort)
    io.check_output(out, data.sources, folder=True, kind="run")
    bar, update = _progress()
    with bar:
        result = run_cohort(data, settings, model_dir=model, rules=rules,
                            reveal_names=reveal_names, jobs=jobs, progress=update)
    _write_run(out, result, data, settings, started, reveal_names=reveal_names, jobs=jobs)
    typer.echo(f"{data.meta.name}: {len(data.staff)} staff, {len(result.segments)} segments, "
               f"{len(result.profiles)} key figures{_per_profile(result.profiles)} -> {out}")


def _write_run(out: Path, result, data: io.Cohort, settings, started: datetime, *,
               reveal_names: bool, jobs: int) -> None:
    """Stage every output of a run, the manifest last (with `report`'s coded table among
    the inputs), swap it in as ``out``, then print the warnings."""
    from pipeline import report

    writing, update = _progress()
    # the report's "how to reproduce" and the manifest name the same files, run id and hashes
    reproduce = report.reproduce_info(result, data, settings, reveal_names=reveal_names)
    with io.staged_output(out) as stage:
        with writing:
            result.warnings += report.write_run(stage, result, data, settings,
                                                reveal_names=reveal_names, jobs=jobs,
                                                progress=update, reproduce=reproduce)
        extra = {"reveal_names": reveal_names, "coder": result.coder,
                 "model_card": result.model_card, "warnings": result.warnings,
                 "counts": {"staff": len(data.staff), "nominations": len(data.nominations),
                            "segments": len(result.segments),
                            "key_figures": len(result.network.key_figures)}}
        extra |= {key: reproduce[key] for key in ("run_id", "config_hash", "input_hash")}
        inputs = [*data.read_files, *([result.codes_file] if result.codes_file else [])]
        io.write_manifest(stage / "manifest.json",
                          _manifest(sys.argv, settings, data.root, inputs, stage, started,
                                    extra, digests=reproduce["digests"]))
    _print_warnings(result.warnings, out, settings)


def _print_warnings(warnings: list[str], out: Path, settings) -> None:
    """The first ``report.max_console_warnings`` warnings, then how many more there are
    (a thousand schools can give thousands): all are in ``out``'s manifest."""
    shown = settings.pipeline.report.max_console_warnings
    warn(*warnings[:shown])
    if len(warnings) > shown:
        warn(f"... and {len(warnings) - shown:,} more: all {len(warnings):,} are listed in "
             f"{out / 'manifest.json'} (\"warnings\")")


@app.command()
def report(cohort: Annotated[Path, typer.Argument(help="cohort folder the codes are of")],
           codes: Annotated[Path, typer.Option("--codes", help="coded segments: a run's "
                                               "segments.csv (corrected or not) or the output "
                                               "of pipeline code")],
           out: Annotated[Path, typer.Option("--out", help="output folder")],
           config: ConfigOpt = None,
           model: Annotated[Path | None, typer.Option(
               "--model", help="the model folder that made the codes (its card goes in the "
               "report; default: the run's, from the manifest beside CODES)")] = None,
           rules: Annotated[bool, typer.Option("--rules", help="the codes were made by the "
                                               "rule coder")] = False,
           jobs: JobsOpt = 2, reveal_names: RevealOpt = False) -> None:
    """Everything `run` writes, from codes already made: network, profiles, report, exports."""
    from pipeline.run import coded_by, report_cohort

    one_coder(model, rules)
    started = datetime.now(UTC)
    settings = load_settings(config)
    data = io.load_cohort(cohort)
    io.check_output(out, [*data.sources, codes], folder=True, kind="report")
    made = coded_by(codes, settings, model, rules)
    bar, update = _progress()
    with bar:
        result = report_cohort(data, settings, made.table, codes, made.coder, made.card,
                               coder_flags=made.flags, reveal_names=reveal_names, jobs=jobs,
                               progress=update, warnings=made.notes)
    _write_run(out, result, data, settings, started, reveal_names=reveal_names, jobs=jobs)
    typer.echo(f"{data.meta.name}: {len(result.segments)} segments coded by {result.coder}, "
               f"{len(result.profiles)} key figures{_per_profile(result.profiles)} -> {out}")


@app.command("network")
def network_cmd(cohort: Annotated[Path, typer.Argument(help="cohort folder")],
                out: Annotated[Path, typer.Option("--out", help="output folder")],
                config: ConfigOpt = None, jobs: JobsOpt = 2,
                reveal_names: RevealOpt = False) -> None:
    """Network stage alone: metrics, key figures, sociograms, GraphML and Pajek files."""
    from pipeline import report
    from pipeline.run import network_notes, run_network

    started = datetime.now(UTC)
    settings = load_settings(config)
    data = io.load_cohort(cohort)
    io.check_output(out, data.sources, folder=True, kind="network")
    net = run_network(data, settings)
    notes = network_notes(data, net)
    with io.staged_output(out) as stage:
        report.write_network(stage, net, data, settings, reveal_names=reveal_names, jobs=jobs)
        io.write_manifest(stage / "manifest.json",
                          _manifest(sys.argv, settings, data.root,
                                    [data.root / "staff.csv", data.root / "nominations.csv",
                                     data.root / "cohort.yaml"], stage, started,
                                    {"reveal_names": reveal_names, "warnings": notes}))
    _print_warnings(notes, out, settings)
    typer.echo(f"{len(net.metrics)} people, {len(net.schools)} schools, "
               f"{len(net.key_figures)} key figures -> {out}")


@app.command()
def segment(cohort: Annotated[Path, typer.Argument(help="cohort folder")],
            out: Annotated[Path, typer.Option("--out", help="segments CSV to write")],
            config: ConfigOpt = None, jobs: JobsOpt = 2,
            reveal_names: RevealOpt = False) -> None:
    """Split a cohort's transcripts into respondent segments (ids, offsets, context)."""
    from pipeline.run import run_segments

    started = datetime.now(UTC)
    settings = load_settings(config)
    data = io.load_cohort(cohort)
    io.check_output(out, data.sources)
    notes: list[str] = []
    segments = run_segments(data, settings, reveal_names=reveal_names, jobs=jobs, notes=notes)
    io.write_csv(segments, out)
    _write_beside(out, settings, data.root, data.read_files, started, segments=len(segments),
                  reveal_names=reveal_names, warnings=notes)
    warn(*notes)
    typer.echo(f"{len(segments)} segments from {len(data.transcripts)} transcripts -> {out}")


@app.command()
def code(infile: Annotated[Path, typer.Argument(metavar="IN", help=".csv or .jsonl with id, text")],
         out: Annotated[Path, typer.Option("--out", help="coded CSV to write")],
         model: Annotated[Path | None, typer.Option("--model", help="model folder")] = None,
         rules: Annotated[bool, typer.Option("--rules", help="use the rule coder")] = False,
         config: ConfigOpt = None, jobs: JobsOpt = 2) -> None:
    """Code any file of segments (the coding contract: id, codes, p_<code> per code)."""
    from pipeline.parallel import aside, collector_paused

    one_coder(model, rules)
    started = datetime.now(UTC)
    settings = load_settings(config)
    io.check_output(out, [infile])
    # a forked process reads the input while this one imports and loads the coder and warms
    # it up; the coding workers are forked afterwards and start with both
    with collector_paused() as loaded:
        with aside(_segments_to_code, infile) as reading:
            from pipeline.coding.assign import contract_csv, load_coder, model_notes

            coder, card = load_coder(settings, model, rules=rules)
            coder.warm()
            segments, notes = reading.result()
        loaded()
        bar, update = _progress()
        done = [0]

        def tick(n: int) -> None:
            done[0] += n
            update("coding", done[0], len(segments))

        with bar:   # each worker codes and formats its chunks; the text is written as it comes
            io.atomic_write(out, contract_csv(segments, coder, settings.codebook, jobs=jobs,
                                              progress=tick, inherit=True))
    notes += model_notes(card, settings.codebook, settings.pipeline.coding.min_positives)
    folder = None if rules else Path(model or settings.model_dir)
    _write_beside(out, settings, infile.parent, [infile, *_model_files(folder)], started,
                  coder=coder.name, model_card=card, segments=len(segments), warnings=notes)
    warn(*notes)
    typer.echo(f"{len(segments)} segments coded by {coder.name} -> {out}")


def _segments_to_code(infile: Path) -> tuple[pd.DataFrame, list[str]]:
    """The segments of a file to code and what to know of them (read beside the coder's
    loading, notes included: they are off the critical path there)."""
    segments = io.read_segments_file(infile)
    return segments.drop(columns=["line"]), io.segments_file_notes(segments, infile)


def _model_files(folder: Path | None) -> list[Path]:
    """The files of a model folder that coding reads (its card, arrays, spaCy pipeline)."""
    from pipeline.coding.scoring import MODEL_ENTRIES

    if folder is None:
        return []
    return sorted(p for name in MODEL_ENTRIES for p in
                  ([folder / name] if (folder / name).is_file() else (folder / name).rglob("*"))
                  if p.is_file())


@app.command()
def profile(features: Annotated[Path, typer.Argument(help="features CSV (profile contract)")],
            out: Annotated[Path, typer.Option("--out", help="profiles CSV to write")],
            config: ConfigOpt = None) -> None:
    """Assign profiles (with reasons and a sensitivity check) to a table of person features."""
    from pipeline.profile import assign_profiles

    started = datetime.now(UTC)
    settings = load_settings(config)
    io.check_output(out, [features])
    table = io.read_features(features, settings.codebook)
    try:
        profiles = assign_profiles(table, settings.profiles, settings.codebook)
    except ValueError as e:
        raise io.InputError(features, str(e)) from None
    io.write_csv(profiles, out)
    _write_beside(out, settings, features.parent, [features], started, profiles=len(profiles),
                  warnings=profiles.attrs.get("notes", []))
    warn(*profiles.attrs.get("notes", []))
    typer.echo(f"{len(profiles)} profiles{_per_profile(profiles)} -> {out}")


def _per_profile(profiles) -> str:
    """`` (4 super_sharer, 3 sender)``: how many of each profile, most first ('' for none)."""
    counts = profiles["profile"].value_counts()
    return f" ({', '.join(f'{n} {p}' for p, n in counts.items())})" if len(counts) else ""


@app.command()
def train(cohort: Annotated[Path, typer.Argument(help="cohort folder with labels/")],
          out: Annotated[Path | None, typer.Option("--out", help="model folder (default: the "
                                                   "configured model, when it was trained on "
                                                   "this cohort)")] = None,
          config: ConfigOpt = None,
          evaluate: Annotated[bool, typer.Option(help="leave-one-school-out evaluation into "
                                                 "the model card (slower)")] = True) -> None:
    """Train the default coder on the cohort's labels, evaluate it, save it with a model card."""
    from pipeline.coding.scoring import CARD_FILE, read_card
    from pipeline.coding.train import cohort_folder, cohort_labels, train_default

    settings = load_settings(config)
    data = io.load_cohort(cohort)
    if out is None:   # retraining the configured model: only from the cohort it was made of
        out = settings.model_dir
        made = read_card(out).get("training_data", {})
        same = (made.get("cohort_folder") == cohort_folder(data) if "cohort_folder" in made
                else made.get("cohort") in (None, data.meta.name))
        if not same:
            moved = made.get("cohort") == data.meta.name   # its folder hash: another path
            where = " of this name, in another folder" if moved else ""
            raise io.InputError(out, f"the configured model was trained on another cohort "
                                f"({made.get('cohort')!r}){where}, and training on {cohort} "
                                "would replace it: give --out models/<name> (coding.model in "
                                "your config, or --model, then uses it)"
                                + (f", or --out {out} if this is that cohort, moved"
                                   if moved else ""))
    io.check_output(out, data.sources, folder=True, marker=CARD_FILE)
    labels, _, store = cohort_labels(data, settings)
    if store is not None:
        typer.echo(f"training on the label store {store}")
    notes: list[str] = []
    card = train_default(data, settings, out, labels=labels, evaluate=evaluate, notes=notes)
    warn(*notes)
    typer.echo(f"trained on {card['training_data']['segments']} segments -> {out}")


app.add_typer(annotate_app, name="annotate", help="Annotation tasks: export, import, adjudicate, "
              "rename-code, retire-code, rename-annotator.")
app.add_typer(export_app, name="export", help="Exports for other tools: qdpx, qdc, matrix, ena.")
app.command("agreement")(agreement)
app.command("evaluate")(evaluate)


def _error(message: str) -> None:
    """One line on stderr; the message is printed literally (no rich markup inside it)."""
    from rich.markup import escape

    err.print(f"[red]error[/]: {escape(' '.join(str(message).split()))}", highlight=False,
              soft_wrap=True)


def main() -> None:
    """Entry point: one-line errors with exit code 2 for bad input or configuration, 1 for a
    failing file system or an unexpected error; ``--debug`` shows the traceback instead."""
    import atexit
    import gc

    from typer.exceptions import TyperException  # typer's own click: usage errors

    # at exit, Python's last collections walk every object still alive (spaCy's tables,
    # pandas, numba: ~0.6 s for `pipeline code`); frozen, they are skipped. Memory is freed
    # by the process ending, as always. (Registered once, however often main runs.)
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)

    def debug() -> bool:
        return DEBUG["on"] or "--debug" in sys.argv[1:]

    # "rerun with --debug" is followed by adding it anywhere, not only before the command
    args = [a for a in sys.argv[1:] if a != "--debug"]
    asked = len(args) < len(sys.argv) - 1
    try:
        # not standalone, typer returns the exit code of an interrupted command (Ctrl-C: 130)
        # instead of exiting with it
        code = app(args=["--debug", *args] if asked else args, prog_name="pipeline",
                   standalone_mode=False)
        if isinstance(code, int) and code:
            if code == 130:
                err.print("aborted")
            sys.exit(code)
    except (io.InputError, ConfigError) as e:
        if debug():
            raise
        _error(str(e))
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except TyperException as e:  # usage errors: they print their own short help
        e.show()
        sys.exit(getattr(e, "exit_code", 2))
    except OSError as e:  # disk full, no permission, a folder where a file should be ...
        if debug():
            raise
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        _error(f"{where}{e.strerror or e} (rerun with --debug for the traceback)")
        sys.exit(1)
    except Exception as e:  # a bug: say so in one line, the traceback is one flag away
        if debug():
            raise
        _error(f"unexpected {type(e).__name__}: {e} (rerun with --debug for the traceback)")
        sys.exit(1)


if __name__ == "__main__":
    main()
