"""Tests for pipeline/report.py: the HTML report of `pipeline run`, rendered for the fixture
cohort in tests/data/report_cohort/ (2 schools of 10, Dutch transcripts that name colleagues,
bad nominations, a key figure without transcripts) with the rule coder."""

from __future__ import annotations

import base64
import dataclasses
import doctest
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipeline import report
from pipeline.cli import app
from pipeline.config import DEFAULT_CONFIG, load_settings
from pipeline.io import load_cohort

COHORT = Path(__file__).parent / "data" / "report_cohort"
SECTIONS = ["summary", "data-quality", "heatmaps", "model-quality", "reproduce"]


def run_cli(out: Path, *extra: str) -> str:
    res = CliRunner().invoke(app, ["run", str(COHORT), "--out", str(out), "--rules",
                                   "--jobs", "1", *extra])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return (out / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def nl(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("report-nl") / "out"
    return out, run_cli(out)


@pytest.fixture(scope="module")
def en(tmp_path_factory) -> tuple[Path, str]:
    """English labels via a config copy, and --reveal-names."""
    tmp = tmp_path_factory.mktemp("report-en")
    cfg = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    cfg["language"] = "en"
    config = tmp / "pipeline.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return tmp / "out", run_cli(tmp / "out", "--config", str(config), "--reveal-names")


class Rows(HTMLParser):
    """Text of the cells of every <tr> whose class contains ``cls``."""

    def __init__(self, cls: str):
        super().__init__()
        self.cls, self.rows, self._row, self._cell, self._depth = cls, [], None, None, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and self.cls in (attrs.get("class") or "").split():
            self._row = {"attrs": attrs, "cells": []}
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def rows(html: str, cls: str) -> list[dict]:
    parser = Rows(cls)
    parser.feed(html)
    return parser.rows


def section(html: str, sid: str) -> str:
    start = html.index(f'id="{sid}"')
    end = html.find("<section", start)
    return html[start:end if end > 0 else len(html)]


def card(html: str, anchor: str) -> str:
    start = html.index(f'<article class="card" id="{anchor}"')
    return html[start:html.index("</article>", start)]


# ------------------------------------------------------------------ structure
def test_sections_and_schools(nl):
    _, html = nl
    assert html.startswith("<!doctype html>") and '<html lang="nl">' in html
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in html
    assert '<section class="school" id="school-noord">' in html
    assert '<section class="school" id="school-zuid">' in html
    for heading in ("Samenvatting van het cohort", "Datakwaliteit", "Codes per sleutelfiguur",
                    "Kwaliteit van de codering", "Citeren en reproduceren", "Profielkaarten"):
        assert heading in html


def test_self_contained(nl):
    _, html = nl
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"url\((?!data:)", html)
    for src in re.findall(r'\bsrc="([^"]*)"', html):
        assert src.startswith("data:image/png;base64,")
    for href in re.findall(r'\bhref="([^"]*)"', html):
        assert href.startswith("#"), href
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    assert {h[1:] for h in re.findall(r'\bhref="(#[^"]+)"', html)} <= ids


def test_every_school_has_its_sociogram_inline(nl):
    out, html = nl
    for school in ("noord", "zuid"):
        part = section(html, f"school-{school}")
        m = re.search(r'<img class="sociogram"[^>]*src="data:image/png;base64,([^"]+)"', part)
        assert m, school
        png = base64.b64decode(m.group(1))
        assert png == (out / "figures" / f"sociogram_{school}.png").read_bytes()
        assert (out / "figures" / f"sociogram_{school}.svg").stat().st_size > 0


def test_key_figure_table_numbers(nl):
    out, html = nl
    kf = pd.read_csv(out / "key_figures.csv", dtype={"person_id": str})
    feats = pd.read_csv(out / "person_features.csv").set_index("person_id")
    profiles = pd.read_csv(out / "profiles.csv").set_index("person_id")
    staff = pd.read_csv(COHORT / "staff.csv").set_index("person_id")
    settings = load_settings()
    table = {r["attrs"]["data-person"]: r["cells"] for r in rows(html, "kf-row")}
    assert sorted(table) == sorted(kf["person_id"])
    for r in kf.itertuples():
        cells, f = table[r.person_id], feats.loc[r.person_id]
        rank, person, years, contacts, out_t, in_t, rec, strength, prof, stab = cells
        assert rank == str(r.rank)
        assert person.startswith(r.person_id) and staff.loc[r.person_id, "role"] in person
        assert years == (f"{staff.loc[r.person_id, 'years_in_education']} / "
                         f"{staff.loc[r.person_id, 'years_at_school']}")
        assert contacts == str(int(f.out_ties + f.in_ties - f.reciprocal_ties))
        assert (out_t, in_t, rec) == (str(f.out_ties), str(f.in_ties), str(f.reciprocal_ties))
        assert strength == f"{f.mean_strength:.2f}".replace(".", ",")   # a mean: 3,00, not 3
        assert prof.startswith(settings.profiles.label(profiles.loc[r.person_id, "profile"], "nl"))
        assert stab.startswith("stabiel" if profiles.loc[r.person_id, "stable"] else "⚠ instabiel")
    # the fixture's n05 is unstable: flagged in its row and on its card, with the threshold
    assert not profiles.loc["n05", "stable"]
    assert "reciprocity_ratio &gt;= 0,42" in html
    assert 'class="kf-row unstable-row" data-person="n05"' in html
    assert 'badge unstable' in card(html, "kf-noord-3")


def test_data_quality_and_warnings(nl):
    _, html = nl
    dq = section(html, "data-quality")
    quality = rows(dq.replace("<tr><td>", '<tr class="q"><td>'), "q")
    assert [c["cells"] for c in quality] == [
        ["noord", "onbekende persoon", "1", "26"], ["noord", "nomineert zichzelf", "1", "25"],
        ["noord", "sterkte buiten de schaal", "1", "27"], ["noord", "dubbel", "1", "28"],
        ["zuid", "nomineert zichzelf", "1", "51"]]
    assert "sleutelfiguur z01 heeft geen transcripten" in dq
    assert "Geen gecodeerde fragmenten (geen transcripten" in card(html, "kf-zuid-3")


def test_profile_cards_reasons_and_evidence(nl):
    out, html = nl
    segments = pd.read_csv(out / "segments.csv", dtype=str, keep_default_na=False)
    profiles = pd.read_csv(out / "profiles.csv").set_index("person_id")
    kf = pd.read_csv(out / "key_figures.csv")
    settings = load_settings()
    for r in kf.itertuples():
        c = card(html, f"kf-{r.school_id}-{r.rank}")
        blocks = report.parse_reasons(profiles.loc[r.person_id, "reasons"])
        assert blocks, r.person_id
        for b in blocks:
            if b["kind"] == "not":
                label = settings.profiles.label(b["profile"], "nl")
                assert f"Waarom niet {label}" in c
        marks = c.count("&#10003;") + c.count("&#10007;")
        crits = [x for b in blocks for x in b["criteria"]]
        assert marks == sum(x["holds"] is not None for x in crits)
        assert c.count('<li class="skip">') == sum(x["holds"] is None for x in crits)
        # the 3 strongest segments per family, in order of probability
        mine = segments[segments["person_id"] == r.person_id]
        for fam in settings.codebook.families:
            codes = [x.id for x in fam.codes]
            scored = []
            for s in mine.itertuples():
                assigned = [x for x in getattr(s, fam.id).split(";") if x in codes]
                if assigned:
                    p = max(float(getattr(s, f"p_{x}")) for x in assigned)
                    scored.append((-p, s.doc, int(s.start), s.segment_id))
            expected = [x[3] for x in sorted(scored)[:3]]
            fam_part = c[c.index(f"<h5>{fam.label.nl}</h5>"):]
            fam_part = fam_part[:fam_part.index("</ol>")] if expected else fam_part
            found = re.findall(r"<code>([^<]+@\d+-\d+)</code>", fam_part)
            assert found == expected, (r.person_id, fam.id)
    chosen = card(html, "kf-noord-3")
    assert "Waarom basis-interactieveling" in chosen and "&#10003;" in chosen
    assert "<mark>" in html


def test_heatmaps_count_codes_per_key_figure(nl):
    out, html = nl
    codes = pd.read_csv(out / "person_codes.csv")
    overall = codes[codes["source"] == "all"].set_index("person_id")
    part = section(html, "heatmaps")
    for fam in ("knowledge_types", "activities"):
        table = part[part.index(f'data-family="{fam}"'):]
        table = table[:table.index("</table>")]
        cells = re.findall(r'<td class="cell"[^>]*>(\d+)</td>', table)
        assert cells
    n01 = [int(x) for x in re.findall(
        r'<td class="cell"[^>]*>(\d+)</td>',
        part[part.index("1 &middot; n01"):part.index("2 &middot; n08")])]
    settings = load_settings()
    assert n01 == [int(overall.loc["n01", f"n_{c}"])
                   for c in settings.codebook.family_codes("knowledge_types")]
    assert part.count('class="cell none"') == 8   # z01 has no transcripts: 5 + 3 codes


def test_rules_coder_and_reproduce_section(nl):
    _, html = nl
    quality = section(html, "model-quality")
    assert "regelgebaseerde codeerder" in quality and "--rules" in quality
    repro = section(html, "reproduce")
    assert f"pipeline run {COHORT.as_posix()} --out OUT --rules" in repro
    for name in ("configs/pipeline.yaml", "configs/codebook.yaml", "configs/profiles.yaml",
                 "spacy", "scikit-learn", "sleutelfiguren"):
        assert name in repro
    from pipeline.io import file_sha256
    assert file_sha256(DEFAULT_CONFIG) in repro
    assert file_sha256(COHORT / "staff.csv") in repro


def test_no_real_names_by_default(nl):
    _, html = nl
    staff = pd.read_csv(COHORT / "staff.csv")
    transcripts = " ".join(p.read_text(encoding="utf-8")
                           for p in (COHORT / "transcripts").rglob("*.txt"))
    assert "Bram Jansen" in transcripts and "Anouk de Vries" in transcripts
    for name in staff["name"]:
        assert name not in html, name
        first = name.split()[0]
        assert not re.search(rf"\b{re.escape(first)}\b", html), first
    assert "[persoon-" in html


def test_english_labels_and_revealed_names(en):
    _, html = en
    assert '<html lang="en">' in html
    for text in ("Cohort summary", "Data quality", "Key figures", "Profile cards",
                 "Codes per key figure", "Coding quality", "How to cite and reproduce",
                 "Knowledge management", "Linkage and exchange", "Approach (process)",
                 "basic interactive", "undetermined", "self-nomination", "rule-based coder"):
        assert text in html, text
    for text in ("Samenvatting", "Kennismanagement", "basis-interactieveling", "onbepaald",
                 "Sleutelfiguren:"):
        assert text not in html, text
    assert "--config" in section(html, "reproduce") and "--reveal-names" in html
    assert 'id="privacy-alert"' in html and "Anouk de Vries" in html


def test_reasons_and_selection_in_the_report_language(nl, en):
    """The reasons and selection texts are English data (profiles.csv, key_figures.csv); the
    Dutch report says them in Dutch, the English report as they are."""
    out, html = nl
    cards = html[html.index('<article class="card"'):html.rindex("</article>")]
    for english in ("(needs ", "rank 1 of", "does not hold", "shares the focus",
                    "boundary contacts"):
        assert english not in cards, english
    for dutch in ("(nodig: ", "rang 1 van", "deelt de focus", "grensoverschrijdende contacten"):
        assert dutch in cards, dutch
    profiles = pd.read_csv(out / "profiles.csv")
    assert profiles["reasons"].str.contains("shares the focus").any()     # the data stays
    _, en_html = en
    assert "shares the focus" in en_html and "(needs " in en_html and "rank 1 of" in en_html
    assert "nodig:" not in en_html


def test_every_measure_the_reasons_name_is_in_the_tables_the_run_wrote(nl):
    """A researcher looks a reason's number up in the CSV tables of the run: each measure
    named is a column of network_metrics.csv (boundary_reciprocity_ratio and
    boundary_out_share under the default tie_scope: boundary) or person_features.csv
    (n_activity_categories), and its key figure's row there holds the value given."""
    from helpers import measures_named, untraceable

    out, _ = nl
    profiles = pd.read_csv(out / "profiles.csv")
    tables = {name: pd.read_csv(out / name)
              for name in ("network_metrics.csv", "person_features.csv")}
    assert untraceable(profiles, tables) == []
    named = {name for reasons in profiles["reasons"] for name, _ in measures_named(reasons)}
    assert {"boundary_reciprocity_ratio", "boundary_out_share", "boundary_mean_strength",
            "n_activity_categories", "n_focus"} <= named, named


def test_the_dutch_report_writes_decimals_with_a_comma(nl, en):
    """Dutch readers read 0,78: every decimal of the Dutch report has a comma (mean
    strengths, scores, the numbers inside the translated reasons and thresholds), with no
    thousands separator; the English report and the CSV tables keep the point. Versions in
    the reproduce section are no decimals."""
    out, html = nl
    shown = _text(html[html.index("</style>"):html.index('<section id="reproduce">')])
    assert not re.findall(r"(?<![\w.\-/])\d+\.\d+(?![\d.])", shown)
    for dutch in (r"\(nodig: &gt;= \d,\d\d\)", r"boundary_reciprocity_ratio = \d,\d\d, \d+ van",
                  r"gem\. sterkte \d,\d\d", r"Dichtheid 0,\d{3}"):
        assert re.search(dutch, shown), dutch
    chips = re.findall(r'<span class="chip"[^>]*>[^<]* (\d[.,]\d\d)</span>', html)
    assert chips and all(re.fullmatch(r"\d,\d\d", c) for c in chips), chips[:3]
    assert re.search(r"\d+,\d KB", section(html, "reproduce"))
    assert re.search(r"<td>python</td><td>3\.\d+", section(html, "reproduce"))   # a version
    profiles = pd.read_csv(out / "profiles.csv")
    assert profiles["reasons"].str.contains(r"\(needs >= \d\.\d\d\)").all()
    assert not profiles["reasons"].str.contains(r"\d,\d").any()
    metrics = pd.read_csv(out / "network_metrics.csv")
    assert metrics["boundary_reciprocity_ratio"].dtype == float
    _, english = en
    shown = _text(english[english.index("</style>"):english.index('<section id="reproduce">')])
    assert re.search(r"\(needs &gt;= \d\.\d\d\)", shown)
    assert not re.search(r"\d,\d", shown)


def test_numbers_in_translated_reasons_change_their_mark_ids_and_file_names_do_not():
    """The reasons are English data with points; in Dutch their decimals get a comma (also a
    negative one, or one with an exponent), but not a point in an id or a file name."""
    nl = report.in_language
    assert nl("n_focus = 10 (needs >= 2.50)", "nl") == "n_focus = 10 (nodig: >= 2,50)"
    assert nl("boundary_reciprocity_ratio = 0.62, 15 of 24 contacts reciprocal (needs >= "
              "0.35)", "nl") == ("boundary_reciprocity_ratio = 0,62, 15 van 24 contacten "
                                 "wederkerig (nodig: >= 0,35)")
    assert nl("rank 2 of 9 by contacts (5); tied with s1-2.5, ranked below it on mean strength "
              "(3.50 vs 3.75)", "nl") == ("rang 2 van 9 op contacten (5); gelijk met s1-2.5, "
                                          "eronder geplaatst op gemiddelde sterkte (3,50 tegen "
                                          "3,75)")
    assert nl("rank 1 of 40 by betweenness (all ties) (1.2e-05)", "nl") == (
        "rang 1 van 40 op betweenness (alle relaties) (1,2e-05)")
    assert nl("kappa = -0.05", "nl") == "kappa = -0,05"
    for kept in ("p1_interview_1.5.txt", "model v1.2", "on 2024.03.05", "s1-2.5", "n_focus"):
        assert nl(kept, "nl") == kept
    assert nl("n_focus = 10 (needs >= 2.50)", "en") == "n_focus = 10 (needs >= 2.50)"
    assert [report._num(x, lang="nl") for x in (0.784, -0.05, 1234.5, 3, None)] == [
        "0,78", "-0,05", "1234,50", "3", "–"]
    assert report._num(3, lang="nl", whole=False) == "3,00"
    assert report._num(0.784, lang="en") == "0.78"


def test_two_runs_give_identical_bytes(nl, tmp_path):
    out, html = nl
    again = run_cli(tmp_path / "elsewhere")
    assert again == html
    for fig in ("sociogram_noord.png", "sociogram_zuid.svg"):
        assert (tmp_path / "elsewhere" / "figures" / fig).read_bytes() == \
            (out / "figures" / fig).read_bytes()


# ------------------------------------------------------------------ model card, helpers
@pytest.fixture(scope="module")
def result():
    from pipeline.run import run_cohort

    cohort, settings = load_cohort(COHORT), load_settings()
    return run_cohort(cohort, settings, rules=True), cohort, settings


def test_model_quality_table_from_model_card(result):
    res, cohort, settings = result
    scores = []
    for fam in settings.codebook.families:
        for c in fam.codes:
            scores.append({"coder": "m", "family": fam.id, "code": c.id, "n_positive": 40,
                           "precision": 0.8125, "recall": 0.75, "f1": 0.78, "kappa": 0.7})
        for kind in ("macro", "micro"):
            scores.append({"coder": "m", "family": fam.id, "code": kind, "n_positive": 200,
                           "precision": 0.5, "recall": 0.5, "f1": 0.61, "kappa": None})
    card = {"name": "sklearn_tfidf_lr", "backend": "TF-IDF + LR",
            "training_data": {"cohort": "demo", "segments": 900, "sha256": "ab" * 32},
            "codebook": {"version": "1.0"},
            "evaluation": {"method": "leave-one-school-out cross-validation",
                           "scores": scores}}
    model_run = dataclasses.replace(res, coder="sklearn_tfidf_lr", model_card=card)
    html = report.render_html(model_run, cohort, settings, {})
    part = section(html, "model-quality")
    assert "leave-one-school-out" in part and "regelgebaseerde" not in part
    assert part.count("<tr>") + part.count('<tr class="summary">') >= 2 * 1 + 8 + 4
    assert "0,81" in part and "macrogemiddelde" in part and "microgemiddelde" in part
    assert "<dd>1.0</dd>" in part   # the codebook's version is no decimal
    assert "Kennismanagement" in part and "Benadering (proces)" in part
    # the positives are whichever labels counted (gold, adjudicated or a majority)
    assert "Positief (labels)" in part and "(gold)" not in part
    assert "--rules" not in section(html, "reproduce")
    # a model trained without evaluation: say so, claim no method
    card["evaluation"]["scores"] = []
    part = section(report.render_html(model_run, cohort, settings, {}), "model-quality")
    assert "geen evaluatiescores" in part and "leave-one-school-out" not in part


def test_model_quality_shows_how_sure_each_score_is(result):
    """A card made with intervals (``train`` since they exist) shows each F1 and kappa with
    its interval over resampled transcripts, and says how they were made; a card without
    them (an older model) shows the scores alone, and no such note."""
    res, cohort, settings = result
    scores = [{"coder": "m", "family": fam.id, "code": code, "n_positive": 40,
               "precision": 0.8, "recall": 0.75, "f1": 0.78, "kappa": 0.7, "f1_low": 0.7412,
               "f1_high": 0.8203, "kappa_low": 0.65, "kappa_high": 0.76}
              for fam in settings.codebook.families for code in [c.id for c in fam.codes]]
    scores.append({"coder": "m", "family": "activities", "code": "micro", "n_positive": 200,
                   "precision": 0.5, "recall": 0.5, "f1": 0.61, "kappa": None,
                   "f1_low": 0.55, "f1_high": 0.66, "kappa_low": None, "kappa_high": None})
    card = {"name": "sklearn_tfidf_lr", "training_data": {"cohort": "demo"},
            "evaluation": {"method": "leave-one-school-out cross-validation", "scores": scores,
                           "intervals": {"level": 0.95, "resamples": 2000,
                                         "resampled": "transcripts"}}}
    model_run = dataclasses.replace(res, coder="sklearn_tfidf_lr", model_card=card)
    part = section(report.render_html(model_run, cohort, settings, {}), "model-quality")
    assert '0,78 <span class="interval">(0,74–0,82)</span>' in part
    assert '0,70 <span class="interval">(0,65–0,76)</span>' in part
    assert "Tussen haakjes: het 95%-interval over 2000 steekproeven van hele transcripten" in part
    assert part.count('class="interval"') == 2 * 8 + 1   # micro: F1 only, kappa undefined
    english = settings.model_copy(update={"pipeline": settings.pipeline.model_copy(
        update={"language": "en"})})
    part = section(report.render_html(model_run, cohort, english, {}), "model-quality")
    assert "0.78 <span" in part and "In brackets: the 95% interval over 2000 resamples" in part
    for row in scores:
        for key in ("f1_low", "f1_high", "kappa_low", "kappa_high"):
            row.pop(key)
    del card["evaluation"]["intervals"]
    part = section(report.render_html(model_run, cohort, settings, {}), "model-quality")
    assert 'class="interval"' not in part and "Tussen haakjes" not in part and "0,78" in part


def test_render_is_deterministic_in_process(result):
    res, cohort, settings = result
    assert report.render_html(res, cohort, settings, {"noord": "data:image/png;base64,AA=="}) \
        == report.render_html(res, cohort, settings, {"noord": "data:image/png;base64,AA=="})


def test_parse_reasons_falls_back_on_unknown_text():
    assert report.parse_reasons("something else entirely") is None
    assert report.parse_reasons("") is None
    assert report.parse_unstable("odd item") == [{"profile": "", "rule": "odd item", "to": ""}]


def test_doctests():
    assert doctest.testmod(report).failed == 0


def test_evidence_candidates_keep_what_the_cards_show(result):
    """Picking the candidates with pandas first changes nothing on the profile cards."""
    from pipeline.report import _evidence_candidates, _evidence_for

    run, _, settings = result
    seg = run.segments
    cand = _evidence_candidates(seg, settings)
    assert 0 < len(cand) < len(seg)
    for pid, rows in seg.groupby("person_id"):
        assert (_evidence_for(rows.to_dict("records"), settings, "nl")
                == _evidence_for(cand[cand["person_id"] == pid].to_dict("records"), settings,
                                 "nl"))


def test_every_run_warning_reads_dutch_in_a_dutch_report(settings, shared_datadir):
    """Each kind of warning a run can show in the report, made by the code that makes it, has
    a Dutch wording (a reworded warning without one would turn up English again)."""
    from pipeline.run import codes_provenance
    from pipeline.segment import speaker_notes

    seg = settings.pipeline.segment
    names = ("Anouk: Hoe werkt het?\nJeroen: Met data.\nAnouk: En dan?\nJeroen: Delen.\n")
    made = [f"transcripts/s1/p1_interview_1.txt: {note}" for note in (
        speaker_notes("I: Wat doet het team?\nI: En jij?\n", "interview", seg)
        + speaker_notes("I: Wat?\nR: Data van de toetsen.\nstap: En jij?\nstap: Verder?\n",
                        "interview", seg)
        + speaker_notes("I: Wat?\nAnna: Data van de toetsen.\nBram: Ja.\nI: En?\n"
                        "Anna: De sectie.\nBram: Ook.\nOnbekende spreker: Hallo.\n", "interview",
                        seg,
                        "Anna de Wit")
        + speaker_notes("I: Wat?\nR1: Data van de toetsen.\nR2: De sectie ook.\n", "interview",
                        seg)
        + speaker_notes(names, "interview", seg, "Bram Visser")
        + speaker_notes("I: Wat?\nR: Data.\nPeter Bos: En ik?\n", "interview", seg)
        + speaker_notes("I: Wat deel je met de sectie?\nR: Data.\n", "interview", seg)
        + speaker_notes("Anna: Wat doe je?\nR: Data delen.\nAnna: En?\nR: Meer.\n",
                        "interview", seg)
        + speaker_notes("Respondent: Bram Visser\nI: Wat doe je?\nR: Data delen met de "
                        "sectie.\n", "interview", seg)
        + speaker_notes("Wat doe je?\nData delen met de sectie.\nEn dan?\nMet de sectie.\n",
                        "interview", seg, "", ("**", "", "**", "")))]
    table = pd.DataFrame({"coder": ["", "JD"]})
    made += [codes_provenance(table.iloc[:1], Path("c.csv"), None, None)[2][0],
             codes_provenance(table, Path("c.csv"), None, None)[2][0]]
    staff = pd.DataFrame({"person_id": ["a", "b", "c"], "school_id": "s", "plg_id": "",
                          "responded": [True, True, False], "role": ""})
    noms = pd.DataFrame({"school_id": "s", "ego": ["a", "b"], "alter": ["c", "a"],
                         "strength": float("nan"), "line": [2, 3]})
    from pipeline import network

    cfg = settings.pipeline.network.model_copy(update={"symmetrize_nonrespondents": True})
    made += [f"network: {note}" for note in
             network.person_metrics(staff, noms, cfg).attrs["notes"]]
    staff.loc[0, "role"] = "teacher"
    made += [f"network: {note}" for note in
             network.person_metrics(staff, noms, cfg).attrs["notes"][1:]]
    from pipeline.coding.assign import codebook_note, model_notes

    made.append(codebook_note({"name": "m", "codebook": {"version": "0.9"}}, settings.codebook))
    made.append(codebook_note({"name": "m", "codebook": {
        "version": settings.codebook.version, "meanings": {"focus": "changed"}}},
        settings.codebook))
    made += network.plg_notes(pd.DataFrame({"school_id": "s", "plg_id": ["DT1", "dt1", "dt1"],
                                            "plg_type": ["", "data_team", "lesson_study"],
                                            "line": [2, 3, 4]}))
    made += network.unknown_school_notes(pd.DataFrame({"school_id": ["Lyceum"]}),
                                         pd.DataFrame({"school_id": ["lyceum", "x", "x"],
                                                       "line": [2, 3, 4]}))
    from test_profile import NO_STRENGTH_NOTE

    from pipeline.profile import assign_profiles

    made.append(NO_STRENGTH_NOTE)
    features = pd.read_csv(shared_datadir / "profile" / "features.csv")
    features.loc[features.school_id == "B", "mean_strength"] = float("nan")
    made += assign_profiles(features, settings.profiles, settings.codebook).attrs["notes"]
    made += model_notes({"name": "m", "labels": ["reflection"],
                         "training_data": {"positives": {"focus": 2, "approach": 95},
                                           "segments": 100}}, settings.codebook, 10)
    made += model_notes({"name": "copied"}, settings.codebook, 10)
    from pipeline.coding.assign import unfamiliar_words_notes

    made += unfamiliar_words_notes(
        pd.DataFrame({"school_id": ["s", "t"], "content_words": 4, "known_words": 1}),
        {"name": "m", "evaluation": {"known_words": {"lowest": 0.79, "highest": 0.84}}})
    from pipeline.io import load_cohort as load
    from pipeline.run import run_segments

    segment_notes: list[str] = []
    run_segments(load(COHORT), settings, notes=segment_notes)   # its staff.csv: no school_name
    made += [n for n in segment_notes if n.startswith("staff.csv has no school_name")]
    several = staff.assign(plg_id=["dt1;ls1", "dt1", ""])
    made += [f"network: {note}" for note in network.person_metrics(
        several, noms, cfg.model_copy(update={"brokerage_attribute": "plg_id"})).attrs["notes"]
        if "several values" in note]
    assert len(made) == 31
    for warning in made:
        dutch = report.warning_in_language(warning, "nl")
        assert dutch != warning, warning
        assert "\\" not in dutch, dutch   # a raw replacement's \" showed as \" in the report
        assert report.warning_in_language(warning, "en") == warning
    words = next(w for w in made if "knows fewer of the words" in w)
    assert "school/scholen s (25,0%), t (25,0%) dan" in report.warning_in_language(words, "nl")
    assert "(79,0% tot 84,0% van hun inhoudswoorden" in report.warning_in_language(words, "nl")


def test_the_network_warnings_of_the_tiny_run_are_dutch(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "tests/data/tiny_cohort", "--out", str(out),
                                      "--jobs", "1"])
    assert result.exit_code == 0, result.output
    warnings = section((out / "report.html").read_text(encoding="utf-8"), "data-quality")
    assert "sleutelfiguur sch01-p06 heeft geen transcripten" in warnings
    assert ("staff.csv: school sch02: 1 medewerker met responded=false gaf 3 nominaties "
            "(nominations.csv regels 70, 71, 72), behouden als relaties: controleer de kolom "
            "responded") in warnings
    assert "has no transcripts" not in warnings and "staff marked" not in warnings


def test_school_ids_that_are_no_safe_file_names_stay_inside_out(tmp_path, capsys, monkeypatch):
    """``havo/vwo``, ``../x`` and ``Mavo``/``mavo``: every school's files land in the output
    folder, one file per school, and the graph inside names the school as it is."""
    import shutil

    import networkx as nx
    from helpers import cli

    cohort = tmp_path / "cohort"
    shutil.copytree(Path(__file__).parent / "data" / "network" / "tiny", cohort)
    ids = {"alpha": "havo/vwo", "beta": "../../escaped"}
    for name in ("staff.csv", "nominations.csv"):
        lines = (cohort / name).read_text(encoding="utf-8").splitlines()
        for old, new in ids.items():
            lines = [ln.replace(f",{old},", f",{new},") if not ln.startswith(old)
                     else new + ln[len(old):] for ln in lines]
        (cohort / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (cohort / "staff.csv").write_text((cohort / "staff.csv").read_text(encoding="utf-8")
                                      + "c1,Mavo,Gijs,teacher,1,1,,,true,x\n"
                                      "c2,mavo,Hans,teacher,1,1,,,true,x\n", encoding="utf-8")
    out = tmp_path / "deep" / "out"
    code, _, err = cli(["network", cohort, "--out", out], capsys, monkeypatch)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort", "deep"]
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["out"]
    graphs = sorted(p.name for p in (out / "graphs").iterdir())
    assert len(graphs) == 8 and all(p.suffix in (".graphml", ".net")
                                    for p in (out / "graphs").iterdir())
    assert len({g.casefold() for g in graphs}) == 8
    named = {nx.read_graphml(p).graph["school_id"] for p in (out / "graphs").glob("*.graphml")}
    assert named == {"havo/vwo", "../../escaped", "Mavo", "mavo"}
    assert len(list((out / "figures").glob("sociogram_*.png"))) == 4
    assert not [p for p in (out / "figures").rglob("*") if p.is_dir()]


def test_a_survey_without_tie_strengths_reads_as_criteria_in_the_report(tmp_path, capsys,
                                                                        monkeypatch):
    """No strengths: "strongest ties" is left out of super_sharer. The report's profile cards
    must still show the criteria as marks (that one as not evaluated, in Dutch), not fall
    back to the English reasons text."""
    import shutil

    from helpers import cli

    cohort = tmp_path / "cohort"
    shutil.copytree(Path(__file__).parent / "data" / "tiny_cohort", cohort)
    meta = (cohort / "cohort.yaml").read_text(encoding="utf-8")
    (cohort / "cohort.yaml").write_text(meta.split("tie_strength:")[0] + "tie_strength: null\n",
                                        encoding="utf-8")
    noms = (cohort / "nominations.csv").read_text(encoding="utf-8").splitlines()
    (cohort / "nominations.csv").write_text(
        "".join(ln.rsplit(",", 1)[0] + "\n" for ln in noms), encoding="utf-8")
    code, _, err = cli(["run", cohort, "--out", tmp_path / "out", "--rules", "--jobs", "1"],
                       capsys, monkeypatch)
    assert code == 0, err
    assert "profiles: no key figure has a mean_strength" in err
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "not evaluated (" not in html and "criteria hold" not in html
    skipped = re.findall(r'<li class="skip"><span class="mark">&ndash;</span>([^<]*)'
                         r'<span class="detail">\(([^<]*)\)', html)
    # (and, for the key figure without transcripts, the criteria on codes)
    assert {detail for _, detail in skipped} == {
        "niet beoordeeld (geen boundary_mean_strength in de gegevens)",
        "niet beoordeeld (geen gecodeerde fragmenten)"}, skipped
    assert {why.strip() for why, detail in skipped if "mean_strength" in detail} == {
        "sterkste relaties in de school"}


def test_notes_on_school_and_plg_ids_reach_the_report_in_dutch(tmp_path):
    import shutil

    cohort = tmp_path / "cohort"
    shutil.copytree(Path(__file__).parent / "data" / "tiny_cohort", cohort)
    noms = cohort / "nominations.csv"
    noms.write_text(noms.read_text(encoding="utf-8").replace(
        "sch01,sch01-p01,sch01-p03,", "SCH01,sch01-p01,sch01-p03,", 1), encoding="utf-8")
    staff = cohort / "staff.csv"
    staff.write_text(staff.read_text(encoding="utf-8").replace(
        "sch01-p03,sch01,Samira el Idrissi,teacher,8,5,sch01-ls1,",
        "sch01-p03,sch01,Samira el Idrissi,teacher,8,5,SCH01-LS1,", 1), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(cohort), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    warnings = " ".join(section((out / "report.html").read_text(encoding="utf-8"),
                                "data-quality").split())
    assert ("nominations.csv: school_id &#39;SCH01&#39; (1 rij, regel 3) is geen school "
            "van staff.csv; &#39;sch01&#39; wel: dezelfde school?") in warnings, warnings
    assert ("plg_id &#39;SCH01-LS1&#39; (regel 4) en &#39;sch01-ls1&#39; (regel "
            in warnings and "verschillen alleen in hoofdletters" in warnings
            and "(line" not in warnings), warnings
    assert "cross_school dropped" not in warnings          # dropped rows: the table only


# ------------------------------------------------------------------ what a reader reads
def _text(html: str) -> str:
    """The report's words, tags dropped and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_left_out_criterion_is_named_in_dutch_in_the_warnings(result):
    """The warning that a criterion was left out names it and its profile as the cards do,
    not in the English of profiles.csv."""
    from test_profile import NO_STRENGTH_NOTE

    res, cohort, settings = result
    html = report.render_html(dataclasses.replace(res, warnings=[NO_STRENGTH_NOTE]), cohort,
                              settings, {})
    warnings = section(html, "data-quality")
    assert "&#39;sterkste relaties in de school&#39; (superdeler)" in warnings, warnings
    assert "strongest ties" not in warnings and "super_sharer" not in warnings


def test_plg_types_read_dutch_in_a_dutch_report(nl, en):
    _, html = nl
    row = next(r for r in rows(html, "kf-row") if r["attrs"]["data-person"] == "n01")
    assert "PLG g1 (datateam)" in row["cells"][1], row
    assert "data team" not in html and "lesson study)" in html
    assert "PLG g1 (data team)" in en[1]


def test_counts_of_one_read_singular(result):
    """A cohort of one school, a school with one respondent, one key figure: the words
    follow the number (Dutch and English)."""
    res, cohort, settings = result
    net = res.network
    one = dataclasses.replace(res, network=dataclasses.replace(
        net, schools=net.schools[net.schools["school_id"] == "noord"].assign(respondents=1),
        key_figures=net.key_figures.iloc[:1]))
    network = settings.pipeline.network
    one_each = network.model_copy(update={"key_figures": network.key_figures.model_copy(
        update={"k": 1})})
    for lang, words in (("nl", ["1 school &middot;", "1 sleutelfiguur", "(1 respondent,",
                                "per school de 1 medewerker met"]),
                        ("en", ["1 school &middot;", "1 key figure", "(1 respondent,",
                                "per school the 1 staff member with"])):
        lang_settings = settings.model_copy(update={"pipeline": settings.pipeline.model_copy(
            update={"language": lang, "network": one_each})})
        text = _text(report.render_html(one, cohort, lang_settings, {}))
        for w in words:
            assert w in text, (lang, w)
        for plural in ("1 scholen", "1 schools", "1 sleutelfiguren", "1 key figures",
                       "1 respondenten", "1 respondents"):
            assert plural not in text, (lang, plural)
    school = section(report.render_html(res, cohort, settings, {}), "school-noord")
    assert "1 &times; onbekende persoon (regel 26)" in school
    assert report.in_language("x = 2 (rank 1 of 1 key figures in the school, needs rank "
                              "<= 1)", "nl") == ("x = 2 (rang 1 van 1 sleutelfiguur in de "
                                                 "school, nodig: rang <= 1)")
    for english, dutch in (
            ("network: 1 tie(s) to non-respondents were made mutual (symmetrize_nonrespondents)",
             "netwerk: 1 relatie met niet-respondenten wederkerig gemaakt"),
            ("network: 3 tie(s) to non-respondents were made mutual (symmetrize_nonrespondents)",
             "netwerk: 3 relaties met niet-respondenten wederkerig gemaakt"),
            ("network: 1 person(s) have no 'role': two-paths through them are not counted in "
             "brokerage", "netwerk: 1 persoon zonder 'role'"),
            ("nominations.csv: school_id 'x' (2 rows, lines 3, 4) is no school of staff.csv",
             "(2 rijen, regels 3, 4)"),
            ("nominations.csv: school_id 'x' (1 row, lines 3) is no school of staff.csv",
             "(1 rij, regel 3)"),
            ("nominations.csv: person id 'A2' (2 rows, lines 3, 5) is no person_id of "
             "staff.csv; 'a2' is: the same person?", "persoons-id 'A2' (2 rijen, regels 3, 5) "
             "is geen person_id van staff.csv; 'a2' wel: dezelfde persoon?"),
            ("nominations.csv: school s: 2 duplicate nominations dropped with another strength "
             "than the first of the same ego -> alter, which is kept (line 9: 3, kept line 4: "
             "1; line 12: no strength, kept line 5: 2): remove the row that was not meant",
             "2 dubbele nominaties met een andere sterkte dan de eerste van dezelfde ego -> "
             "alter, die behouden is, zijn weggelaten (regel 9: 3, behouden regel 4: 1; regel "
             "12: geen sterkte, behouden regel 5: 2)")):
        assert dutch in report.warning_in_language(english, "nl"), english


def test_model_scores_say_what_they_were_measured_on(result):
    """Scores of the model card are of its training cohort: the report names it, says when
    that is not the cohort of the report, and says nothing of it in English."""
    res, cohort, settings = result
    scores = [{"family": "knowledge_types", "code": "focus", "n_positive": 40,
               "precision": 0.8, "recall": 0.75, "f1": 0.77, "kappa": 0.7}]
    card = {"name": "m", "training_data": {"cohort": "demo", "segments": 900},
            "evaluation": {"method": "leave-one-school-out cross-validation on the training "
                                     "cohort", "scores": scores}}
    html = report.render_html(dataclasses.replace(res, coder="m", model_card=card), cohort,
                              settings, {})
    part = _text(section(html, "model-quality"))
    assert "op het trainingscohort demo" in part, part
    assert "niet op dit cohort (report-fixture)" in part, part
    assert "cross-validation" not in part
    assert "0,80" in part and "0,77" in part and not re.search(r"\d\.\d", part), part
    same = dataclasses.replace(res, coder="m", model_card={
        **card, "training_data": {"cohort": "report-fixture", "segments": 30}})
    part = _text(section(report.render_html(same, cohort, settings, {}), "model-quality"))
    assert "niet op dit cohort" not in part and "getraind op fragmenten van dit cohort" in part


def test_a_share_criterion_shows_its_base(nl):
    """"mainly exchange" is a share of the coded activities: the card shows of how many, so
    that 1 of 1 does not read as a strong pattern."""
    out, html = nl
    feats = pd.read_csv(out / "person_features.csv").set_index("person_id")
    f = feats.loc["n05"]
    acts = int(f.n_knowledge_management + f.n_exchange + f.n_capacity_building)
    c = card(html, "kf-noord-3")
    base = f"{int(f.n_exchange)} van {acts} codes van de activiteiten"
    share = f"{f.n_exchange / acts:.2f}".replace(".", ",")
    assert f"aandeel exchange = {share}, {base} (nodig: " in c, c
    assert c.count(base) == 1 and f"{int(f.n_exchange)}/{acts}" not in c   # said once


def test_a_non_respondent_key_figure_card_says_its_ties_are_partly_unknown(result):
    res, cohort, settings = result
    kf = res.network.key_figures.copy()
    kf.loc[kf.index[0], "responded"] = False
    html = report.render_html(dataclasses.replace(res, network=dataclasses.replace(
        res.network, key_figures=kf)), cohort, settings, {})
    first = kf.iloc[0]
    assert "vragenlijst niet ingevuld" in card(html, f"kf-{first.school_id}-{first['rank']}")
    second = kf.iloc[1]
    assert "vragenlijst niet ingevuld" not in card(html,
                                                   f"kf-{second.school_id}-{second['rank']}")


def test_evidence_codes_and_source_are_separate_words(nl):
    _, html = nl
    meta = re.findall(r'<div class="evmeta">(.*?)</div>', html, re.S)
    words = [" ".join(re.sub(r"<[^>]+>", "", m).split()) for m in meta]  # as copied
    assert words and all(re.search(r"\d (interview|observatie) &middot;", w)
                         for w in words), words[:2]


def test_every_link_in_the_report_finds_its_anchor_also_for_a_school_id_with_a_space(
        tmp_path, capsys, monkeypatch):
    """An HTML id has no spaces: a school called "sch 01" is named in the report's anchors as
    in its file names, and every internal link lands on an id."""
    import shutil

    from helpers import cli

    cohort = tmp_path / "cohort"
    shutil.copytree(Path(__file__).parent / "data" / "tiny_cohort", cohort)
    for name in ("staff.csv", "nominations.csv"):
        path = cohort / name
        path.write_text(path.read_text(encoding="utf-8").replace(",sch01,", ",sch 01,")
                        .replace("\nsch01,", "\nsch 01,"), encoding="utf-8")
    (cohort / "transcripts" / "sch01").rename(cohort / "transcripts" / "sch 01")
    code, _, err = cli(["run", cohort, "--out", tmp_path / "out", "--rules", "--jobs", "1"],
                       capsys, monkeypatch)
    assert code == 0, err
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "sch 01" in html
    ids = re.findall(r'\bid="([^"]*)"', html)
    assert not [i for i in ids if " " in i], ids
    links = set(re.findall(r'href="#([^"]*)"', html))
    assert links and links <= set(ids), sorted(links - set(ids))


def test_the_number_beside_a_code_is_explained_for_the_coder_that_made_it(nl, tmp_path,
                                                                        capsys, monkeypatch):
    """The chips say "focus 0.93": a model's probability, or the rule coder's score, which is
    no probability; the report says which, in its language."""
    import shutil

    from helpers import cli

    _, rules = nl                                   # made with --rules
    assert "de score van de regelgebaseerde codeerder: 1 - 0,5^n" in rules
    assert "is de kans die het model" not in rules
    cohort = tmp_path / "cohort"
    shutil.copytree(Path(__file__).parent / "data" / "tiny_cohort", cohort)
    code, _, err = cli(["run", cohort, "--out", tmp_path / "out", "--jobs", "1"], capsys,
                       monkeypatch)
    assert code == 0, err
    model = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "is de kans die het model aan die code geeft" in model
    assert "regelgebaseerde codeerder: 1 - 0,5^n" not in model



def test_a_roster_without_school_names_is_warned_about(nl, settings):
    """School names are pseudonymised from staff.csv's school_name: without that column they
    stay in the texts, and the run says so (not with --reveal-names, nor with the column)."""
    import json

    from pipeline.io import load_cohort as load
    from pipeline.run import run_segments

    out, html = nl
    warning = ("staff.csv has no school_name column, so school names in the transcripts are "
               "not pseudonymised")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert any(w.startswith(warning) for w in manifest["warnings"])
    assert "staff.csv heeft geen kolom school_name" in html
    for cohort, reveal in ((COHORT, True), (COHORT.parent / "tiny_cohort", False)):
        notes: list[str] = []
        run_segments(load(cohort), settings, reveal_names=reveal, notes=notes)
        assert not any(n.startswith(warning) for n in notes), cohort
