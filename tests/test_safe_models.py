"""Models are loaded safely: no pickle anywhere in the package, and skops loading trusts only
the project's own classes (a model file is data, never code)."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from pipeline.coding.model import MODEL_FILE, TRUSTED, CodeModel, load_model
from pipeline.io import InputError

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline"

# ways of turning bytes from disk into arbitrary Python objects
UNSAFE = {
    "import pickle": re.compile(r"^\s*(?:import|from)\s+(?:c?pickle|_pickle|dill|cloudpickle)\b",
                                re.M),
    "pickle.load": re.compile(r"\b(?:c?pickle|_pickle|dill|cloudpickle)\s*\.\s*loads?\s*\("),
    "joblib.load": re.compile(r"\bjoblib\s*\.\s*load\s*\("),
    "from joblib import load": re.compile(r"^\s*from\s+joblib(?:\.\w+)*\s+import\s+[^\n]*"
                                          r"\bload\b", re.M),
    "np.load(allow_pickle=True)": re.compile(r"\.load\s*\([^)]*allow_pickle\s*=\s*True", re.S),
    "pandas.read_pickle": re.compile(r"\bread_pickle\s*\("),
    "shelve / marshal": re.compile(r"^\s*import\s+(?:shelve|marshal)\b"
                                   r"|\bmarshal\s*\.\s*loads?\s*\(", re.M),
    "srsly pickle": re.compile(r"\bpickle_loads?\s*\("),
    "torch.load": re.compile(r"\btorch\s*\.\s*load\s*\("),
    "skops trusted=True": re.compile(r"trusted\s*=\s*True"),
}


def unsafe_uses(root: Path) -> list[str]:
    hits = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for what, pattern in UNSAFE.items():
            for m in pattern.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                hits.append(f"{path.relative_to(root.parent)}:{line}: {what}")
    return hits


def test_no_pickle_loading_in_the_package():
    assert list(PACKAGE.rglob("*.py")), PACKAGE
    assert unsafe_uses(PACKAGE) == []


def test_the_grep_sees_what_it_looks_for(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "bad.py").write_text(
        "import pickle\nfrom joblib import dump, load\nimport joblib\nimport numpy as np\n"
        "m = joblib.load('m.joblib')\nx = pickle.load(open('f', 'rb'))\n"
        "y = np.load('a.npy',\n            allow_pickle=True)\n")
    found = {h.split(": ", 1)[1] for h in unsafe_uses(pkg)}
    assert found >= {"import pickle", "pickle.load", "joblib.load", "from joblib import load",
                     "np.load(allow_pickle=True)"}


def _tiny_model() -> CodeModel:
    texts = ["we delen de uitkomsten in de teamvergadering", "de roosters en taakuren",
             "ik geef een workshop over het datateam", "we vragen collega's om input"] * 3
    Y = np.array([[1, 0], [0, 1], [1, 0], [0, 1]] * 3)
    return CodeModel(labels=("a", "b"), min_df=1, threshold_folds=2).fit(texts, Y)


@pytest.fixture(scope="module")
def model() -> CodeModel:
    return _tiny_model()


def test_a_clean_model_loads(tmp_path, model):
    import skops.io as sio

    (tmp_path / MODEL_FILE).write_bytes(sio.dumps(model))
    loaded, card = load_model(tmp_path)
    assert isinstance(loaded, CodeModel) and card == {}
    assert loaded.predict_proba(["de taakuren"]).shape == (1, 2)
    assert set(sio.get_untrusted_types(file=tmp_path / MODEL_FILE)) <= set(TRUSTED)


def test_untrusted_type_is_refused(tmp_path, model, monkeypatch):
    """A model file that would rebuild ``os.system`` (or any type not in TRUSTED) is refused
    before anything in it is loaded."""
    import skops.io as sio

    model.hook = os.system  # what an attacker would plant
    try:
        data = sio.dumps(model)
    finally:
        del model.hook
    (tmp_path / MODEL_FILE).write_bytes(data)
    untrusted = sio.get_untrusted_types(data=data)
    assert any("system" in t for t in untrusted)

    def no_load(*a, **k):  # the refusal must come before skops builds any object
        raise AssertionError("skops.io.load was called on an untrusted file")

    monkeypatch.setattr(sio, "load", no_load)
    with pytest.raises(InputError, match="refusing to load untrusted type"):
        load_model(tmp_path)


def test_untrusted_class_is_refused(tmp_path, model):
    import skops.io as sio

    model.extra = Foreign()
    try:
        data = sio.dumps(model)
    finally:
        del model.extra
    (tmp_path / MODEL_FILE).write_bytes(data)
    with pytest.raises(InputError, match=r"untrusted type.*Foreign"):
        load_model(tmp_path)


class Foreign:
    """A class that is not the project's."""


def test_pickle_disguised_as_skops_is_refused(tmp_path, model):
    (tmp_path / MODEL_FILE).write_bytes(pickle.dumps(model))
    with pytest.raises(InputError, match="not a readable model file"):
        load_model(tmp_path)


def test_other_estimator_is_refused(tmp_path):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    (tmp_path / MODEL_FILE).write_bytes(sio.dumps(LogisticRegression()))
    with pytest.raises(InputError):
        load_model(tmp_path)
