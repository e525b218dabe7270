"""Both trained coder backends: scikit-learn (pipeline/coding/model.py) and spaCy
(pipeline/coding/spacy_model.py), on the tiny labelled fixture tests/data/coding/labelled.csv
(trained once per session in tests/conftest.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import spacy
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from pipeline.coding.assign import code_segments, load_coder
from pipeline.coding.model import (
    MODEL_FILE,
    THRESHOLD_GRID,
    CodeModel,
    _best_threshold,
    load_model,
    save_model,
)
from pipeline.coding.spacy_model import (
    BACKEND_ID,
    SpacyCodeModel,
    load_spacy_model,
    make_docs,
    spacy_coder,
    to_docbin,
)
from pipeline.io import InputError

NEW = ["Ons probleem is het verzuim in de brugklas.",
       "Ik schrijf een stukje in de nieuwsbrief.",
       "Er staat een nieuwe koffieautomaat in de kantine."]


class Untrusted:
    """A type skops must refuse to load (not in pipeline.coding.model.TRUSTED)."""

    def __init__(self):
        self.x = 1


@pytest.fixture(params=["sklearn", "spacy"])
def backend(request, coding_sklearn_model, coding_spacy_model, coding_model_dirs):
    model = coding_sklearn_model if request.param == "sklearn" else coding_spacy_model
    return request.param, model, coding_model_dirs[request.param]


# ---------------------------------------------------------------- fit / predict
def test_fit_predict_shapes(backend, coding_data):
    _, model, _ = backend
    _, texts, Y, labels = coding_data
    proba = model.predict_proba(NEW)
    assert proba.shape == (3, len(labels))
    assert ((proba >= 0) & (proba <= 1)).all()
    assert list(model.labels_) == labels
    pred = model.predict(NEW)
    assert pred.dtype.kind == "i" and set(np.unique(pred)) <= {0, 1}
    assert (pred == (proba >= model.thresholds_)).all()
    # it learnt something: on its training segments the clearest codes rank positives first
    train = model.predict_proba(texts)
    for code in ("focus", "outcomes", "approach", "knowledge_management"):
        j = labels.index(code)
        assert roc_auc_score(Y[:, j], train[:, j]) >= 0.9, code


def test_learns_obvious_codes(backend, coding_data):
    _, model, _ = backend
    labels = coding_data[3]
    proba = model.predict_proba(NEW)
    assert proba[0, labels.index("focus")] > proba[2, labels.index("focus")]
    km = labels.index("knowledge_management")
    assert proba[1, km] > proba[2, km]


def test_empty_and_one_word_texts(backend):
    _, model, _ = backend
    proba = model.predict_proba(["", "probleem", NEW[0]])
    assert proba.shape[0] == 3 and np.isfinite(proba).all()
    if isinstance(model, SpacyCodeModel):
        assert (proba[0] == 0).all()  # an empty segment gets no code, whatever its batch


@pytest.mark.parametrize("make", [lambda: CodeModel(labels=("a",)),
                                  lambda: SpacyCodeModel(labels=("a",))])
def test_check_is_fitted_before_fit(make):
    model = make()
    with pytest.raises(NotFittedError):
        model.predict_proba(["tekst"])
    with pytest.raises(NotFittedError):
        model.predict(["tekst"])


def test_fit_refuses_mismatched_labels(coding_data):
    _, texts, Y, _ = coding_data
    with pytest.raises(ValueError, match="label names"):
        CodeModel(labels=("a", "b")).fit(texts, Y)
    with pytest.raises(ValueError, match="label names"):
        SpacyCodeModel(labels=("a", "b")).fit(texts, Y)


def test_label_notes_name_what_the_labels_leave_out():
    """A code added to the codebook after the first labelling round, labelled on new
    segments only: the model would learn 0 for it on every other segment, and 0 for the
    other codes on the new ones. Both are said, with counts; sub-types are not counted (only
    the ones that apply are usually listed); labels of a segment no longer there are named
    per transcript."""
    import pandas as pd

    from pipeline.coding.train import label_notes

    rows = [(f"old@{i}-{i + 1}", code, 0) for i in range(5) for code in ("focus", "benefits")]
    rows += [(f"new@{i}-{i + 1}", "reflection", 1) for i in range(2)]
    rows += [("old@0-1", "exchange.input", 1), ("gone@3-9", "focus", 1)]
    resolved = pd.DataFrame(rows, columns=["segment_id", "code", "value"])
    notes = label_notes(resolved, ["gone@3-9"], ["focus", "benefits", "reflection"])
    assert notes[0].startswith("labels: 1 labelled segment id(s) match no segment")
    assert notes[0].endswith(": gone (1)")
    assert notes[1:] == [
        "labels: 2 of the 7 labelled segments have no label for 'focus': counted as 0 there",
        "labels: 2 of the 7 labelled segments have no label for 'benefits': counted as 0 there",
        "labels: 5 of the 7 labelled segments have no label for 'reflection': counted as 0 "
        "there"]
    complete = resolved[resolved["segment_id"].str.startswith("old")]
    assert label_notes(complete, [], ["focus", "benefits"]) == []



def test_label_times_are_read_as_the_store_reads_them(tmp_path):
    """The latest label of an annotator counts: times are compared as instants (a zone does
    not sort as text), an undated label comes after the dated ones (as in the label store),
    and a time that is no time is refused with its file and line instead of sorting last."""
    import pandas as pd

    from pipeline.coding.train import resolve_labels, validate_labels

    rows = [("a@0-5", "focus", "1", "anna", "2024-03-01T11:00:00+01:00"),   # 10:00 UTC
            ("a@0-5", "focus", "0", "anna", "2024-03-01T10:30:00Z"),        # later
            ("b@0-5", "focus", "0", "anna", ""),                            # undated: last
            ("b@0-5", "focus", "1", "anna", "2024-03-01T10:00:00Z")]
    labels = pd.DataFrame(rows, columns=["segment_id", "code", "value", "annotator", "time"]
                          ).assign(file="gold.csv", line=range(2, 6))
    got = resolve_labels(validate_labels(labels, ["focus"])).set_index("segment_id")
    assert got["value"].to_dict() == {"a@0-5": 0, "b@0-5": 0}
    labels.loc[1, "time"] = "gisteren"
    with pytest.raises(InputError, match="gold.csv:3: field 'time': not an ISO 8601 time: "
                                         "'gisteren'"):
        validate_labels(labels, ["focus"])

def test_an_even_split_of_annotators_is_no_majority():
    """Anna says 1, Ben 0: there is no majority. The label counts as 0 (the model has one
    label per segment and code), named as a tie with its count so that it gets adjudicated;
    and a code with too few positives or negatives to learn is named too."""
    import pandas as pd

    from pipeline.coding.train import label_notes, resolve_labels

    labels = pd.DataFrame(
        [("a@0-5", "focus", 1, "anna"), ("a@0-5", "focus", 0, "ben"),
         ("b@0-5", "focus", 1, "anna"), ("b@0-5", "focus", 1, "ben"),
         ("b@0-5", "benefits", 1, "anna"), ("b@0-5", "benefits", 0, "ben"),
         ("c@0-5", "focus", 1, "anna"), ("c@0-5", "focus", 1, "ben"), ("c@0-5", "focus", 0, "cor")],
        columns=["segment_id", "code", "value", "annotator"]).assign(time="")
    resolved = resolve_labels(labels)
    got = {(r.segment_id, r.code): (r.value, r.source) for r in resolved.itertuples()}
    assert got == {("a@0-5", "focus"): (0, "tie"), ("b@0-5", "focus"): (1, "majority"),
                   ("b@0-5", "benefits"): (0, "tie"), ("c@0-5", "focus"): (1, "majority")}
    notes = label_notes(resolved, [], ["focus", "benefits"], {"focus": 2, "benefits": 0}, 2)
    assert notes[-1].startswith("labels: fewer than 2 negative labels (coding.min_positives) "
                                "for focus (1 of 3)")
    assert notes[-3:-1] == [
        "labels: annotators are split evenly on 2 label(s) (benefits 1, focus 1): counted as 0 "
        "until adjudicated (`pipeline annotate adjudicate`)",
        "labels: fewer than 2 positive labels (coding.min_positives) for benefits (0): the "
        "model cannot learn those reliably; label more segments (`pipeline annotate export "
        "--strategy uncertain`)"]


def test_a_code_on_every_labelled_segment_is_named(codebook):
    """A team that labelled only segments about their focus: ``focus`` is 1 on every one.
    The model then has no segment without it to learn from and codes every segment with it
    (probability 1.0), which used to pass without a word in `train`, `code` and `run`."""
    import pandas as pd

    from pipeline.coding.assign import model_notes
    from pipeline.coding.train import label_notes

    resolved = pd.DataFrame([(f"s@{i}-{i + 1}", code, int(code == "focus" or i == 0))
                             for i in range(4) for code in ("focus", "benefits")],
                            columns=["segment_id", "code", "value"])
    notes = label_notes(resolved, [], ["focus", "benefits"], {"focus": 4, "benefits": 1}, 1)
    assert notes == [
        "labels: fewer than 1 negative labels (coding.min_positives) for focus (0 of 4): the "
        "model codes (nearly) every segment with those; label segments where they do not "
        "apply"]
    card = {"name": "m", "training_data": {"segments": 405, "positives": {
        "focus": 405, "outcomes": 101, "exchange.input": 398}}}
    assert model_notes(card, codebook, 10) == [
        "model m learned focus (0), exchange.input (7) from fewer than 10 negative labels "
        "(coding.min_positives): it codes (nearly) every segment with those; label segments "
        "where they do not apply and retrain"]
    tiny = {"name": "m", "training_data": {"segments": 2, "positives": {"focus": 0}}}
    notes = model_notes(tiny, codebook, 10)   # 2 negatives, fewer than 10, but no majority
    assert len(notes) == 1 and "from fewer than 10 positive labels" in notes[0]


def test_a_code_whose_definition_changed_under_the_same_version_is_named(codebook):
    """A team sharpens what ``outcomes`` means but keeps the codebook's version: a model
    trained before says which code changed. New rule patterns, labels or examples mean no
    change of what a model learned, so they are not named; nor is a card from before the
    card held meanings."""
    from pipeline.coding.assign import codebook_note, codebook_stamp

    card = {"name": "m", "codebook": codebook_stamp(codebook)}
    assert codebook_note(card, codebook) is None
    codes = codebook.model_dump()
    for family in codes["families"]:
        for code in family["codes"]:
            code["patterns"] = [*code["patterns"], "nieuw woord"]
            code["examples"] = []
            if code["id"] == "outcomes":
                code["exclude"] = [*code["exclude"], "a plan for next year (code approach)"]
    edited = type(codebook).model_validate(codes)
    assert codebook_stamp(edited)["sha256"] != card["codebook"]["sha256"]
    assert codebook_note(card, edited) == (
        "the definition (or include/exclude rules) of outcomes in the codebook has changed "
        "since model m was trained, under the same version 1.0: if what the code means has "
        "changed, give the codebook a new version and retrain the model on labels made with it")
    codes["families"][0]["codes"][0]["definition"] = "\n  ".join(
        codes["families"][0]["codes"][0]["definition"].split())   # wrapped otherwise: the same
    codes["unit"] = codes["unit"] + " Quotes count as the respondent's."
    unit = codebook_note(card, type(codebook).model_validate(codes))
    assert unit.startswith("the definition (or include/exclude rules) of outcomes and the "
                           "coding unit in the codebook has changed"), unit
    older = {"name": "m", "codebook": {"version": "1.0", "sha256": "0" * 64}}
    assert codebook_note(older, edited) is None


def test_train_on_one_school_says_it_could_not_evaluate(shared_datadir, tmp_path, capsys,
                                                        monkeypatch):
    """A cohort whose labels are of one school: leave-one-school-out is impossible, so the
    card has no scores. It used to say nothing and still name leave-one-school-out as its
    method; now the card and the console say why there are no scores (as with
    ``--no-evaluate``)."""
    import pandas as pd
    from helpers import cli

    cohort = shared_datadir / "tiny_cohort"
    gold = pd.read_csv(cohort / "labels" / "gold.csv", dtype=str, keep_default_na=False)
    gold[gold["segment_id"].str.startswith("sch01")].to_csv(cohort / "labels" / "gold.csv",
                                                            index=False)
    status, _, err = cli(["train", cohort, "--out", tmp_path / "m"], capsys, monkeypatch)
    assert status == 0, err
    card = json.loads((tmp_path / "m" / "model_card.json").read_text(encoding="utf-8"))
    assert card["evaluation"] == {
        "method": "none: the labelled segments are of one school (sch01), and "
                  "leave-one-school-out needs two", "scores": []}
    assert ("warning: evaluation: the labelled segments are of one school (sch01), and "
            "leave-one-school-out needs two: the model card has no scores; label segments of "
            "a second school to evaluate it (`pipeline evaluate`)") in " ".join(err.split()), err
    status, _, err = cli(["train", cohort, "--out", tmp_path / "m", "--no-evaluate"], capsys,
                         monkeypatch)
    assert status == 0 and "evaluation:" not in err, err
    card = json.loads((tmp_path / "m" / "model_card.json").read_text(encoding="utf-8"))
    assert card["evaluation"]["method"] == "none: not asked for when training"


def test_model_card_counts_the_labels_it_was_trained_on(shared_datadir, tmp_path, capsys,
                                                         monkeypatch):
    """The card's label counts add up to what the model learned from: ``sources`` used to
    count the labels of segments that are no longer there (left out of training), and a
    code nobody labelled read as a code labelled absent everywhere (positives 0); now
    ``unlabelled`` says per code how many training segments had no label for it."""
    import pandas as pd
    from helpers import cli

    cohort = shared_datadir / "tiny_cohort"
    gold = pd.read_csv(cohort / "labels" / "gold.csv", dtype=str, keep_default_na=False)
    used = gold[gold["code"] != "benefits"]
    gone = used.head(3).assign(segment_id="sch01-p01_interview_1@99990-99999")
    pd.concat([used, gone]).to_csv(cohort / "labels" / "gold.csv", index=False)
    status, _, err = cli(["train", cohort, "--out", tmp_path / "m", "--no-evaluate"], capsys,
                         monkeypatch)
    assert status == 0, err
    data = json.loads((tmp_path / "m" / "model_card.json").read_text(encoding="utf-8"))[
        "training_data"]
    assert data["labels_not_matching_a_segment"] == 1
    assert data["sources"] == {"gold": len(used)}
    assert data["unlabelled"] == {"benefits": data["segments"]} and data["segments"] == 32


def test_retraining_a_moved_project_says_the_folder_moved(shared_datadir, tmp_path, capsys,
                                                          monkeypatch):
    """A project (cohort, config, its model beside it) copied to another path: `train`
    without --out refuses to replace the model, which names the cohort folder by a hash of its
    path. It used to say only that the model "was trained on another cohort ('tiny')", the
    very name of the cohort being trained; now it says the folder differs, and how to retrain
    it there."""
    import shutil

    from helpers import cli, write_config

    first = tmp_path / "anna"
    shutil.copytree(shared_datadir / "tiny_cohort", first / "cohort")
    write_config(first, "model: models/default", "model: model")
    status, _, err = cli(["train", first / "cohort", "--config", first / "pipeline.yaml",
                          "--no-evaluate"], capsys, monkeypatch)
    assert status == 0 and (first / "model" / "model_card.json").is_file(), err
    moved = tmp_path / "bob"
    shutil.copytree(first, moved)
    status, _, err = cli(["train", moved / "cohort", "--config", moved / "pipeline.yaml",
                          "--no-evaluate"], capsys, monkeypatch)
    said = " ".join(err.split())
    assert status == 2, said
    assert (f"was trained on another cohort ('tiny') of this name, in another folder, and "
            f"training on {moved / 'cohort'} would replace it: give --out models/<name> "
            "(coding.model in your config, or --model, then uses it), or --out "
            f"{moved / 'model'} if this is that cohort, moved") in said, said


# ---------------------------------------------------------------- thresholds
def test_best_threshold_by_hand():
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.3, 0.2, 0.1])
    # every t in (0.2, 0.3] separates perfectly; of those, the grid point closest to 0.5
    assert _best_threshold(y, p) == pytest.approx(0.3)
    assert _best_threshold(np.zeros(4, int), p) == 0.5  # no positives: keep 0.5


def test_thresholds_tuned(backend, coding_data):
    name, model, _ = backend
    labels = coding_data[3]
    t = model.thresholds_
    assert t.shape == (len(labels),)
    assert set(np.round(t, 3)) <= set(THRESHOLD_GRID) | {0.5}
    assert (t != 0.5).any(), "thresholds were not tuned by cross-validation"


def test_untuned_when_no_folds(coding_data):
    _, texts, Y, labels = coding_data
    model = CodeModel(labels=tuple(labels), min_df=1, threshold_folds=1).fit(texts, Y)
    assert (model.thresholds_ == 0.5).all()


# ---------------------------------------------------------------- persistence
def test_save_load_round_trip_identical_probabilities(backend, coding_data):
    name, model, folder = backend
    texts = coding_data[1] + NEW
    loaded, card = (load_model(folder) if name == "sklearn" else load_spacy_model(folder))
    np.testing.assert_array_equal(loaded.predict_proba(texts), model.predict_proba(texts))
    np.testing.assert_array_equal(loaded.thresholds_, model.thresholds_)
    assert list(loaded.labels_) == list(model.labels_)
    assert card["backend_id"] == ("sklearn" if name == "sklearn" else BACKEND_ID)


def test_saved_model_file_has_the_same_bytes_every_time(coding_sklearn_model, coding_data,
                                                       tmp_path):
    """skops names objects by their id() and stamps the time; a copy of the model (new ids)
    saved later must still give the same bytes, and load to the same probabilities."""
    import copy
    import zipfile

    save_model(coding_sklearn_model, tmp_path / "a", {})
    save_model(copy.deepcopy(coding_sklearn_model), tmp_path / "b", {})
    first, second = (tmp_path / "a" / MODEL_FILE), (tmp_path / "b" / MODEL_FILE)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(second) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        arrays = [name for name in archive.namelist() if name.endswith(".npy")]
    assert arrays and all(len(name) <= len("9999.npy") for name in arrays), arrays
    texts = coding_data[1] + NEW
    np.testing.assert_array_equal(load_model(tmp_path / "b")[0].predict_proba(texts),
                                  coding_sklearn_model.predict_proba(texts))


def test_scorer_file_round_trip_identical_probabilities(coding_sklearn_model, coding_model_dirs,
                                                       coding_data):
    """``scorer.npz``, what coding reads, gives the fitted model's probabilities and evidence
    exactly, and the card records its sha256."""
    from pipeline.coding.scoring import SCORER_FILE, load_scorer, read_card
    from pipeline.nlp import context_batch, token_batch

    folder = coding_model_dirs["sklearn"]
    card = read_card(folder)
    scorer = load_scorer(folder, card)
    batch = token_batch(coding_data[1] + NEW)
    contexts = context_batch(["Wat kwam daaruit?"] * len(batch))
    want = coding_sklearn_model.scorer().predict_with_evidence(batch, 3, contexts)
    got = scorer.predict_with_evidence(batch, 3, contexts)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1] == want[1] and any(got[1])
    assert scorer.labels == list(coding_sklearn_model.labels_)
    assert len(card["files"][SCORER_FILE]) == 64


def test_scorer_file_from_another_model_is_refused(coding_model_dirs, tmp_path, settings):
    import shutil

    from pipeline.coding.scoring import SCORER_FILE

    folder = tmp_path / "m"
    shutil.copytree(coding_model_dirs["sklearn"], folder)
    data = bytearray((folder / SCORER_FILE).read_bytes())
    data[-30] ^= 1
    (folder / SCORER_FILE).write_bytes(bytes(data))
    with pytest.raises(InputError, match="scorer.npz: does not match the sha256"):
        load_coder(settings, folder)


@pytest.mark.parametrize("how", ["no scorer.npz", "no hashes in the card"])
def test_model_folder_without_a_vouched_scorer_file_codes_from_skops(
        coding_model_dirs, tmp_path, settings, coding_sklearn_model, how):
    """A folder saved before ``scorer.npz`` existed (or whose card records no hashes) is
    coded from ``model.skops``."""
    import shutil

    from pipeline.coding.scoring import CARD_FILE, SCORER_FILE

    folder = tmp_path / "old"
    shutil.copytree(coding_model_dirs["sklearn"], folder)
    if how == "no scorer.npz":
        (folder / SCORER_FILE).unlink()
    else:
        card = json.loads((folder / CARD_FILE).read_text())
        del card["files"]
        (folder / CARD_FILE).write_text(json.dumps(card))
    coder, _ = load_coder(settings, folder)
    scores, _ = coder.score(NEW, [""] * 3)
    np.testing.assert_array_equal(scores[coder.labels].to_numpy(),
                                  coding_sklearn_model.predict_proba(NEW))


def test_replaced_model_file_is_refused(coding_model_dirs, tmp_path, settings, coding_data):
    """A model.skops copied over another model's folder would be coded with the old
    scorer.npz: refused, naming the file."""
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(coding_model_dirs["sklearn"], folder)
    _, texts, Y, labels = coding_data
    other = CodeModel(labels=tuple(labels), min_df=1, threshold_folds=1).fit(texts, 1 - Y)
    save_model(other, tmp_path / "other", {"name": "other", "backend_id": "sklearn"})
    shutil.copy(tmp_path / "other" / MODEL_FILE, folder / MODEL_FILE)
    with pytest.raises(InputError, match="model.skops: does not match the sha256"):
        load_coder(settings, folder)


def test_coding_imports_no_scikit_learn(coding_model_dirs, tmp_path):
    """Coding with a saved model reads arrays only: scikit-learn and skops (~2 s of imports
    in every coding process) are not imported."""
    import subprocess
    import sys

    script = ("import sys, pandas as pd\n"
              "from pipeline.config import load_settings\n"
              "from pipeline.coding.assign import load_coder\n"
              "from pipeline.coding.assign import code_segments\n"
              "s = load_settings()\n"
              f"coder, _ = load_coder(s, {str(coding_model_dirs['sklearn'])!r})\n"
              "code_segments(pd.DataFrame({'text': ['Ons probleem is het verzuim.']}), coder,"
              " s.codebook)\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'skops')))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    assert out.stdout.strip() == "[]", out.stdout


def test_load_coder_detects_backend(backend, settings, codebook):
    name, model, folder = backend
    coder, card = load_coder(settings, folder)
    assert card["backend_id"] == ("sklearn" if name == "sklearn" else BACKEND_ID)
    import pandas as pd

    coded = code_segments(pd.DataFrame({"id": ["1", "2", "3"], "text": NEW}), coder, codebook)
    np.testing.assert_allclose(coded["p_focus"], model.predict_proba(NEW)[:, 0].round(6))
    assert "focus" in coded.loc[0, "knowledge_types"].split(";")


def test_sklearn_load_refuses_untrusted_type(tmp_path):
    import skops.io as sio

    (tmp_path / MODEL_FILE).write_bytes(sio.dumps(Untrusted()))
    with pytest.raises(InputError, match="untrusted type"):
        load_model(tmp_path)


def test_sklearn_load_missing_file(tmp_path):
    with pytest.raises(InputError, match="model file not found"):
        load_model(tmp_path)


def test_save_model_writes_card(coding_sklearn_model, tmp_path):
    save_model(coding_sklearn_model, tmp_path / "m", {"name": "x", "backend_id": "sklearn"})
    assert json.loads((tmp_path / "m" / "model_card.json").read_text())["name"] == "x"


def test_spacy_load_refuses_untrusted_component(coding_model_dirs, tmp_path):
    import shutil

    folder = tmp_path / "evil"
    shutil.copytree(coding_model_dirs["spacy"], folder)
    cfg_path = folder / "nlp" / "config.cfg"
    cfg = cfg_path.read_text()
    cfg = cfg.replace('pipeline = ["lookup_lemmas","textcat_multilabel"]',
                      'pipeline = ["lookup_lemmas","textcat_multilabel","evil"]')
    cfg += '\n[components.evil]\nfactory = "entity_ruler"\n'
    cfg_path.write_text(cfg)
    with pytest.raises(InputError, match="untrusted component 'evil'"):
        load_spacy_model(folder)


def test_spacy_load_refuses_other_card(coding_model_dirs):
    with pytest.raises(InputError, match="not a spaCy model card"):
        load_spacy_model(coding_model_dirs["sklearn"])


def test_saved_spacy_pipeline_names_no_temporary_corpus(coding_model_dirs):
    """Training reads its corpora from a temporary folder; the saved config named it, so two
    trainings of the same data gave different files (and a path of the trainer's machine)."""
    from spacy.util import load_config

    paths = load_config(coding_model_dirs["spacy"] / "nlp" / "config.cfg",
                        interpolate=False)["paths"]
    assert paths["train"] is None and paths["dev"] is None


def test_spacy_card_contents(coding_model_dirs, coding_data):
    card = json.loads((coding_model_dirs["spacy"] / "model_card.json").read_text())
    assert card["backend_id"] == BACKEND_ID
    assert card["labels"] == coding_data[3]
    assert set(card["thresholds"]) == set(coding_data[3])


def test_spacy_backend_reads_a_pseudonym_as_the_default_model_does(coding_model_dirs):
    """The spaCy backend's tokenizer, in training and as saved, splits a closing bracket off
    within a piece as ``pipeline.nlp`` does: "[persoon-4796]s" was one token with its random
    digits there, so a pseudonym's letters decided whether it was the feature ``persoon``."""
    from pipeline.coding.spacy_model import _blank_nl  # the tokenizer of the training corpus

    model, _ = load_spacy_model(coding_model_dirs["spacy"])
    for nlp in (_blank_nl(), model.nlp_):
        doc = nlp("Op [persoon-4796]s formulier")
        assert [t.text for t in doc] == ["Op", "[", "persoon-4796", "]", "s", "formulier"]
    assert [t.lemma_ for t in model.nlp_("[persoon-4796]s")][1] == "persoon"


# ---------------------------------------------------------------- spaCy corpus + coder
def test_make_docs_sets_every_label(blank_nl):
    Y = np.array([[1, 0, 0], [0, 0, 1]])
    docs = make_docs(blank_nl, ["Eerste tekst.", "Tweede tekst hier."], Y, ["a", "b", "c"])
    assert [d.cats for d in docs] == [{"a": 1.0, "b": 0.0, "c": 0.0},
                                      {"a": 0.0, "b": 0.0, "c": 1.0}]
    assert [d.text for d in docs] == ["Eerste tekst.", "Tweede tekst hier."]
    back = list(to_docbin(docs).get_docs(spacy.blank("nl").vocab))
    assert [d.cats for d in back] == [d.cats for d in docs]
    with pytest.raises(ValueError, match="shape"):
        make_docs(blank_nl, ["een"], Y, ["a", "b", "c"])


def test_spacy_evidence_words(coding_spacy_model, codebook):
    coder = spacy_coder(coding_spacy_model, "tiny_spacy", evidence_terms=3)
    scores, evidence = coder.score(NEW)
    assert list(scores.columns) == list(coding_spacy_model.labels_)
    for i, ev in enumerate(evidence):
        assigned = {lab for lab in coder.labels if scores.loc[i, lab] >= coder.thresholds[lab]}
        assert set(ev) <= assigned
        for words in ev.values():
            assert 1 <= len(words) <= 3
            assert all(w in NEW[i].lower() for w in words)


def test_top_terms_equals_the_per_segment_definition():
    """The vectorised evidence picks, per (segment, code), the same columns as sorting each
    row's positive contributions by hand (ties by column)."""
    import scipy.sparse as sp

    from pipeline.coding.scoring import top_terms

    rng = np.random.default_rng(7)
    X = sp.random(40, 30, density=0.3, random_state=3, format="csr")
    X.data = np.ceil(X.data * 4) / 4                 # exact binary fractions: real ties
    coef = np.round(rng.normal(size=(4, 30)) * 4) / 4
    rows, labels = np.nonzero(rng.random((40, 4)) < 0.4)
    names = np.array([f"w{c}" for c in range(30)], dtype=object)
    got = {(i, j): t for i, j, t in top_terms(X.copy(), coef.T, rows, labels, 3, names)}
    want = {}
    for i, j in zip(rows, labels, strict=True):
        row = X.getrow(i)
        contrib = [(-(v * coef[j, c]), c) for c, v in zip(row.indices, row.data, strict=True)
                   if v * coef[j, c] > 0]
        if contrib:
            want[int(i), int(j)] = [f"w{c}" for _, c in sorted(contrib)[:3]]
    assert got == want


def test_char_scores_equal_the_char_block_product(coding_sklearn_model, coding_data):
    """The compiled character kernel gives what the explicit TF-IDF block times the weights
    gives, on texts with repeated n-grams (tf > 1), an empty text and unknown words."""
    from pipeline.nlp import token_batch

    _, texts, _, _ = coding_data
    featurizer = coding_sklearn_model.featurizer_
    batch = token_batch([*texts, "", "de de de de", "xyzzyq qqq", "Ja ja, dat dat dat."])
    weights = np.random.default_rng(3).normal(size=(len(featurizer.char_vocab_), 4))
    want = featurizer.transform_batch(batch)[1] @ weights
    got = featurizer.tables().char_scores(batch, weights)
    assert np.abs(want).max() > 0.1
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_contexts_given_once_per_distinct_text(coding_data):
    """Scoring each distinct interviewer question once (``context_of``) changes nothing."""
    import pandas as pd

    from pipeline.nlp import context_batch, token_batch

    _, texts, Y, labels = coding_data
    questions = ["Wat doe je met de resultaten?", "", "Hoe deel je dat met collega's?"]
    contexts = [questions[i % 3] for i in range(len(texts))]
    model = CodeModel(labels=labels, min_df=1, threshold_folds=1).fit(
        pd.DataFrame({"text": texts, "context": contexts}), Y)
    batch = token_batch(texts)
    each, _ = model.scorer().predict_with_evidence(batch, 3, context_batch(contexts))
    once, _ = model.scorer().predict_with_evidence(batch, 3, context_batch(questions),
                                          context_of=np.arange(len(texts)) % 3)
    np.testing.assert_allclose(once, each, rtol=1e-12)
    alone, _ = model.scorer().predict_with_evidence(batch, 3)
    assert np.abs(alone - each).max() > 1e-6        # the context does count


def test_word_block_equals_sklearn_tfidf(coding_data):
    """The lemma n-gram block is scikit-learn's TfidfVectorizer (sublinear tf, smoothed idf,
    L2 rows) over the same vocabulary, for texts the featurizer has not seen."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from pipeline.coding.features import SegmentFeaturizer
    from pipeline.nlp import token_batch, tokens_and_lemmas

    _, texts, _, _ = coding_data
    train, test = texts[::2], [*texts[1::2], "", "ja ja ja de de school school school"]
    words, lemmas = tokens_and_lemmas(train)
    featurizer = SegmentFeaturizer(char_ngrams=None, min_df=1).fit_tokens(words, lemmas)

    def grams(lem):
        return lem + [f"{a} {b}" for a, b in zip(lem, lem[1:], strict=False)]

    reference = TfidfVectorizer(analyzer=grams, vocabulary=featurizer.word_vocab_.tolist(),
                                sublinear_tf=True).fit(lemmas)
    want = reference.transform(tokens_and_lemmas(test)[1]).toarray()
    got = featurizer.word_block(token_batch(test)).toarray()
    assert (want > 0).sum() > 50
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_refit_model_scores_with_its_new_weights(coding_data):
    """A model fitted twice scores with the second fit's coefficients (nothing cached from
    the first survives)."""
    _, texts, Y, labels = coding_data
    model = CodeModel(labels=labels, threshold_folds=1).fit(texts, Y)
    first = model.predict_proba(NEW)
    model.fit(texts, 1 - Y)
    np.testing.assert_allclose(model.predict_proba(NEW),
                               CodeModel(labels=labels, threshold_folds=1).fit(texts, 1 - Y)
                               .predict_proba(NEW))
    assert np.abs(model.predict_proba(NEW) - first).max() > 0.1


def _add_one(x):
    return x + 1


def test_compiled_without_a_writable_cache(monkeypatch):
    """Where numba finds no folder to cache machine code in (a read-only install), the
    kernels are compiled per process instead of failing at import."""
    import numba.core.caching

    from pipeline.coding.scoring import compiled

    monkeypatch.setattr(numba.core.caching.CacheImpl, "_locator_classes", [])
    with pytest.raises(RuntimeError):
        numba.njit(cache=True)(_add_one)
    assert compiled(_add_one)(1) == 2


@pytest.mark.parametrize("n_names", [9, 64])
def test_codes_joined_per_row(n_names):
    """Each row's assigned names, ``;``-joined in the given order: joining each distinct
    combination once gives what joining row by row gives (also past 62 names)."""
    from pipeline.coding.assign import _join

    rng = np.random.default_rng(n_names)
    names = [f"c{i}" for i in range(n_names)]
    assigned = {name: rng.random(500) < 0.2 for name in names[1:]}   # c0: never assigned
    for flags in assigned.values():
        flags[:20] = False                                           # rows without a code
    want = [";".join(x for x in names if x in assigned and assigned[x][i]) for i in range(500)]
    assert _join(names, assigned, 500) == want
    assert "" in want and _join(names, assigned, 0) == []


def test_evidence_names_the_words_that_carry_a_code(coding_sklearn_model, coding_data):
    """The evidence of an assigned code left function words and pseudonyms in ("outcomes:
    hebben, de, ja de, bij", "organisational: volgend, persoon"): they still count in the
    probabilities, but the evidence lists the n-grams that say something."""
    from pipeline.coding.scoring import top_terms
    from pipeline.nlp import says_nothing, token_batch

    scorer = coding_sklearn_model.scorer()
    batch = token_batch([f"{t} Ja, dat hebben we bij [persoon-ab12] gedaan."
                         for t in coding_data[1]])
    proba, evidence = scorer.predict_with_evidence(batch, 5)
    z, Xw = scorer.scores(batch)
    np.testing.assert_array_equal(proba, scorer.predict_proba(batch))
    rows, codes = np.nonzero(proba >= scorer.thresholds)
    raw = [t for *_, terms in top_terms(Xw, scorer.word_weights, rows, codes, 5,
                                        scorer.segment.word_names) for t in terms]
    shown = [t for ev in evidence for terms in ev.values() for t in terms]
    assert any(map(says_nothing, raw)) and shown   # they would be shown, and are not
    assert not any(map(says_nothing, shown))
    assert says_nothing("ja de") and says_nothing("persoon") and not says_nothing("de nieuwsbrief")


def test_known_words_counts_the_content_words_the_model_has_a_weight_for(
        coding_sklearn_model):
    """A segment's content words (function words and a person's pseudonym left out, as in
    the evidence) and how many of them are a unigram of the model's vocabulary: what a run
    compares a new cohort's schools with (``test_a_school_whose_words_the_model_does_not_know_
    is_named`` in test_cli.py)."""
    from pipeline.coding.assign import known_share, known_words
    from pipeline.nlp import says_nothing, token_batch

    scorer = coding_sklearn_model.scorer()
    vocab = set(scorer.segment.word_vocab)
    known = next(g for g in sorted(vocab) if " " not in g and not says_nothing(g)
                 and token_batch([g]).lemmas == [g])
    assert "zwembadkaart" not in scorer.segment.lemma_id
    content, counted = known_words(scorer, [
        f"Ja, de {known} en [persoon-ab12] en de zwembadkaart.", "", "Ja, dat hebben we."])
    assert content.tolist() == [2, 0, 0] and counted.tolist() == [1, 0, 0]
    assert known_share((content, counted)) == 0.5
    assert np.isnan(known_share((content[1:], counted[1:])))


def test_model_card_scores_carry_their_intervals(shared_datadir, tmp_path, capsys,
                                                 monkeypatch):
    """`train` writes each leave-one-school-out score with its interval over resampled
    transcripts, as `pipeline evaluate` does, and says how they were made: the report shows
    them beside the scores."""
    from helpers import cli

    status, _, err = cli(["train", shared_datadir / "tiny_cohort", "--out", tmp_path / "m"],
                         capsys, monkeypatch)
    assert status == 0, err
    evaluation = json.loads((tmp_path / "m" / "model_card.json").read_text(encoding="utf-8"))[
        "evaluation"]
    assert evaluation["intervals"] == {"level": 0.95, "resamples": 2000,
                                       "resampled": "transcripts"}
    macro = [r for r in evaluation["scores"] if r["code"] == "macro"]
    assert len(macro) == 2
    for row in macro:
        assert row["f1_low"] <= row["f1"] <= row["f1_high"], row
        assert row["kappa_low"] <= row["kappa_high"], row
