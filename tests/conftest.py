"""Shared test fixtures. Expensive objects (spaCy pipelines, trained tiny models) are
session-scoped, as in spaCy's own ``tests/conftest.py``; files come from ``tests/data/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def settings():
    from pipeline.config import load_settings

    return load_settings()


@pytest.fixture(scope="session")
def codebook(settings):
    return settings.codebook


@pytest.fixture(scope="session")
def blank_nl():
    import spacy

    return spacy.blank("nl")


@pytest.fixture(scope="session")
def nl_pipeline():
    """``spacy.blank("nl")`` + sentencizer + lookup lemmas (pipeline.nlp.make_nlp)."""
    from pipeline.nlp import make_nlp

    return make_nlp()


@pytest.fixture(scope="session")
def coding_data(codebook):
    """The tiny labelled fixture tests/data/coding/labelled.csv: ``(table, texts, Y, labels)``
    with labels = the codebook's codes + sub-types."""
    table = pd.read_csv(DATA / "coding" / "labelled.csv", dtype=str, keep_default_na=False)
    labels = codebook.code_ids + codebook.subtype_ids
    Y = np.array([[int(lab in row.split(";")) for lab in labels] for row in table["labels"]])
    return table, table["text"].tolist(), Y, labels


@pytest.fixture(scope="session")
def coding_sklearn_model(coding_data):
    from pipeline.coding.model import CodeModel

    _, texts, Y, labels = coding_data
    return CodeModel(labels=tuple(labels), min_df=1, threshold_folds=3,
                     random_state=0).fit(texts, Y)


@pytest.fixture(scope="session")
def coding_spacy_model(coding_data):
    from pipeline.coding.spacy_model import SpacyCodeModel

    _, texts, Y, labels = coding_data
    return SpacyCodeModel(labels=tuple(labels), threshold_folds=2, random_state=0).fit(texts, Y)


@pytest.fixture(scope="session")
def coding_model_dirs(tmp_path_factory, coding_sklearn_model, coding_spacy_model):
    """Both tiny models saved with their cards: ``{"sklearn": dir, "spacy": dir}``."""
    from pipeline.coding.model import save_model
    from pipeline.coding.spacy_model import save_spacy_model

    root = tmp_path_factory.mktemp("models")
    save_model(coding_sklearn_model, root / "sklearn",
               {"name": "tiny_sklearn", "backend_id": "sklearn"})
    save_spacy_model(coding_spacy_model, root / "spacy", {"name": "tiny_spacy"})
    return {"sklearn": root / "sklearn", "spacy": root / "spacy"}
