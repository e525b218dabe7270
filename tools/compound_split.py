"""Experiment: do Dutch compound heads/parts as an extra feature block lift the default coder?

Not part of the pipeline. Dutch writes compounds as one word ("toetsresultaten",
"leerlingprestaties"), so the lemma block sees "toetsresultaten" and "resultaten" as unrelated
features; only the character n-grams link them. Here every word of a segment is split into
its compound parts, the parts are lemmatised (``resultaten`` -> ``resultaat``) and, for the
words that split, a third TF-IDF lemma block (like the context block: unigrams, ``min_df`` of
the config) is added to the model's features, scaled by a weight. Nothing else changes: same
lemma and character blocks, same context block, C, thresholds tuned inside the training
schools only.

Splitter (``--splitter cs``, the default): the PyPI package ``compound-split`` 1.0.2
(``char_split``, an n-gram model trained on Dutch; offline), installed OUTSIDE the project
venv::

  .venv/bin/pip install --target /tmp/cs_pkgs compound-split==1.0.2

and found through ``/tmp/cs_pkgs`` (``--cs-path``). Its raw best split is junk for words that
are no compounds (``eigenlijk`` -> eigen|lijk, ``minuten`` -> min|uten, ``vergadering`` ->
vergader|ing): it always splits somewhere. So a split is kept only when, among its three best
candidates, the first one has a modifier (after a linking ``s``/``e``/``en``) and a head that
are both words of the package's own OpenTaal list (``dicts/nl-NL.dic``), both of at least 4
letters (the package's own ``doc_split`` rule; 3 let in hel|maal, gek|omen, bes|loten ...), the
modifier not a particle or prefix (``over``, ``voor`` ...: separable verbs, not compounds),
the head not a derivational ending that happens to be a word (``ling``, ``ende``, ``atie``
...). A modifier that is no word itself
may be a compound again (``personeelsnieuws|brief``). The splits are a fixed function of the
word: they are tabulated once for every word of the cohort, in this process.
``--splitter greedy`` (also the fallback when the package is not importable) is a small
greedy splitter instead: the longest head such that head and modifier (linking
``s``/``e``/``en`` allowed) are both lemmas seen in the *training* segments of the fold,
parts of at least 3 letters, the same particle/ending lists.

Variants compared with the default model, under the same leave-one-school-out folds as
``pipeline evaluate`` (``compare_coders`` / ``estimator_fit_predict``):

- ``heads 0.5``: the lemma of each compound's head, block weight 0.5;
- ``heads 1.0``: the same, weight 1.0;
- ``parts 0.5``: the lemmas of all its parts (modifier(s) and head), weight 0.5.

Run (~3 minutes on 2 cores: four coders x five folds, ~15 s a fold)::

  .venv/bin/python tools/compound_split.py --out out/demo/compound_split

With weight 0 and no splits the variant reproduces the default's probabilities (to 1e-15) and
thresholds: it predicts through the sparse blocks instead of the compiled scorer, nothing else.

Writes ``compound_split.csv`` (coder, family, code, n_positive, precision, recall, f1, kappa)
and ``splits.csv`` (word, count, parts: the words of the cohort that split) into ``--out``;
prints example splits, macro-F1 per family, per-code kappa and the codes whose F1 or kappa
move by more than 0.02 against the default.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import io  # noqa: E402
from pipeline.coding.evaluate import compare_coders, estimator_fit_predict  # noqa: E402
from pipeline.coding.features import SegmentFeaturizer  # noqa: E402
from pipeline.coding.model import CodeModel, _texts_and_contexts  # noqa: E402
from pipeline.coding.scoring import sigmoid  # noqa: E402
from pipeline.coding.train import labelled_segments, make_model  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.nlp import context_batch, lemmatiser, tokens_and_lemmas  # noqa: E402

VARIANTS = {"heads 0.5": ("heads", 0.5), "heads 1.0": ("heads", 1.0),
            "parts 0.5": ("parts", 0.5)}
LINKS = ("en", "e", "s")          # linking morphemes: toets|en|..., personeel|s|kamer
MIN_MODIFIER, MIN_HEAD = 4, 4     # letters, as compound-split's own doc_split (greedy: 3, 3)
# modifiers that make separable verbs or adverbs (over|stappen, voor|spelling), not compounds
PARTICLES = frozenset(
    "aan achter af al alle bij daar door elke heel hele her hier ieder in mee na om on ont "
    "onder op over samen te tegen ter terug toe uit van ver voor waar weg zelf".split())
# derivational/inflectional endings that are also dictionary words (verwacht|ingen, leer|ling)
ENDINGS = frozenset(
    "aard aars achtig atie aties baar dom eling elijk ende enden eraf eren erin erij heid ieke "
    "ing ingen isch king lijk ling lingen loos matig ming nis schap sing ster sten tig "
    "ting".split())


# ---------------------------------------------------------------------- splitters
def _strip_link(modifier: str, known, min_len: int) -> str | None:
    """The modifier itself or without a linking s/e/en, if that is a known word."""
    for m in (modifier, *(modifier[:-len(x)] for x in LINKS if modifier.endswith(x))):
        if len(m) >= min_len and m in known and m not in PARTICLES:
            return m
    return None


def _head_ok(head: str, known, min_len: int) -> bool:
    return (len(head) >= min_len and head not in ENDINGS
            and (head in known or lemmatiser().lemma(head) in known))


class CharSplitter:
    """``compound-split``'s candidates, kept only if both parts are OpenTaal words
    (module docstring). ``split(word)``: the parts, modifier(s) first, or None."""

    def __init__(self, cs_path: Path):
        import importlib
        import importlib.resources

        # this file is named like the package: import the package, not this script
        here = Path(__file__).resolve().parent
        mine = sys.modules.get("compound_split")
        if mine is not None and not hasattr(mine, "__path__"):
            del sys.modules["compound_split"]
        saved = sys.path[:]
        sys.path[:] = [str(cs_path), *(p for p in saved if Path(p or ".").resolve() != here)]
        try:
            char_split = importlib.import_module("compound_split.char_split")  # or ImportError
            text = (importlib.resources.files("compound_split") / "dicts" / "nl-NL.dic"
                    ).read_text(encoding="utf-8")
        finally:
            sys.path[:] = saved
        self._split = char_split.split_compound
        self.known = {line.split("/")[0].strip().lower() for line in text.splitlines()
                      if line and not line.startswith("#")}
        self._cache: dict[str, list[str] | None] = {}

    def split(self, word: str, depth: int = 0) -> list[str] | None:
        if word in self._cache:
            return self._cache[word]
        found = None
        if word.isalpha() and len(word) >= MIN_MODIFIER + MIN_HEAD and depth < 3:
            for _, a, b in self._split(word, "nl")[:3]:
                a, b = a.lower(), b.lower()
                if not _head_ok(b, self.known, MIN_HEAD):
                    continue
                m = _strip_link(a, self.known, MIN_MODIFIER)
                if m:
                    found = [m, b]
                    break
                inner = self.split(a, depth + 1)   # personeelsnieuws -> personeel|nieuws
                if inner:
                    found = [*inner, b]
                    break
        self._cache[word] = found
        return found


class GreedySplitter:
    """Longest head such that head and modifier are lemmas of the training segments."""

    def __init__(self, known_lemmas):
        self.known = set(known_lemmas)

    def split(self, word: str) -> list[str] | None:
        if not word.isalpha() or len(word) < 6:
            return None
        for i in range(3, len(word) - 2):
            head = word[i:]
            if _head_ok(head, self.known, 3):
                m = _strip_link(word[:i], self.known, 3)
                if m:
                    return [m, head]
        return None


def compound_tokens(words: list[str], split, mode: str) -> list[str]:
    """The block's tokens of one segment: per word that splits, the lemma of its head
    (``heads``) or of every part (``parts``)."""
    lem = lemmatiser()
    out: list[str] = []
    for w in words:
        parts = split(w)
        if parts:
            out += [lem.lemma(p) for p in (parts[-1:] if mode == "heads" else parts)]
    return out


# ---------------------------------------------------------------------- the model
class CompoundCodeModel(CodeModel):
    """The default model plus a TF-IDF block of compound heads/parts (``mode``, ``weight``,
    ``splits``: set after construction; ``splits`` a dict word -> parts, or None for the greedy
    splitter on the training lemmas). Predicts through the sparse blocks, not the compiled
    scorer (which knows only the default three blocks)."""

    mode, weight, splits = "heads", 0.5, None

    def _splitter(self, lemmas_of_training):
        if self.splits is not None:
            return self.splits.get
        return GreedySplitter(w for lem in lemmas_of_training for w in lem).split

    def _blocks(self, words, lemmas, ctx):
        blocks = self.featurizer_.transform_blocks(words, lemmas)
        c = self.context_featurizer_.transform_blocks(ctx, ctx)[0]
        parts = [compound_tokens(w, self.split_, self.mode) for w in words]
        k = self.compound_featurizer_.transform_blocks(parts, parts)[0]
        return sp.hstack([*blocks, c * self.context_weight, k * self.weight], format="csr")

    def fit(self, X, y):
        # CodeModel.fit with one more block; the same folds, thresholds and solver
        from sklearn.model_selection import KFold

        from pipeline.coding.model import _best_threshold

        texts, contexts = _texts_and_contexts(X)
        Y = np.asarray(y, dtype=np.int64)
        words, lemmas = tokens_and_lemmas(texts)
        _, ctx = context_batch(contexts).per_text()
        self.split_ = self._splitter(lemmas)
        parts = [compound_tokens(w, self.split_, self.mode) for w in words]

        def fit_blocks(rows):
            f = SegmentFeaturizer(self.word_ngrams, self.char_ngrams, self.min_df,
                                  self.max_features).fit_tokens([words[i] for i in rows],
                                                                [lemmas[i] for i in rows])
            fc = SegmentFeaturizer((1, 1), None, self.min_df, self.max_features).fit_tokens(
                [ctx[i] for i in rows], [ctx[i] for i in rows])
            fk = SegmentFeaturizer((1, 1), None, self.min_df, self.max_features).fit_tokens(
                [parts[i] for i in rows], [parts[i] for i in rows])
            return f, fc, fk

        def features(fs, rows):
            f, fc, fk = fs
            blocks = f.transform_blocks([words[i] for i in rows], [lemmas[i] for i in rows])
            c = fc.transform_blocks([ctx[i] for i in rows], [ctx[i] for i in rows])[0]
            k = fk.transform_blocks([parts[i] for i in rows], [parts[i] for i in rows])[0]
            return sp.hstack([*blocks, c * self.context_weight, k * self.weight], format="csr")

        oof = np.zeros(Y.shape, dtype=np.float64)
        folds = min(self.threshold_folds, len(texts))
        kf = KFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        for tr, te in kf.split(texts):
            fs = fit_blocks(tr)
            coef, b = self._fit_weights(features(fs, tr), Y[tr])
            oof[te] = sigmoid(features(fs, te) @ coef.T + b)
        self.thresholds_ = np.array([_best_threshold(Y[:, j], oof[:, j])
                                     for j in range(Y.shape[1])])
        every = np.arange(len(texts))
        fs = fit_blocks(every)
        self.featurizer_, self.context_featurizer_, self.compound_featurizer_ = fs
        self.coef_, self.intercept_ = self._fit_weights(features(fs, every), Y)
        self.labels_ = self.classes_ = np.array(list(self.labels), dtype=str)
        return self

    def predict_proba(self, X) -> np.ndarray:
        texts, contexts = _texts_and_contexts(X)
        words, lemmas = tokens_and_lemmas(texts)
        _, ctx = context_batch(contexts).per_text()
        return sigmoid(self._blocks(words, lemmas, ctx) @ self.coef_.T + self.intercept_)


# ---------------------------------------------------------------------- the experiment
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cohort", type=Path, default=ROOT / "data" / "demo")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--splitter", choices=("cs", "greedy"), default="cs")
    ap.add_argument("--cs-path", type=Path, default=Path("/tmp/cs_pkgs"),
                    help="where compound-split 1.0.2 was installed (pip --target)")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    settings = load_settings(None)
    seg, Y, names, _ = labelled_segments(io.load_cohort(args.cohort), settings)
    X = seg[["text", "context"]].reset_index(drop=True)
    counts = Counter(w for ws in tokens_and_lemmas(X["text"].tolist())[0] for w in ws)

    splits = None
    if args.splitter == "cs":
        try:
            splitter = CharSplitter(args.cs_path)
            splits = {w: p for w in counts if (p := splitter.split(w))}
        except ImportError:
            print(f"compound-split not importable (from {args.cs_path}): greedy splitter")
    # the greedy splitter is built per training fold by the model; here (for the examples)
    # from the lemmas of every segment
    split = (splits.get if splits is not None
             else GreedySplitter(lemmatiser().lemma(w) for w in counts).split)
    table = pd.DataFrame([{"word": w, "count": c, "parts": "|".join(p)}
                          for w, c in counts.most_common() if (p := split(w))],
                         columns=["word", "count", "parts"])
    args.out.mkdir(parents=True, exist_ok=True)
    io.write_csv(table, args.out / "splits.csv")
    n_tok = sum(counts.values())
    print(f"splitter {'compound-split (OpenTaal-checked)' if splits is not None else 'greedy'}:"
          f" {len(table)} of {len(counts)} word types split, "
          f"{table['count'].sum() / n_tok:.1%} of {n_tok} tokens")
    print("most frequent splits:", ", ".join(f"{w}={p}" for w, p in
                                            table[["word", "parts"]].head(40).values))

    def variant(mode, weight):
        def make():
            model = CompoundCodeModel(**make_model(settings, names).get_params())
            model.mode, model.weight, model.splits = mode, weight, splits
            return model
        return make

    coders = {"default": estimator_fit_predict(lambda: make_model(settings, names))}
    coders |= {name: estimator_fit_predict(variant(*v)) for name, v in VARIANTS.items()}
    comparison = compare_coders(X, Y, seg["school_id"].tolist(), coders, names,
                                settings.codebook, subtypes=False, jobs=args.jobs,
                                progress=print)
    scores = comparison.scores
    io.write_csv(scores, args.out / "compound_split.csv")
    order = list(coders)
    macro = scores[scores["code"] == "macro"].pivot(index="coder", columns="family",
                                                     values="f1").loc[order]
    print("\nmacro-F1 per family\n" + macro.round(3).to_string())
    codes = scores[~scores["code"].isin(["macro", "micro"])]
    kappa = codes.pivot(index="code", columns="coder", values="kappa")[order]
    kappa = kappa.loc[codes["code"].drop_duplicates()]
    print("\nkappa per code\n" + kappa.round(3).to_string())
    wide = codes.pivot(index="code", columns="coder", values=["f1", "kappa"])
    moved = []
    for name in order[1:]:
        for metric in ("f1", "kappa"):
            d = wide[(metric, name)] - wide[(metric, "default")]
            moved += [f"{name}: {c} {metric} {d[c]:+.3f}" for c in d.index if abs(d[c]) > 0.02]
    print("\nmoved by > 0.02 against default:\n  " + ("\n  ".join(moved) or "none"))
    print("\nseconds per fold:", {k: v for k, v in comparison.seconds.items()})


if __name__ == "__main__":
    main()
