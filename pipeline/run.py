"""Wiring: the stages in the order of DESIGN.md's data flow, for `pipeline run` and friends.

Logic lives in the stage modules; this module only passes tables from one stage to the next,
collects warnings, and hands results to ``io`` and ``report`` for writing. Every function takes
already-loaded ``Settings`` and returns tables, so a notebook can call them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from pipeline import network
from pipeline.coding.assign import (
    CODED_COLUMNS,
    WORD_COUNT_COLUMNS,
    code_segments,
    load_coder,
    model_notes,
    unfamiliar_words_notes,
)
from pipeline.config import NetworkConfig, SegmentConfig, Settings
from pipeline.io import (
    Cohort,
    InputError,
    id_list,
    line_list,
    load_transcript,
    read_codes_file,
    read_transcript,
    run_manifest_of,
)
from pipeline.nlp import make_nlp
from pipeline.parallel import ordered_map
from pipeline.privacy import REVEAL_HINT, Pseudonymiser, cohort_key, roster_fingerprint
from pipeline.profile import assign_profiles, person_codes, person_features
from pipeline.segment import (
    SEGMENT_COLUMNS,
    segment_transcripts,
    speaker_names,
    speaker_notes,
    transcript_of,
)

__all__ = ["NetworkResult", "RunResult", "run_network", "network_notes", "untranscribed_notes",
           "unprofiled_notes",
           "read_texts", "cohort_documents", "run_segments", "run_cohort",
           "report_cohort", "codes_provenance", "coded_by", "CodesMade", "with_codes",
           "pseudonymiser_for"]

Progress = Callable[[str, int, int], None]


@dataclass
class NetworkResult:
    """``nominations``: the clean nominations every table and graph of the run describes;
    with ``symmetrize_nonrespondents`` the completed network (column ``imputed`` marks the
    added arcs)."""

    nominations: pd.DataFrame
    quality: pd.DataFrame
    metrics: pd.DataFrame
    schools: pd.DataFrame
    key_figures: pd.DataFrame


@dataclass
class RunResult:
    network: NetworkResult
    segments: pd.DataFrame
    person_codes: pd.DataFrame
    features: pd.DataFrame
    profiles: pd.DataFrame
    coder: str
    model_card: dict
    warnings: list[str] = field(default_factory=list)
    # `pipeline report`: the coded table the codes came from, and the flags that named its
    # coder (``--model MODEL_DIR`` / ``--rules``), for the report's reproduce command
    codes_file: Path | None = None
    coder_flags: tuple[str, ...] = ()


def run_network(cohort: Cohort, settings: Settings) -> NetworkResult:
    cfg = settings.pipeline.network
    if cfg.brokerage_attribute not in cohort.staff.columns:
        columns = [c for c in cohort.staff.columns if c != "line"]
        raise settings.error_at(("network", "brokerage_attribute"),
                                f"{cfg.brokerage_attribute!r} is not a column of staff.csv "
                                f"(its columns: {', '.join(map(str, columns))})")
    try:
        observed, quality = network.check_nominations(cohort.staff, cohort.nominations,
                                                      cohort.meta, cfg.data_quality_policy)
    except InputError as e:   # the fail policy's: named by its path, as every other file
        raise InputError(cohort.root / e.file, e.message, e.line, e.field) from None
    # one network for every figure: school metrics, graphs and key figures alike
    nominations = (network.symmetrize_nonrespondents(cohort.staff, observed)
                   if cfg.symmetrize_nonrespondents else observed)
    metrics = network.person_metrics(cohort.staff, nominations, cfg)
    schools = network.school_metrics(cohort.staff, nominations)
    kf = network.key_figures(metrics, cfg, nominators=observed["ego"].astype(str).unique())
    return NetworkResult(nominations, quality, metrics, schools, kf)


def read_texts(cohort: Cohort, progress: Progress | None = None) -> pd.DataFrame:
    """The cohort's transcripts table with a ``text`` column (read through ``io``)."""
    texts = []
    n = len(cohort.transcripts)
    for i, rel in enumerate(cohort.transcripts["path"]):
        texts.append(read_transcript(cohort.root / rel))
        if progress:
            progress("reading transcripts", i + 1, n)
    return cohort.transcripts.assign(text=texts)


def cohort_documents(cohort: Cohort, *, texts: bool = True) -> pd.DataFrame:
    """The transcripts as documents of an export: doc, stem, school_id, person_id, source
    and (with ``texts``) the text as read."""
    tr = read_texts(cohort) if texts else cohort.transcripts.assign(text="")
    return pd.DataFrame({"doc": tr["path"], "stem": [Path(p).stem for p in tr["path"]],
                         "school_id": tr["school_id"], "person_id": tr["person_id"],
                         "source": tr["source"], "text": tr["text"]})


def pseudonymiser_for(cohort: Cohort, config: SegmentConfig) -> Pseudonymiser:
    """The cohort's pseudonymiser, built once per loaded cohort: segmenting and the run's
    ``.qdpx`` both need it (seconds for a national roster). It knows the roster's names and
    the names each school's interviews use as speakers (:func:`pipeline.segment.speaker_names`)."""
    if "pseudonymiser" not in cohort.derived:
        names = dict(zip(cohort.staff["person_id"], cohort.staff["name"].fillna(""),
                         strict=True))
        speakers = {(t.school_id, name) for t in cohort.transcripts.itertuples(index=False)
                    if t.source == "interview"
                    for read in [load_transcript(cohort.root / t.path)]
                    for name in speaker_names(read.text, t.source, config,
                                              names.get(t.person_id, ""), read.formats)}
        cohort.derived["pseudonymiser"] = Pseudonymiser.from_staff(
            cohort.staff, cohort_key(cohort.meta.name, roster_fingerprint(cohort.staff)),
            speakers)
    return cohort.derived["pseudonymiser"]


def _segment_chunk(root: Path, transcripts: pd.DataFrame, config: SegmentConfig,
                   pseudo: Pseudonymiser | None) -> tuple[pd.DataFrame, list[str]]:
    """Read, segment and (unless ``pseudo`` is None) pseudonymise some transcripts; with the
    notes on their speakers (:func:`pipeline.segment.speaker_notes`). School by school: the
    pseudonymiser resolves a school's own names once for all its texts."""
    parts, notes = [], []
    for school, group in transcripts.groupby("school_id", sort=False):
        read = [load_transcript(root / rel) for rel in group["path"]]
        notes += [f"{rel}: {_without_names(note, pseudo, school)}"   # they quote prefixes
                  for rel, t, source, name in zip(group["path"], read, group["source"],
                                                  group["respondent_name"], strict=True)
                  for note in speaker_notes(t.text, source, config, name, t.formats)]
        segments = segment_transcripts(group.assign(text=[t.text for t in read],
                                                    formats=[t.formats for t in read]),
                                       config, make_nlp(False))
        if pseudo is not None and len(segments):
            segments["text"] = [pseudo(t, school) for t in segments["text"]]
            segments["context"] = _pseudonymised(segments["context"], segments["school_id"],
                                                 pseudo)   # parts share one
        parts.append(segments)
    parts = [p for p in parts if len(p)]
    return (pd.concat(parts, ignore_index=True) if parts
            else pd.DataFrame(columns=SEGMENT_COLUMNS)), notes


def _unnamed_notes(staff: pd.DataFrame) -> list[str]:
    """Rows of staff.csv without a name, and schools without a school_name on any row (where
    the column is there): what is not known cannot be pseudonymised, so those names stay in
    the texts as written."""
    notes = []
    unnamed = staff.loc[staff["name"].fillna("").str.strip() == "", "line"]
    if len(unnamed):
        n = len(unnamed)
        notes.append(f"staff.csv: no name on line{'s' if n > 1 else ''} "
                     f"{line_list(unnamed.to_numpy())}, so "
                     + ("those people's names in the transcripts are" if n > 1 else
                        "that person's name in the transcripts is")
                     + f" not pseudonymised: fill {'them' if n > 1 else 'it'} in")
    if "school_name" in staff.columns:
        named = staff["school_name"].fillna("").str.strip().ne("").groupby(
            staff["school_id"]).any()
        if not named.all():
            schools = sorted(map(str, named.index[~named]))
            notes.append(f"staff.csv: no school_name for school{'s' if len(schools) > 1 else ''} "
                         f"{id_list(schools)}, so "
                         + ("their names in the transcripts are" if len(schools) > 1 else
                            "its name in the transcripts is")
                         + f" not pseudonymised: fill {'them' if len(schools) > 1 else 'it'} in")
    return notes


def _lost_letter_notes(staff: pd.DataFrame) -> list[str]:
    """Roster names with a "?" (or U+FFFD) where a letter was: a staff.csv exported in an
    encoding without that letter ("Y?lmaz" for Yılmaz, Excel's "CSV" in Windows-1252). The
    transcripts write the name with the letter, which then is no form of the roster's, so it
    stays. Named by line, not by name (the warning reaches the report)."""
    lost = staff.loc[staff["name"].fillna("").str.contains("[?\ufffd]"), "line"]
    if lost.empty:
        return []
    n = len(lost)
    return [f"staff.csv: the name{'s' if n > 1 else ''} on line{'s' if n > 1 else ''} "
            f"{line_list(lost.to_numpy())} hold{'' if n > 1 else 's'} a '?' where a letter "
            "was lost in the export (Excel's CSV without that letter: Y?lmaz for Yılmaz), so "
            "the transcripts' spelling of it is not pseudonymised: save staff.csv as UTF-8 "
            "(Excel: 'CSV UTF-8')"]


def _kept_acronym_notes(pseudo: Pseudonymiser, segments: pd.DataFrame) -> list[str]:
    """Initials of a school's people that are also school acronyms ("MT") and so stay as
    written in its segments' texts and questions, one note per form over all schools: where
    one names the person, the researcher can make it a nickname, which is pseudonymised.
    Whose initials they are is left out (the researcher's roster says; beside the form, a
    person id would name them in the report)."""
    kept: dict[str, dict[str, int]] = {}
    for school, group in segments.groupby("school_id", sort=True):
        def said(group=group):   # read only for a school with such initials
            yield from group["text"]
            yield from group["context"].dropna().unique()

        for form, n in pseudo.kept_acronyms(school, said()).items():
            kept.setdefault(form, {})[str(school)] = n
    notes = []
    for form, schools in sorted(kept.items()):
        n, m = sum(schools.values()), len(schools)
        notes.append(f"{form} stays as written {n} time{'s' if n > 1 else ''} in the segments "
                     f"of {m} school{'s' if m > 1 else ''} ({id_list(sorted(schools))}) where it "
                     "is a school acronym and also the initials of someone in staff.csv; where it "
                     f"names them, give {form} as their nickname there to pseudonymise it (then "
                     f"every {form} in their school's texts is)")
    return notes


def _without_names(note: str, pseudo: Pseudonymiser | None, school: str) -> str:
    """A speaker note pseudonymised, saying so where it was (to act on it, the researcher
    needs the name)."""
    said = note if pseudo is None else pseudo(note, school)
    return said if said == note else said + REVEAL_HINT


def _pseudonymised(values: pd.Series, schools: pd.Series, pseudo: Pseudonymiser
                   ) -> np.ndarray:
    """``values`` (each of the school beside it) pseudonymised, each distinct pair once (many
    rows repeat one)."""
    codes, distinct = pd.factorize(pd.Series(list(zip(values, schools, strict=True)),
                                             dtype=object))
    return np.array([pseudo(v, s) for v, s in distinct], dtype=object)[codes]


# Segmenting in worker processes pays only for large cohorts: each worker starts spaCy and
# receives the pseudonymiser (megabytes for a national roster). Measured with 2 jobs
# (bench/, 2 cores): 600 transcripts 4.8 s alone vs 8.7 s in workers; 6,000 transcripts
# 35 s vs 28 s.
TRANSCRIPTS_PER_JOB = 500


def run_segments(cohort: Cohort, settings: Settings, *, reveal_names: bool = False,
                 jobs: int = 1, progress: Progress | None = None,
                 notes: list[str] | None = None) -> pd.DataFrame:
    """Segments of every transcript; texts pseudonymised unless ``reveal_names``. What to
    check in a transcript's speakers (nothing recognised as the respondent, a prefix that is
    no speaker) is added to ``notes`` when it is given.

    Offsets (and so segment ids) always refer to the original transcript. Transcripts are
    independent, so a large cohort (:data:`TRANSCRIPTS_PER_JOB`) is read and segmented in
    chunks over ``jobs`` processes; the result is in transcript order whatever ``jobs`` is.
    """
    pseudo = None if reveal_names else pseudonymiser_for(cohort, settings.pipeline.segment)
    if (notes is not None and pseudo is not None and len(cohort.transcripts)
            and "school_name" not in cohort.staff.columns):
        notes.append("staff.csv has no school_name column, so school names in the "
                     "transcripts are not pseudonymised: add the column (school_id's name) "
                     "to replace them")
    if notes is not None and pseudo is not None and len(cohort.transcripts):
        notes += _unnamed_notes(cohort.staff) + _lost_letter_notes(cohort.staff)
    config = settings.pipeline.segment
    names = dict(zip(cohort.staff["person_id"], cohort.staff["name"].fillna(""), strict=True))
    transcripts = cohort.transcripts.assign(
        respondent_name=[names.get(p, "") for p in cohort.transcripts["person_id"]])
    n = len(transcripts)
    size = max(1, -(-n // (2 * jobs))) if n else 1  # few chunks: each ships the pseudonymiser
    chunks = [transcripts.iloc[i:i + size] for i in range(0, n, size)]
    results = ordered_map(_segment_chunk, [(cohort.root, c, config, pseudo) for c in chunks],
                          jobs if n >= TRANSCRIPTS_PER_JOB * jobs else 1)
    parts, done = [], 0
    for chunk, (res, chunk_notes) in zip(chunks, results, strict=True):
        parts.append(res)
        if notes is not None:
            notes += chunk_notes
        done += len(chunk)
        if progress:
            progress("segmenting transcripts", done, n)
    parts = [p for p in parts if len(p)]
    segments = (pd.concat(parts, ignore_index=True) if parts
                else pd.DataFrame(columns=SEGMENT_COLUMNS))
    if notes is not None and pseudo is not None:
        notes += _kept_acronym_notes(pseudo, segments)
    return segments


def run_cohort(cohort: Cohort, settings: Settings, *, model_dir: Path | None = None,
               rules: bool = False, reveal_names: bool = False, jobs: int = 1,
               progress: Progress | None = None) -> RunResult:
    """Every stage on a cohort: network, segments, codes, person features, profiles."""
    warnings: list[str] = []
    net = _network_noted(cohort, settings, warnings)
    coder, card = load_coder(settings, model_dir, rules=rules)  # a bad --model fails early
    warnings += model_notes(card, settings.codebook, settings.pipeline.coding.min_positives)
    segments = run_segments(cohort, settings, reveal_names=reveal_names, jobs=jobs,
                            progress=progress, notes=warnings)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress:
            progress("coding segments", done[0], len(segments))

    coded = code_segments(segments, coder, settings.codebook, jobs=jobs, progress=tick)
    warnings += unfamiliar_words_notes(coded, card)
    warnings += unprofiled_notes(net, coded, settings.pipeline.network)
    return _profiled(settings, net, coded, coder.name, card, warnings,
                     set(cohort.transcripts["person_id"]))


def report_cohort(cohort: Cohort, settings: Settings, codes: pd.DataFrame, codes_file: Path,
                  coder: str, card: dict, *, coder_flags: tuple[str, ...] = (),
                  reveal_names: bool = False, jobs: int = 1, progress: Progress | None = None,
                  warnings: list[str] | None = None) -> RunResult:
    """Every stage but coding: the codes come from a coded table (:func:`io.read_codes_file`
    of ``codes_file``, e.g. a run's segments.csv corrected by hand), and network, segments,
    person features and profiles are made again with ``settings``, so the report shows
    corrected codes, other profile thresholds or another language without coding again."""
    warnings = list(warnings or [])
    net = _network_noted(cohort, settings, warnings)
    segments = run_segments(cohort, settings, reveal_names=reveal_names, jobs=jobs,
                            progress=progress, notes=warnings)
    coded = with_codes(segments, codes, codes_file, coder)
    warnings += unfamiliar_words_notes(coded, card)
    if not reveal_names:  # the texts are the transcripts', pseudonymised; the evidence is ours
        coded["evidence"] = _pseudonymised(coded["evidence"], coded["school_id"],
                                           pseudonymiser_for(cohort, settings.pipeline.segment))
    warnings += unprofiled_notes(net, coded, settings.pipeline.network)
    result = _profiled(settings, net, coded, coder, card, warnings,
                       set(cohort.transcripts["person_id"]))
    result.codes_file, result.coder_flags = Path(codes_file), tuple(coder_flags)
    return result


def _named_coder(model: Path | None, rules: bool) -> tuple[dict | None, tuple[str, ...]]:
    """The card of the coder a user names for codes already made (``--model DIR``, or
    ``{"name": "rules"}`` for ``--rules``; None: named by nobody) and the flags that say so
    in the report's command."""
    from pipeline.coding.scoring import CARD_FILE, read_card

    if rules:
        return {"name": "rules"}, ("--rules",)
    if model is None:
        return None, ()
    card = read_card(model)
    if not card:
        raise InputError(Path(model) / CARD_FILE, "no model card: is this a model folder?")
    return card, ("--model", "MODEL_DIR")


def codes_provenance(codes: pd.DataFrame, codes_file: Path, manifest: dict | None,
                     named: dict | None) -> tuple[str, dict, list[str]]:
    """Which coder made a coded table, its model card for the report, and what to warn.

    ``named``: the card of the ``--model`` the user names (``{"name": "rules"}`` for
    ``--rules``); else ``manifest``: the run that wrote ``codes_file`` unchanged
    (:func:`io.run_manifest_of`), when it knew its model; else only the table's ``coder``
    column, and no evaluation to show (a hand-corrected table is no model's)."""
    names = sorted(set(codes["coder"]) - {""})
    if named is not None:
        name = named.get("name", "model")
        if names and name not in names:
            raise InputError(codes_file, f"coded by {' + '.join(names)}, not by the coder "
                             f"named ({name})", field="coder")
        return name, named, []
    if manifest is not None and isinstance(manifest.get("model_card"), dict) \
            and manifest["model_card"]:
        return str(manifest.get("coder", "")), manifest["model_card"], []
    if names == ["rules"]:
        return "rules", {"name": "rules"}, []
    said = (f"its coder column says {' + '.join(names)}, but it is not as a run wrote it"
            if names else "it has no coder column")
    return " + ".join(names) or "unknown", {}, [
        f"{codes_file}: {said}, so the report shows no model evaluation (--model or --rules "
        "names the coder that made these codes)"]


class CodesMade(NamedTuple):
    """A coded table read for `pipeline report` or `export qdpx --codes`, with what made it
    (:func:`codes_provenance`) and the report's flags naming it (``--model MODEL_DIR``)."""

    table: pd.DataFrame
    coder: str
    card: dict
    notes: list[str]
    flags: tuple[str, ...]


def coded_by(codes_file: Path, settings: Settings, model: Path | None, rules: bool
             ) -> CodesMade:
    """Read ``codes_file`` and find which coder made it: the one the user names (``--model``
    or ``--rules``), else the run that wrote the file, else its ``coder`` column; and what
    ``run`` would warn of that coder under this codebook (:func:`model_notes`: trained under
    another version of it, from too few labels), as the report shows its evaluation."""
    table = read_codes_file(codes_file, settings.codebook)
    named, flags = _named_coder(model, rules)
    coder, card, notes = codes_provenance(table, codes_file, run_manifest_of(codes_file), named)
    if card:
        notes += model_notes(card, settings.codebook, settings.pipeline.coding.min_positives)
    return CodesMade(table, coder, card, notes, flags)


def with_codes(segments: pd.DataFrame, codes: pd.DataFrame, codes_file: Path, coder: str
               ) -> pd.DataFrame:
    """``segments`` with the codes of ``codes`` joined on the segment id, in the columns and
    order :func:`code_segments` gives. Every segment needs a row and every row a segment: a
    table coded from other transcripts, or with other segment settings, is refused."""
    extra = codes[~codes["id"].isin(segments["segment_id"])]
    if len(extra):
        first = extra["id"].iloc[0]
        ours = transcript_of(first) in set(map(transcript_of, segments["segment_id"]))
        hint = ("its transcript is there: codes made with other segment settings?" if ours
                else "codes of another cohort?")
        raise InputError(codes_file, f"{len(extra)} row(s) name a segment this cohort does not "
                         f"have: {first} ({hint})", line=int(extra["line"].iloc[0]), field="id")
    by_id = codes.set_index("id")
    missing = segments.loc[~segments["segment_id"].isin(by_id.index), "segment_id"]
    if len(missing):
        raise InputError(codes_file, f"{len(missing)} of the cohort's {len(segments)} segments "
                         f"have no row, e.g. {missing.iloc[0]} (coded from this cohort, with "
                         "the same segment settings?)", field="id")
    rows = by_id.loc[segments["segment_id"]]
    out = segments.copy()
    for col in [*CODED_COLUMNS, *[c for c in codes.columns if c.startswith("p_")], "evidence"]:
        out[col] = rows[col].to_numpy()
    # a row's own coder stays (a researcher's correction is not the model's)
    out["coder"] = rows["coder"].replace("", coder).to_numpy()
    for col in WORD_COUNT_COLUMNS:   # a model's counts, where the table kept them
        out[col] = (rows[col] if col in rows.columns else pd.Series(
            np.nan, index=rows.index)).astype("Int64").to_numpy()
    return out


def _network_noted(cohort: Cohort, settings: Settings, warnings: list[str]) -> NetworkResult:
    """The network stage, with :func:`network_notes` added to ``warnings``."""
    net = run_network(cohort, settings)
    warnings += network_notes(cohort, net)
    return net


def network_notes(cohort: Cohort, net: NetworkResult) -> list[str]:
    """What to check in the nominations: per school and kind, the rows dropped; what the
    network stage noted (imputed ties, a brokerage attribute missing); PLG ids typed two
    ways (:func:`network.plg_notes`); and the nominations kept although their sender is
    marked as not having responded."""
    notes = [f"nominations.csv: school {row.school_id}: {row.count} {row.issue} dropped "
             f"({'line' if row.count == 1 else 'lines'} {network.first_lines(row.lines)})"
             for row in net.quality.itertuples(index=False)]
    notes += network.other_strength_notes(net.quality)
    notes += [f"network: {note}" for note in net.metrics.attrs.get("notes", [])]
    notes += network.plg_notes(cohort.staff)
    notes += network.unknown_school_notes(cohort.staff, cohort.nominations)
    notes += network.unknown_person_notes(cohort.staff, cohort.nominations)
    noms = net.nominations
    given = noms[~noms["imputed"]] if "imputed" in noms.columns else noms   # as surveyed
    meta = cohort.meta
    if meta.strength_min is not None and meta.strength_max is not None:
        if len(cohort.nominations) and cohort.nominations["strength"].isna().all():
            notes.append(f"nominations.csv: no nomination has a strength, though cohort.yaml "
                         f"gives tie_strength {meta.strength_min:g}..{meta.strength_max:g}: the "
                         "strength metrics are empty (a strength column under another name?)")
        else:
            # in schools whose survey asked strengths (one without any is noted with the
            # profiles)
            asked = given["strength"].notna().groupby(given["school_id"]).transform("any")
            blank = given.loc[given["strength"].isna() & asked, "line"]
            if len(blank):
                n = len(blank)
                notes.append(
                    f"nominations.csv: {n} nomination{'s' if n > 1 else ''} without a strength "
                    f"on the scale {meta.strength_min:g}..{meta.strength_max:g} "
                    f"({'lines' if n > 1 else 'line'} {line_list(blank.to_numpy())}), kept as "
                    "ties: the strength metrics leave them out, and the GraphML gives them no "
                    "weight (Gephi reads 1): fill in their strength")
    kept = network.nonrespondent_nominations(cohort.staff, given)
    notes += [f"staff.csv: school {row.school_id}: {row.people} staff marked responded=false "
              f"made {row.count} nomination(s) (nominations.csv lines {row.lines}), kept as "
              "ties: check their responded" for row in kept.itertuples()]
    return notes


def _profiled(settings: Settings, net: NetworkResult, coded: pd.DataFrame,
              coder: str, card: dict, warnings: list[str], transcribed: set[str]) -> RunResult:
    """Coded segments to person codes, features and profiles: the end of every run
    (``transcribed``: the people with a transcript)."""
    codes = person_codes(coded, settings.codebook, settings.pipeline.coding.min_segments_per_kind)
    features = person_features(net.key_figures, net.metrics, codes, settings.codebook,
                               settings.pipeline.network.tie_scope,
                               settings.profiles.min_segments_for_category)
    warnings += untranscribed_notes(net.key_figures, coded, transcribed)
    profiles = assign_profiles(features, settings.profiles, settings.codebook)
    warnings += profiles.attrs.get("notes", [])
    return RunResult(net, coded, codes, features, profiles, coder, card, warnings)


def untranscribed_notes(key_figures: pd.DataFrame, coded: pd.DataFrame,
                        transcribed: set[str] = frozenset()) -> list[str]:
    """A warning per key figure with no coded segment: what they share is unknown, so they get
    no profile (pipeline/profile.py). Whether they have no transcript, or transcripts
    (``transcribed``: person ids with one) of which no respondent turn was read, so the
    researcher looks at the right thing."""
    missing = sorted(set(key_figures["person_id"]) - set(coded["person_id"]))
    return [f"key figure {pid} "
            + ("has transcripts, but no respondent segment was read from them (see the "
               "warnings on their transcripts)" if pid in transcribed else "has no transcripts")
            + ": what they share is unknown, so no profile (undetermined, the nearest from "
            "the network only)" for pid in missing]


def unprofiled_notes(net: NetworkResult, coded: pd.DataFrame, config: NetworkConfig
                     ) -> list[str]:
    """What gets no profile although one may expect it (the converse of
    :func:`untranscribed_notes`): a warning per school without key figures, saying why
    (``config``: the measure they are chosen on), and one for the coded transcripts of
    people who are not key figures (interviewees chosen from another network wave, say)."""
    notes = []
    for row in net.schools[~net.schools["school_id"].isin(net.key_figures["school_id"])
                           ].itertuples(index=False):
        why = ("no ties among its staff" if row.ties == 0 else
               f"nobody has {config.key_figures.measure} above 0 with tie_scope "
               f"{config.tie_scope}")
        notes.append(f"school {row.school_id}: no key figures ({why}), so no profiles")
    others = sorted(set(coded["person_id"].astype(str))
                    - set(net.key_figures["person_id"].astype(str)))
    if others:
        who = ("1 person who is not a key figure" if len(others) == 1 else
               f"{len(others)} people who are not key figures")
        notes.append(f"transcripts of {who} are coded but feed no profile: {id_list(others)}")
    return notes
