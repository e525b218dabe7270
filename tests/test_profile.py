"""Profiles: each profile, the undetermined case, ties between candidates, sensitivity."""

import pandas as pd
import pytest

from pipeline.config import load_settings
from pipeline.profile import assign_profiles, derive_features


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


def test_missing_contract_column_is_a_clear_error(features, settings):
    with pytest.raises(ValueError, match="n_benefits"):
        assign_profiles(features.drop(columns="n_benefits"), settings.profiles,
                        settings.codebook)


def test_criterion_why_as_one_text_or_per_language(features, settings):
    """``why`` may be one text (both languages) or {nl, en}; the reasons use the English."""
    from pipeline.config import Criterion

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
