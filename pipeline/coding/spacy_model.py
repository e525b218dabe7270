"""The spaCy backend of the segment coder: a ``textcat_multilabel`` pipeline trained from
``configs/textcat.cfg``.

Same contract as the scikit-learn backend (:mod:`pipeline.coding.model`): it learns every code
of both families and the activity sub-types from the same pseudonymised labelled segments
(:func:`pipeline.coding.train.labelled_segments`), tunes one decision threshold per label by
cross-validation on the training data only, and becomes a :class:`~pipeline.coding.assign.Coder`
through :func:`spacy_coder`, so ``pipeline code --model models/spacy_textcat`` works.

Following explosion/projects' textcat demos, every hyper-parameter lives in the spaCy config;
the data paths there are ``null`` and are injected as overrides, and the seed comes from
``configs/pipeline.yaml``. Corpus conversion is a pure function over ``spacy.blank("nl")``
docs that sets ``doc.cats`` for every label (:func:`make_docs`).

The pipeline is ``lookup_lemmas`` (:mod:`pipeline.nlp`) followed by ``textcat_multilabel``;
its bag-of-words model reads lemma n-grams through :func:`build_bow_text_classifier`,
registered as ``sleutelfiguren.TextCatBOW.v1`` (``spacy.TextCatBOW.v3`` with the token
attribute as a setting). Saved with ``nlp.to_disk`` under ``<model>/nlp`` next to
``model_card.json`` (``"backend_id": "spacy_textcat"``, labels and thresholds). Loading checks
the saved config first and refuses components or callbacks outside :data:`TRUSTED_FACTORIES`.
"""

from __future__ import annotations

import hashlib
import io as _io
import json
import tempfile
import time
from datetime import UTC, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import spacy
import typer
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.util import registry
from thinc.api import Logistic, Model, SparseLinear_v2, chain, resizable, with_cpu
from thinc.layers.resizable import resize_linear_weighted

from pipeline.coding.assign import Coder, codebook_stamp
from pipeline.coding.model import _best_threshold
from pipeline.coding.scoring import CARD_FILE, MODEL_ENTRIES, NLP_DIR, read_card
from pipeline.config import REPO_ROOT
from pipeline.io import MAX_TEXT_CHARS
from pipeline.nlp import split_pseudonym_ends  # importing it registers lookup_lemmas

__all__ = ["BACKEND_ID", "DEFAULT_CONFIG", "NLP_DIR", "TRUSTED_FACTORIES", "SpacyCodeModel",
           "build_bow_text_classifier", "make_docs", "to_docbin",
           "save_spacy_model", "load_spacy_model", "spacy_coder", "make_spacy_model",
           "train_spacy"]

BACKEND_ID = "spacy_textcat"
DEFAULT_CONFIG = REPO_ROOT / "configs" / "textcat.cfg"
DEFAULT_OUT = REPO_ROOT / "models" / BACKEND_ID
TRUSTED_FACTORIES = {"lookup_lemmas", "textcat_multilabel"}
NEG_VALUE = -5000
EVIDENCE_MAX_WORDS = 40


# ---------------------------------------------------------------------- architecture
@registry.architectures("sleutelfiguren.TextCatBOW.v1")
def build_bow_text_classifier(exclusive_classes: bool, ngram_size: int, no_output_layer: bool,
                              length: int = 262144, attr: str = "LEMMA",
                              nO: int | None = None) -> Model:
    """``spacy.TextCatBOW.v3`` over any token attribute (default ``LEMMA``): hashed n-grams of
    ``attr`` -> sparse linear layer -> logistic (multi-label) or softmax output."""
    from spacy.attrs import IDS
    from spacy.ml.models.textcat import resize_and_set_ref
    from thinc.api import softmax_activation

    if attr.upper() not in IDS:
        raise ValueError(f"unknown token attribute {attr!r}")
    if length < 1:
        raise ValueError("length must be >= 1")
    length = 2 ** (length - 1).bit_length()
    sparse_linear = SparseLinear_v2(nO=nO, length=length)
    fill_defaults = {"b": 0, "W": 0}
    with Model.define_operators({">>": chain}):
        output_layer = None
        if not no_output_layer:
            fill_defaults["b"] = NEG_VALUE
            output_layer = softmax_activation() if exclusive_classes else Logistic()
        resizable_layer = resizable(sparse_linear, resize_layer=partial(
            resize_linear_weighted, fill_defaults=fill_defaults))
        model = _extract_ngrams(ngram_size, IDS[attr.upper()]) >> resizable_layer
        model = with_cpu(model, model.ops)
        if output_layer:
            model = model >> with_cpu(output_layer, output_layer.ops)
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", sparse_linear)
    model.attrs["multi_label"] = not exclusive_classes
    model.attrs["resize_output"] = partial(resize_and_set_ref, resizable_layer=resizable_layer)
    return model


def _extract_ngrams(ngram_size: int, attr: int) -> Model:
    """spaCy's ``extract_ngrams`` layer, safe for docs shorter than the n-gram size (an empty
    segment gets no features instead of an IndexError)."""
    model: Model = Model("extract_ngrams", _extract_ngrams_forward)
    model.attrs["ngram_size"] = ngram_size
    model.attrs["attr"] = attr
    return model


def _extract_ngrams_forward(model: Model, docs, is_train: bool):
    ops, xp = model.ops, model.ops.xp
    batch_keys, batch_vals = [], []
    for doc in docs:
        unigrams = ops.asarray(doc.to_array([model.attrs["attr"]]))
        ngrams = [unigrams] + [ops.ngrams(n, unigrams)
                               for n in range(2, model.attrs["ngram_size"] + 1)
                               if unigrams.shape[0] >= n]
        keys, vals = xp.unique(xp.concatenate(ngrams), return_counts=True)
        batch_keys.append(keys)
        batch_vals.append(vals)
    lengths = ops.asarray([arr.shape[0] for arr in batch_keys], dtype="int32")
    keys = xp.concatenate(batch_keys) if batch_keys else xp.zeros((0,), dtype="uint64")
    vals = ops.asarray(xp.concatenate(batch_vals) if batch_vals else xp.zeros((0,)), dtype="f")

    def backprop(dY):
        return []

    return (keys, vals, lengths), backprop


# ---------------------------------------------------------------------- corpus
def make_docs(nlp: Language, texts: list[str], Y: np.ndarray, labels: list[str]) -> list[Doc]:
    """One tokenised doc per text with ``doc.cats`` set for **every** label (1.0 or 0.0).

    >>> import numpy as np, spacy
    >>> docs = make_docs(spacy.blank("nl"), ["We zagen het."], np.array([[1, 0]]), ["a", "b"])
    >>> docs[0].cats
    {'a': 1.0, 'b': 0.0}
    """
    Y = np.asarray(Y)
    if Y.shape != (len(texts), len(labels)):
        raise ValueError(f"Y has shape {Y.shape}, expected ({len(texts)}, {len(labels)})")
    docs = []
    for doc, row in zip(nlp.tokenizer.pipe(texts), Y, strict=True):
        doc.cats = {lab: float(v) for lab, v in zip(labels, row, strict=True)}
        docs.append(doc)
    return docs


def to_docbin(docs: list[Doc]) -> DocBin:
    """Docs (with ``cats``) as a spaCy ``DocBin``, the training corpus format."""
    db = DocBin(store_user_data=False)
    for doc in docs:
        db.add(doc)
    return db


@lru_cache(maxsize=1)
def _blank_nl() -> Language:
    return split_pseudonym_ends(spacy.blank("nl"))


def _load_config(path: Path, overrides: dict | None = None):
    from spacy.util import load_config

    from pipeline.io import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "spaCy config not found")
    try:
        return load_config(path, overrides=overrides or {}, interpolate=False)
    except Exception as e:
        raise InputError(path, f"invalid spaCy config ({type(e).__name__}: {e})") from None


def _train_nlp(texts: list[str], Y: np.ndarray, labels: list[str], config_path: Path,
               seed: int) -> Language:
    """Train a fresh pipeline on (texts, Y) with spaCy's training loop, in-process."""
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train

    docs = make_docs(_blank_nl(), texts, Y, labels)
    with tempfile.TemporaryDirectory(prefix="textcat-") as tmp:
        train_path, dev_path = Path(tmp) / "train.spacy", Path(tmp) / "dev.spacy"
        to_docbin(docs).to_disk(train_path)
        # the dev corpus only feeds spaCy's log (no checkpoint is chosen on it): keep it tiny
        to_docbin(docs[:min(len(docs), 16)]).to_disk(dev_path)
        config = _load_config(config_path, {"paths.train": str(train_path),
                                             "paths.dev": str(dev_path),
                                             "system.seed": int(seed)})
        sink = _io.StringIO()
        nlp = split_pseudonym_ends(init_nlp(config))
        nlp, _ = train(nlp, None, stdout=sink, stderr=sink)
    # the corpora were temporary: a saved model names no path (and is the same file each time)
    nlp.config["paths"].update({"train": None, "dev": None})
    return nlp


# ---------------------------------------------------------------------- estimator
class SpacyCodeModel(ClassifierMixin, BaseEstimator):
    """Multi-label segment coder backed by a spaCy ``textcat_multilabel`` pipeline.

    Parameters
    ----------
    labels : label names, one per column of ``Y``.
    config_path : spaCy config (default ``configs/textcat.cfg``).
    threshold_folds : folds of the CV on the training data that tunes each label's
        threshold; ``None`` takes ``[sleutelfiguren] threshold_folds`` from the config,
        ``0`` or ``1`` keeps 0.5.
    random_state : seed of spaCy's training and of the CV folds.
    """

    def __init__(self, labels=(), config_path=None, threshold_folds=None, random_state=0):
        self.labels = labels
        self.config_path = config_path
        self.threshold_folds = threshold_folds
        self.random_state = random_state

    def _config_path(self) -> Path:
        return Path(self.config_path) if self.config_path else DEFAULT_CONFIG

    def _folds(self) -> int:
        if self.threshold_folds is not None:
            return int(self.threshold_folds)
        cfg = _load_config(self._config_path())
        return int(cfg.get("sleutelfiguren", {}).get("threshold_folds", 3))

    def fit(self, X, y):
        texts = _texts(X)
        Y = np.asarray(y, dtype=np.int64)
        if Y.ndim != 2 or Y.shape[0] != len(texts):
            raise ValueError("y must be a 0/1 array of shape (n_segments, n_labels)")
        labels = [str(x) for x in self.labels] or [f"label_{j}" for j in range(Y.shape[1])]
        if len(labels) != Y.shape[1]:
            raise ValueError(f"{len(labels)} label names for {Y.shape[1]} label columns")
        path, seed = self._config_path(), int(self.random_state)
        folds = min(self._folds(), len(texts))
        if folds >= 2:
            oof = np.zeros(Y.shape, dtype=np.float64)
            kf = KFold(n_splits=folds, shuffle=True, random_state=seed)
            for tr, te in kf.split(texts):
                nlp = _train_nlp([texts[i] for i in tr], Y[tr], labels, path, seed)
                oof[te] = _proba(nlp, [texts[i] for i in te], labels)
            self.thresholds_ = np.array([_best_threshold(Y[:, j], oof[:, j])
                                         for j in range(Y.shape[1])])
        else:
            self.thresholds_ = np.full(Y.shape[1], 0.5)
        self.nlp_ = _train_nlp(texts, Y, labels, path, seed)
        self.labels_ = np.array(labels, dtype=str)
        self.classes_ = self.labels_
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "nlp_")
        return _proba(self.nlp_, _texts(X), [str(x) for x in self.labels_])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X) >= self.thresholds_).astype(np.int64)

    def predict_with_evidence(self, texts: list[str], n_terms: int
                              ) -> tuple[np.ndarray, list[dict[str, list[str]]]]:
        """Probabilities and, per segment and assigned label, the words whose removal lowers
        that label's probability the most (occlusion: model-agnostic, exact for this model)."""
        check_is_fitted(self, "nlp_")
        labels = [str(x) for x in self.labels_]
        docs = list(self.nlp_.pipe(_texts(texts)))
        proba = _cats(docs, labels)
        evidence: list[dict[str, list[str]]] = [{} for _ in docs]
        if not n_terms or not len(docs):
            return proba, evidence
        assigned = proba >= self.thresholds_
        variants, owner = [], []
        for i in np.flatnonzero(assigned.any(axis=1)):
            doc = docs[i]
            shown: dict[str, str] = {}
            for t in doc:
                if t.is_alpha and not t.is_stop and len(t.text) > 2 and t.lemma_ not in shown:
                    shown[t.lemma_] = t.text.lower()
            for lemma in list(shown)[:EVIDENCE_MAX_WORDS]:
                kept = [t for t in doc if t.lemma_ != lemma]
                variants.append(Doc(doc.vocab, words=[t.text for t in kept] or [""],
                                    spaces=[bool(t.whitespace_) for t in kept] or [False]))
                owner.append((int(i), shown[lemma]))
        if variants:
            occluded = _cats(list(self.nlp_.pipe(variants)), labels)
            drops: dict[int, list[tuple[str, np.ndarray]]] = {}
            for (i, word), p in zip(owner, occluded, strict=True):
                drops.setdefault(i, []).append((word, proba[i] - p))
            for i, rows in drops.items():
                for j in np.flatnonzero(assigned[i]):
                    ranked = sorted(((-d[j], w) for w, d in rows if d[j] > 1e-6))[:n_terms]
                    if ranked:
                        evidence[i][labels[j]] = [w for _, w in ranked]
        return proba, evidence


def _texts(X) -> list[str]:
    """Texts from a list, or from the ``text`` column of a DataFrame (its ``context`` column,
    if any, is not used by this backend)."""
    if isinstance(X, pd.DataFrame):
        return X["text"].fillna("").astype(str).tolist()
    return [str(t) for t in X]


def _cats(docs: list[Doc], labels: list[str]) -> np.ndarray:
    """Probabilities per doc and label; an empty doc scores 0 for every label (as spaCy
    scores a batch of only empty docs), whatever else is in its batch."""
    return np.array([[doc.cats.get(lab, 0.0) if len(doc) else 0.0 for lab in labels]
                     for doc in docs], dtype=np.float64).reshape(len(docs), len(labels))


def _proba(nlp: Language, texts: list[str], labels: list[str]) -> np.ndarray:
    return _cats(list(nlp.pipe(texts, batch_size=256)), labels)


# ---------------------------------------------------------------------- persistence
def save_spacy_model(model: SpacyCodeModel, folder: Path, card: dict) -> None:
    """Write ``nlp/`` (``nlp.to_disk``) and ``model_card.json`` (with labels, thresholds and
    ``backend_id``) into ``folder``; the folder is built aside and swapped in whole."""
    from pipeline.io import atomic_write, staged_output

    check_is_fitted(model, "nlp_")
    card = {**card, "backend_id": BACKEND_ID,
            "labels": [str(x) for x in model.labels_],
            "thresholds": {str(n): float(t)
                           for n, t in zip(model.labels_, model.thresholds_, strict=True)}}
    with staged_output(Path(folder), marker=CARD_FILE, own=MODEL_ENTRIES) as stage:
        model.nlp_.to_disk(stage / NLP_DIR)
        atomic_write(stage / CARD_FILE, json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def _check_saved_config(path: Path) -> None:
    """Refuse a saved pipeline whose config builds anything but the trusted components."""
    from pipeline.io import InputError

    cfg = _load_config(path)
    nlp_cfg = cfg.get("nlp", {})
    for hook in ("before_creation", "after_creation", "after_pipeline_creation"):
        if nlp_cfg.get(hook) is not None:
            raise InputError(path, f"refusing to load: nlp.{hook} is set", field=f"nlp.{hook}")
    for name, comp in cfg.get("components", {}).items():
        factory = comp.get("factory")
        if factory not in TRUSTED_FACTORIES:
            raise InputError(path, f"refusing to load untrusted component {name!r} "
                             f"(factory {factory!r})", field=f"components.{name}")
    if "textcat_multilabel" not in nlp_cfg.get("pipeline", []):
        raise InputError(path, "no textcat_multilabel component in the pipeline")


def load_spacy_model(folder: Path) -> tuple[SpacyCodeModel, dict]:
    """Load a model saved by :func:`save_spacy_model` (labels and thresholds from its card)."""
    from pipeline.io import InputError

    folder = Path(folder)
    card = read_card(folder)
    if card.get("backend_id") != BACKEND_ID:
        raise InputError(folder / CARD_FILE, f"not a spaCy model card (backend_id "
                         f"{card.get('backend_id')!r}, expected {BACKEND_ID!r})")
    nlp_dir = folder / NLP_DIR
    if not (nlp_dir / "config.cfg").is_file():
        raise InputError(nlp_dir, "spaCy pipeline not found (expected nlp/config.cfg)")
    _check_saved_config(nlp_dir / "config.cfg")
    try:
        nlp = spacy.load(nlp_dir)
    except Exception as e:
        raise InputError(nlp_dir, f"not a readable spaCy pipeline ({type(e).__name__}: {e})"
                         ) from None
    nlp.max_length = MAX_TEXT_CHARS
    labels = [str(x) for x in card.get("labels", [])]
    known = set(nlp.get_pipe("textcat_multilabel").labels)
    missing = [lab for lab in labels if lab not in known]
    if not labels or missing:
        raise InputError(folder / CARD_FILE, "card labels do not match the pipeline's "
                         f"({', '.join(missing) or 'no labels'})", field="labels")
    thresholds = card.get("thresholds", {})
    hp = card.get("hyperparameters", {})
    model = SpacyCodeModel(labels=tuple(labels), threshold_folds=hp.get("threshold_folds"),
                           random_state=hp.get("seed", 0))
    model.nlp_ = nlp
    model.labels_ = np.array(labels, dtype=str)
    model.classes_ = model.labels_
    model.thresholds_ = np.array([float(thresholds.get(lab, 0.5)) for lab in labels])
    return model, card


# ---------------------------------------------------------------------- coder
def spacy_coder(model: SpacyCodeModel, name: str, evidence_terms: int) -> Coder:
    """A :class:`~pipeline.coding.assign.Coder` from a fitted :class:`SpacyCodeModel`."""
    labels = [str(x) for x in model.labels_]

    def score(texts: list[str], contexts: list[str] | None = None,
              shown: list[str] | None = None) -> tuple[pd.DataFrame, list[dict]]:
        # the spaCy backend reads the segment only (contexts are accepted and ignored) and
        # gives the evidence of every label
        proba, evidence = model.predict_with_evidence(texts, evidence_terms)
        return pd.DataFrame(proba, columns=labels), evidence

    return Coder(name, labels, dict(zip(labels, map(float, model.thresholds_), strict=True)),
                 score)


# ---------------------------------------------------------------------- training
def make_spacy_model(settings, labels: list[str], config_path: Path | None = None
                     ) -> SpacyCodeModel:
    """The spaCy coder as configured: ``configs/textcat.cfg`` and the pipeline seed."""
    return SpacyCodeModel(labels=tuple(labels), config_path=config_path,
                          random_state=settings.pipeline.seed)


def train_spacy(cohort, settings, out: Path, labels: pd.DataFrame | None = None, *,
                config_path: Path | None = None, evaluate: bool = True) -> dict:
    """Evaluate (leave-one-school-out, optional), train on every labelled segment and save
    the pipeline with a model card (like :func:`pipeline.coding.train.train_default`)."""
    from pipeline.coding.evaluate import loso_predict
    from pipeline.coding.train import (
        card_evaluation,
        labelled_segments,
        loso_scores,
        no_evaluation,
    )

    seg, Y, names, summary = labelled_segments(cohort, settings, labels)
    texts = seg["text"].tolist()  # the spaCy backend reads the segment only
    scores = None
    unevaluated = no_evaluation(seg["school_id"], evaluate)
    if unevaluated is None:
        def fit_predict(tr_texts, tr_Y, te_texts):
            return make_spacy_model(settings, names, config_path).fit(tr_texts, tr_Y
                                                                      ).predict(te_texts)

        pred = loso_predict(texts, Y, seg["school_id"].tolist(), fit_predict)
        scores = loso_scores(Y, pred, seg["segment_id"].tolist(), names, settings, BACKEND_ID)
    started = time.perf_counter()
    model = make_spacy_model(settings, names, config_path).fit(texts, Y)
    seconds = time.perf_counter() - started
    cfg_path = Path(config_path) if config_path else DEFAULT_CONFIG
    cfg = _load_config(cfg_path)
    card = {
        "name": BACKEND_ID,
        "backend_id": BACKEND_ID,
        "backend": f"spaCy {spacy.__version__} textcat_multilabel (bag of lemma n-grams, "
                   f"{cfg_path.name}), per-code thresholds tuned by "
                   f"{model._folds()}-fold CV on the training data",
        "created": datetime.now(UTC).date().isoformat(),
        "codebook": codebook_stamp(settings.codebook),
        "training_data": {"cohort": cohort.meta.name, **summary},
        "hyperparameters": {"config": cfg_path.name,
                            "config_sha256": hashlib.sha256(cfg_path.read_bytes()).hexdigest(),
                            "seed": settings.pipeline.seed,
                            "threshold_folds": model._folds(),
                            "spacy_config": json.loads(json.dumps(cfg, default=str))},
        "training_seconds": round(seconds, 2),
        "evaluation": card_evaluation(scores, unevaluated, settings),
        "privacy": "trained on pseudonymised segment texts; no roster names in the vocabulary",
    }
    save_spacy_model(model, Path(out), card)
    return read_card(Path(out))


def main() -> None:  # pragma: no cover - thin wrapper
    """``python -m pipeline.coding.spacy_model COHORT --out models/spacy_textcat``."""
    import sys

    from pipeline.config import ConfigError, load_settings
    from pipeline.io import InputError, load_cohort

    def run(cohort: Annotated[Path, typer.Argument(help="cohort folder with labels/")],
            out: Annotated[Path, typer.Option(help="model folder")] = DEFAULT_OUT,
            config: Annotated[Path | None, typer.Option(help="pipeline.yaml")] = None,
            textcat_config: Annotated[Path | None, typer.Option(help="spaCy config")] = None,
            no_eval: Annotated[bool, typer.Option(help="skip the LOSO evaluation")] = False,
            ) -> None:
        settings = load_settings(config)
        card = train_spacy(load_cohort(cohort), settings, out, config_path=textcat_config,
                           evaluate=not no_eval)
        typer.echo(f"trained on {card['training_data']['segments']} segments in "
                   f"{card['training_seconds']} s -> {out}")

    try:
        typer.run(run)
    except (InputError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
