"""Training the default coder from a cohort's labels, with its evaluation and model card.

Labels (``labels/*.csv`` of a cohort or the label store) may hold several annotators and a
history; :func:`resolve_labels` picks the label that counts per segment and code: the latest
adjudicated one, else the latest ``gold`` one, else the majority of each annotator's latest
label (a tie counts as absent). The model card records exactly which labels were used.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.coding.assign import (
    codebook_stamp,
    known_share,
    known_word_range,
    known_words,
    one_sided,
)
from pipeline.coding.evaluate import bootstrap_intervals, loso_predict, score_table
from pipeline.coding.model import CodeModel, label_matrix, save_model
from pipeline.config import REPO_ROOT, Settings
from pipeline.io import ADJUDICATOR, Cohort, InputError, labels_in_time_order
from pipeline.segment import transcript_of

__all__ = ["cohort_folder", "cohort_labels", "resolve_labels", "label_notes",
           "labelled_segments", "make_model", "no_evaluation", "card_evaluation", "train_default",
           "LOSO"]

LOSO = "leave-one-school-out cross-validation on the training cohort"


def validate_labels(labels: pd.DataFrame, known: list[str]) -> pd.DataFrame:
    """Refuse unknown codes, non-binary values and unreadable times, naming the file and line;
    values as 0/1 (every spelling an annotation import accepts: 1/0, ja/nee, WAAR/ONWAAR,
    ...), times as the label store keeps them (UTC, sortable: the latest label of an annotator
    counts, :func:`resolve_labels`)."""
    from pipeline.annotate import (
        REPEAT_KEY,
        STORE_NAME,
        binary_label,
        conflicting_repeat,
        label_times,
        repeat_message,
        unknown_code,
    )

    ok = set(known)
    values = []
    times = label_times(labels)
    for row in labels.itertuples(index=False):
        if row.code not in ok:
            raise InputError(row.file, unknown_code(row.code, ok,
                                                    in_store=Path(row.file).name == STORE_NAME),
                             line=int(row.line), field="code")
        value = binary_label(row.value)
        if value is None:
            raise InputError(row.file, f"value must be 0 or 1, got {row.value!r}",
                             line=int(row.line), field="value")
        values.append(int(value))
    checked = labels.assign(value=np.array(values, dtype="int64"), time=times)
    if clash := conflicting_repeat(checked, [*REPEAT_KEY, "file"]):   # which one is meant?
        row, first = clash
        raise InputError(row.file, repeat_message(row, first), line=int(row.line),
                         field="value")
    return checked


def resolve_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """One label per (segment_id, code): adjudicated > gold > annotators' majority, each
    annotator's latest (:func:`pipeline.io.labels_in_time_order`); of several adjudicators
    the latest decision, as ``agreement`` reads it. Where the annotators are split evenly
    there is no majority: the label is 0 with source ``tie`` (:func:`label_notes` says how
    many, to adjudicate)."""
    if labels.empty:
        return pd.DataFrame(columns=["segment_id", "code", "value", "source"])
    lab = labels_in_time_order(labels.reset_index(drop=True))
    latest = lab.groupby(["segment_id", "code", "annotator"], sort=False).tail(1)
    kind = np.where(latest["annotator"].str.startswith(ADJUDICATOR), 0,
                    np.where(latest["annotator"] == "gold", 1, 2))
    latest = latest.assign(kind=kind)
    top = latest.groupby(["segment_id", "code"])["kind"].transform("min")
    best = latest[latest["kind"] == top]
    agg = best.groupby(["segment_id", "code"], sort=True).agg(
        value=("value", "mean"), last=("value", "last"), kind=("kind", "first")).reset_index()
    agg.loc[agg["kind"] == 0, "value"] = agg["last"]   # adjudicated: the latest decision
    tie = (agg["kind"] == 2) & (agg["value"] == 0.5)
    agg["value"] = (agg["value"] > 0.5).astype("int64")
    agg["source"] = agg["kind"].map({0: "adjudicated", 1: "gold", 2: "majority"})
    agg.loc[tie, "source"] = "tie"   # annotators split evenly: no majority, counted as 0
    return agg[["segment_id", "code", "value", "source"]]


def cohort_labels(cohort: Cohort, settings: Settings
                  ) -> tuple[pd.DataFrame, pd.DataFrame, Path | None]:
    """The labels ``train`` and ``evaluate`` both use: the cohort's label store when it has
    one (with every ``labels/*.csv`` imported into it first, beside the annotators' imports and
    the adjudications), else its ``labels/*.csv``. Returns the labels to train on (see
    :func:`resolve_labels`), every annotator's current labels (for their agreement) and the
    store's path (None without a store)."""
    from pipeline.annotate import STORE_NAME, LabelStore, store_labels_for_training

    if not (cohort.root / "labels" / STORE_NAME).is_file():
        return cohort.labels, cohort.labels, None
    names = settings.codebook.code_ids + settings.codebook.subtype_ids
    store = LabelStore.for_cohort(cohort.root, names)
    current = store.current()
    return (store_labels_for_training(store, current),
            current.assign(file=str(store.path), line=current["id"].astype("int64")),
            store.path)


def unlabelled(matched: pd.DataFrame, codes: list[str]) -> dict[str, int]:
    """Per code of ``codes``, how many of the segments in ``matched`` (resolved labels) have
    no label for it (counted as 0), where any lack one: for the notes and the model card, so
    that a code nobody labelled does not read as one labelled absent everywhere."""
    n = matched["segment_id"].nunique()
    has = matched.groupby("code")["segment_id"].nunique()
    missing = {code: n - int(has.get(code, 0)) for code in codes}
    return {code: k for code, k in missing.items() if k}


def label_notes(resolved: pd.DataFrame, orphans: list[str], codes: list[str],
                positives: dict[str, int] | None = None, min_positives: int = 1) -> list[str]:
    """What whoever trains or evaluates should know of the labels: those left out because
    their segment is no longer there, codes that some labelled segments have no label
    for (a code added to the codebook later: the model then learns 0 there; sub-types are
    not counted: listing only the ones that apply is the usual way to label them), labels on
    which the annotators are split evenly (counted as 0 until adjudicated), and codes with
    fewer than ``min_positives`` positive or negative labels (``positives``: per code and
    sub-type)."""
    notes = []
    if orphans:
        per = pd.Series(list(map(transcript_of, orphans))).value_counts().sort_index()
        shown = ", ".join(f"{doc} ({n})" for doc, n in per.head(5).items())
        more = f" and {len(per) - 5} more transcript(s)" if len(per) > 5 else ""
        notes.append(f"labels: {len(orphans)} labelled segment id(s) match no segment of the "
                     "transcripts and are left out (a transcript edited or renamed since it "
                     "was labelled, other segment settings, or segments cut otherwise by a "
                     f"newer version: label them again?): {shown}{more}")
    matched = resolved[~resolved["segment_id"].isin(orphans)]
    n = matched["segment_id"].nunique()
    for code, missing in unlabelled(matched, codes).items():
        notes.append(f"labels: {missing} of the {n} labelled segments have no label for "
                     f"{code!r}: counted as 0 there")
    ties = (matched.loc[matched["source"] == "tie", "code"].value_counts().sort_index()
            if "source" in matched.columns else pd.Series(dtype="int64"))
    if len(ties):
        notes.append(f"labels: annotators are split evenly on {int(ties.sum())} label(s) ("
                     + ", ".join(f"{code} {n}" for code, n in ties.items())
                     + "): counted as 0 until adjudicated (`pipeline annotate adjudicate`)")
    thin, common = one_sided(positives or {}, n, min_positives)
    if thin:
        listed = ", ".join(f"{code} ({k})" for code, k in thin.items())
        notes.append(f"labels: fewer than {min_positives} positive labels "
                     f"(coding.min_positives) for {listed}: the model cannot learn those "
                     "reliably; label more segments (`pipeline annotate export --strategy "
                     "uncertain`)")
    if common:
        listed = ", ".join(f"{code} ({k} of {n})" for code, k in common.items())
        notes.append(f"labels: fewer than {min_positives} negative labels "
                     f"(coding.min_positives) for {listed}: the model codes (nearly) every "
                     "segment with those; label segments where they do not apply")
    return notes


def labelled_segments(cohort: Cohort, settings: Settings, labels: pd.DataFrame | None = None,
                      notes: list[str] | None = None
                      ) -> tuple[pd.DataFrame, np.ndarray, list[str], dict]:
    """Pseudonymised segments that carry labels, their 0/1 label matrix, label names and a
    summary of what was used (for the model card); :func:`label_notes` go to ``notes``."""
    from pipeline.run import run_segments

    names = settings.codebook.code_ids + settings.codebook.subtype_ids
    raw = cohort.labels if labels is None else labels
    if raw.empty:
        raise InputError(cohort.root / "labels", "no labels found: a model needs labelled "
                         "segments (labels/*.csv or a label store)")
    resolved = resolve_labels(validate_labels(raw, names))
    segments = run_segments(cohort, settings)
    known = set(segments["segment_id"])
    orphans = sorted(set(resolved["segment_id"]) - known)
    if segments.empty:
        n = resolved["segment_id"].nunique()
        raise InputError(cohort.root / "transcripts", (
            f"no transcripts, so no segment for the {n} labelled segment id(s) in labels/: "
            "put the transcripts they were made from in transcripts/"
            if cohort.transcripts.empty else
            f"the {len(cohort.transcripts)} transcript(s) give no respondent segment for the "
            f"{n} labelled segment id(s) in labels/: are their speaker prefixes in the "
            "config's segment.respondent_prefixes?"))
    if len(orphans) == resolved["segment_id"].nunique():
        files = sorted({Path(f).name for f in raw.get("file", pd.Series(dtype=str)).dropna()})
        stem = transcript_of(orphans[0])
        hint = ("its transcript is there: labels made with other segment settings, or before "
                "the transcript was edited?" if stem in set(map(transcript_of, known))
                else f"no transcript {stem} in this cohort: another cohort's labels, or "
                "transcripts renamed since?")
        raise InputError(cohort.root / "labels", f"no label of {', '.join(files) or 'labels/'} "
                         f"matches a segment of the transcripts, e.g. {orphans[0]!r} ({hint})")
    ids = sorted(set(resolved["segment_id"]) & known)
    used = resolved[resolved["segment_id"].isin(known)]
    seg = segments.set_index("segment_id").loc[ids].reset_index()
    Y = label_matrix(ids, resolved, names)
    positives = {n: int(Y[:, j].sum()) for j, n in enumerate(names)}
    if notes is not None:
        notes += label_notes(resolved, orphans, settings.codebook.code_ids, positives,
                             settings.pipeline.coding.min_positives)
    summary = {
        "segments": len(ids),
        "label_rows": len(raw),
        "labels_not_matching_a_segment": len(orphans),
        "sources": used["source"].value_counts().sort_index().to_dict(),
        "annotators": sorted(map(str, raw["annotator"].unique())),
        "files": sorted({Path(f).name for f in raw.get("file", pd.Series(dtype=str)).dropna()}),
        "positives": positives,
        "unlabelled": unlabelled(used, settings.codebook.code_ids),
        "no_code": int((Y[:, :len(settings.codebook.code_ids)].sum(axis=1) == 0).sum()),
    }
    digest = hashlib.sha256()
    for sid, text, row in zip(seg["segment_id"], seg["text"], Y, strict=True):
        digest.update(f"{sid}\t{text}\t{''.join(map(str, row))}\n".encode())
    summary["sha256"] = digest.hexdigest()
    return seg, Y, names, summary


def cohort_folder(cohort: Cohort) -> str:
    """Which cohort folder a model was trained on, for its card: the path within this
    repository (``data/demo``), else a hash of the absolute path (a path can hold a user's
    name; model files hold none)."""
    root = cohort.root.resolve()
    try:
        return root.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return "sha256:" + hashlib.sha256(str(root).encode()).hexdigest()[:16]


def interval_table(Y: np.ndarray, predictions: dict[str, np.ndarray], segment_ids: list[str],
                   labels: list[str], settings: Settings, *, subtypes: bool = False
                   ) -> pd.DataFrame:
    """:func:`~pipeline.coding.evaluate.bootstrap_intervals` of leave-one-school-out
    predictions, over the segments' transcripts, as the config's ``evaluation`` asks."""
    how_sure = settings.pipeline.evaluation
    return bootstrap_intervals(Y, predictions, [transcript_of(i) for i in segment_ids], labels,
                               settings.codebook, resamples=how_sure.resamples,
                               level=how_sure.interval, seed=settings.pipeline.seed,
                               subtypes=subtypes)


def loso_scores(Y: np.ndarray, pred: np.ndarray, segment_ids: list[str], labels: list[str],
                settings: Settings, coder: str) -> pd.DataFrame:
    """A model card's scores: :func:`~pipeline.coding.evaluate.score_table` of the
    leave-one-school-out predictions with each figure's interval (:func:`interval_table`),
    for the report to show how sure they are."""
    return score_table(Y, pred, labels, settings.codebook, coder).merge(
        interval_table(Y, {coder: pred}, segment_ids, labels, settings),
        on=["coder", "family", "code"], how="left")


def card_evaluation(scores: pd.DataFrame | None, unevaluated: str | None, settings: Settings,
                    words_known: dict | None = None) -> dict:
    """A model card's ``evaluation``: the method and the leave-one-school-out scores (none
    where :func:`no_evaluation` says why) with how their intervals were made (``settings``'
    ``evaluation``), and how many of a held-out school's words the model
    knew (:func:`~pipeline.coding.assign.known_word_range`; a run warns about a school it knows
    fewer of). JSON has no NaN (R's jsonlite and browsers refuse it): an undefined score (a
    micro kappa) is null."""
    how_sure = settings.pipeline.evaluation if scores is not None else None
    return {"method": LOSO if unevaluated is None else f"none: {unevaluated}",
            "scores": (scores.astype(object).where(scores.notna(), None).to_dict(orient="records")
                       if scores is not None else [])} | (
        {"intervals": {"level": how_sure.interval, "resamples": how_sure.resamples,
                       "resampled": "transcripts"}} if how_sure else {}) | (
        {"known_words": words_known} if words_known else {})


def no_evaluation(schools: pd.Series, evaluate: bool) -> str | None:
    """Why a model card holds no leave-one-school-out scores (None: it can hold them), for
    the card's ``evaluation.method`` in place of :data:`LOSO`: a card without scores must not
    read as an evaluated model."""
    if not evaluate:
        return "not asked for when training"
    found = sorted(set(schools))
    if len(found) < 2:
        return (f"the labelled segments are of one school ({', '.join(found)}), and "
                "leave-one-school-out needs two")
    return None


def make_model(settings: Settings, labels: list[str]) -> CodeModel:
    t = settings.pipeline.training
    return CodeModel(labels=tuple(labels), C=t.C, word_ngrams=t.word_ngrams,
                     char_ngrams=t.char_ngrams, min_df=t.min_df,
                     max_features=t.max_features_per_block, threshold_folds=t.threshold_folds,
                     context_weight=t.context_weight, random_state=settings.pipeline.seed)


def train_default(cohort: Cohort, settings: Settings, out: Path,
                  labels: pd.DataFrame | None = None, evaluate: bool = True,
                  notes: list[str] | None = None) -> dict:
    """Evaluate (leave-one-school-out, unless ``evaluate`` is false), then train on everything
    and save model + card."""
    seg, Y, names, summary = labelled_segments(cohort, settings, labels, notes)
    X = seg[["text", "context"]].reset_index(drop=True)

    held_out_known: list[float] = []   # per held-out school, the share of its words known

    def fit_predict(train_X, train_Y, test_X):
        model = make_model(settings, names).fit(train_X, train_Y)
        held_out_known.append(known_share(known_words(model.scorer(),
                                                      test_X["text"].tolist())))
        return model.predict(test_X)

    scores = None
    unevaluated = no_evaluation(seg["school_id"], evaluate)
    if unevaluated is None:
        pred = loso_predict(X, Y, seg["school_id"].tolist(), fit_predict)
        scores = loso_scores(Y, pred, seg["segment_id"].tolist(), names, settings,
                             "sklearn_tfidf_lr")
    elif evaluate and notes is not None:
        notes.append(f"evaluation: {unevaluated}: the model card has no scores; label segments "
                     "of a second school to evaluate it (`pipeline evaluate`)")
    model = make_model(settings, names).fit(X, Y)
    card = {
        "name": "sklearn_tfidf_lr",
        "backend_id": "sklearn",
        "backend": "scikit-learn: TF-IDF lemma n-grams + char n-grams of the segment and lemma "
                   "unigrams of its context, one-vs-rest logistic regression, per-code "
                   "thresholds tuned by cross-validation on the training data",
        "created": datetime.now(UTC).date().isoformat(),
        "codebook": codebook_stamp(settings.codebook),
        "training_data": {"cohort": cohort.meta.name, "cohort_folder": cohort_folder(cohort),
                          **summary},
        "hyperparameters": settings.pipeline.training.model_dump(mode="json")
        | {"seed": settings.pipeline.seed},
        "labels": names,
        "thresholds": {n: float(t) for n, t in zip(names, model.thresholds_, strict=True)},
        "evaluation": card_evaluation(scores, unevaluated, settings,
                                      known_word_range(held_out_known)),
        "privacy": "trained on pseudonymised segment texts; no roster names in the vocabulary",
    }
    save_model(model, Path(out), card)
    return card
