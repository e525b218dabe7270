"""Apply a coder (rules or a trained model) to segments: the coding contract of DESIGN.md.

Output columns added to the input table (one row per input row, input order kept):
``knowledge_types`` and ``activities`` (assigned codes, ``;``-separated in codebook order,
empty when none), ``activity_subtypes`` (``<activity>.<subtype>``, only under an assigned
activity), ``p_<code>`` for every code of both families and every sub-type
(``p_<activity>.<subtype>``; not in ``pipeline code``'s contract table), ``evidence`` (the
words that drove each assigned code: ``code: word, word | code: word``; a model's lemma
n-grams that weigh most towards it, function words and pseudonyms left out; the rule coder's
matches), ``coder``, and of a model coder ``content_words`` and ``known_words``
(:data:`pipeline.io.WORD_COUNT_COLUMNS`, counted by
:meth:`~pipeline.coding.scoring.NgramTables.known_words`; empty for a coder without a
vocabulary: rules, spaCy). A segment without text has no code, empty probabilities and no
evidence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.coding.rules import RuleCoder
from pipeline.coding.scoring import CARD_FILE, Scorer, load_scorer, read_card
from pipeline.config import FAMILIES, Codebook, Settings
from pipeline.io import WORD_COUNT_COLUMNS, InputError, csv_text
from pipeline.nlp import context_batch, make_nlp, token_batch
from pipeline.parallel import can_fork, ordered_map

__all__ = ["Coder", "model_coder", "rule_coder", "make_coder", "make_coder_in_worker",
           "coder_source", "load_coder",
           "code_segments", "contract_table", "contract_csv", "evidence_text",
           "codebook_note", "codebook_stamp", "model_notes", "one_sided", "known_words",
           "known_share", "known_word_range", "unfamiliar_words_notes", "CODED_COLUMNS",
           "WORD_COUNT_COLUMNS"]

CODED_COLUMNS = ["knowledge_types", "activities", "activity_subtypes"]


@dataclass
class Coder:
    """Anything that scores texts: ``score(texts, contexts, shown) -> (scores table, evidence
    per text)``; ``contexts`` holds the previous interviewer turn of each text ('' when none),
    ``shown`` the labels whose evidence is wanted (None: all; a coder may give more). The
    table has a column per label and, from a coder with a vocabulary, the
    :data:`WORD_COUNT_COLUMNS`."""

    name: str
    labels: list[str]
    thresholds: dict[str, float]
    score: Callable[[list[str], list[str], list[str] | None],
                    tuple[pd.DataFrame, list[dict]]]
    # how a worker process makes this coder itself: (key, function, *arguments), where
    # workers are not forked from this process (parallel.ordered_map): without it the coder
    # (model included) would be pickled into every chunk sent to a loky worker, which would
    # rebuild the model's lookup tables for every chunk.
    source: tuple | None = None

    def warm(self) -> None:
        """Score a short text: loads what scoring loads on first use (the tokenizer, the
        lemma table, the compiled loops; ~2 s), so that workers forked afterwards start with
        it."""
        self.score(["Wat we delen en met wie."], [""], None)


def model_coder(scorer: Scorer, name: str, evidence_terms: int) -> Coder:
    """The trained linear coder (:class:`~pipeline.coding.scoring.Scorer`, from
    ``CodeModel.scorer()`` or a model folder's ``scorer.npz``)."""
    labels = scorer.labels

    def score(texts: list[str], contexts: list[str], shown: list[str] | None = None
              ) -> tuple[pd.DataFrame, list[dict]]:
        context_of, distinct = pd.factorize(pd.Series(contexts, dtype=object))
        batch = token_batch(texts)
        proba, evidence = scorer.predict_with_evidence(
            batch, evidence_terms, context_batch(distinct.tolist()), shown, context_of)
        table = pd.DataFrame(proba, columns=labels)
        # counted from the tokens scored here: a run must not tokenise its segments twice
        for column, counts in zip(WORD_COUNT_COLUMNS, scorer.segment.known_words(batch),
                                  strict=True):
            table[column] = counts
        return table, evidence

    return Coder(name, labels, dict(zip(labels, map(float, scorer.thresholds), strict=True)),
                 score)


def known_words(scorer: Scorer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per text, its content words and how many of those the model has a weight for
    (:meth:`pipeline.coding.scoring.NgramTables.known_words`)."""
    return scorer.segment.known_words(token_batch(texts))


def known_share(counts: tuple[np.ndarray, np.ndarray]) -> float:
    """Of all content words of some texts, the share the model knows (NaN: none)."""
    content, known = (int(np.sum(c)) for c in counts)
    return known / content if content else float("nan")


def known_word_range(shares: list[float]) -> dict | None:
    """A model card's ``evaluation.known_words``: of the schools of a leave-one-school-out
    evaluation, each held out from training, how many and the lowest, median and highest
    share of their content words the model knew (no school ids: a card names no school)."""
    found = np.array([x for x in shares if np.isfinite(x)])
    if not len(found):
        return None
    return {"schools": len(found), "lowest": round(float(found.min()), 4),
            "median": round(float(np.median(found)), 4), "highest": round(float(found.max()), 4)}


def unfamiliar_words_notes(coded: pd.DataFrame, card: dict) -> list[str]:
    """The schools whose segments (``school_id`` and :data:`WORD_COUNT_COLUMNS` of a
    :func:`code_segments` table) hold fewer words the model knows than any school of its
    evaluation did, held out from training (the card's ``evaluation.known_words``): the
    evaluation's scores do not carry over to them, whatever their probabilities say. None
    for a coder without a vocabulary (its counts are empty)."""
    seen = ((card.get("evaluation") or {}).get("known_words") or {})
    if "lowest" not in seen or not set(WORD_COUNT_COLUMNS) <= set(coded.columns):
        return []
    counts = coded[WORD_COUNT_COLUMNS].apply(pd.to_numeric, errors="coerce")
    per_school = counts.groupby(coded["school_id"].to_numpy(), sort=True).sum(min_count=1)
    content, known = (per_school[c] for c in WORD_COUNT_COLUMNS)
    share = known / content.where(content > 0)
    low = share[share < seen["lowest"]]
    if low.empty:
        return []
    listed = ", ".join(f"{school} ({x:.1%})" for school, x in low.items())
    return [f"model {card.get('name', 'model')} knows fewer of the words of school(s) {listed} "
            f"than of any school of its evaluation ({seen['lowest']:.1%} to "
            f"{seen['highest']:.1%} of their content words, each school held out from "
            "training): its codes there are less sure than its scores on the card say; code "
            "a sample of those segments by hand (`pipeline annotate export`) and measure the "
            "model on it (`pipeline agreement --model`), or train it on labels of this cohort"]


def rule_coder(rules: RuleCoder) -> Coder:
    return Coder("rules", rules.labels, dict.fromkeys(rules.labels, rules.threshold),
                 lambda texts, contexts, shown=None: rules.score(texts))


_MADE: dict[str, Coder] = {}  # in a worker process: the coders it has made from a source


def _made(source: tuple) -> Coder:
    """The coder of ``source``, made once per process (a loky worker's)."""
    key, make, *args = source
    if key not in _MADE:
        _MADE.clear()
        _MADE[key] = make(*args)
    return _MADE[key]


def _score_chunk(coder: Coder | None, source: tuple | None, texts: list[str],
                 contexts: list[str], shown: list[str]) -> tuple[pd.DataFrame, list[str]]:
    coder = _made(source) if coder is None else coder
    scores, evidence = coder.score(texts, contexts, shown)
    return scores, evidence_text(scores, evidence, coder.thresholds, shown)


def evidence_text(scores: pd.DataFrame, evidence: list[dict[str, list[str]]],
                  thresholds: dict[str, float], shown: list[str]) -> list[str]:
    """Per text ``code: word, word | code: word`` for the ``shown`` codes that are assigned
    (score at or above the threshold) and have evidence. Made where the texts were scored, so
    worker processes send back one string per text instead of nested lists."""
    assigned = {c: scores[c].to_numpy() >= thresholds[c] for c in shown if c in scores.columns}
    return [" | ".join(f"{c}: {', '.join(ev[c])}" for c in shown if c in ev and assigned[c][i])
            if ev else "" for i, ev in enumerate(evidence)]


def _chunks(coder: Coder, n: int, jobs: int, chunk: int, inherit: bool
            ) -> tuple[list[tuple[int, int]], tuple, bool]:
    """How to share out ``n`` texts: the (start, end) of each chunk, what to send with each
    (the coder, or ``None`` and the coder's source) and whether the workers are forked."""
    forked = inherit and can_fork()
    if jobs > 1 and forked:   # forked workers start at once: share out a small input too
        chunk = min(chunk, max(1, -(-n // jobs)))
    spans = [(i, min(i + chunk, n)) for i in range(0, n, chunk)] or [(0, 0)]
    in_workers = jobs > 1 and len(spans) > 1
    # forked workers inherit the coder; others make it from its source once each (if it has
    # one, else it is pickled into every chunk)
    ship = (None, coder.source) if coder.source and in_workers and not forked else (coder, None)
    return spans, ship, forked


def score_texts(coder: Coder, texts: list[str], contexts: list[str] | None = None,
                jobs: int = 1, chunk: int = 5000,
                progress: Callable[[int], None] | None = None,
                shown: list[str] | None = None, inherit: bool = False
                ) -> tuple[pd.DataFrame, list[str]]:
    """Score texts in chunks, over ``jobs`` processes when there is enough work: the scores
    per label and, per text, the evidence of the assigned ``shown`` codes (default: all
    labels) as :func:`evidence_text`.

    ``inherit``: fork the workers from this process where possible
    (:func:`pipeline.parallel.ordered_map`), so that they start with the coder as loaded and
    warmed (:meth:`Coder.warm`) here. Meant for a process that holds little besides the
    coder and the texts (``pipeline code``): forked from a large one, the workers' shared
    pages count again in each one's resident memory."""
    contexts = contexts if contexts is not None else [""] * len(texts)
    shown = list(coder.labels) if shown is None else shown
    spans, ship, forked = _chunks(coder, len(texts), jobs, chunk, inherit)
    results = []
    for res in ordered_map(_score_chunk, [(*ship, texts[a:b], contexts[a:b], shown)
                                          for a, b in spans], jobs, inherit=forked):
        results.append(res)
        if progress:
            progress(len(res[1]))
    scores = pd.concat([r[0] for r in results], ignore_index=True)
    evidence = [e for r in results for e in r[1]]
    return scores, evidence


def code_segments(segments: pd.DataFrame, coder: Coder, codebook: Codebook, *, jobs: int = 1,
                  progress: Callable[[int], None] | None = None,
                  inherit: bool = False) -> pd.DataFrame:
    """``segments`` (needs ``text``) with the coding contract's columns added (``jobs``,
    ``inherit``: as :func:`score_texts`). A segment without text carries nothing to code: no
    code, no probability (empty), no evidence, whatever a model says of nothing."""
    if "text" not in segments.columns:
        raise ValueError("segments table has no 'text' column")
    contexts = (segments["context"].fillna("").astype(str).tolist()
                if "context" in segments.columns else None)
    texts = segments["text"].fillna("").astype(str)
    scores, evidence = score_texts(coder, texts.tolist(), contexts, jobs=jobs,
                                   progress=progress, shown=codebook.code_ids, inherit=inherit)
    blank = texts.str.strip().eq("").to_numpy()
    if blank.any():
        scores.loc[blank, :] = np.nan
        evidence = ["" if b else e for b, e in zip(blank, evidence, strict=True)]
    assigned = {lab: scores[lab].to_numpy() >= coder.thresholds[lab] for lab in coder.labels
                if lab in scores.columns}
    out = segments.copy()
    for family in FAMILIES:   # the codebook has exactly these (config.Codebook checks)
        out[family] = _join(codebook.family_codes(family), assigned, len(out))
    subs = codebook.subtype_ids
    parent_ok = {s: assigned.get(s.split(".")[0], np.zeros(len(out), bool)) for s in subs}
    sub_assigned = {s: assigned.get(s, np.zeros(len(out), bool)) & parent_ok[s] for s in subs}
    out["activity_subtypes"] = _join(subs, sub_assigned, len(out))
    for code in codebook.code_ids + subs:   # a sub-type's too: it decides n_activity_kinds
        out[f"p_{code}"] = scores[code].round(6).to_numpy() if code in scores else 0.0
    out["evidence"] = evidence
    out["coder"] = coder.name
    for column in WORD_COUNT_COLUMNS:
        out[column] = (scores[column] if column in scores.columns else pd.Series(
            np.nan, index=scores.index)).astype("Int64").to_numpy()
    return out


def contract_table(coded: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """What ``pipeline code`` writes of a :func:`code_segments` table (DESIGN.md's coding
    contract): ``id``, ``knowledge_types``, ``activities``, ``p_<code>`` per code, then
    ``activity_subtypes`` and ``evidence``. Input columns are not repeated (an input column
    of one of these names is replaced by the coder's)."""
    return coded[["id", "knowledge_types", "activities",
                  *[f"p_{c}" for c in codebook.code_ids], "activity_subtypes", "evidence"]]


def contract_csv(segments: pd.DataFrame, coder: Coder, codebook: Codebook, *, jobs: int = 1,
                 chunk: int = 5000, progress: Callable[[int], None] | None = None,
                 inherit: bool = False) -> Iterator[str]:
    """The text of ``pipeline code``'s CSV (:func:`contract_table`) of ``segments``, chunk by
    chunk in input order; joined, it is the whole table's :func:`pipeline.io.csv_text`.

    Each chunk is coded and formatted in the process that codes it, so with ``jobs`` workers
    the formatting is shared out too and the caller only writes text (``jobs``, ``inherit``:
    as :func:`score_texts`)."""
    if "text" not in segments.columns:
        raise ValueError("segments table has no 'text' column")
    spans, ship, forked = _chunks(coder, len(segments), jobs, chunk, inherit)
    tasks = [(*ship, segments.iloc[a:b], codebook, a == 0) for a, b in spans]
    for (a, b), text in zip(spans, ordered_map(_contract_chunk, tasks, jobs, inherit=forked),
                            strict=True):
        if progress:
            progress(b - a)
        yield text


def _contract_chunk(coder: Coder | None, source: tuple | None, segments: pd.DataFrame,
                    codebook: Codebook, header: bool) -> str:
    coder = _made(source) if coder is None else coder
    coded = code_segments(segments, coder, codebook)
    return csv_text(contract_table(coded, codebook), header=header)


def make_coder_in_worker(folder: Path | None, codebook: Codebook, evidence: int) -> Coder:
    """:func:`make_coder` without the card: what a worker process runs (``Coder.source``)."""
    return make_coder(folder, codebook, evidence)[0]


def make_coder(folder: Path | None, codebook: Codebook, evidence: int
               ) -> tuple[Coder, dict]:
    """The rule coder (``folder`` None) or the model in ``folder``, checked against the
    codebook. A scikit-learn model is read from its ``scorer.npz`` (no scikit-learn or skops
    to import: ~2 s saved in every process that codes), or, in a folder saved before there
    was one, derived from ``model.skops``."""
    if folder is None:
        return rule_coder(RuleCoder(codebook, make_nlp())), {"name": "rules"}
    card = read_card(folder) or {"name": Path(folder).name}   # no card: named by its folder
    backend = card.get("backend_id", "sklearn")
    if backend == "sklearn":
        scorer = load_scorer(folder, card)
        if scorer is None:
            from pipeline.coding.model import load_model

            scorer = load_model(folder)[0].scorer()
        _check_codes(folder, scorer.labels, codebook)
        return model_coder(scorer, card.get("name", "model"), evidence), card
    from pipeline.coding import spacy_model

    if backend != spacy_model.BACKEND_ID:
        raise InputError(folder / CARD_FILE, f"unknown backend_id {backend!r} "
                         f"(expected sklearn or {spacy_model.BACKEND_ID})", field="backend_id")
    smodel, card = spacy_model.load_spacy_model(folder)
    _check_codes(folder, list(smodel.labels_), codebook)
    return spacy_model.spacy_coder(smodel, card.get("name", "model"), evidence), card


def coder_source(settings: Settings, model_dir: Path | None = None, *, rules: bool = False
                 ) -> tuple:
    """How a worker process makes the coder :func:`load_coder` gives (``Coder.source``):
    ``(key, make_coder_in_worker, folder or None, codebook, evidence terms)``, without
    loading anything. The key changes when any file of the model folder does."""
    evidence = settings.pipeline.coding.evidence_terms
    if rules:
        return ("rules:" + settings.codebook.model_dump_json(), make_coder_in_worker, None,
                settings.codebook, evidence)
    folder = Path(model_dir or settings.model_dir)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    key = f"{folder.resolve()}:" + ",".join(
        f"{p.name}/{p.stat().st_size}/{p.stat().st_mtime_ns}" for p in files)
    return key, make_coder_in_worker, folder, settings.codebook, evidence


def load_coder(settings: Settings, model_dir: Path | None = None, *, rules: bool = False
               ) -> tuple[Coder, dict]:
    """The trained model from ``model_dir`` (default: the configured one), or the rule coder.

    The backend is read from the model card's ``backend_id`` (``sklearn`` when absent, read
    from its ``scorer.npz``; ``spacy_textcat``: :mod:`pipeline.coding.spacy_model`; anything
    else is refused). The coder carries its ``source``, so that worker processes not forked
    from this one load it once each.
    """
    source = coder_source(settings, model_dir, rules=rules)
    coder, card = make_coder(*source[2:])
    coder.source = source
    return coder, card


def _check_codes(folder: Path, labels: list[str], codebook: Codebook) -> None:
    unknown = [c for c in codebook.code_ids if c not in set(labels)]
    if unknown:
        raise InputError(folder, f"model does not know code(s) {', '.join(unknown)} of the "
                         "codebook; train one on your labels (`pipeline train COHORT --out "
                         "DIR`, then --model DIR) or code with --rules")


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _meanings(codebook: Codebook) -> dict[str, str]:
    """Per code, a digest of what it means: its definition, include and exclude rules and its
    sub-types; and of the coding unit (``unit``). Not its labels, colour, examples or rule
    patterns: those may change without what a model learned changing; nor how the text is
    wrapped or its rules ordered."""
    def said(text: str) -> str:
        return " ".join(text.split())

    digests = {code.id: _digest([said(code.definition), sorted(map(said, code.include)),
                                 sorted(map(said, code.exclude)),
                                 sorted(s.id for s in code.subtypes)])[:16]
               for code in codebook.codes}
    return digests | {UNIT: _digest(said(codebook.unit))[:16]}


UNIT = "(unit)"   # the coding unit's entry among a card's meanings (no code id has brackets)


def codebook_stamp(codebook: Codebook) -> dict:
    """The model card's ``codebook``: its version, the digest of the whole codebook and, per
    code, of its meaning (:func:`codebook_note` compares those)."""
    return {"version": codebook.version, "sha256": _digest(codebook.model_dump(mode="json")),
            "meanings": _meanings(codebook)}


def codebook_note(card: dict, codebook: Codebook) -> str | None:
    """A model trained under another version of the codebook, or under the same version with
    codes whose meaning has changed since (an edit without a new version): its codes are the
    same (else :func:`_check_codes` refuses it), but what they mean may not be."""
    stamp = card.get("codebook") or {}
    made, name = stamp.get("version"), card.get("name", "model")
    if made is None:
        return None
    if str(made) != str(codebook.version):
        return (f"model {name} was trained with codebook version {made}, this run uses version "
                f"{codebook.version}: if what a code means has changed, retrain it on labels "
                "made with this version")
    then, now = stamp.get("meanings") or {}, _meanings(codebook)
    changed = [code for code in now if code in then and then[code] != now[code]]
    if not changed:
        return None
    what = " and ".join(filter(None, [
        ", ".join(c for c in changed if c != UNIT)
        and f"the definition (or include/exclude rules) of "
            f"{', '.join(c for c in changed if c != UNIT)}",
        "the coding unit" if UNIT in changed else ""]))
    return (f"{what} in the codebook has changed since model {name} was trained, under the "
            f"same version {made}: if what the code means has changed, give the codebook a new "
            "version and retrain the model on labels made with it")


def model_notes(card: dict, codebook: Codebook, min_positives: int) -> list[str]:
    """What to know of a model before trusting its codes: :func:`codebook_note`, codes it knows
    that the codebook dropped since, a model without a card (nothing says what it learned
    from), and the codes and sub-types it learned from fewer than
    ``min_positives`` positive labels (its card's ``positives``): such a code is assigned
    rarely, or by chance; and those it learned from fewer than ``min_positives`` negative
    labels, assigned to (nearly) every segment. Of the rule coder: the codes and sub-types
    without patterns, which it never assigns."""
    notes = list(filter(None, [codebook_note(card, codebook)]))
    if card.get("name") == "rules":
        blind = ([c.id for c in codebook.codes if not c.patterns]
                 + [f"{c.id}.{s.id}" for c in codebook.codes for s in c.subtypes
                    if not s.patterns])
        if blind:   # a code added for a model to learn: the rules never give it
            notes.append(f"the rule coder never assigns {', '.join(blind)}: the codebook gives "
                         "no patterns for them (add patterns, or code with a model trained on "
                         "labels of them)")
    if "training_data" not in card and card.get("name") != "rules":
        notes.append(f"model {card.get('name', 'model')} has no model card ({CARD_FILE}) "
                     "saying what it was trained on: its labels, codebook version and quality "
                     "are unknown; retrain it with `pipeline train`")
    dropped = [c for c in card.get("labels") or [] if c not in codebook.code_ids
               and c not in codebook.subtype_ids]
    if dropped:
        notes.append(f"model {card.get('name', 'model')} also knows {', '.join(dropped)}, "
                     "which the codebook has no more: its other codes were learned beside "
                     "them; retrain it on labels of this codebook (or, if it is your "
                     "codebook's, name its pipeline.yaml with --config)")
    training = card.get("training_data") or {}
    thin, common = one_sided(training.get("positives") or {}, training.get("segments"),
                             min_positives)
    if thin:
        listed = ", ".join(f"{code} ({n})" for code, n in thin.items())
        notes.append(f"model {card.get('name', 'model')} learned {listed} from fewer than "
                     f"{min_positives} positive labels (coding.min_positives): do not rely "
                     "on those codes; label more segments and retrain")
    if common:
        listed = ", ".join(f"{code} ({n})" for code, n in common.items())
        notes.append(f"model {card.get('name', 'model')} learned {listed} from fewer than "
                     f"{min_positives} negative labels (coding.min_positives): it codes "
                     "(nearly) every segment with those; label segments where they do not "
                     "apply and retrain")
    return notes


def one_sided(positives: dict[str, int], segments: int | None, minimum: int
              ) -> tuple[dict[str, int], dict[str, int]]:
    """The codes learned from fewer than ``minimum`` positive labels, and those on most of the
    ``segments`` labelled segments (None: unknown) with fewer than ``minimum`` negative ones,
    each with that count: a code on (nearly) every training segment is assigned to every
    segment, as one on (nearly) none is to none."""
    thin = {code: n for code, n in positives.items() if n < minimum}
    common = ({code: segments - n for code, n in positives.items()
               if segments - n < min(minimum, n)} if segments is not None else {})
    return thin, common


def _join(names: list[str], assigned: dict[str, np.ndarray], n: int) -> list[str]:
    """Per row the ``;``-joined names assigned to it: each distinct combination is joined
    once, not each row (a combination is a row's bits as one integer where they fit)."""
    if not n:
        return []
    flags = np.zeros((n, len(names)), dtype=bool)
    for k, name in enumerate(names):
        if name in assigned:
            flags[:, k] = assigned[name]
    if len(names) < 63:
        keys = flags.astype(np.int64) @ (np.int64(1) << np.arange(len(names), dtype=np.int64))
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        combos = flags[first]
    else:
        combos, inverse = np.unique(flags, axis=0, return_inverse=True)
    joined = [";".join(name for name, on in zip(names, combo, strict=True) if on)
              for combo in combos.tolist()]
    return np.array(joined, dtype=object)[inverse.reshape(-1)].tolist()
