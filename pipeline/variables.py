"""The data dictionary of an output folder: ``variables.csv``, one row per column of its tables.

Researchers read the tables in R or SPSS, away from this code; the dictionary tells them each
column's type, its unit, range or allowed values, and what it means, so nobody has to guess
what ``boundary_contacts`` or ``criteria_met`` counts. The descriptions restate the stage
modules' docstrings (``network``, ``segment``, ``coding.assign``, ``profile``); the columns named
after the codebook's codes are described from the codebook itself, so a team's own codebook
gets its own dictionary. A column without a description is a programming error
(:func:`variable_table` raises), so that no new column ships undescribed.

Table (one row per file and column, in the tables' order):

``file``         the CSV file, e.g. ``network_metrics.csv``
``column``       the column's name in its header row
``type``         integer | decimal | text | boolean (written ``True``/``False``)
``values``       unit, range or allowed values; empty where any text goes
``description``  one sentence: what the value counts or says, and what empty means
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import get_args

import pandas as pd

from pipeline.config import Codebook, KeyFigureConfig, ProfilesConfig
from pipeline.network import BROKERAGE_ROLES, ISSUES
from pipeline.profile import FEATURE_COLUMNS

__all__ = ["VARIABLE_COLUMNS", "TYPES", "variable_table", "descriptions"]

VARIABLE_COLUMNS = ["file", "column", "type", "values", "description"]
TYPES = ("integer", "decimal", "text", "boolean")

Variable = tuple[str, str, str]   # type, values, description
COUNT, SHARE, BOOL = ">= 0", "0-1", "True/False"
STRENGTH = "tie_strength scale of cohort.yaml"

PERSON: Variable = ("text", "", "The staff member's person_id, as in staff.csv.")
SCHOOL: Variable = ("text", "", "The school's school_id, as in staff.csv.")
INTERVIEWED: Variable = ("text", "", "The person interviewed or observed (person_id in staff.csv).")

#: degree measures on a scope of ties (all; boundary-spanning; a features table's tie_scope)
DEGREE: dict[str, Variable] = {
    "out_ties": ("integer", COUNT, "Colleagues this person named in the survey ({ties}); 0 "
                 "for a non-respondent unless network.symmetrize_nonrespondents imputes them."),
    "in_ties": ("integer", COUNT, "Colleagues who named this person in the survey ({ties})."),
    "reciprocal_ties": ("integer", COUNT, "Colleagues tied to this person both ways ({ties})."),
    "contacts": ("integer", COUNT, "Distinct colleagues tied to this person either way "
                 "({ties}): outgoing + incoming - reciprocal ties, the study's key-figure "
                 "measure."),
    "mean_strength": ("decimal", STRENGTH, "Mean strength of the ties this person is in, "
                      "either direction, a reciprocal pair counting twice ({ties}); empty when "
                      "none of them has a strength."),
}
#: the shares of :func:`pipeline.network.tie_shares`, named by their columns ({p}: the prefix)
SHARES: dict[str, Variable] = {
    "reciprocity_ratio": ("decimal", SHARE, "{p}reciprocal_ties / {p}contacts ({ties}); 0 "
                          "without contacts."),
    "out_share": ("decimal", SHARE, "{p}out_ties / ({p}out_ties + {p}in_ties), the part of "
                  "this person's ties that go out ({ties}); 0 without ties."),
}
ALL_TIES = "all ties"
BOUNDARY_TIES = "boundary-spanning ties only: with colleagues who share no PLG with this person"

#: Gould & Fernandez (1989) roles: the groups of a, the broker b and c in a -> b -> c
BROKERAGE = {
    "coordinator": "a, this person and c all in one group",
    "gatekeeper": "this person and c in one group and a in another",
    "representative": "a in this person's group and c in another",
    "consultant": "a and c in one group and this person in another",
    "liaison": "a, this person and c in three different groups",
}


def _degrees(ties: str, prefix: str = "", measures: dict[str, Variable] = DEGREE
             ) -> dict[str, Variable]:
    """``measures`` on a scope of ``ties``, as the columns ``prefix`` + measure."""
    return {prefix + col: (kind, values, text.format(ties=ties, p=prefix))
            for col, (kind, values, text) in measures.items()}


def _network_metrics() -> dict[str, Variable]:
    brokerage = {f"brokerage_{role}": (
        "integer", COUNT, f"Gould & Fernandez (1989) brokerage: open two-paths a -> this "
        f"person -> c (a != c, no tie a -> c) with {BROKERAGE[role]}, groups from the "
        "staff.csv column network.brokerage_attribute names (role); 0 for all when it is empty."
    ) for role in BROKERAGE_ROLES if role in BROKERAGE}
    degrees = _degrees(ALL_TIES)
    shares = _degrees(ALL_TIES, measures=SHARES)
    return {
        "person_id": PERSON, "school_id": SCHOOL,
        "responded": ("boolean", BOOL, "Whether the person answered the network survey "
                      "(staff.csv's responded)."),
        **{col: degrees[col] for col in ("out_ties", "in_ties", "reciprocal_ties", "contacts")},
        "reciprocity_ratio": shares["reciprocity_ratio"],
        "out_strength": ("decimal", STRENGTH, "Sum of the known strengths of this person's "
                         "outgoing ties; empty when the cohort's survey has no strengths."),
        "in_strength": ("decimal", STRENGTH, "Sum of the known strengths of this person's "
                        "incoming ties; empty when the cohort's survey has no strengths."),
        "mean_strength": degrees["mean_strength"],
        "betweenness": ("decimal", SHARE, "Freeman (1977) betweenness in the school's directed, "
                        "unweighted network of all ties, normalised by (n-1)(n-2) for n staff."),
        "pagerank": ("decimal", SHARE, "PageRank (alpha 0.85, unweighted, all ties) in the "
                     "school's network; a school's values add up to 1."),
        **brokerage,
        **_degrees(BOUNDARY_TIES, "boundary_"),
        "out_share": shares["out_share"],
        **_degrees(BOUNDARY_TIES, "boundary_", SHARES),
    }


def _school_metrics() -> dict[str, Variable]:
    census = "pairs of staff (MAN dyad census: mutual + asymmetric + null = n(n-1)/2)"
    return {
        "school_id": SCHOOL,
        "staff": ("integer", COUNT, "Staff members of the school in staff.csv, the network's "
                  "nodes."),
        "respondents": ("integer", COUNT, "Staff members who answered the survey (responded)."),
        "response_rate": ("decimal", SHARE, "respondents / staff."),
        "ties": ("integer", COUNT, "Ties (nominations ego -> alter) in the school's network: "
                 "those kept by the data-quality checks, plus the imputed reverse ties with "
                 "network.symmetrize_nonrespondents."),
        "density": ("decimal", SHARE, "ties / (n(n-1)) for n staff; empty for a school of "
                    "fewer than 2 staff."),
        "reciprocity": ("decimal", SHARE, "Share of the ties that are returned (as networkx's "
                        "overall_reciprocity); empty for a school without ties."),
        "mutual_dyads": ("integer", COUNT, f"Tied both ways: {census}."),
        "asymmetric_dyads": ("integer", COUNT, f"Tied one way only: {census}."),
        "null_dyads": ("integer", COUNT, f"Not tied: {census}."),
        "degree_centralisation": ("decimal", SHARE, "Freeman (1979) centralisation of total "
                                  "degree (in + out): 1 for a star whose centre is tied both "
                                  "ways to all others, 0 when all degrees are equal; empty for "
                                  "fewer than 3 staff."),
    }


def _key_figures() -> dict[str, Variable]:
    measures = get_args(KeyFigureConfig.model_fields["measure"].annotation)
    columns = [*measures, *(f"boundary_{m}" for m in measures if m != "betweenness")]
    return {
        "school_id": SCHOOL,
        "rank": ("integer", "1 to network.key_figures.k", "Rank in the school on measure, "
                 "ties broken by mean strength, then reciprocal ties, then person_id."),
        "person_id": PERSON,
        "measure": ("text", "/".join(columns), "The network_metrics.csv column the key figures "
                    "are chosen on (network.key_figures.measure; its boundary_ version with "
                    "tie_scope boundary, betweenness always on all ties)."),
        "value": ("decimal", "> 0", "The key figure's value of measure (people with 0 are "
                  "never key figures, so a school can have fewer than k)."),
        "responded": ("boolean", BOOL, "Whether the key figure answered the survey (a "
                      "non-respondent's ties are counted from incoming ties only, unless "
                      "symmetrised)."),
        "reason": ("text", "", "Why this person is a key figure, in words: rank, measure and "
                   "value, how a tie with a neighbour was broken, a non-respondent note."),
    }


def _data_quality() -> dict[str, Variable]:
    return {
        "school_id": ("text", "", "The school_id written on the nomination rows in "
                      "nominations.csv."),
        "issue": ("text", "/".join(ISSUES), "What is wrong with the nominations; a row gets the "
                  "first issue that applies, in the order of the allowed values."),
        "count": ("integer", ">= 1", "Nomination rows of this school with this issue, left out "
                  "of the network."),
        "lines": ("text", "line numbers, comma-separated", "Where those rows are in "
                  "nominations.csv."),
    }


def _code_list(ids: list[str]) -> str:
    return f"zero or more of {', '.join(ids)}, ;-separated" if ids else ""


def _segments(codebook: Codebook) -> dict[str, Variable]:
    families = {f.id: f for f in codebook.families}
    assigned = {
        family: ("text", _code_list(codebook.family_codes(family)),
                 f"Codes of the family {families[family].label.en} assigned to the segment "
                 "(score at or above the coder's threshold), in codebook order; empty when "
                 "none.") for family in families}
    scores = {f"p_{c.id}": (
        "decimal", SHARE, f"The coder's score for {c.id} ({c.label.en}, "
        f"{families[c.family].label.en}): the model's probability, or the rule coder's "
        "1 - 0.5^(distinct pattern matches)."
    ) for c in codebook.codes} | {f"p_{s}": (
        "decimal", SHARE, f"The coder's score for the sub-type {s}: assigned (in "
        "activity_subtypes) at or above the coder's threshold for it (the model card's "
        "thresholds), and only where its activity is assigned."
    ) for s in codebook.subtype_ids}
    offset = "offset in the original transcript (text = transcript[start:end])"
    return {
        "segment_id": ("text", "<file stem>@<start>-<end>", "The segment's id, made from its "
                       "transcript and offsets, so it is the same in every run."),
        "school_id": SCHOOL,
        "person_id": INTERVIEWED,
        "source": ("text", "interview/observation", "The kind of transcript the segment is "
                   "from."),
        "doc": ("text", "", "The transcript's path relative to the cohort folder."),
        "turn": ("integer", COUNT, "0-based index of the paragraph (speaker turn or note) in "
                 "the transcript."),
        "part": ("integer", COUNT, "0-based index of the sentence group within a turn longer "
                 "than segment.max_chars; 0 when the turn is not split."),
        "speaker": ("text", "respondent/note", "respondent for a respondent's interview turn, "
                    "note for an observation note (interviewer turns are not coded)."),
        "start": ("integer", COUNT, f"Character {offset} where the segment starts."),
        "end": ("integer", COUNT, f"Character {offset} where the segment ends (exclusive)."),
        "text": ("text", "", "The segment's text without the speaker prefix, names "
                 "pseudonymised unless --reveal-names."),
        "context": ("text", "", "The interviewer turn (interviews) or note (observations) "
                    "before the segment, pseudonymised as text; empty when there is none."),
        **assigned,
        "activity_subtypes": ("text", _code_list(codebook.subtype_ids), "Activity sub-types "
                              "assigned as <activity>.<subtype>, only under an assigned "
                              "activity; empty when none."),
        **scores,
        "evidence": ("text", "code: word, word | code: word", "The words that drove each "
                     "assigned code; empty when none."),
        "coder": ("text", "", "Who coded the segment: the model's name or rules, or (pipeline "
                  "report of a corrected table) the researcher named on a row they changed."),
        "content_words": ("integer", COUNT, "The segment's content words (function words and "
                          "a person's pseudonym left out, as in the evidence); empty for a "
                          "coder without a vocabulary (rules, spaCy)."),
        "known_words": ("integer", COUNT, "Of the content words, how many the model has a "
                        "weight for (their lemma was in at least min_df of its training "
                        "segments); run warns about a school of which it knows a smaller "
                        "share than of any school of its evaluation (model card: "
                        "evaluation.known_words)."),
    }


def _code_counts(codebook: Codebook, whose: str, subtypes: bool) -> dict[str, Variable]:
    """``n_<code>`` (and with ``subtypes`` ``n_<code>.<subtype>``) of ``whose`` segments."""
    families = {f.id: f.label.en for f in codebook.families}
    counts = {f"n_{c.id}": ("integer", COUNT, f"Segments coded {c.id} ({c.label.en}, "
                            f"{families[c.family]}) {whose}.") for c in codebook.codes}
    if subtypes:
        counts |= {f"n_{c.id}.{s.id}": ("integer", COUNT, f"Segments coded with the sub-type "
                                        f"{s.id} ({s.label.en}) of the activity {c.id} {whose}.")
                   for c in codebook.codes for s in c.subtypes}
    return counts


KINDS = "Activity sub-types seen in at least coding.min_segments_per_kind segments {whose}."


def _person_codes(codebook: Codebook) -> dict[str, Variable]:
    whose = "of this person in this source"
    return {
        "person_id": INTERVIEWED,
        "school_id": SCHOOL,
        "source": ("text", "interview/observation/all", "Which of the person's segments are "
                   "counted: interviews, observations, or all together."),
        "n_segments": ("integer", COUNT, f"Segments {whose}."),
        **_code_counts(codebook, whose, subtypes=True),
        "n_activity_kinds": ("integer", COUNT, KINDS.format(whose=whose)),
    }


def _person_features(codebook: Codebook, profiles: ProfilesConfig) -> dict[str, Variable]:
    whose = "of this key figure, interviews and observations together (0 without transcripts)"
    degrees = _degrees("ties of the scope in tie_scope")
    activities = codebook.family_codes("activities")
    return {
        "person_id": PERSON, "school_id": SCHOOL,
        **{col: degrees[col] for col in FEATURE_COLUMNS[2:]},
        **_code_counts(codebook, whose, subtypes=False),
        "n_activity_kinds": ("integer", COUNT, KINDS.format(whose=whose)),
        "tie_scope": ("text", "boundary/all", "The ties the network columns count "
                      "(network.tie_scope): boundary = only with colleagues who share no PLG "
                      "with the key figure (the study's choice), all = every tie."),
        "rank": ("integer", "1 to network.key_figures.k", "The key figure's rank in the school "
                 "(key_figures.csv)."),
        "n_segments": ("integer", COUNT, f"Segments {whose}."),
        "n_activity_categories": ("integer", f"0 to {len(activities)}", f"Activities "
                                  f"({', '.join(activities)}) each coded in at least "
                                  f"{profiles.min_segments_for_category} segments of this key "
                                  "figure (profiles.yaml min_segments_for_category), as the "
                                  "profile criterion n_activity_categories counts them."),
    }


def _profiles(profiles: ProfilesConfig) -> dict[str, Variable]:
    ids = [p.id for p in profiles.profiles]
    return {
        "person_id": PERSON, "school_id": SCHOOL,
        "profile": ("text", "/".join([*ids, "undetermined"]), "The first profile of "
                    "profiles.yaml whose criteria all hold; undetermined when none does, or "
                    "when the key figure has no coded segments (what they share is unknown)."),
        "reasons": ("text", "", "In words, per profile tried, which criteria held and which "
                    "did not, with the values compared."),
        "nearest_profile": ("text", "/".join(ids), "The profile assigned or, for undetermined, "
                            "the one with the largest share of its criteria holding."),
        "criteria_met": ("text", "held/evaluated, e.g. 3/5", "Criteria of nearest_profile that "
                         "hold, out of those evaluated (one on a feature the school did not "
                         "measure, such as mean_strength without strengths, or on codes of a "
                         "key figure without transcripts, is not)."),
        "stable": ("boolean", BOOL, f"False when moving any one numeric threshold by "
                   f"{profiles.sensitivity * 100:g}% (profiles.yaml sensitivity), down or up, "
                   "changes the profile."),
        "unstable_when": ("text", "<profile>.<feature> <op> <threshold> -> <profile>, "
                          ";-separated", "The threshold moves that change the profile and "
                          "what it becomes; empty when stable."),
    }


def descriptions(codebook: Codebook, profiles: ProfilesConfig
                 ) -> dict[str, dict[str, Variable]]:
    """Per output file, per column: (type, values, description)."""
    return {
        "network_metrics.csv": _network_metrics(),
        "school_metrics.csv": _school_metrics(),
        "key_figures.csv": _key_figures(),
        "data_quality.csv": _data_quality(),
        "segments.csv": _segments(codebook),
        "person_codes.csv": _person_codes(codebook),
        "person_features.csv": _person_features(codebook, profiles),
        "profiles.csv": _profiles(profiles),
    }


def variable_table(tables: Mapping[str, pd.DataFrame], codebook: Codebook,
                   profiles: ProfilesConfig) -> pd.DataFrame:
    """The data dictionary of ``tables`` (file name -> table as written): one row per file and
    column, in their order, with :data:`VARIABLE_COLUMNS`.

    Raises ``ValueError`` naming the file and column that has no description, so a column
    added to a table without one here fails the tests, not a researcher.
    """
    known = descriptions(codebook, profiles)
    rows = []
    for file, table in tables.items():
        for column in table.columns:
            if column not in known.get(file, {}):
                raise ValueError(f"{file}: column {column!r} has no description in "
                                 "pipeline/variables.py (add one: researchers read it in "
                                 "variables.csv)")
            rows.append([file, column, *known[file][column]])
    return pd.DataFrame(rows, columns=VARIABLE_COLUMNS)
