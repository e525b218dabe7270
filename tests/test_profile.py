"""Profiles: each profile, the undetermined case, ties between candidates, sensitivity, a
criterion the data cannot decide, and the features tables ``pipeline profile`` refuses."""

import re

import pandas as pd
import pytest
from helpers import cli, measures_named, untraceable

from pipeline import io, network, report
from pipeline.config import Criterion, load_settings
from pipeline.profile import assign_profiles, derive_features, person_codes, person_features


@pytest.fixture(scope="module")
def settings():
    return load_settings()


@pytest.fixture
def features(shared_datadir):
    return pd.read_csv(shared_datadir / "profile" / "features.csv")


def profiles_of(features, settings):
    out = assign_profiles(features, settings.profiles, settings.codebook)
    return out.set_index("person_id")


def test_each_profile_is_assigned(features, settings):
    got = profiles_of(features, settings)["profile"].to_dict()
    assert got == {"a-super": "super_sharer", "a-advanced": "advanced_interactive",
                   "a-basic": "basic_interactive", "a-sender": "sender",
                   "b-none": "undetermined"}


def test_reasons_name_criteria_that_held_and_failed(features, settings):
    got = profiles_of(features, settings)
    sender = got.loc["a-sender", "reasons"]
    assert "not super_sharer" in sender and "does not hold" in sender
    assert "sender: all 3 criteria hold" in sender
    assert "mostly outgoing ties: holds, out_ties" not in sender  # phrased by value, not name
    assert "mostly outgoing ties: holds, out_share = 0.80" in sender


def test_undetermined_names_nearest_profile(features, settings):
    row = profiles_of(features, settings).loc["b-none"]
    assert row["profile"] == "undetermined"
    assert row["nearest_profile"] in {p.id for p in settings.profiles.profiles}
    assert f"nearest is {row['nearest_profile']}" in row["reasons"]


def test_no_profile_is_forced_in_a_school(features, settings):
    # school B has a single key figure who fits nothing: nothing makes it a super-sharer
    only_b = features[features["school_id"] == "B"]
    assert profiles_of(only_b, settings).loc["b-none", "profile"] == "undetermined"


def test_ties_between_candidates_share_the_rank(features, settings):
    tied = features.copy()
    # the advanced interactive now has exactly as many reciprocal ties and as strong ties
    # as the super-sharer: both hold "most reciprocal" and "strongest" (rank 1, shared)
    tied.loc[tied.person_id == "a-advanced", ["reciprocal_ties", "mean_strength",
                                              "in_ties", "out_ties"]] = [26, 4.3, 34, 30]
    got = profiles_of(tied, settings)
    assert "reciprocal_ties = 26 (rank 1 of 4" in got.loc["a-super", "reasons"]
    # the tied candidate holds both relative criteria too: they are not among its failures
    reasons = got.loc["a-advanced", "reasons"]
    assert "most reciprocal ties in the school: does not hold" not in reasons
    assert "strongest ties in the school: does not hold" not in reasons
    assert got.loc["a-super", "profile"] == "super_sharer"
    # still not a super-sharer: its coded material lacks benefits and capacity building
    assert got.loc["a-advanced", "profile"] == "advanced_interactive"


def test_first_profile_in_config_order_wins_when_several_fit(features, settings):
    both = features.copy()
    # a super-sharer also satisfies every advanced-interactive criterion: config order decides
    f = derive_features(both, settings.codebook, settings.profiles.min_segments_for_category)
    assert f.loc[f.person_id == "a-super", "reciprocity_ratio"].item() > 0.35
    assert profiles_of(both, settings).loc["a-super", "profile"] == "super_sharer"


def test_sensitivity_flags_a_profile_near_a_threshold(features, settings):
    near = features.copy()
    # capacity building 7: passes ">= 6.5" but fails when the threshold moves up 20% (7.8)
    near.loc[near.person_id == "a-super", "n_capacity_building"] = 7
    got = profiles_of(near, settings)
    assert not got.loc["a-super", "stable"]
    assert "n_capacity_building >= 7.80 -> " in got.loc["a-super", "unstable_when"]
    assert got.loc["a-sender", "stable"]


def test_reasons_can_be_traced_to_the_tables(features, settings):
    """A derived measure says what it is made of, a network measure on boundary ties is
    named as network_metrics.csv names it, a mean is shown with its decimals: a reader
    who looks a reason's number up in the tables finds it."""
    got = profiles_of(features, settings)
    sender = got.loc["a-sender", "reasons"]
    assert "out_share = 0.80, 28 of 35 ties outgoing (needs >= 0.60)" in sender
    assert "reciprocity_ratio = 0.17, 5 of 30 contacts reciprocal (needs < 0.35)" in sender
    assert ("share of knowledge_management = 0.90, 18 of 20 activities codes (needs >= "
            "0.50)") in sender
    assert "mean_strength = 3.00 (rank 4 of 4" in sender
    assert ("n_activity_categories = 1, knowledge_management used (needs >= 2.50)"
            in sender)
    assert ("n_activity_categories = 3, knowledge_management+exchange+capacity_building used"
            in got.loc["a-super", "reasons"])
    gap = profiles_of(features.assign(out_ties=float("nan")), settings)   # a table from Python
    assert "out_share = 0.00, n/a of n/a ties outgoing" in gap.loc["a-sender", "reasons"]
    assert "n_activity_categories = 0, none used" in got.loc["b-none", "reasons"]
    boundary = profiles_of(features.assign(tie_scope="boundary"), settings)
    assert ("boundary_out_share = 0.80, 28 of 35 ties outgoing"
            in boundary.loc["a-sender", "reasons"])
    assert "boundary_mean_strength = 3.00 (rank 4" in boundary.loc["a-sender", "reasons"]
    assert "n_benefits = 2 (needs" in boundary.loc["a-sender", "reasons"]   # codes: no scope


@pytest.mark.parametrize("scope", ["boundary", "all"])
def test_every_measure_the_reasons_name_is_a_column_with_its_value(shared_datadir, settings,
                                                                  scope):
    """A reader looks a reason's measure up in the tables the run writes: a network one in
    network_metrics.csv (boundary_reciprocity_ratio and boundary_out_share on boundary ties,
    which used to be in no table), the others in person_features.csv (n_activity_categories
    too), each with the value the reason gives. The tiny network, every key figure with a
    few coded segments."""
    cohort = io.load_cohort(shared_datadir / "network" / "tiny")
    config = settings.pipeline.network.model_copy(update={"tie_scope": scope})
    metrics = network.person_metrics(cohort.staff, cohort.nominations, config)
    key = network.key_figures(metrics, config)
    coded = pd.DataFrame({"person_id": key["person_id"].repeat(4).to_numpy(),
                          "school_id": key["school_id"].repeat(4).to_numpy(),
                          "source": "interview", "knowledge_types": "focus;approach",
                          "activities": ["exchange", "exchange", "exchange",
                                         "knowledge_management"] * len(key),
                          "activity_subtypes": ""})
    codes = person_codes(coded, settings.codebook, 1)
    features = person_features(key, metrics, codes, settings.codebook, scope,
                               settings.profiles.min_segments_for_category)
    profiles = assign_profiles(features, settings.profiles, settings.codebook)
    assert untraceable(profiles, {"network_metrics.csv": metrics,
                                  "person_features.csv": features}) == []
    named = {name for reasons in profiles["reasons"] for name, _ in measures_named(reasons)}
    prefix = "boundary_" if scope == "boundary" else ""
    assert {f"{prefix}reciprocity_ratio", f"{prefix}out_share", "n_activity_categories",
            "share of exchange"} <= named, named
    assert (features["n_activity_categories"] == 1).all()   # exchange: 3 segments of 4


def test_unstable_when_names_the_threshold_by_the_column_the_reasons_name(features,
                                                                         settings):
    """On boundary ties the reasons say ``boundary_out_share = ...``; what moved a profile
    named the same threshold ``out_share``, which network_metrics.csv also has, on all ties."""
    near = features.copy()   # the sender's out_share 0.65: under 0.72, the threshold moved up
    near.loc[near.person_id == "a-sender", ["out_ties", "in_ties"]] = [13, 7]
    on_all = profiles_of(near, settings).loc["a-sender", "unstable_when"]
    assert "sender.out_share >= 0.72 -> " in on_all, on_all
    on_boundary = profiles_of(near.assign(tie_scope="boundary"), settings)
    assert "boundary_out_share = 0.65" in on_boundary.loc["a-sender", "reasons"]
    assert (on_boundary.loc["a-sender", "unstable_when"]
            == re.sub(r"\.(out_share|reciprocity_ratio) ", r".boundary_\1 ", on_all))


def test_the_most_of_nothing_is_not_the_most(features, settings):
    """A school whose key figures have no reciprocal ties at all: nobody holds "most
    reciprocal ties in the school" (it used to hold for all, at rank 1 with 0)."""
    none = features[features.school_id == "A"].assign(reciprocal_ties=0)
    got = profiles_of(none, settings)
    assert "super_sharer" not in set(got["profile"])
    assert ("most reciprocal ties in the school: does not hold, reciprocal_ties = 0 (none, so "
            "not the most in the school)") in got.loc["a-super", "reasons"]


def test_a_definition_is_not_moved_by_the_sensitivity_check(features, settings):
    """"Uses all three activity categories" is marked fixed: moving 2.5 to 2.0 would test
    "two categories", so the check leaves it; the unstable criteria say which share."""
    two = features.copy()   # two categories of the three: knowledge management is 2 < 3
    two.loc[two.person_id == "a-super", "n_knowledge_management"] = 2
    crit = next(c for c in settings.profiles.profiles[0].criteria
                if c.feature == "n_activity_categories")
    assert crit.fixed
    got = profiles_of(two, settings)
    assert got.loc["a-super", "profile"] != "super_sharer"
    assert "n_activity_categories" not in " ".join(got["unstable_when"])
    data = settings.profiles.model_dump()
    for c in data["profiles"][0]["criteria"]:
        c["fixed"] = False
    unfixed = assign_profiles(two, type(settings.profiles).model_validate(data),
                              settings.codebook).set_index("person_id")
    assert ("super_sharer.n_activity_categories >= 2.00 -> super_sharer"
            in unfixed.loc["a-super", "unstable_when"])
    near = features.copy()
    near.loc[near.person_id == "a-basic", ["n_exchange", "n_knowledge_management"]] = [11, 9]
    unstable = profiles_of(near, settings).loc["a-basic", "unstable_when"]
    assert "basic_interactive.share of exchange >= 0.60 -> " in unstable, unstable


def test_missing_contract_column_is_a_clear_error(features, settings):
    with pytest.raises(ValueError, match="n_benefits"):
        assign_profiles(features.drop(columns="n_benefits"), settings.profiles,
                        settings.codebook)


def test_criterion_why_as_one_text_or_per_language(features, settings):
    """``why`` may be one text (both languages) or {nl, en}; the reasons use the English."""
    plain = Criterion(feature="out_share", op=">=", value=0.6, why="mostly outgoing ties")
    assert plain.why_in("nl") == plain.why_in("en") == "mostly outgoing ties"
    sender = next(p for p in settings.profiles.profiles if p.id == "sender")
    assert sender.criteria[0].why_in("nl") == "vooral uitgaande relaties"
    profiles = settings.profiles.model_copy(update={"profiles": [
        p.model_copy(update={"criteria": [c.model_copy(update={"why": c.why_in("en")})
                                          for c in p.criteria]})
        for p in settings.profiles.profiles]})
    assert all(isinstance(c.why, str) for p in profiles.profiles for c in p.criteria)
    same = assign_profiles(features, profiles, settings.codebook)
    pd.testing.assert_frame_equal(same, assign_profiles(features, settings.profiles,
                                                        settings.codebook))


NO_STRENGTH_NOTE = ("profiles: no key figure has a mean_strength (no tie strengths in the "
                    "survey?), so 'strongest ties in the school' (super_sharer) is left out of "
                    "that profile")


def with_profiles(settings, *first, change=None):
    """``settings.profiles`` with the profiles ``first`` put before the configured ones and
    ``change(criterion)`` applied to every criterion."""
    profiles = [p.model_copy(update={"criteria": [change(c) if change else c
                                                  for c in p.criteria]})
                for p in settings.profiles.profiles]
    return settings.profiles.model_copy(update={"profiles": [*first, *profiles]})


def test_without_tie_strengths_a_super_sharer_is_decided_on_its_other_criteria(
        settings, shared_datadir, tmp_path, capsys, monkeypatch):
    # a survey without tie strengths: mean_strength empty for everybody (R writes NA)
    table = pd.read_csv(shared_datadir / "profile" / "features.csv", dtype=str)
    # near a super-sharer: 4 of its 6 criteria left hold (4 of 7 if "strongest" counted)
    near = "a-near,A,10,10,2,,5,1,5,7,0,0,0,7,5".split(",")
    table = pd.concat([table, pd.DataFrame([near], columns=table.columns)], ignore_index=True)
    table["mean_strength"] = ["", "NA", "nan", "", "NA", ""]
    table.to_csv(tmp_path / "features.csv", index=False)
    code, _, err = cli(["profile", tmp_path / "features.csv", "--out", tmp_path / "p.csv"],
                       capsys, monkeypatch)
    assert code == 0, err
    assert f"warning: {NO_STRENGTH_NOTE}" in err.splitlines()
    got = pd.read_csv(tmp_path / "p.csv").set_index("person_id")
    row = got.loc["a-super"]
    assert row["profile"] == "super_sharer" and row["criteria_met"] == "6/6"
    assert row["stable"]
    assert row["reasons"].startswith("super_sharer: all 6 criteria hold, 1 not evaluated (")
    assert ("strongest ties in the school: not evaluated (no mean_strength in the data)"
            in row["reasons"])
    assert ("strongest ties in the school: not evaluated (no mean_strength in the data)"
            in got.loc["a-advanced", "reasons"])   # named among super_sharer's, not failed
    assert "does not hold, mean_strength" not in " ".join(got["reasons"])
    # only the criteria evaluated count: 4/6 beats advanced_interactive's 3/5
    assert got.loc["a-near", ["profile", "nearest_profile", "criteria_met"]].tolist() == [
        "undetermined", "super_sharer", "4/6"]
    assert "nearest is super_sharer (4 of 6 criteria)" in got.loc["a-near", "reasons"]
    # what `pipeline profile` and a run warn with
    read = io.read_features(tmp_path / "features.csv", settings.codebook)
    assert assign_profiles(read, settings.profiles, settings.codebook).attrs["notes"] == [
        NO_STRENGTH_NOTE]


def test_a_school_without_tie_strengths_in_a_cohort_with_them_is_decided_without_them(
        features, settings, tmp_path, capsys, monkeypatch):
    # school C's survey asked no tie strengths; A's did: only C's key figures go without
    # "strongest ties", and the warning names C
    c = features[features.person_id.isin(["a-super", "a-advanced"])].assign(
        person_id=["c-super", "c-advanced"], school_id="C", mean_strength=float("nan"))
    table = pd.concat([features, c], ignore_index=True)
    table.to_csv(tmp_path / "features.csv", index=False)
    code, out, err = cli(["profile", tmp_path / "features.csv", "--out", tmp_path / "p.csv"],
                         capsys, monkeypatch)
    assert code == 0, err
    assert out.strip() == ("7 profiles (2 super_sharer, 2 advanced_interactive, "
                           "1 basic_interactive, 1 sender, 1 undetermined) -> "
                           f"{tmp_path / 'p.csv'}")
    note = ("profiles: no key figure of school C has a mean_strength (no tie strengths in the "
            "survey?), so 'strongest ties in the school' (super_sharer) is left out of that "
            "profile there")
    assert f"warning: {note}" in err.splitlines()
    got = pd.read_csv(tmp_path / "p.csv").set_index("person_id")
    assert got.loc["c-super", ["profile", "criteria_met"]].tolist() == ["super_sharer", "6/6"]
    assert got.loc["c-super", "reasons"].startswith(
        "super_sharer: all 6 criteria hold, 1 not evaluated (")
    # school A is decided as before, on all seven
    alone = profiles_of(features, settings)
    assert got.loc["a-super", ["profile", "criteria_met"]].tolist() == ["super_sharer", "7/7"]
    for person in features.person_id:
        assert got.loc[person, "reasons"] == alone.loc[person, "reasons"]
    assert "not evaluated" not in got.loc["a-super", "reasons"]
    read = io.read_features(tmp_path / "features.csv", settings.codebook)
    assert assign_profiles(read, settings.profiles, settings.codebook).attrs["notes"] == [note]


def test_a_key_figure_without_transcripts_gets_no_profile(features, settings):
    """What someone without transcripts shares is unknown, not nothing: the criteria on codes
    are not evaluated (instead of failing on counts of 0), no profile is given, and the
    nearest follows from the network criteria alone."""
    silent = features.assign(n_segments=20)
    silent.loc[silent.person_id == "a-super", "n_segments"] = 0
    out = assign_profiles(silent, settings.profiles, settings.codebook).set_index("person_id")
    row = out.loc["a-super"]
    assert row[["profile", "nearest_profile", "criteria_met"]].tolist() == [
        "undetermined", "super_sharer", "2/2"]        # most reciprocal ties, strongest ties
    assert "shares the focus: not evaluated (no coded segments)" in row["reasons"]
    assert row["reasons"].endswith("undetermined: no coded segments (no transcripts, or none "
                                   "with a respondent turn), so what this key figure shares "
                                   "is unknown; nearest is super_sharer (2 of 2 criteria)")
    assert out.attrs["notes"] == []
    others = assign_profiles(features, settings.profiles, settings.codebook)
    assert (out.drop(index="a-super")["profile"].tolist()
            == others.set_index("person_id").drop(index="a-super")["profile"].tolist())
    # zero codes with transcripts are evidence of sharing nothing: those criteria fail
    coded = assign_profiles(silent.assign(n_segments=1), settings.profiles, settings.codebook)
    assert "not evaluated" not in " ".join(coded["reasons"])

def test_one_missing_strength_among_others_fails_that_criterion(features, settings):
    one = features.copy()
    one.loc[one.person_id == "a-super", "mean_strength"] = float("nan")
    out = assign_profiles(one, settings.profiles, settings.codebook)
    assert out.attrs["notes"] == []
    row = out.set_index("person_id").loc["a-super"]
    assert row["profile"] != "super_sharer"
    assert ("strongest ties in the school: does not hold, mean_strength = n/a (rank -"
            in row["reasons"])


def test_a_criterion_left_out_has_no_threshold_to_move(features, settings):
    # an absolute criterion on mean_strength: with no strengths it is left out, so moving its
    # threshold in the sensitivity check cannot make anybody unstable
    def absolute(c):
        return (Criterion(feature="mean_strength", op=">=", value=3.5, why=c.why)
                if c.feature == "mean_strength" else c)

    cfg = with_profiles(settings, change=absolute)
    with_strength = assign_profiles(features, cfg, settings.codebook).set_index("person_id")
    assert with_strength.loc["a-super", "profile"] == "super_sharer"
    none = assign_profiles(features.assign(mean_strength=float("nan")), cfg, settings.codebook)
    none = none.set_index("person_id")
    assert none.loc["a-super", "profile"] == "super_sharer"
    assert none["unstable_when"].eq(with_strength["unstable_when"]).all()
    assert "mean_strength" not in " ".join(none["unstable_when"])


def test_a_profile_with_every_criterion_left_out_is_never_chosen(features, settings):
    only_strength = settings.profiles.profiles[0].model_copy(update={
        "id": "strong", "criteria": [Criterion(feature="mean_strength", rank_in_school=1,
                                               why="strongest ties")]})
    cfg = with_profiles(settings, only_strength)
    out = assign_profiles(features.assign(mean_strength=float("nan")), cfg, settings.codebook)
    assert "strong" not in set(out["profile"]) | set(out["nearest_profile"])
    assert out.attrs["notes"] == [
        "profiles: no key figure has a mean_strength (no tie strengths in the survey?), so "
        "'strongest ties' (strong) is left out of that profile", NO_STRENGTH_NOTE]


def test_a_school_whose_key_figures_have_no_ties_is_not_blamed_on_the_survey(features,
                                                                             settings):
    """No mean strength because there are no ties at all, not because the survey asked no
    strengths: the warning says so (it used to ask "no tie strengths in the survey?")."""
    alone = features.copy()
    alone.loc[alone.school_id == "B", ["out_ties", "in_ties", "reciprocal_ties",
                                       "mean_strength"]] = [0, 0, 0, float("nan")]
    notes = assign_profiles(alone, settings.profiles, settings.codebook).attrs["notes"]
    assert notes and all("no key figure of school B has a mean_strength (no ties), so" in n
                         for n in notes), notes
    dutch = [report.warning_in_language(n, "nl") for n in notes]
    assert all("heeft een mean_strength (geen relaties), dus" in n for n in dutch), dutch


HEADER = ("person_id,school_id,out_ties,in_ties,reciprocal_ties,mean_strength,n_focus,"
          "n_outcomes,n_approach,n_benefits,n_organisational,n_knowledge_management,n_exchange,"
          "n_capacity_building,n_activity_kinds")
GOOD = "007,s1,10,12,8,4.5,5,6,7,8,1,3,5,7,5"


@pytest.mark.parametrize(("rows", "where"), [
    ([GOOD, "008,s1,5,2,1,3,3,1,4,0,0,6,1,0,1", GOOD.replace("10,12", "1,1", 1)],
     ":4: field 'person_id': duplicate person_id '007' (first on line 2)"),
    ([GOOD.replace("007", "", 1)], ":2: field 'person_id': empty value"),
    ([GOOD, GOOD.replace("007,s1", "008,", 1)], ":3: field 'school_id': empty value"),
    ([GOOD.replace(",5,6,7,", ",inf,6,7,", 1)], ":2: field 'n_focus': not a finite number: 'inf'"),
    ([GOOD.replace("4.5", "-inf", 1)], ":2: field 'mean_strength': not a finite number: '-inf'"),
    ([GOOD, GOOD.replace("007", "008").replace(",5,6,7,", ",2.7,6,7,", 1)],
     ":3: field 'n_focus': a count must be a whole number, got '2.7'"),
    ([GOOD.replace("10,12,8", "10,12.5,8", 1)],
     ":2: field 'in_ties': a count must be a whole number, got '12.5'"),
    ([GOOD[:-1] + "99"],
     ":2: field 'n_activity_kinds': 99 is more than the codebook's 9 activity sub-types"),
    ([GOOD.replace(",5,6,7,", ",NA,6,7,", 1)], ":2: field 'n_focus': missing value 'NA'"),
    ([GOOD.replace("10,12", ",12", 1)], ":2: field 'out_ties': empty value"),
])
def test_profile_refuses_a_broken_features_table(rows, where, tmp_path, capsys, monkeypatch):
    table = tmp_path / "features.csv"
    table.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    code, _, err = cli(["profile", table, "--out", tmp_path / "p.csv"], capsys, monkeypatch)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"{table}{where}" in err, err
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize(("header", "rows", "where"), [
    (HEADER, [], ": no rows below the header: no key figure to profile"),
    (HEADER + ",n_segments", [GOOD + ",20", GOOD.replace("007", "008") + ",0"],
     ":3: field 'n_focus': 5 segments coded, but n_segments is 0 (a code counts a segment "
     "once)"),
    (HEADER + ",n_segments", [GOOD + ",6"],
     ":2: field 'n_approach': 7 segments coded, but n_segments is 6"),
    (HEADER + ",n_segments", [GOOD + ",many"], ":2: field 'n_segments': not a number: 'many'"),
])
def test_profile_refuses_an_empty_or_contradictory_table(header, rows, where, tmp_path, capsys,
                                                         monkeypatch):
    """A table of only its header used to give an empty profiles.csv without a word (and
    replace a good one); a key figure with more segments of one code than segments in all,
    or codes but n_segments 0, was profiled as if nothing was wrong."""
    table, out = tmp_path / "features.csv", tmp_path / "p.csv"
    out.write_text("a good earlier result\n", encoding="utf-8")
    table.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    code, _, err = cli(["profile", table, "--out", out], capsys, monkeypatch)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"{table}{where}" in err, err
    assert out.read_text(encoding="utf-8") == "a good earlier result\n"


def test_profile_reads_whole_counts_and_r_missing_strength(tmp_path, capsys, monkeypatch):
    table = tmp_path / "features.csv"
    rows = [GOOD.replace(",5,6,7,", ",5.0,6,7,", 1),
            "008,s1,5,2,1,NA,3,1,4,0,0,6,1,0,1", "009,s1,5,2,1,nan,3,1,4,0,0,6,1,0,1"]
    table.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    code, _, err = cli(["profile", table, "--out", tmp_path / "p.csv"], capsys, monkeypatch)
    assert code == 0, err
    got = pd.read_csv(tmp_path / "p.csv", dtype={"person_id": str}).set_index("person_id")
    assert got.loc["007", "profile"] == "super_sharer"   # the others' strengths are missing
    assert "mean_strength = n/a" in got.loc["008", "reasons"]


def test_key_figures_without_coded_segments_get_no_profile_from_the_network_alone(features,
                                                                                    settings):
    """No coded segment is evidence (nothing shared), unlike a survey without tie strengths:
    the criteria on the codes fail, none is left out (which would make basic-interactives and
    senders of the network alone)."""
    counts = [c for c in features.columns if c.startswith("n_")]
    out = assign_profiles(features.assign(**{c: 0 for c in counts}), settings.profiles,
                          settings.codebook)
    assert set(out["profile"]) == {"undetermined"}
    # a contract table has no n_segments: the warning says how to mark no transcripts
    assert out.attrs["notes"] == [
        "profiles: a-advanced, a-basic, a-sender, a-super, b-none have no segment of any code, "
        "so the criteria on codes fail for them, as for someone who shared nothing; if they "
        "have no coded transcripts, give the table an n_segments column with 0 for them (what "
        "they share is then unknown: no profile)"]
    marked = assign_profiles(features.assign(**{c: 0 for c in counts}, n_segments=0),
                             settings.profiles, settings.codebook)
    assert marked.attrs["notes"] == [] and set(marked["profile"]) == {"undetermined"}
