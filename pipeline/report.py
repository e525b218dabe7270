"""Writing results: tables, sociograms, graph exports and the HTML report.

With ``io.py`` the only module that writes files. It receives finished tables from the
stages and lays them out in the output folder (see DESIGN.md, "Outputs of a run").

The report (``report.html``) is one self-contained file: figures are inlined as data URIs,
styles are inline, and there is no script, web font or any other external resource, so it
opens offline and can be mailed or archived as it is. It is deterministic: the same inputs,
configuration and code give byte-identical HTML (no timestamps, no output paths, fixed
figure metadata). Headings, code names, profile names and the decimal mark (0,78 in Dutch;
the CSV tables keep 0.78) follow ``pipeline.yaml``'s ``language`` (``nl`` or ``en``); the UI
strings live in :data:`UI`.

Functions
---------
``write_network``   network tables, sociograms (PNG + SVG) and graph exports
``write_run``       every output of ``pipeline run`` except the manifest, report included
``render_html``     the report as a string, from a :class:`pipeline.run.RunResult`
``report_context``  the plain data the template renders (testable without HTML)
``reproduce_info``  versions, config hashes and input hashes for the "reproduce" section
``parse_reasons``   a profile's ``reasons`` text split into criteria that held / did not
``in_language``     the pipeline's English reason and selection texts in the report's language
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape  # noqa: E402
from markupsafe import Markup, escape  # noqa: E402

from pipeline import network  # noqa: E402
from pipeline.config import DEFAULT_CONFIG, REPO_ROOT, Settings  # noqa: E402
from pipeline.io import (  # noqa: E402
    Cohort,
    atomic_write,
    file_sha256,
    package_versions,
    write_csv,
)
from pipeline.parallel import ordered_map  # noqa: E402
from pipeline.privacy import REVEAL_HINT  # noqa: E402
from pipeline.sociogram import LEGEND, draw_sociogram, figure_bytes  # noqa: E402
from pipeline.variables import variable_table  # noqa: E402

__all__ = ["write_network", "write_run", "render_html", "report_context", "reproduce_info",
           "parse_reasons", "parse_unstable", "in_language", "UI"]

EVIDENCE_PER_FAMILY = 3
VERSION_PACKAGES = ("sleutelfiguren", "spacy", "spacy-lookups-data", "scikit-learn", "pandas",
                    "numpy", "networkx", "matplotlib", "jinja2", "skops", "pydantic", "typer")
MAX_LISTED_INPUTS = 400

# ----------------------------------------------------------------------------- UI strings
UI: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Sleutelfiguren",
        "report": "Rapport",
        "contents": "Inhoud",
        "summary": "Samenvatting van het cohort",
        "cohort": "Cohort",
        "survey_question": "Netwerkvraag",
        "schools": "Scholen",
        "staff": "Medewerkers",
        "respondents": "Respondenten",
        "response_rate": "Respons",
        "ties": "Relaties",
        "density": "Dichtheid",
        "reciprocity": "Wederkerigheid",
        "centralisation": "Centralisatie (degree)",
        "nominations": "Nominaties",
        "nominations_used": "Nominaties gebruikt",
        "nominations_dropped": "Nominaties verwijderd",
        "transcripts": "Transcripten",
        "segments": "Gecodeerde fragmenten",
        "key_figures": "Sleutelfiguren",
        "one_school": "school",
        "one_staff": "medewerker",
        "one_respondent": "respondent",
        "one_key_figure": "sleutelfiguur",
        "coder": "Codeerder",
        "coder_rules": "regelgebaseerde codeerder (de woordenlijsten van het codeboek); "
                       "geen getraind model",
        "coder_model": "getraind model",
        "coder_unknown": "codes uit een bestand, gemaakt door",
        "unknown_note": "Deze codes komen uit een bestand waarvan niet bekend is welk model "
                        "ze maakte (of ze zijn met de hand verbeterd), dus hier staat geen "
                        "evaluatie. Geef `pipeline report` het model met `--model` (of "
                        "`--rules`) om die te tonen.",
        "profiles": "Profielen",
        "selection": "Selectie",
        "selection_text": "per school de {k} met de meeste {measure}",
        "staff_members": "medewerkers",
        "data_quality": "Datakwaliteit",
        "dq_none": "Geen problemen gevonden in de nominaties: alle nominaties zijn gebruikt.",
        "dq_intro": "Nominaties die niet gebruikt konden worden (regelnummers in "
                    "nominations.csv). Ze tellen niet mee in de netwerkcijfers.",
        "issue": "Probleem",
        "count": "Aantal",
        "lines": "Regels",
        "one_line": "regel",
        "warnings": "Waarschuwingen van de run",
        "no_warnings": "Geen waarschuwingen.",
        "school": "School",
        "sociogram": "Sociogram",
        "no_sociogram": "Geen sociogram: meer scholen dan report.max_sociograms in "
                        "configs/pipeline.yaml (de GraphML- en Pajek-bestanden zijn er wel).",
        "sociogram_caption": "Elke stip is een medewerker (grootte: aantal contacten; open "
                             "stip: heeft de vragenlijst niet ingevuld). Een pijl is een "
                             "eenzijdige relatie (A praat met B), een dubbele pijl een "
                             "wederkerige relatie. Sleutelfiguren zijn genummerd naar rang en "
                             "gekleurd naar profiel.",
        "legend": "Legenda",
        "sociogram_one_way": "eenzijdige relatie",
        "sociogram_reciprocal": "wederkerige relatie",
        "sociogram_imputed": "wederkerig gemaakt (vragenlijst niet ingevuld)",
        "sociogram_no_response": "vragenlijst niet ingevuld",
        "sociogram_key_figure": "sleutelfiguur (genummerd naar rang)",
        "sociogram_key_figure_no_profile": "sleutelfiguur, geen profiel",
        "sociogram_no_staff": "geen medewerkers",
        "rank": "#",
        "person": "Persoon",
        "role": "Functie",
        "years_edu": "Jaren in onderwijs",
        "years_school": "Jaren op school",
        "plg": "PLG",
        "contacts": "Contacten",
        "out_ties": "Uitgaand",
        "in_ties": "Inkomend",
        "reciprocal_ties": "Wederkerig",
        "mean_strength": "Gem. sterkte",
        "profile": "Profiel",
        "stability": "Stabiliteit",
        "stable": "stabiel",
        "unstable": "instabiel",
        "unstable_note": "Het profiel verandert als een drempel {pct} verschuift",
        "becomes": "wordt",
        "threshold_of": "drempel van {profile}:",
        "scope_boundary": "Netwerkcijfers over relaties met collega's buiten de eigen PLG "
                          "(grensoverschrijdende relaties, de keuze van de studie). "
                          "Contacten = uitgaand + inkomend - wederkerig.",
        "scope_all": "Netwerkcijfers over alle relaties. "
                     "Contacten = uitgaand + inkomend - wederkerig.",
        "not_responded": "niet gerespondeerd",
        "cards": "Profielkaarten",
        "why": "Waarom {profile}",
        "why_not": "Waarom niet {profile}",
        "held": "geldt",
        "not_held": "geldt niet",
        "nearest": "Dichtstbijzijnde profiel",
        "criteria_met": "criteria gehaald",
        "undetermined_note": "Van geen enkel profiel gelden alle criteria.",
        "selected": "Geselecteerd als sleutelfiguur",
        "evidence": "Sterkste fragmenten per codefamilie",
        "no_segments": "Geen gecodeerde fragmenten in deze familie.",
        "no_transcripts": "Geen gecodeerde fragmenten (geen transcripten, of geen beurt van de "
                          "respondent erin): wat deze sleutelfiguur deelt is onbekend, dus "
                          "geen profiel; het dichtstbijzijnde volgt alleen uit het netwerk.",
        "non_respondent_note": "Heeft de vragenlijst niet ingevuld (staff.csv): de eigen "
                               "nominaties ontbreken, dus uitgaande en wederkerige relaties, "
                               "en de criteria daarop, zijn onvolledig.",
        "question": "Vraag",
        "previous_note": "Vorige notitie",
        "evidence_words": "Signaalwoorden",
        "chip_note": "Het getal naast een code bij een fragment is de kans die het model "
                     "aan die code geeft (0-1); de code is toegekend vanaf de drempel van die "
                     "code.",
        "chip_note_rules": "Het getal naast een code bij een fragment is de score van de "
                           "regelgebaseerde codeerder: 1 - 0,5^n voor n gevonden woorden of "
                           "woordgroepen van die code; geen kans.",
        "interview": "interview",
        "observation": "observatie",
        "heatmaps": "Codes per sleutelfiguur",
        "heatmap_intro": "Aantal gecodeerde fragmenten per code en sleutelfiguur (interviews "
                         "en observaties samen); hoe donkerder de cel, hoe meer fragmenten "
                         "binnen de familie.",
        "n_segments": "fragmenten",
        "model_quality": "Kwaliteit van de codering",
        "method": "Methode",
        "loso": "leave-one-school-out kruisvalidatie: het model wordt steeds getraind op "
                "alle scholen op één na en getest op de weggelaten school. De scores zijn "
                "dus scores op scholen die het model niet heeft gezien.",
        "measured_elsewhere": "De scores zijn gemeten op het trainingscohort {training}, niet "
                              "op dit cohort ({cohort}): hoe goed het model de fragmenten van "
                              "dit cohort codeert, is niet gemeten.",
        "measured_here": "Het model is getraind op fragmenten van dit cohort ({training}): "
                         "voor die fragmenten zijn de codes in dit rapport geen voorspellingen "
                         "op onbekende tekst en waarschijnlijk beter dan deze scores.",
        "rules_note": "Deze run gebruikte de regelgebaseerde codeerder (pipeline run --rules): "
                      "codes komen uit de woordenlijsten van het codeboek, niet uit een op "
                      "menselijke codering getraind model. Er zijn geen kwaliteitsscores; "
                      "lees de codes als indicatie.",
        "no_scores": "Het modelkaartje bevat geen evaluatiescores: het model is zonder "
                     "evaluatie getraind, of er waren te weinig scholen met gelabelde "
                     "fragmenten. Evalueer het met `pipeline evaluate` of train het opnieuw "
                     "met evaluatie.",
        "model": "Model",
        "trained_on": "Getraind op",
        "labelled_segments": "gelabelde fragmenten",
        "codebook_version": "Codeboekversie",
        "family": "Familie",
        "code": "Code",
        "n_positive": "Positief (labels)",
        "precision": "Precisie",
        "recall": "Recall",
        "f1": "F1",
        "kappa": "Kappa (Cohen)",
        "macro": "macrogemiddelde",
        "micro": "microgemiddelde",
        "kappa_note": "Kappa: 0,41-0,60 matig, 0,61-0,80 substantieel, >0,80 bijna perfect "
                      "(Landis & Koch, 1977).",
        "interval_note": "Tussen haakjes: het {level}-interval over {resamples} steekproeven "
                         "van hele transcripten (met teruglegging): hoeveel een score afhangt "
                         "van welke transcripten toevallig gelabeld zijn.",
        "reproduce": "Citeren en reproduceren",
        "cite": "Citeren",
        "cite_text": "Sleutelfiguren {version}: netwerkanalyse, codering van interviews en "
                     "profielen van sleutelfiguren rond PLG's. Run {run_id}.",
        "cite_method": "Methode naar",
        "command": "Commando",
        "command_note": "OUT is een willekeurige uitvoermap; de uitkomsten hangen er niet "
                        "van af.",
        "versions": "Versies",
        "config_files": "Configuratie",
        "config_hash": "Config-hash",
        "inputs": "Invoer",
        "inputs_hash": "Invoer-hash",
        "inputs_summary": "{n} bestanden die de run leest, {size}",
        "all_inputs": "Alle invoerbestanden met sha256",
        "more_inputs": "... en nog {n} bestanden (zie manifest.json)",
        "file": "Bestand",
        "privacy": "Privacy",
        "privacy_pseudo": "Namen in de fragmenten zijn vervangen door pseudoniemen "
                          "([persoon-xxxx]); personen staan in dit rapport met hun id.",
        "privacy_revealed": "Let op: deze run gebruikte --reveal-names. Het rapport bevat "
                            "echte namen; deel het niet buiten het onderzoeksteam.",
        "outputs_note": "De figuren staan ook als PNG en SVG in figures/, de tabellen als CSV "
                        "naast dit rapport; manifest.json legt alle invoer- en "
                        "uitvoerbestanden met hun hash vast.",
        "dash": "–",
        "decimal_mark": ",",
    },
    "en": {
        "title": "Key figures",
        "report": "Report",
        "contents": "Contents",
        "summary": "Cohort summary",
        "cohort": "Cohort",
        "survey_question": "Network question",
        "schools": "Schools",
        "staff": "Staff",
        "respondents": "Respondents",
        "response_rate": "Response rate",
        "ties": "Ties",
        "density": "Density",
        "reciprocity": "Reciprocity",
        "centralisation": "Degree centralisation",
        "nominations": "Nominations",
        "nominations_used": "Nominations used",
        "nominations_dropped": "Nominations dropped",
        "transcripts": "Transcripts",
        "segments": "Coded segments",
        "key_figures": "Key figures",
        "one_school": "school",
        "one_staff": "staff member",
        "one_respondent": "respondent",
        "one_key_figure": "key figure",
        "coder": "Coder",
        "coder_rules": "rule-based coder (the codebook's word lists); no trained model",
        "coder_model": "trained model",
        "coder_unknown": "codes from a file, made by",
        "unknown_note": "These codes come from a file for which it is not known which model "
                        "made them (or they were corrected by hand), so there is no "
                        "evaluation here. Give `pipeline report` the model with `--model` (or "
                        "`--rules`) to show it.",
        "profiles": "Profiles",
        "selection": "Selection",
        "selection_text": "per school the {k} with the most {measure}",
        "staff_members": "staff members",
        "data_quality": "Data quality",
        "dq_none": "No problems found in the nominations: every nomination was used.",
        "dq_intro": "Nominations that could not be used (line numbers in nominations.csv). "
                    "They do not count in the network measures.",
        "issue": "Issue",
        "count": "Count",
        "lines": "Lines",
        "one_line": "line",
        "warnings": "Run warnings",
        "no_warnings": "No warnings.",
        "school": "School",
        "sociogram": "Sociogram",
        "no_sociogram": "No sociogram: more schools than report.max_sociograms in "
                        "configs/pipeline.yaml (the GraphML and Pajek files are there).",
        "sociogram_caption": "Every dot is a staff member (size: number of contacts; open "
                             "dot: did not answer the questionnaire). An arrow is a one-way "
                             "tie (A talks to B), a double-headed line a reciprocal tie. Key "
                             "figures are numbered by rank and coloured by profile.",
        "legend": "Legend",
        **{f"sociogram_{key}": words for key, words in LEGEND.items()},
        "rank": "#",
        "person": "Person",
        "role": "Role",
        "years_edu": "Years in education",
        "years_school": "Years at school",
        "plg": "PLG",
        "contacts": "Contacts",
        "out_ties": "Out",
        "in_ties": "In",
        "reciprocal_ties": "Reciprocal",
        "mean_strength": "Mean strength",
        "profile": "Profile",
        "stability": "Stability",
        "stable": "stable",
        "unstable": "unstable",
        "unstable_note": "The profile changes when a threshold moves by {pct}",
        "becomes": "becomes",
        "threshold_of": "{profile} threshold:",
        "scope_boundary": "Network counts over ties with colleagues outside the person's own "
                          "PLG (boundary-spanning ties, the study's choice). "
                          "Contacts = out + in - reciprocal.",
        "scope_all": "Network counts over all ties. Contacts = out + in - reciprocal.",
        "not_responded": "did not respond",
        "cards": "Profile cards",
        "why": "Why {profile}",
        "why_not": "Why not {profile}",
        "held": "holds",
        "not_held": "does not hold",
        "nearest": "Nearest profile",
        "criteria_met": "criteria met",
        "undetermined_note": "No profile has all its criteria met.",
        "selected": "Selected as key figure",
        "evidence": "Strongest segments per code family",
        "no_segments": "No coded segments in this family.",
        "no_transcripts": "No coded segments (no transcripts, or no respondent turn in them): "
                          "what this key figure shares is unknown, so no profile; the "
                          "nearest one follows from the network only.",
        "non_respondent_note": "Did not answer the questionnaire (staff.csv): their own "
                               "nominations are missing, so outgoing and reciprocal ties, and "
                               "the criteria on them, are incomplete.",
        "question": "Question",
        "previous_note": "Previous note",
        "evidence_words": "Evidence words",
        "chip_note": "The number beside a code of a segment is the probability the model "
                     "gives that code (0-1); the code is assigned from that code's threshold.",
        "chip_note_rules": "The number beside a code of a segment is the rule coder's score: "
                           "1 - 0.5^n for n words or phrases of that code found; not a "
                           "probability.",
        "interview": "interview",
        "observation": "observation",
        "heatmaps": "Codes per key figure",
        "heatmap_intro": "Number of coded segments per code and key figure (interviews and "
                         "observations together); the darker the cell, the more segments "
                         "within the family.",
        "n_segments": "segments",
        "model_quality": "Coding quality",
        "method": "Method",
        "loso": "leave-one-school-out cross-validation: the model is trained on all schools "
                "but one and tested on the school left out, for every school. The scores are "
                "therefore scores on schools the model has not seen.",
        "measured_elsewhere": "The scores were measured on the training cohort {training}, not "
                              "on this cohort ({cohort}): how well the model codes this "
                              "cohort's segments has not been measured.",
        "measured_here": "The model was trained on segments of this cohort ({training}): for "
                         "those segments the codes in this report are no predictions on unseen "
                         "text, and likely better than these scores.",
        "rules_note": "This run used the rule-based coder (pipeline run --rules): codes come "
                      "from the codebook's word lists, not from a model trained on human "
                      "coding. There are no quality scores; read the codes as indicative.",
        "no_scores": "The model card holds no evaluation scores: the model was trained "
                     "without evaluation, or too few schools had labelled segments. Evaluate "
                     "it with `pipeline evaluate` or retrain it with evaluation.",
        "model": "Model",
        "trained_on": "Trained on",
        "labelled_segments": "labelled segments",
        "codebook_version": "Codebook version",
        "family": "Family",
        "code": "Code",
        "n_positive": "Positives (labels)",
        "precision": "Precision",
        "recall": "Recall",
        "f1": "F1",
        "kappa": "Kappa (Cohen)",
        "macro": "macro average",
        "micro": "micro average",
        "kappa_note": "Kappa: 0.41-0.60 moderate, 0.61-0.80 substantial, >0.80 almost perfect "
                      "(Landis & Koch, 1977).",
        "interval_note": "In brackets: the {level} interval over {resamples} resamples of "
                         "whole transcripts (with replacement): how much a figure depends on "
                         "which transcripts happened to be labelled.",
        "reproduce": "How to cite and reproduce",
        "cite": "Cite",
        "cite_text": "Sleutelfiguren {version}: network analysis, interview coding and profiles "
                     "of key figures around PLCs. Run {run_id}.",
        "cite_method": "Method after",
        "command": "Command",
        "command_note": "OUT is any output folder; the results do not depend on it.",
        "versions": "Versions",
        "config_files": "Configuration",
        "config_hash": "Config hash",
        "inputs": "Inputs",
        "inputs_hash": "Input hash",
        "inputs_summary": "{n} files read by the run, {size}",
        "all_inputs": "All input files with sha256",
        "more_inputs": "... and {n} more files (see manifest.json)",
        "file": "File",
        "privacy": "Privacy",
        "privacy_pseudo": "Names in the segments are replaced by pseudonyms ([persoon-xxxx]); "
                          "people appear in this report by their id.",
        "privacy_revealed": "Caution: this run used --reveal-names. The report contains real "
                            "names; do not share it outside the research team.",
        "outputs_note": "The figures are also in figures/ as PNG and SVG, the tables as CSV "
                        "next to this report; manifest.json records every input and output "
                        "file with its hash.",
        "dash": "–",
        "decimal_mark": ".",
    },
}

ISSUE_LABELS = {
    "nl": {"unknown_person": "onbekende persoon", "self_nomination": "nomineert zichzelf",
           "cross_school": "over schoolgrenzen", "strength_off_scale": "sterkte buiten de schaal",
           "duplicate": "dubbel"},
    "en": {"unknown_person": "unknown person", "self_nomination": "self-nomination",
           "cross_school": "across schools", "strength_off_scale": "strength off the scale",
           "duplicate": "duplicate"},
}

PLG_TYPE_LABELS = {
    "nl": {"data_team": "datateam", "lesson_study": "lesson study"},
    "en": {"data_team": "data team", "lesson_study": "lesson study"},
}

MEASURE_LABELS = {
    "nl": {"contacts": "contacten", "in_ties": "inkomende relaties",
           "out_ties": "uitgaande relaties", "betweenness": "betweenness (makelaarspositie)"},
    "en": {"contacts": "contacts", "in_ties": "incoming ties", "out_ties": "outgoing ties",
           "betweenness": "betweenness (brokerage position)"},
}

REFERENCES = (
    "van den Boom-Muilenburg, S. N., Poortman, C. L., Daly, A. J., Schildkamp, K., de Vries, "
    "S., Rodway, J., & van Veen, K. (2022). Key actors leading knowledge brokerage for "
    "sustainable school improvement with PLCs: Who brokers what? Teaching and Teacher "
    "Education, 110, 103577.",
    "Ward, V., House, A., & Hamer, S. (2009). Knowledge brokering: the missing link in the "
    "evidence to action chain? Evidence & Policy, 5(3), 267-279.",
)


# ----------------------------------------------------------------------------- writing
_SAFE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_WINDOWS_RESERVED = re.compile(r"(?:CON|PRN|AUX|NUL|COM\d|LPT\d)(?:\..*)?", re.IGNORECASE)


def school_file_stems(schools: list[str]) -> dict[str, str]:
    """The name each school's files get (``graphs/<stem>.graphml``, ``figures/sociogram_<stem>
    .png``): the school id itself where it is a safe file name on every system; else (a
    ``/`` as in ``havo/vwo``, ``..``, spaces, a name Windows reserves, or two ids equal but
    for letter case, which macOS and Windows would write to one file) the id with every
    other character as ``_`` and the first 8 hex digits of its sha256, so that no file lands
    outside its folder and none replaces another. The graph inside keeps the id.

    >>> stems = school_file_stems(["sch01", "havo/vwo", "Mavo", "mavo"])
    >>> stems["sch01"], stems["havo/vwo"], stems["Mavo"], stems["mavo"]
    ('sch01', 'havo_vwo-c6f97722', 'Mavo-fdf23d30', 'mavo-1ad3257a')
    """
    folded = pd.Series([s.casefold() for s in schools]).value_counts()
    stems = {}
    for school in schools:
        if (_SAFE_STEM.fullmatch(school) and not school.endswith(".")
                and not _WINDOWS_RESERVED.fullmatch(school) and folded[school.casefold()] == 1):
            stems[school] = school
        else:
            digest = hashlib.sha256(school.encode("utf-8")).hexdigest()[:8]
            stems[school] = f"{re.sub(r'[^A-Za-z0-9_-]', '_', school)[:60]}-{digest}"
    return stems


def _school_files(stage: Path, schools: list[tuple], key_figures: pd.DataFrame,
                  profiles: dict | None, style: dict, reveal_names: bool) -> dict[str, str]:
    """GraphML + Pajek for each school of a chunk, and PNG + SVG where ``draw`` is set;
    returns school -> PNG as a data URI. Runs in a worker process (see :func:`_sociograms`)."""
    inline = {}
    for school, stem, staff, noms, metrics, draw in schools:
        graph = network.school_graph(staff, noms, metrics, school, reveal_names=reveal_names,
                                     key_figures=key_figures, profiles=profiles)
        atomic_write(stage / "graphs" / f"{stem}.graphml", network.graphml_bytes(graph))
        atomic_write(stage / "graphs" / f"{stem}.net", network.pajek_text(graph))
        if not draw:
            continue  # see report.max_sociograms: a national cohort gets tables, not 1,000 plots
        fig = draw_sociogram(graph, key_figures, profiles=profiles, **style)
        png = figure_bytes(fig, "png")
        atomic_write(stage / "figures" / f"sociogram_{stem}.png", png)
        atomic_write(stage / "figures" / f"sociogram_{stem}.svg", figure_bytes(fig, "svg"))
        inline[school] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return inline


def _sociograms(stage: Path, net, cohort: Cohort, settings: Settings, profiles: dict | None,
                reveal_names: bool, jobs: int = 1,
                progress: Callable[[str, int, int], None] | None = None) -> dict[str, str]:
    """PNG + SVG per school (the first ``report.max_sociograms``), GraphML and Pajek for every
    school; returns school -> PNG as a data URI for the HTML report. Schools are split into
    chunks over ``jobs`` processes: each file depends on its own school only."""
    colors = {p.id: p.color for p in settings.profiles.profiles}
    colors["undetermined"] = settings.profiles.undetermined.color
    lang = settings.pipeline.language
    labels = {p.id: getattr(p.label, lang) for p in settings.profiles.profiles}
    labels["undetermined"] = getattr(settings.profiles.undetermined.label, lang)
    style = {"seed": settings.pipeline.seed, "colors": colors, "labels": labels,
             "legend": {key: UI[lang][f"sociogram_{key}"] for key in LEGEND}}
    limit = settings.pipeline.report.max_sociograms
    staff_of = dict(tuple(cohort.staff.groupby("school_id", sort=False)))
    noms_of = dict(tuple(net.nominations.groupby("school_id", sort=False)))
    metrics_of = dict(tuple(net.metrics.groupby("school_id", sort=False)))
    kf_of = dict(tuple(net.key_figures.groupby("school_id", sort=False)))
    stems = school_file_stems(sorted(metrics_of))
    work = [(school, stems[school], staff_of.get(school, cohort.staff.iloc[:0]),
             noms_of.get(school, net.nominations.iloc[:0]), metrics_of[school], i < limit)
            for i, school in enumerate(sorted(metrics_of))]
    chunks = _chunks(work, jobs)

    def key_figures_of(chunk: list[tuple]) -> pd.DataFrame:
        parts = [kf_of[s[0]] for s in chunk if s[0] in kf_of]
        return pd.concat(parts) if parts else net.key_figures.iloc[:0]

    results = ordered_map(_school_files, [(stage, c, key_figures_of(c), profiles, style,
                                           reveal_names) for c in chunks], jobs)
    inline, done = {}, 0
    for chunk, result in zip(chunks, results, strict=True):
        inline.update(result)
        done += len(chunk)
        if progress:
            progress("writing graphs and sociograms", done, len(work))
    return inline


def _chunks(items: list, jobs: int, per_job: int = 4) -> list[list]:
    """``items`` in about ``jobs * per_job`` contiguous chunks (drawn sociograms come first,
    so they are spread over the first chunks of every worker)."""
    n = max(1, min(len(items), jobs * per_job))
    size = -(-len(items) // n) if items else 1
    return [items[i:i + size] for i in range(0, len(items), size)]


def write_network(stage: Path, net, cohort: Cohort, settings: Settings, *,
                  reveal_names: bool = False, profiles: dict | None = None,
                  jobs: int = 1, progress: Callable[[str, int, int], None] | None = None
                  ) -> dict[str, str]:
    """network_metrics.csv, school_metrics.csv, key_figures.csv, data_quality.csv, their
    variables.csv, figures, graphs."""
    _write_tables(stage, _network_tables(net), settings)
    return _sociograms(stage, net, cohort, settings, profiles, reveal_names, jobs, progress)


def _network_tables(net) -> dict[str, pd.DataFrame]:
    """The network stage's tables by file name (``pipeline network`` writes only these)."""
    return {"network_metrics.csv": net.metrics, "school_metrics.csv": net.schools,
            "key_figures.csv": net.key_figures, "data_quality.csv": net.quality}


def _write_tables(stage: Path, tables: dict[str, pd.DataFrame], settings: Settings) -> None:
    """``tables`` (file name -> table) and their data dictionary, ``variables.csv``."""
    for name, table in tables.items():
        write_csv(table, stage / name)
    write_csv(variable_table(tables, settings.codebook, settings.profiles),
              stage / "variables.csv")


QDPX_METRICS = ("out_ties", "in_ties", "reciprocal_ties", "contacts", "mean_strength",
                "betweenness", "pagerank", "boundary_out_ties", "boundary_in_ties",
                "boundary_reciprocal_ties", "boundary_contacts")


def qdpx_project(result, cohort: Cohort, settings: Settings, *, reveal_names: bool = False,
                 human: pd.DataFrame | None = None) -> tuple[bytes, str, int]:
    """A run as a REFI-QDA project: the transcripts (pseudonymised unless ``reveal_names``),
    the machine codings and ``human`` ones (a label store's current labels), the key figures
    as cases with their profile and network metrics; a line saying what it holds; and how
    many codings fell outside the texts and were left out."""
    from pipeline import exports as ex
    from pipeline.run import cohort_documents, pseudonymiser_for

    docs, shifts = ex.pseudonymise_documents(
        cohort_documents(cohort),
        None if reveal_names else pseudonymiser_for(cohort, settings.pipeline.segment))
    codings = [ex.machine_codings(result.segments, result.coder)]
    users = list(dict.fromkeys(codings[0]["user"])) or [result.coder]
    if human is not None:
        codings.append(ex.human_codings(human))
        users += sorted(set(codings[-1]["user"]))
    located, dropped = ex.locate_codings(pd.concat(codings, ignore_index=True), docs, shifts)
    metrics = [c for c in QDPX_METRICS if c in result.network.metrics.columns]
    cases = (result.profiles[["person_id", "school_id", "profile"]]
             .merge(result.network.metrics[["person_id", *metrics]], on="person_id",
                    how="left"))
    payload = ex.build_qdpx(name=cohort.meta.name, codebook=settings.codebook, documents=docs,
                            codings=located, users=users, cases=cases,
                            description=f"Sleutelfiguren export of cohort {cohort.meta.name}; "
                                        f"machine coder: {result.coder}")
    return payload, (f"{len(docs)} sources, {located['segment_id'].nunique()} coded segments, "
                     f"{len(located)} codings by {len(users)} user(s), {len(cases)} cases"
                     ), dropped


def write_run(stage: Path, result, cohort: Cohort, settings: Settings, *,
              reveal_names: bool = False, jobs: int = 1,
              progress: Callable[[str, int, int], None] | None = None,
              reproduce: dict | None = None) -> list[str]:
    """Every output of `pipeline run` (except the manifest, written last by the CLI), the
    REFI-QDA project ``<cohort folder>.qdpx`` included up to ``report.max_qdpx_schools``;
    what it left out, in words. ``reproduce``: :func:`reproduce_info`, where the caller
    has it already (the CLI's manifest holds the same run id)."""
    profiles = dict(zip(result.profiles["person_id"], result.profiles["profile"], strict=True))
    _write_tables(stage, {**_network_tables(result.network), "segments.csv": result.segments,
                         "person_codes.csv": result.person_codes,
                         "person_features.csv": result.features,
                         "profiles.csv": result.profiles}, settings)
    figures = _sociograms(stage, result.network, cohort, settings, profiles, reveal_names, jobs,
                          progress)
    atomic_write(stage / "report.html",
                 render_html(result, cohort, settings, figures, reveal_names=reveal_names,
                             reproduce=reproduce))
    project = f"{cohort.root.resolve().name}.qdpx"
    limit = settings.pipeline.report.max_qdpx_schools
    if len(result.network.schools) > limit:
        return [f"{project} left out: more schools than report.max_qdpx_schools ({limit}); "
                "`pipeline export qdpx` makes it"]
    # machine codings only: the label store is the annotators' working state, not an input
    # a run's hashes cover (`pipeline export qdpx` adds its human codings)
    payload, _, dropped = qdpx_project(result, cohort, settings, reveal_names=reveal_names)
    atomic_write(stage / project, payload)
    return [f"{project}: {dropped} codings outside the texts left out"] if dropped else []


# ----------------------------------------------------------------------------- helpers
def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _num(x: Any, digits: int = 2, dash: str = "–", *, lang: str, whole: bool = True) -> str:
    """A number for display in ``lang``: integers without decimals (a count; not with ``whole``
    false: a mean of 3 is 3.00), others rounded, with the language's decimal mark (0,78 in
    Dutch: :func:`_numbers_in`) and no thousands separator (1234,5: a point between
    thousands would read as a decimal one beside the CSV tables); '–' when missing."""
    if _is_missing(x) or x == "":
        return dash
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isinf(f):
        return dash
    if whole and f.is_integer():
        return str(int(f))
    return _numbers_in(f"{f:.{digits}f}", lang)


# a decimal written with a point (and an exponent: 1.2e-05), not inside a word or an id
# (v1.2, p1_1.5.txt, s1-2.5, 2024.03.05); a minus after a space or a bracket is its sign.
# So the second of a range written without spaces ("0.41-0.60") keeps its point, and an id
# that is a decimal itself ("12.5") gets the comma: the texts it reads (reasons, the rules
# of an unstable profile, the selection of key figures) have neither
_DECIMAL = re.compile(r"(?<![\w.,/])(?<!\w-)(\d+)\.(\d+(?:e[-+]\d+)?)(?!\.?\w)")


def _numbers_in(text: str, lang: str) -> str:
    """The decimals in ``text`` (written with a point, as the CSV tables and the pipeline's
    English texts have them) with ``lang``'s decimal mark (:data:`UI` ``decimal_mark``).

    >>> _numbers_in("n_focus = 0.62 (needs >= 2.50), x_1.5.txt", "nl")
    'n_focus = 0,62 (needs >= 2,50), x_1.5.txt'
    """
    mark = UI[lang]["decimal_mark"]
    return text if mark == "." else _DECIMAL.sub(rf"\1{mark}\2", text)


def _n_of(n: Any, one: str, many: str, lang: str) -> str:
    """``n`` with the word for one or for more (a report of one school says "1 school")."""
    shown = _num(n, lang=lang)
    return f"{shown} {one if shown == '1' else many}"


def _text_color(hex_color: str) -> str:
    """Black or white, whichever reads better on ``hex_color``."""
    r, g, b = (int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if lum > 0.55 else "#ffffff"


def _mix(hex_color: str, share: float) -> str:
    """``hex_color`` mixed with white: share 0 = white, 1 = the colour itself."""
    share = min(max(share, 0.0), 1.0)
    rgb = [int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 + (c - 255) * share):02x}" for c in rgb)


def _split_codes(value: Any) -> list[str]:
    if _is_missing(value):
        return []
    return [c for c in str(value).split(";") if c]


def _evidence_words(value: Any) -> dict[str, list[str]]:
    """``code: word, word | code: word`` -> {code: [words]}."""
    out: dict[str, list[str]] = {}
    if _is_missing(value):
        return out
    for part in str(value).split(" | "):
        code, sep, words = part.partition(": ")
        if sep:
            out[code.strip()] = [w.strip() for w in words.split(",") if w.strip()]
    return out


def _highlight(text: str, words: list[str]) -> Markup:
    """HTML-escaped ``text`` with whole-word occurrences of ``words`` in <mark> (words of
    one or two characters are not marked: too many false hits)."""
    words = sorted({w for w in words if len(w) >= 3}, key=lambda w: (-len(w), w))
    if not words:
        return Markup(escape(text))
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)",
                         re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(escape(text[last:m.start()]))
        out.append(Markup("<mark>") + escape(m.group(0)) + Markup("</mark>"))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def _shorten(text: str, limit: int = 220) -> str:
    """``text`` cut at a word boundary before ``limit`` characters, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + " …"


def _human_size(n: int, lang: str) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{_num(n, 0 if unit == 'B' else 1, lang=lang, whole=False)} {unit}"
        n /= 1024
    return f"{n} B"


# ----------------------------------------------------------------------------- reasons
_REASON_PART = re.compile(r"\.\s+(?=(?:not\s+)?[A-Za-z0-9_\-]+:\s)")
_NOT_PART = re.compile(r"^not (?P<pid>[A-Za-z0-9_\-]+): (?P<body>.*)$", re.S)
_CHOSEN_PART = re.compile(r"^(?P<pid>[A-Za-z0-9_\-]+): all (?P<n>\d+) criteria hold"
                          r"(?:, \d+ not evaluated)? \((?P<body>.*)\)$", re.S)
_UNDET_PART = re.compile(r"^undetermined: (?P<body>.*)$", re.S)
_PHRASE = re.compile(r"^(?P<why>.*?): (?:(?P<mark>holds|does not hold), (?P<detail>.*)"
                     r"|(?P<absent>not evaluated \(.*\)))$", re.S)


def _phrases(body: str) -> list[dict] | None:
    """The criteria of a block; ``holds`` is None for one left out (no data to decide it:
    pipeline/profile.py)."""
    out = []
    for phrase in body.split("; "):
        m = _PHRASE.match(phrase.strip())
        if not m:
            return None
        out.append({"why": m["why"], "holds": None if m["absent"] else m["mark"] == "holds",
                    "detail": m["absent"] or m["detail"]})
    return out


def parse_reasons(reasons: str) -> list[dict] | None:
    """Split ``profiles.reasons`` (pipeline/profile.py) into blocks of criteria.

    Returns a list of ``{"kind": "chosen" | "not" | "undetermined", "profile": id,
    "criteria": [{"why", "holds", "detail"}], "text": str}`` in the order of the text, or
    ``None`` when the text is not in the expected form (the report then shows it as is).

    >>> blocks = parse_reasons("not a: x: does not hold, n = 1 (needs >= 2.50). "
    ...                        "b: all 1 criteria hold (y: holds, m = 3 (needs >= 2))")
    >>> [(b["kind"], b["profile"], [c["holds"] for c in b["criteria"]]) for b in blocks]
    [('not', 'a', [False]), ('chosen', 'b', [True])]
    """
    if _is_missing(reasons) or not str(reasons).strip():
        return None
    blocks = []
    for part in _REASON_PART.split(str(reasons).strip()):
        part = part.strip()
        if m := _UNDET_PART.match(part):
            blocks.append({"kind": "undetermined", "profile": "undetermined", "criteria": [],
                           "text": m["body"]})
        elif m := _CHOSEN_PART.match(part):
            crit = _phrases(m["body"])
            if crit is None:
                return None
            blocks.append({"kind": "chosen", "profile": m["pid"], "criteria": crit, "text": ""})
        elif m := _NOT_PART.match(part):
            crit = _phrases(m["body"].rstrip("."))
            if crit is None:
                return None
            blocks.append({"kind": "not", "profile": m["pid"], "criteria": crit, "text": ""})
        else:
            return None
    return blocks


# The reasons (profiles.csv) and the key figures' selection (key_figures.csv) are English
# data; a Dutch report says them in Dutch. Applied in order, each to the whole text.
_NL_MEASURES = {"boundary contacts": "grensoverschrijdende contacten",
                "boundary incoming ties": "grensoverschrijdende inkomende relaties",
                "boundary outgoing ties": "grensoverschrijdende uitgaande relaties",
                "contacts": "contacten", "incoming ties": "inkomende relaties",
                "outgoing ties": "uitgaande relaties",
                "betweenness (all ties)": "betweenness (alle relaties)",
                "betweenness": "betweenness",
                "boundary mean strength": "grensoverschrijdende gemiddelde sterkte",
                "mean strength": "gemiddelde sterkte",
                "boundary reciprocal ties": "grensoverschrijdende wederkerige relaties",
                "reciprocal ties": "wederkerige relaties"}
_NL_WORDING = [
    (re.compile(r"\(rank (\S+) of (\d+) key figures in the school, needs rank <= (\d+)\)"),
     lambda m: f"(rang {m[1]} van {_n_of(m[2], 'sleutelfiguur', 'sleutelfiguren', 'nl')} in de "
               f"school, nodig: rang <= {m[3]})"),
    (re.compile(r", (\d+) of (\d+) contacts reciprocal \("), r", \1 van \2 contacten wederkerig ("),
    (re.compile(r", (\d+) of (\d+) ties outgoing \("), r", \1 van \2 relaties uitgaand ("),
    (re.compile(r", (\d+) of (\d+) (knowledge_types|activities) codes \("),
     lambda m: f", {m[1]} van {m[2]} codes van de {_NL_FAMILIES[m[3]]} ("),
    (re.compile(r"(n_activity_categories = \d+, )none used \("), r"\1geen gebruikt ("),
    (re.compile(r"(n_activity_categories = \d+, .+?) used \("), r"\1 gebruikt ("),
    (re.compile(r"\(none, so not the most in the school\)"),
     "(geen, dus niet de meeste in de school)"),
    (re.compile(r"\(needs (\S+) (\S+)\)"), r"(nodig: \1 \2)"),
    (re.compile(r"^share of "), "aandeel "),
    (re.compile(r"= n/a\b"), "= n.v.t."),
    # the value is the bracket before a note or the end: "by betweenness (all ties) (0.01)"
    (re.compile(r"^rank (\d+) of (\d+) by (.+?) \(([^()]*)\)(?=;|$)"),
     lambda m: f"rang {m[1]} van {m[2]} op {_NL_MEASURES.get(m[3], m[3])} ({m[4]})"),
    (re.compile(r"tied with (\S+), ranked (above|below) it by person_id \(all else equal\)"),
     lambda m: f"gelijk met {m[1]}, er{'boven' if m[2] == 'above' else 'onder'} geplaatst op "
               "person_id (verder alles gelijk)"),
    (re.compile(r"tied with (\S+), ranked (above|below) it on (.+?) \((\S+) vs (\S+)\)"),
     lambda m: f"gelijk met {m[1]}, er{'boven' if m[2] == 'above' else 'onder'} geplaatst op "
               f"{_NL_MEASURES.get(m[3], m[3])} ({m[4]} tegen {m[5]})"),
    (re.compile(r"non-respondent: counted from incoming ties only"),
     "geen respondent: alleen inkomende relaties geteld"),
    (re.compile(r"non-respondent: outgoing ties imputed from incoming ties \(symmetrised\)"),
     "geen respondent: uitgaande relaties afgeleid uit inkomende (gesymmetriseerd)"),
    (re.compile(r"marked non-respondent, but nominated colleagues \(kept as ties: check "
                r"responded in staff\.csv\)"),
     "geen respondent volgens staff.csv, maar nomineerde wel collega's (als relaties "
     "behouden: controleer responded in staff.csv)"),
    (re.compile(r"\bno strength\b"), "geen sterkte"),
    (re.compile(r"^not evaluated \(no (\S+) in the data\)$"),
     r"niet beoordeeld (geen \1 in de gegevens)"),
    (re.compile(r"^not evaluated \(no coded segments\)$"),
     "niet beoordeeld (geen gecodeerde fragmenten)"),
]


_NL_LEFT_OUT = {" (no tie strengths in the survey?)": " (geen relatiesterktes in de vragenlijst?)",
                " (no ties)": " (geen relaties)"}
_NL_FAMILIES = {"knowledge_types": "kennistypen", "activities": "activiteiten"}
_NL_FORMATS = {"in bold": "vette", "in italic": "cursieve", "underlined": "onderstreepte",
               "in colour": "gekleurde"}


def _nl_id_list(text: str) -> str:
    """``a, b and 3 more`` (run.id_list) in Dutch."""
    return text.replace(" and ", " en ").replace(" more", " meer")


def _nl_line_list(text: str) -> str:
    """``'a' (line 2) and 'b' (line 3)`` of a warning in Dutch."""
    return text.replace(") and ", ") en ").replace("(line ", "(regel ")


# the run's warnings (English on the command line and in the manifest) for a Dutch report;
# a warning matching none stays English
_NL_WARNINGS = [
    (re.compile(r"key figure (.+?) has no transcripts: what they share is unknown, so no "
                r"profile \(undetermined, the nearest from the network only\)"),
     r"sleutelfiguur \1 heeft geen transcripten: wat die deelt is onbekend, dus geen profiel "
     r"(onbepaald, het dichtstbijzijnde alleen uit het netwerk)"),
    (re.compile(r"key figure (.+?) has transcripts, but no respondent segment was read from them "
                r"\(see the warnings on their transcripts\): what they share is unknown, so no "
                r"profile \(undetermined, the nearest from the network only\)"),
     r"sleutelfiguur \1 heeft transcripten, maar daaruit is geen segment van de respondent "
     r"gelezen (zie de waarschuwingen bij die transcripten): wat die deelt is onbekend, dus "
     r"geen profiel (onbepaald, het dichtstbijzijnde alleen uit het netwerk)"),
    (re.compile(r"school (.+): no key figures \(no ties among its staff\), so no profiles"),
     r"school \1: geen sleutelfiguren (geen relaties tussen de medewerkers), dus geen profielen"),
    (re.compile(r"school (.+): no key figures \(nobody has (\S+) above 0 with tie_scope (\S+)\), "
                r"so no profiles"),
     r"school \1: geen sleutelfiguren (niemand heeft \2 boven 0 bij tie_scope \3), dus geen "
     r"profielen"),
    (re.compile(r"transcripts of (?:1 person who is not a key figure|(\d+) people who are not "
                r"key figures) are coded but feed no profile: (.+?)(?: and (\d+) more)?$"),
     lambda m: ("transcripten van "
                + (f"{m[1]} personen die geen sleutelfiguur zijn" if m[1] else
                   "1 persoon die geen sleutelfiguur is")
                + f", zijn gecodeerd maar tellen in geen profiel mee: {m[2]}"
                + (f" en nog {m[3]}" if m[3] else ""))),
    (re.compile(r"staff\.csv: school (.+?): (\d+) staff marked responded=false made (\d+) "
                r"nomination\(s\) \(nominations\.csv lines ([^)]*)\), kept as ties: check their "
                r"responded"),
     lambda m: (f"staff.csv: school {m[1]}: {_n_of(m[2], 'medewerker', 'medewerkers', 'nl')} met "
                f"responded=false {'gaf' if m[2] == '1' else 'gaven'} "
                f"{_n_of(m[3], 'nominatie', 'nominaties', 'nl')} (nominations.csv "
                f"{'regel' if m[3] == '1' else 'regels'} {m[4]}), behouden als relaties: "
                "controleer de kolom responded")),
    (re.compile(r"(\S+) stays as written (\d+) times? in the segments of (\d+) schools? "
                r"\((.+)\) where it is a school acronym and also the initials of someone in "
                r"staff\.csv; where it names them, give \1 as their nickname there to "
                r"pseudonymise it \(then every \1 in their school's texts is\)"),
     lambda m: (f"{m[1]} blijft {_n_of(m[2], 'keer', 'keer', 'nl')} zoals geschreven in de "
                f"segmenten van {_n_of(m[3], 'school', 'scholen', 'nl')} "
                f"({_nl_id_list(m[4])}), waar het een "
                "schoolafkorting is en ook de initialen van iemand in staff.csv; "
                f"waar het die persoon noemt, geef {m[1]} daar als diens nickname om het te "
                f"pseudonimiseren (dan is elke {m[1]} in de teksten van die school dat)")),
    (re.compile(r"nominations\.csv: school (.+?): (\d+) duplicate nominations? dropped with "
                r"another strength than the first of the same ego -> alter, which is kept "
                r"\((.*)\): remove the row that was not meant"),
     lambda m: (f"nominations.csv: school {m[1]}: "
                f"{_n_of(m[2], 'dubbele nominatie', 'dubbele nominaties', 'nl')} met een andere "
                "sterkte dan de eerste van dezelfde ego -> alter, die behouden is, "
                f"{'is' if m[2] == '1' else 'zijn'} weggelaten ("
                + m[3].replace("line ", "regel ").replace("kept regel", "behouden regel")
                .replace("no strength", "geen sterkte")
                + "): verwijder de rij die niet bedoeld was")),
    (re.compile(r"(.+): no respondent turn recognised, so nothing of it is coded \(prefixes "
                r"seen: (.*)\): start each turn with its speaker's label and a colon or a tab "
                r"\('I: \.\.\.', 'R: \.\.\.'\), or name the labels used in (.+) and "
                r"(.+) in the config"),
     lambda m: (f"{m[1]}: geen beurt van de respondent herkend, dus er is niets van gecodeerd "
                f"(gevonden voorvoegsels: {'geen' if m[2] == 'none' else m[2]}): begin elke "
                "beurt met het label van de spreker en een dubbele punt of een tab ('I: ...', "
                f"'R: ...'), of zet de gebruikte labels in {m[3]} en {m[4]} in de config")),
    (re.compile(r"(.+): no speaker labels: its paragraphs (in bold|in italic|underlined|in "
                r"colour) are read as the "
                r"(interviewer|respondent)'s turns and the others as the "
                r"(interviewer|respondent)'s: check that its format tells them apart so, or "
                r"start each turn with its speaker's label \('I: \.\.\.', 'R: \.\.\.'\)"),
     lambda m: (f"{m[1]}: geen sprekerslabels: de {_NL_FORMATS[m[2]]} alinea's zijn gelezen "
                f"als de beurten van de {m[3]} en de andere als die van de {m[4]}: controleer "
                "of de opmaak ze zo onderscheidt, of begin elke beurt met het label van de "
                "spreker ('I: ...', 'R: ...')")),
    (re.compile(r"(.+): '(.+)' speaks beside the interviewer and the respondent '(.+)': a "
                r"second respondent, whose turns are not coded \(they are not the words of the "
                r"person interviewed\)"),
     r"\1: '\2' spreekt naast de interviewer en de respondent '\3': een tweede respondent, "
     r"wiens beurten niet gecodeerd zijn (het zijn niet de woorden van de geïnterviewde)"),
    (re.compile(r"(.+): (.+) are all coded as the respondent's words: if they are different "
                r"people, only the interviewed person's turns belong in this transcript"),
     r"\1: \2 worden allemaal als de woorden van de respondent gecodeerd: als het verschillende "
     r"mensen zijn, horen alleen de beurten van de geïnterviewde in dit transcript"),
    (re.compile(r"(.+): the turns of '(.+)' are not coded \((.+) in the config\)"),
     r"\1: de beurten van '\2' zijn niet gecodeerd (\3 in de config)"),
    (re.compile(r"(.+): prefix '(.+)' starts several paragraphs but is no configured speaker: "
                r"they continue the previous turn \((.+) in the config\)"),
     r"\1: voorvoegsel '\2' begint meerdere alinea's maar is geen ingestelde spreker: ze "
     r"horen bij de beurt ervoor (\3 in de config)"),
    (re.compile(r"(.+): (.+) are all taken as the respondent: check who speaks \(of two speaker "
                r"names, the one matching the roster name is the respondent and the other the "
                r"interviewer\)"),
     r"\1: \2 worden allemaal als respondent gelezen: controleer wie er spreekt (van twee "
     r"sprekersnamen is die met de naam van de personeelslijst de respondent, de ander de "
     r"interviewer)"),
    (re.compile(r"(.+): the interviewer's turns hold more words \((\d+)\) than the "
                r"respondent's \((\d+)\): check that the speakers are the right way round "
                r"\((.+) in the config; a transcription service numbers its speakers per "
                r"file\)"),
     r"\1: de beurten van de interviewer bevatten meer woorden (\2) dan die van de "
     r"respondent (\3): controleer of de sprekers niet verwisseld zijn (\4 in de config; een "
     r"transcriptiedienst nummert zijn sprekers per bestand)"),
    (re.compile(r"(.+): '(.+)' starts several paragraphs and is taken as a respondent beside "
                r"'(.+)': if it is no speaker but a label \(\"(.+)\"\), check who says it "
                r"\(segment\.interviewer_prefixes in the config, if the interviewer does\)"),
     lambda m: (f"{m[1]}: '{m[2]}' begint meerdere alinea's en wordt naast '{m[3]}' als "
                f"respondent gelezen: is het geen spreker maar een label (\"{m[4]}\"), "
                "controleer dan wie het zegt (segment.interviewer_prefixes in de config, als "
                "de interviewer het zegt)")),
    (re.compile(r"(.+): line (\d+): (\d+) respondent line\(s\) before the interviewer's first "
                r"question read as a title, not coded \('(.*)'\): check where the interview "
                r"starts"),
     lambda m: (f"{m[1]}: regel {m[2]}: {_n_of(m[3], 'regel', 'regels', 'nl')} van de respondent "
                f"vóór de eerste vraag van de interviewer als titel gelezen, niet gecodeerd "
                f"('{m[4]}'): controleer waar het interview begint")),
    (re.compile(r"(.+): line (\d+): '(.+)' looks like a speaker but starts only this "
                r"paragraph, so it is part of the previous turn: check who speaks"),
     r"\1: regel \2: '\3' lijkt een spreker maar begint alleen deze alinea, dus die hoort bij "
     r"de beurt ervoor: controleer wie er spreekt"),
    (re.compile(r"(.+): (?:its coder column says (.+), but it is not as a run wrote it|it has no "
                r"coder column), so the report shows no model evaluation \(--model or --rules "
                r"names the coder that made these codes\)"),
     lambda m: (f"{m[1]}: " + (f"de kolom coder noemt {m[2]}, maar het bestand is niet zoals "
                               "een run het schreef" if m[2] else "er is geen kolom coder")
                + ", dus het rapport toont geen evaluatie van het model (--model of --rules "
                  "noemt de codeerder)")),
    (re.compile(r"model (.+) was trained with codebook version (.+), this run uses version "
                r"(.+): if what a code means has changed, retrain it on labels made with this "
                r"version"),
     r"model \1 is getraind met codeboekversie \2, deze run gebruikt versie \3: als de "
     r"betekenis van een code veranderd is, train het dan opnieuw op labels van deze versie"),
    (re.compile(r"(?:the definition \(or include/exclude rules\) of (.+?))?(?: and )?(the coding "
                r"unit)? in the codebook has changed since model (.+) was trained, under the same "
                r"version (.+): if what the code means has changed, give the codebook a new "
                r"version and retrain the model on labels made with it"),
     lambda m: (" en ".join(filter(None, [
         m[1] and f"de definitie (of de regels voor wel/niet coderen) van {m[1]}",
         m[2] and "de coderingseenheid"]))
         + f" in het codeboek is veranderd sinds model {m[3]} getraind is, onder dezelfde "
         f"versie {m[4]}: als de betekenis van de code veranderd is, geef het codeboek dan een "
         "nieuwe versie en train het model opnieuw op labels daarvan")),
    (re.compile(r"network: (\d+) tie\(s\) to non-respondents were made mutual "
                r"\(symmetrize_nonrespondents\)"),
     lambda m: (f"netwerk: {_n_of(m[1], 'relatie', 'relaties', 'nl')} met niet-respondenten "
                "wederkerig gemaakt (symmetrize_nonrespondents)")),
    (re.compile(r"network: brokerage columns are 0: staff column '(.+)' is empty for everyone"),
     r"netwerk: de makelaarskolommen zijn 0: de kolom '\1' van staff.csv is voor iedereen leeg"),
    (re.compile(r"network: (\d+) person\(s\) have several values in '(.+)' \(such as '(.+)'\): "
                r"in brokerage each such combination is a group of its own"),
     lambda m: (f"netwerk: {_n_of(m[1], 'persoon', 'personen', 'nl')} met meerdere waarden in "
                f"'{m[2]}' (zoals '{m[3]}'): bij de makelaarsrollen is elke combinatie een "
                "eigen groep")),
    (re.compile(r"network: (\d+) person\(s\) have no '(.+)': two-paths through them are not "
                r"counted in brokerage"),
     lambda m: (f"netwerk: {_n_of(m[1], 'persoon', 'personen', 'nl')} zonder '{m[2]}': paden via "
                "hen tellen niet mee voor makelaarsrollen")),
    (re.compile(r"staff\.csv: school (.+): plg_id (.+) differ only in letter case or spaces: "
                r"one PLG\? They count as different PLGs"),
     lambda m: (f"staff.csv: school {m[1]}: plg_id "
                + _nl_line_list(m[2])
                + " verschillen alleen in hoofdletters of spaties: één PLG? Ze tellen als "
                  "verschillende PLG's")),
    (re.compile(r"nominations\.csv: school_id (.+) \((\d+) rows?, lines (.+)\) is no school of "
                r"staff\.csv(?:; (.+) is: the same school\?)?"),
     lambda m: (f"nominations.csv: school_id {m[1]} ({_n_of(m[2], 'rij', 'rijen', 'nl')}, "
                f"{'regel' if m[2] == '1' else 'regels'} {m[3]}) is geen school van staff.csv"
                + (f"; {m[4]} wel: dezelfde school?" if m[4] else ""))),
    (re.compile(r"staff\.csv: no name on lines? (.+), so (?:those people's names in the "
                r"transcripts are|that person's name in the transcripts is) not pseudonymised: "
                r"fill (?:it|them) in"),
     lambda m: (f"staff.csv: geen naam op {'regels' if ',' in m[1] else 'regel'} {m[1]}, dus "
                + ("de namen van die personen worden" if "," in m[1] else
                   "de naam van die persoon wordt")
                + " in de transcripten niet gepseudonimiseerd: vul die in")),
    (re.compile(r"staff\.csv: no school_name for school(s?) (.+), so (?:their names in the "
                r"transcripts are|its name in the transcripts is) not pseudonymised: fill "
                r"(?:it|them) in"),
     lambda m: (f"staff.csv: geen school_name voor {'de scholen' if m[1] else 'school'} "
                f"{_nl_id_list(m[2])}, dus "
                + ("hun namen worden" if m[1] else "de naam daarvan wordt")
                + " in de transcripten niet gepseudonimiseerd: vul die in")),
    (re.compile(r"staff\.csv: the names? on lines? (.+) holds? a '\?' where a letter was lost in "
                r"the export \(Excel's CSV without that letter: Y\?lmaz for Yılmaz\), so the "
                r"transcripts' spelling of it is not pseudonymised: save staff\.csv as UTF-8 "
                r"\(Excel: 'CSV UTF-8'\)"),
     lambda m: (f"staff.csv: de naam op {'regels' if ',' in m[1] else 'regel'} {m[1]} "
                "heeft een '?' waar bij het exporteren een letter verloren ging (Excels CSV "
                "zonder die letter: Y?lmaz voor Yılmaz), dus de spelling ervan in de "
                "transcripten wordt niet gepseudonimiseerd: sla staff.csv op als UTF-8 (Excel: "
                "'CSV UTF-8')")),
    (re.compile(r"nominations\.csv: (\d+) nominations? without a strength on the scale (\S+) "
                r"\(lines? (.+)\), kept as ties: the strength metrics leave them out, and the "
                r"GraphML gives them no weight \(Gephi reads 1\): fill in their strength"),
     lambda m: (f"nominations.csv: {m[1]} {'nominatie' if m[1] == '1' else 'nominaties'} zonder "
                f"sterkte op de schaal {m[2]} ({'regel' if m[1] == '1' else 'regels'} {m[3]}), "
                "behouden als relaties: de sterktematen laten ze weg, en de GraphML geeft ze "
                "geen gewicht (Gephi leest 1): vul hun sterkte in")),
    (re.compile(r"nominations\.csv: no nomination has a strength, though cohort\.yaml gives "
                r"tie_strength (\S+): the strength metrics are empty \(a strength column under "
                r"another name\?\)"),
     r"nominations.csv: geen nominatie heeft een sterkte, al geeft cohort.yaml tie_strength "
     r"\1: de sterktematen zijn leeg (een kolom strength onder een andere naam?)"),
    (re.compile(r"nominations\.csv: person id (.+) \((\d+) rows?, lines (.+)\) is no person_id "
                r"of staff\.csv; (.+) is: the same person\?"),
     lambda m: (f"nominations.csv: persoons-id {m[1]} ({_n_of(m[2], 'rij', 'rijen', 'nl')}, "
                f"{'regel' if m[2] == '1' else 'regels'} {m[3]}) is geen person_id van "
                f"staff.csv; {m[4]} wel: dezelfde persoon?")),
    (re.compile(r"model (\S+) learned (.+) from fewer than (\d+) positive labels "
                r"\(coding\.min_positives\): do not rely on those codes; label more segments "
                r"and retrain"),
     r"model \1 leerde \2 van minder dan \3 positieve labels (coding.min_positives): vertrouw "
     r"niet op die codes; label meer fragmenten en train opnieuw"),
    (re.compile(r"model (\S+) learned (.+) from fewer than (\d+) negative labels "
                r"\(coding\.min_positives\): it codes \(nearly\) every segment with those; "
                r"label segments where they do not apply and retrain"),
     r"model \1 leerde \2 van minder dan \3 negatieve labels (coding.min_positives): het "
     r"kent die codes aan (bijna) elk fragment toe; label fragmenten waar ze niet gelden en "
     r"train opnieuw"),
    (re.compile(r"model (\S+) knows fewer of the words of school\(s\) (.+) than of any school "
                r"of its evaluation \((\S+) to (\S+) of their content words, each school held "
                r"out from training\): its codes there are less sure than its scores on the "
                r"card say; code a sample of those segments by hand \(`pipeline annotate "
                r"export`\) and measure the model on it \(`pipeline agreement --model`\), or "
                r"train it on labels of this cohort"),
     lambda m: _numbers_in(
         f"model {m[1]} kent minder woorden van school/scholen {m[2]} dan van elke school uit "
         f"zijn evaluatie ({m[3]} tot {m[4]} van hun inhoudswoorden, elke school buiten de "
         "training gehouden): de codes daar zijn minder zeker dan de scores op de modelkaart "
         "zeggen; codeer een steekproef van die fragmenten met de hand (`pipeline annotate "
         "export`) en meet het model daarop (`pipeline agreement --model`), of train het op "
         "labels van dit cohort", "nl")),
    (re.compile(r"the rule coder never assigns (.+): the codebook gives no patterns for them "
                r"\(add patterns, or code with a model trained on labels of them\)"),
     r"de regelgebaseerde codeerder kent \1 nooit toe: het codeboek geeft er geen patronen "
     r"voor (voeg patronen toe, of codeer met een model getraind op labels ervan)"),
    (re.compile(r"staff\.csv has no school_name column, so school names in the transcripts "
                r"are not pseudonymised: add the column \(school_id's name\) to replace them"),
     "staff.csv heeft geen kolom school_name, dus schoolnamen in de transcripten worden niet "
     "gepseudonimiseerd: voeg de kolom toe (de naam bij school_id) om ze te vervangen"),
    (re.compile(r"model (\S+) has no model card \((\S+)\) saying what it was trained on: its "
                r"labels, codebook version and quality are unknown; retrain it with "
                r"`pipeline train`"),
     r"model \1 heeft geen modelkaart (\2) die zegt waarop het getraind is: de labels, de "
     r"codeboekversie en de kwaliteit zijn onbekend; train het opnieuw met `pipeline train`"),
    (re.compile(r"model (\S+) also knows (.+), which the codebook has no more: its other codes "
                r"were learned beside them; retrain it on labels of this codebook \(or, if it "
                r"is your codebook's, name its pipeline\.yaml with --config\)"),
     r"model \1 kent ook \2, die het codeboek niet meer heeft: de andere codes zijn ernaast "
     r"geleerd; train het opnieuw op labels van dit codeboek (of, zijn het codes van je eigen "
     r"codeboek, geef dan de pipeline.yaml daarvan met --config)"),
    (re.compile(r"profiles: no key figure(?: of school(s?) (.+))? has a (\S+)"
                r"( \(no tie strengths in the survey\?\)| \(no ties\))?, so '(.+)' \((\S+)\) is "
                r"left out of that profile( there)?"),
     lambda m: (f"profielen: geen sleutelfiguur"
                f"{(' van de scholen ' if m[1] else ' van school ') + m[2] if m[2] else ''} heeft "
                f"een {m[3]}{_NL_LEFT_OUT.get(m[4], '')}, dus "
                f"'{m[5]}' ({m[6]}) telt{' daar' if m[7] else ''} niet mee in dat profiel")),
    (re.compile(r"staff\.csv: school (.+): plg_id (.+) has plg_type (.+)"),
     lambda m: (f"staff.csv: school {m[1]}: plg_id {m[2]} heeft plg_type "
                + _nl_line_list(m[3]))),
]


# run.network_notes' line per school and kind of dropped nomination (the report's table)
_DROPPED_NOTE = re.compile(r"nominations\.csv: school .+: \d+ \S+ dropped \(lines? ")


def warning_in_language(text: str, lang: str) -> str:
    """A run warning in the report's language (:data:`_NL_WARNINGS`; else as it is).

    >>> warning_in_language("key figure s1-p4 has no transcripts: what they share is unknown, "
    ...                     "so no profile (undetermined, the nearest from the network only)",
    ...                     "nl")  # doctest: +ELLIPSIS
    'sleutelfiguur s1-p4 heeft geen transcripten: wat die deelt is onbekend, dus geen ...'
    """
    if lang != "nl":
        return text
    if text.endswith(REVEAL_HINT):
        return (warning_in_language(text.removesuffix(REVEAL_HINT), lang)
                + " (namen gepseudonimiseerd: --reveal-names toont ze)")
    for pattern, replacement in _NL_WARNINGS:
        if pattern.fullmatch(text):
            return pattern.sub(replacement, text)
    return text


def in_language(text: str, lang: str) -> str:
    """A reason or selection text of the pipeline (English) in the report's language, its
    decimals with the language's mark (:func:`_numbers_in`).

    >>> in_language("n_focus = 10 (needs >= 2.50)", "nl")
    'n_focus = 10 (nodig: >= 2,50)'
    >>> in_language("rank 1 of 74 by boundary contacts (23)", "nl")
    'rang 1 van 74 op grensoverschrijdende contacten (23)'
    """
    if lang != "nl":
        return text
    for pattern, replacement in _NL_WORDING:
        text = pattern.sub(replacement, text)
    return _numbers_in(text, lang)


def _criteria_for_card(blocks: list[dict], settings: Settings, lang: str) -> None:
    """Each parsed criterion's ``why`` as the profile config words it in ``lang`` (the reasons
    hold the English) and its detail by :func:`in_language` (a share with its base, as
    pipeline/profile.py writes it: "= 0.86, 18 of 21 activities codes")."""
    crits = {(p.id, c.why_in("en")): c for p in settings.profiles.profiles for c in p.criteria}
    for b in blocks:
        for c in b["criteria"]:
            crit = crits.get((b["profile"], c["why"]))
            if crit is not None:
                c["why"] = crit.why_in(lang)
            c["detail"] = in_language(c["detail"], lang)


def _criterion_names(text: str, settings: Settings, lang: str) -> str:
    """A warning's ``'criterion' (profile)`` as the cards name them (the run's warnings say
    them in the English of profiles.csv)."""
    if lang == "en":
        return text
    for p in settings.profiles.profiles:
        for c in p.criteria:
            text = text.replace(f"'{c.why_in('en')}' ({p.id})",
                                f"'{c.why_in(lang)}' ({settings.profiles.label(p.id, lang)})")
    return text


_UNSTABLE = re.compile(r"^(?P<pid>[A-Za-z0-9_\-]+)\.(?P<rule>.+?) -> (?P<to>[A-Za-z0-9_\-]+)$")


def parse_unstable(text: str) -> list[dict]:
    """``profile.feature op value -> new`` items of ``unstable_when``; unparsed items keep
    their text in ``rule`` with empty ``profile`` and ``to``.

    >>> parse_unstable("sender.out_share >= 0.72 -> undetermined")
    [{'profile': 'sender', 'rule': 'out_share >= 0.72', 'to': 'undetermined'}]
    """
    if _is_missing(text) or not str(text).strip():
        return []
    out = []
    for item in str(text).split("; "):
        m = _UNSTABLE.match(item.strip())
        out.append({"profile": m["pid"], "rule": m["rule"], "to": m["to"]} if m
                   else {"profile": "", "rule": item.strip(), "to": ""})
    return out


# ----------------------------------------------------------------------------- reproduce
def _versions() -> list[tuple[str, str]]:
    return list(package_versions(VERSION_PACKAGES).items())


def _display_path(p: Path) -> str:
    """A config path relative to the repository when inside it, else as given."""
    try:
        return Path(p).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return Path(p).as_posix()


def _combined(digests: list[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for name, digest in digests:
        h.update(f"{name}\t{digest}\n".encode())
    return h.hexdigest()


def _default_model_used(result, settings: Settings) -> tuple[bool, str | None]:
    """Whether the run's model card is the configured default model's; and its sha256."""
    from pipeline.coding.scoring import CARD_FILE, MODEL_FILE

    folder = settings.model_dir
    try:
        card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False, None
    if card != result.model_card or not (folder / MODEL_FILE).is_file():
        return False, None
    return True, file_sha256(folder / MODEL_FILE)


def reproduce_info(result, cohort: Cohort, settings: Settings, *,
                   reveal_names: bool = False) -> dict:
    """What the "how to cite and reproduce" section shows: the command, versions, hashes.
    For `pipeline report` (``result.codes_file``) the coded table is an input too, and the
    model's hash is the one its card names.

    Nothing here depends on time or on the output folder (nor on how a path was typed), so a
    rerun gives the same.
    """
    root = Path(cohort.root)
    codes = result.codes_file
    cmd = (["pipeline", "run", root.as_posix(), "--out", "OUT"] if codes is None else
           ["pipeline", "report", root.as_posix(), "--codes", codes.as_posix(), "--out", "OUT",
            *result.coder_flags])
    if Path(settings.config_path).resolve() != DEFAULT_CONFIG.resolve():
        cmd += ["--config", Path(settings.config_path).as_posix()]
    model_sha = None
    if codes is not None:
        model_sha = (result.model_card.get("files") or {}).get("model.skops")
    elif result.coder == "rules":
        cmd.append("--rules")
    else:
        default, model_sha = _default_model_used(result, settings)
        if not default:
            cmd += ["--model", "MODEL_DIR"]
    if reveal_names:
        cmd.append("--reveal-names")
    configs = [(_display_path(p), file_sha256(p)) for p in settings.files]
    files = cohort.read_files
    inputs = [(p.relative_to(root).as_posix(), file_sha256(p)) for p in files]
    groups: dict[str, int] = {}
    for rel, _ in inputs:
        top = rel.split("/", 1)[0] + ("/" if "/" in rel else "")
        groups[top] = groups.get(top, 0) + 1
    hashed = list(inputs)
    if codes is not None:  # outside the cohort folder: listed by the path given
        digest = file_sha256(codes)
        inputs.append((codes.as_posix(), digest))
        hashed.append(("--codes", digest))
        files.append(codes)
        groups[codes.name] = 1
    size = sum(p.stat().st_size for p in files)
    config_hash = _combined([(str(i), d) for i, (_, d) in enumerate(configs)])
    input_hash = _combined(hashed)
    return {
        "command": " ".join(_shell_quote(c) for c in cmd),
        "versions": _versions(),
        "version": metadata.version("sleutelfiguren") if _installed("sleutelfiguren") else "?",
        "configs": configs,
        "config_hash": config_hash,
        "inputs": inputs[:MAX_LISTED_INPUTS],
        "inputs_more": max(0, len(inputs) - MAX_LISTED_INPUTS),
        "n_inputs": len(inputs),
        "inputs_size": _human_size(size, settings.pipeline.language),
        "input_groups": sorted(groups.items()),
        "input_hash": input_hash,
        "run_id": f"{config_hash[:8]}-{input_hash[:8]}",
        "model_sha256": model_sha,
        # every file hashed here, for the manifest (io.build_manifest), not read twice
        "digests": {**{Path(p): d for p, (_, d) in zip(settings.files, configs, strict=True)},
                    **{Path(p): d for p, (_, d) in zip(files, inputs, strict=True)}},
        "reveal_names": reveal_names,
    }


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def _shell_quote(s: str) -> str:
    return s if re.fullmatch(r"[A-Za-z0-9_@%+=:,./\-]+", s) else "'" + s.replace("'", "'\\''") + "'"


# ----------------------------------------------------------------------------- context
def _code_label(settings: Settings, code: str, lang: str) -> str:
    try:
        return getattr(settings.codebook.code(code).label, lang)
    except KeyError:
        return code


def _evidence_for(person_segments: list[dict], settings: Settings, lang: str) -> list[dict]:
    """Per family: the segments (rows of the segments table, as dicts) with the highest
    probability among their assigned codes."""
    families = []
    for fam in settings.codebook.families:
        codes = [c.id for c in fam.codes]
        items = []
        if person_segments and fam.id in person_segments[0]:
            for row in person_segments:
                assigned = [c for c in _split_codes(row.get(fam.id)) if c in codes]
                if not assigned:
                    continue
                score = max(float(row.get(f"p_{c}", 0.0) or 0.0) for c in assigned)
                items.append((score, row, assigned))
            items.sort(key=lambda t: (-t[0], str(t[1].get("doc", "")),
                                      int(t[1].get("start", 0) or 0),
                                      str(t[1].get("segment_id", ""))))
        shown = []
        for _, row, assigned in items[:EVIDENCE_PER_FAMILY]:
            ev = _evidence_words(row.get("evidence"))
            words = [w for c in assigned for w in ev.get(c, [])]
            shown.append({
                "segment_id": str(row.get("segment_id", "")),
                "source": str(row.get("source", "")),
                "text": _highlight(str(row.get("text", "")), words),
                "context": _shorten("" if _is_missing(row.get("context"))
                                    else str(row["context"])),
                "words": list(dict.fromkeys(words)),
                "codes": [{"id": c, "label": _code_label(settings, c, lang),
                           "color": settings.codebook.code(c).color,
                           "text_color": _text_color(settings.codebook.code(c).color),
                           "p": _num(float(row.get(f"p_{c}", 0.0) or 0.0), lang=lang,
                                     whole=False),
                           "words": ev.get(c, [])} for c in assigned],
            })
        families.append({"id": fam.id, "label": getattr(fam.label, lang), "items": shown})
    return families


def _evidence_candidates(segments: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The rows :func:`_evidence_for` can show (per person and family the
    ``EVIDENCE_PER_FAMILY`` best by its own order), picked with vectorised pandas so that a
    national cohort does not turn half a million segments into dicts."""
    if not len(segments) or "person_id" not in segments.columns:
        return segments
    keep = np.zeros(len(segments), dtype=bool)
    for fam in settings.codebook.families:
        if fam.id not in segments.columns:
            continue
        assigned = segments[fam.id].fillna("").astype(str)
        score = np.full(len(segments), -np.inf)
        for code in fam.codes:
            has = assigned.str.contains(rf"(?:^|;){re.escape(code.id)}(?:;|$)").to_numpy()
            p = (pd.to_numeric(segments[f"p_{code.id}"], errors="coerce").fillna(0.0).to_numpy()
                 if f"p_{code.id}" in segments.columns else np.zeros(len(segments)))
            score = np.where(has, np.maximum(score, p), score)
        rows = pd.DataFrame({
            "person_id": segments["person_id"].to_numpy(), "neg": -score,
            "doc": segments["doc"].astype(str).to_numpy() if "doc" in segments.columns else "",
            "start": (pd.to_numeric(segments["start"], errors="coerce").fillna(0).astype(int)
                      .to_numpy() if "start" in segments.columns else 0),
            "sid": segments["segment_id"].astype(str).to_numpy(),
            "at": np.arange(len(segments))})[np.isfinite(score)]
        best = (rows.sort_values(["person_id", "neg", "doc", "start", "sid"], kind="stable")
                .groupby("person_id", sort=False).head(EVIDENCE_PER_FAMILY))
        keep[best["at"].to_numpy()] = True
    return segments[keep]


def _quality_rows(quality: pd.DataFrame, lang: str) -> list[dict]:
    rows = []
    order = {issue: i for i, issue in enumerate(network.ISSUES)}
    ranked = quality.assign(_order=quality["issue"].map(lambda x: order.get(x, len(order))))
    for r in ranked.sort_values(["school_id", "_order"], kind="stable").to_dict("records"):
        rows.append({"school_id": r["school_id"], "issue": r["issue"],
                     "label": ISSUE_LABELS[lang].get(r["issue"], r["issue"]),
                     "count": int(r["count"]), "lines": network.first_lines(r["lines"])})
    return rows


def _model_section(result, settings: Settings, lang: str, cohort_name: str) -> dict:
    """The model card's evaluation, and what it was measured on: the training cohort."""
    card = result.model_card or {}
    rules = result.coder == "rules" or card.get("name") == "rules"
    evaluation = card.get("evaluation") or {}
    scores = evaluation.get("scores") or []
    families = []
    for fam in settings.codebook.families:
        rows = [r for r in scores if r.get("family") == fam.id]
        if not rows:
            continue
        order = {c.id: i for i, c in enumerate(fam.codes)}
        tail = {"macro": 0, "micro": 1}
        rows = sorted(rows, key=lambda r: order.get(r.get("code"),
                                                    len(order) + tail.get(r.get("code"), 2)))
        out = []
        for r in rows:
            code = r.get("code")
            summary = code in ("macro", "micro")
            out.append({"code": code, "summary": summary,
                        "label": UI[lang][code] if summary else _code_label(settings, code, lang),
                        "color": None if summary else settings.codebook.code(code).color
                        if code in order else None,
                        "n_positive": _num(r.get("n_positive"), lang=lang),
                        **{k: _num(r.get(k), 2, lang=lang) for k in ("precision", "recall",
                                                                      "f1", "kappa")},
                        **{f"{k}_interval": f"{_num(r[f'{k}_low'], 2, lang=lang)}–"
                                            f"{_num(r[f'{k}_high'], 2, lang=lang)}"
                           if not _is_missing(r.get(f"{k}_low")) else ""
                           for k in ("f1", "kappa")}})
        families.append({"id": fam.id, "label": getattr(fam.label, lang), "rows": out})
    training = card.get("training_data") or {}
    intervals = evaluation.get("intervals") or {}
    if intervals:
        intervals = {"level": _numbers_in(f"{float(intervals.get('level', 0)) * 100:g}%", lang),
                     "resamples": _num(intervals.get("resamples"), lang=lang)}
    return {
        "rules": rules,
        "unknown": not card and result.codes_file is not None,
        "name": card.get("name", result.coder),
        "backend": card.get("backend", ""),
        "method": evaluation.get("method", ""),
        "loso": evaluation.get("method", "").startswith("leave-one-school-out"),
        "families": families,
        "intervals": intervals if any(r["f1_interval"] for f in families for r in f["rows"])
        else None,
        "training_cohort": training.get("cohort", ""),
        "same_cohort": training.get("cohort") == cohort_name,
        "training_segments": training.get("segments", ""),
        "training_sha256": training.get("sha256", ""),
        "codebook_version": (card.get("codebook") or {}).get("version", ""),
        "created": card.get("created", ""),
    }


def _heatmaps(key_figs: list[dict], person_codes: pd.DataFrame, settings: Settings,
              lang: str) -> list[dict]:
    overall = person_codes[person_codes["source"] == "all"] if len(person_codes) else person_codes
    by_person = {str(r["person_id"]): r for r in overall.to_dict("records")}
    out = []
    for fam in settings.codebook.families:
        codes = [{"id": c.id, "label": getattr(c.label, lang), "color": c.color}
                 for c in fam.codes]
        values = [[int(by_person.get(k["person_id"], {}).get(f"n_{c['id']}", 0) or 0)
                   for c in codes] for k in key_figs]
        top = max([v for row in values for v in row] + [1])
        rows = []
        for k, vals in zip(key_figs, values, strict=True):
            cells = []
            for c, v in zip(codes, vals, strict=True):
                bg = _mix(c["color"], 0.12 + 0.88 * v / top) if v else "#ffffff"
                cells.append({"value": v, "bg": bg, "fg": _text_color(bg)})
            n_seg = by_person.get(k["person_id"], {}).get("n_segments", 0) or 0
            rows.append({"kf": k, "cells": cells, "n_segments": int(n_seg)})
        out.append({"id": fam.id, "label": getattr(fam.label, lang), "codes": codes,
                     "rows": rows})
    return out


def _profile_info(settings: Settings, pid: str, lang: str) -> dict:
    color = settings.profiles.color(pid)
    return {"id": pid, "label": settings.profiles.label(pid, lang), "color": color,
            "text_color": _text_color(color)}


def _row(table: pd.DataFrame | None, pid: str) -> pd.Series | None:
    return table.loc[pid] if table is not None and pid in table.index else None


def _get(row: pd.Series | None, col: str) -> Any:
    """A cell, or None when the row or the column is missing or the value is NA."""
    if row is None or col not in row.index or _is_missing(row[col]):
        return None
    return row[col]


def _key_figure(r: dict, st: pd.Series | None, pr: pd.Series | None, ft: pd.Series | None,
                segments: list[dict], n_transcripts: int, settings: Settings, lang: str,
                reveal_names: bool) -> dict:
    """One key figure: table row, profile card with reasons, stability and evidence."""
    pid = str(r["person_id"])
    prof = str(_get(pr, "profile") or "undetermined")
    stable = _get(pr, "stable")
    unstable = parse_unstable(_get(pr, "unstable_when") or "")
    for u in unstable:
        u["rule"] = in_language(u["rule"], lang)
        if u["profile"]:
            u["profile_label"] = settings.profiles.label(u["profile"], lang)
            u["to_label"] = settings.profiles.label(u["to"], lang)
    reasons_text = str(_get(pr, "reasons") or "")
    blocks = parse_reasons(reasons_text)
    for b in blocks or []:
        b["profile_info"] = _profile_info(settings, b["profile"], lang)
    _criteria_for_card(blocks or [], settings, lang)
    nearest = str(_get(pr, "nearest_profile") or "")
    out_t, in_t, rec_t = (_get(ft, c) for c in ("out_ties", "in_ties", "reciprocal_ties"))
    contacts = (None if any(x is None for x in (out_t, in_t, rec_t))
                else float(out_t) + float(in_t) - float(rec_t))
    plg_id = str(_get(st, "plg_id") or "")
    kinds = [t.strip() for t in str(_get(st, "plg_type") or "").split(";") if t.strip()]
    return {
        "school_id": str(r["school_id"]),
        "rank": int(r["rank"]),
        "person_id": pid,
        "name": str(_get(st, "name") or "") if reveal_names else "",
        "role": str(_get(st, "role") or ""),
        "years_in_education": _num(_get(st, "years_in_education"), 1, lang=lang),
        "years_at_school": _num(_get(st, "years_at_school"), 1, lang=lang),
        "plg": (f"{plg_id} ({';'.join(PLG_TYPE_LABELS[lang].get(t, t) for t in kinds)})"
                if plg_id and kinds else plg_id or UI[lang]["dash"]),
        "responded": bool(r.get("responded", True)),
        "selected_reason": in_language(str(r.get("reason", "")), lang),
        "contacts": _num(contacts, lang=lang),
        "out_ties": _num(out_t, lang=lang),
        "in_ties": _num(in_t, lang=lang),
        "reciprocal_ties": _num(rec_t, lang=lang),
        "mean_strength": _num(_get(ft, "mean_strength"), lang=lang, whole=False),
        "profile": _profile_info(settings, prof, lang),
        "nearest": (_profile_info(settings, nearest, lang)
                    if nearest and prof == "undetermined" else None),
        "criteria_met": str(_get(pr, "criteria_met") or ""),
        "stable": True if stable is None else bool(stable),
        "unstable": unstable,
        "reasons_text": reasons_text,
        "reasons": blocks,
        "has_transcripts": n_transcripts > 0,
        "evidence": _evidence_for(segments, settings, lang),
    }


def report_context(result, cohort: Cohort, settings: Settings, figures: dict[str, str], *,
                   reveal_names: bool = False, reproduce: dict | None = None) -> dict:
    """Everything the template shows, as plain lists and dicts (deterministic order)."""
    lang = settings.pipeline.language
    ui = UI[lang]
    net = result.network
    cfg = settings.pipeline.network
    staff = cohort.staff.drop_duplicates("person_id").set_index("person_id")
    profiles = result.profiles.set_index("person_id") if len(result.profiles) else None
    features = result.features.set_index("person_id") if len(result.features) else None
    segments = result.segments
    by_person: dict[str, list[dict]] = {}
    if len(segments) and "person_id" in segments.columns:
        for row in _evidence_candidates(segments, settings).to_dict("records"):
            by_person.setdefault(row["person_id"], []).append(row)
    transcripts_of = (cohort.transcripts.groupby("person_id")["path"].count().to_dict()
                      if len(cohort.transcripts) else {})

    schools_table = net.schools.sort_values("school_id", kind="stable").to_dict("records")
    quality = _quality_rows(net.quality, lang)
    dropped: dict[str, int] = {}
    for q in quality:
        dropped[q["school_id"]] = dropped.get(q["school_id"], 0) + q["count"]

    # an HTML id has no spaces: schools are named in anchors as in file names
    stems = school_file_stems([str(s["school_id"]) for s in schools_table])
    key_figs = []
    for r in net.key_figures.sort_values(["school_id", "rank"], kind="stable").to_dict("records"):
        pid = str(r["person_id"])
        key_figs.append({**_key_figure(r, _row(staff, pid), _row(profiles, pid),
                                       _row(features, pid), by_person.get(pid, []),
                                       int(transcripts_of.get(pid, 0)), settings, lang,
                                       reveal_names),
                         "anchor": f"kf-{stems[str(r['school_id'])]}-{int(r['rank'])}"})

    quality_of: dict[str, list[dict]] = {}
    for q in quality:
        quality_of.setdefault(q["school_id"], []).append(q)
    key_figs_of: dict[str, list[dict]] = {}
    for k in key_figs:
        key_figs_of.setdefault(k["school_id"], []).append(k)
    schools = []
    for s in schools_table:
        sid = str(s["school_id"])
        schools.append({
            "id": sid,
            "anchor": f"school-{stems[sid]}",
            "figure": figures.get(sid, ""),
            "metrics": s,
            "quality": quality_of.get(sid, []),
            "key_figures": key_figs_of.get(sid, []),
        })

    counts: dict[str, int] = {}
    for k in key_figs:
        counts[k["profile"]["id"]] = counts.get(k["profile"]["id"], 0) + 1
    all_profiles = [p.id for p in settings.profiles.profiles] + ["undetermined"]
    profile_counts = [{**_profile_info(settings, p, lang), "n": counts.get(p, 0)}
                      for p in all_profiles]

    # the dropped nominations are shown as a table; the other warnings as a list
    other_warnings = [w for w in result.warnings if not _DROPPED_NOTE.match(str(w))]
    n_noms = len(cohort.nominations)
    n_dropped = sum(q["count"] for q in quality)
    return {
        "lang": lang,
        "t": ui,
        "cohort": {"name": cohort.meta.name, "survey_question": cohort.meta.survey_question},
        "totals": {
            "schools": len(schools),
            "staff": len(cohort.staff),
            "respondents": int(cohort.staff["responded"].sum()) if "responded"
            in cohort.staff.columns else len(cohort.staff),
            "nominations": n_noms,
            "nominations_used": n_noms - n_dropped,
            "nominations_dropped": n_dropped,
            "transcripts": len(cohort.transcripts),
            "segments": len(segments),
            "key_figures": len(key_figs),
        },
        "selection": ui["selection_text"].format(
            k=_n_of(cfg.key_figures.k, ui["one_staff"], ui["staff_members"], lang),
            measure=MEASURE_LABELS[lang].get(cfg.key_figures.measure, cfg.key_figures.measure)),
        "scope_note": ui["scope_boundary"] if cfg.tie_scope == "boundary" else ui["scope_all"],
        "sensitivity_pct": f"{settings.profiles.sensitivity * 100:.0f}%",
        "profile_counts": profile_counts,
        "quality": quality,
        "dropped": dropped,
        "warnings": [_criterion_names(warning_in_language(str(w), lang), settings, lang)
                     for w in other_warnings],
        "schools": schools,
        "key_figures": key_figs,
        "heatmaps": _heatmaps(key_figs, result.person_codes, settings, lang),
        "model": _model_section(result, settings, lang, cohort.meta.name),
        "coder": result.coder,
        "reveal_names": reveal_names,
        "reproduce": reproduce,
        "references": REFERENCES,
    }


def _environment(lang: str) -> Environment:
    """The template's environment; its ``num`` and ``n_of`` filters write numbers in ``lang``."""
    env = Environment(loader=PackageLoader("pipeline", "templates"),
                      autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["num"] = partial(_num, lang=lang)
    env.filters["n_of"] = partial(_n_of, lang=lang)
    return env


def render_html(result, cohort: Cohort, settings: Settings, figures: dict[str, str], *,
                reveal_names: bool = False, reproduce: dict | None = None) -> str:
    """The self-contained HTML report (a string; ``write_run`` saves it)."""
    if reproduce is None:
        reproduce = reproduce_info(result, cohort, settings, reveal_names=reveal_names)
    context = report_context(result, cohort, settings, figures, reveal_names=reveal_names,
                             reproduce=reproduce)
    return _environment(context["lang"]).get_template("report.html.j2").render(**context)
