"""Unit tests for pipeline/network.py on the tiny hand-checked cohort in tests/data/network/.

The tiny cohort (values below were worked out by hand):

school alpha (PLGs g1 = {a1, a2}, g2 = {a3, a5}; a5 did not respond; a6 is an isolate)
    a1->a2 (4)  a2->a1 (5)  a1->a3 (2)  a3->a4 (3)  a4->a1 (1)  a2->a5 (2)  a3->a5 (4)
    a4->a3 (3)
school beta (no strengths, no PLGs)
    b1->b2  b2->b3  b1->b4  b4->b3
"""

from __future__ import annotations

import doctest
import io
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from pipeline import network
from pipeline.config import KeyFigureConfig, NetworkConfig
from pipeline.io import CohortMeta, InputError, load_cohort, read_nominations


# ---------------------------------------------------------------- fixtures
@pytest.fixture
def tiny(shared_datadir):
    return load_cohort(shared_datadir / "network" / "tiny")


@pytest.fixture
def metrics(tiny):
    return network.person_metrics(tiny.staff, tiny.nominations, config())


def config(**kw) -> NetworkConfig:
    kf = {k: kw.pop(k) for k in ("k", "measure") if k in kw}
    return NetworkConfig(key_figures=KeyFigureConfig(**{"k": 3, **kf}), **kw)


def row(df: pd.DataFrame, pid: str) -> pd.Series:
    return df.set_index("person_id").loc[pid]


def digraph(cohort, school: str) -> nx.DiGraph:
    G = nx.DiGraph()
    G.add_nodes_from(cohort.staff.loc[cohort.staff.school_id == school, "person_id"])
    e = cohort.nominations[cohort.nominations.school_id == school]
    G.add_edges_from(zip(e.ego, e.alter, strict=True))
    return G


# ---------------------------------------------------------------- check_nominations
def test_check_nominations_counts_and_drops_every_issue(tiny, shared_datadir):
    noms = read_nominations(shared_datadir / "network" / "dirty_nominations.csv")
    clean, quality = network.check_nominations(tiny.staff, noms, tiny.meta, "drop")
    assert clean["line"].tolist() == [2, 10]
    assert list(quality.columns) == network.QUALITY_COLUMNS
    assert quality.values.tolist() == [
        ["alpha", "unknown_person", 2, "4, 9"],
        ["alpha", "self_nomination", 1, "3"],
        ["alpha", "cross_school", 1, "5"],
        ["alpha", "strength_off_scale", 1, "6"],
        ["alpha", "duplicate", 1, "7"],
        ["beta", "cross_school", 1, "8"],
        ["beta", "duplicate", 1, "11"],
    ]
    # line 7 repeats line 2's a1 -> a2 with strength 2 instead of 4; line 11 repeats line 10
    # as it is (neither has a strength)
    assert quality.attrs["other_strength"] == [
        {"school_id": "alpha", "line": 7, "strength": 2.0, "kept_line": 2, "kept_strength": 4.0}]
    assert network.other_strength_notes(quality) == [
        "nominations.csv: school alpha: 1 duplicate nomination dropped with another strength "
        "than the first of the same ego -> alter, which is kept (line 7: 2, kept line 2: 4): "
        "remove the row that was not meant"]


def test_check_nominations_clean_input_has_empty_quality(tiny):
    clean, quality = network.check_nominations(tiny.staff, tiny.nominations, tiny.meta)
    assert len(clean) == len(tiny.nominations) and quality.empty
    assert list(quality.columns) == network.QUALITY_COLUMNS


def test_check_nominations_lists_every_line_a_warning_the_first_ten(tiny):
    noms = pd.DataFrame({"school_id": "alpha", "ego": "a1", "alter": "a1",
                         "strength": np.nan, "line": range(41, 29, -1)})
    _, quality = network.check_nominations(tiny.staff, noms, None)
    assert quality["count"].tolist() == [12]
    assert quality["lines"].iloc[0] == ", ".join(map(str, range(30, 42)))
    assert (network.first_lines(quality["lines"].iloc[0])
            == "30, 31, 32, 33, 34, 35, 36, 37, 38, 39, ...")


def test_data_quality_csv_names_every_dropped_line(shared_datadir, tmp_path, capsys,
                                                   monkeypatch):
    from helpers import cli

    cohort = shared_datadir / "network" / "tiny"
    with open(cohort / "nominations.csv", "a", encoding="utf-8") as f:
        f.write("alpha,a1,a1,\n" * 12)                    # lines 14-25: self-nominations
    code, _, err = cli(["network", cohort, "--out", tmp_path / "out"], capsys, monkeypatch)
    assert code == 0, err
    quality = pd.read_csv(tmp_path / "out" / "data_quality.csv", dtype=str)
    assert quality["lines"].tolist() == [", ".join(map(str, range(14, 26)))]
    assert ("school alpha: 12 self_nomination dropped (lines 14, 15, 16, 17, 18, 19, 20, 21, "
            "22, 23, ...)") in " ".join(err.split())


def test_network_warns_of_duplicates_with_another_strength(shared_datadir, tmp_path, capsys,
                                                          monkeypatch):
    """A repeated nomination is dropped and the first kept: where the two differ in strength,
    the warning says so, naming both lines and strengths, as the tie's strength may not be
    the one meant. A repeat with the same strength needs no such note."""
    from helpers import cli

    cohort = shared_datadir / "network" / "tiny"
    first = (cohort / "nominations.csv").read_text(encoding="utf-8").splitlines()[1]
    assert first == "alpha,a1,a2,4"
    code, _, err = cli(["network", cohort, "--out", tmp_path / "before"], capsys, monkeypatch)
    assert code == 0 and "duplicate" not in err
    said = _network_warnings(cohort, "alpha,a1,a2,1\nalpha,a1,a2,4\nalpha,a1,a2,\n",  # 14-16
                             tmp_path / "out", capsys, monkeypatch)
    assert "school alpha: 3 duplicate dropped (lines 14, 15, 16)" in said
    assert ("school alpha: 2 duplicate nominations dropped with another strength than the "
            "first of the same ego -> alter, which is kept (line 14: 1, kept line 2: 4; line "
            "16: no strength, kept line 2: 4)") in said
    # the first row's strength is the tie's: a1's metrics are those without the repeats
    before, after = (pd.read_csv(tmp_path / out / "network_metrics.csv").set_index("person_id")
                     for out in ("before", "out"))
    assert after.loc["a1", "out_strength"] == before.loc["a1", "out_strength"]
    pd.testing.assert_frame_equal(after, before)


def _network_warnings(cohort, rows: str, out, capsys, monkeypatch) -> str:
    """What `pipeline network` warns, one line, after ``rows`` are added to nominations.csv."""
    with open(cohort / "nominations.csv", "a", encoding="utf-8") as f:
        f.write(rows)
    return _warnings_of(cohort, out, capsys, monkeypatch)


def _warnings_of(cohort, out, capsys, monkeypatch) -> str:
    """What `pipeline network` on ``cohort`` warns, as one line (it must succeed)."""
    from helpers import cli

    code, _, err = cli(["network", cohort, "--out", out], capsys, monkeypatch)
    assert code == 0, err
    return " ".join(err.split())


def test_network_says_which_unknown_ids_differ_only_in_letter_case(shared_datadir, tmp_path,
                                                                   capsys, monkeypatch):
    """A survey export typed 'A2' for a2: the rows were dropped as unknown_person with no
    hint, where the school ids and PLG ids typed two ways get one."""

    said = _network_warnings(shared_datadir / "network" / "tiny",
                             "alpha,a1,A2,3\nalpha,A 3,a4,2\nalpha,a1,zz,1\n",   # lines 14-16
                             tmp_path / "out", capsys, monkeypatch)
    assert "school alpha: 3 unknown_person dropped (lines 14, 15, 16)" in said
    assert ("person id 'A2' (1 row, lines 14) is no person_id of staff.csv; 'a2' is: the same "
            "person?") in said
    assert "person id 'A 3' (1 row, lines 15) is no person_id of staff.csv; 'a3' is" in said
    assert "'zz'" not in said   # nobody like it: the count above says it all


def test_network_warns_of_a_scale_without_strengths(shared_datadir, tmp_path, capsys,
                                                     monkeypatch):
    """cohort.yaml gives a tie-strength scale, but the survey export has no strength column
    (or one under another name): nothing said so until the profiles missed mean_strength."""
    from pipeline.report import warning_in_language

    cohort = shared_datadir / "network" / "tiny"
    noms = pd.read_csv(cohort / "nominations.csv")
    noms.rename(columns={"strength": "sterkte"}).to_csv(cohort / "nominations.csv", index=False)
    warning = ("nominations.csv: no nomination has a strength, though cohort.yaml gives "
               "tie_strength 1..5: the strength metrics are empty (a strength column under "
               "another name?)")
    assert warning in _warnings_of(cohort, tmp_path / "out", capsys, monkeypatch)
    assert warning_in_language(warning, "nl").startswith(
        "nominations.csv: geen nominatie heeft een sterkte, al geeft cohort.yaml tie_strength "
        "1..5")


def test_network_warns_of_nominations_without_a_strength(shared_datadir, tmp_path, capsys,
                                                          monkeypatch):
    """A few blank strengths on a 1..5 scale went without a word, while the GraphML gave
    those ties no weight, which Gephi reads as 1, the weakest tie."""
    from pipeline.report import warning_in_language

    cohort = shared_datadir / "network" / "tiny"
    noms = pd.read_csv(cohort / "nominations.csv")
    noms.loc[[0, 2], "strength"] = float("nan")
    noms.to_csv(cohort / "nominations.csv", index=False)
    warning = ("nominations.csv: 2 nominations without a strength on the scale 1..5 (lines 2, "
               "4), kept as ties: the strength metrics leave them out, and the GraphML gives "
               "them no weight (Gephi reads 1): fill in their strength")
    assert warning in _warnings_of(cohort, tmp_path / "out", capsys, monkeypatch)
    assert warning_in_language(warning, "nl").startswith(
        "nominations.csv: 2 nominaties zonder sterkte op de schaal 1..5 (regels 2, 4)")


def test_check_nominations_without_scale_accepts_any_strength(tiny):
    noms = pd.DataFrame({"school_id": ["alpha"], "ego": ["a1"], "alter": ["a2"],
                         "strength": [99.0], "line": [2]})
    clean, quality = network.check_nominations(tiny.staff, noms, CohortMeta(name="x"))
    assert len(clean) == 1 and quality.empty


def test_check_nominations_fail_policy_names_file_line_and_field(tiny, shared_datadir):
    noms = read_nominations(shared_datadir / "network" / "dirty_nominations.csv")
    with pytest.raises(InputError) as err:
        network.check_nominations(tiny.staff, noms, tiny.meta, "fail")
    assert (err.value.file, err.value.line, err.value.field) == ("nominations.csv", 3, "alter")
    assert "self nomination" in str(err.value) and "8 bad" in str(err.value)
    off_scale = noms[noms.line == 6]
    with pytest.raises(InputError) as err:
        network.check_nominations(tiny.staff, off_scale, tiny.meta, "fail")
    assert (err.value.line, err.value.field) == (6, "strength")
    repeated = noms[noms.line.isin([2, 7])]
    with pytest.raises(InputError, match="'a1' -> 'a2' already nominated on line 2") as err:
        network.check_nominations(tiny.staff, repeated, tiny.meta, "fail")
    assert (err.value.line, err.value.field) == (7, "alter")
    # rows put together out of order: the one written first is kept, whatever its position
    with pytest.raises(InputError, match="'a1' -> 'a2' already nominated on line 2") as err:
        network.check_nominations(tiny.staff, repeated.iloc[::-1], tiny.meta, "fail")
    assert (err.value.line, err.value.field) == (7, "alter")
    clean, quality = network.check_nominations(tiny.staff, repeated.iloc[::-1], tiny.meta)
    assert clean["line"].tolist() == [2] and quality["lines"].tolist() == ["7"]


def test_check_nominations_rejects_unknown_policy(tiny):
    with pytest.raises(ValueError, match="policy"):
        network.check_nominations(tiny.staff, tiny.nominations, tiny.meta, "ignore")


# ---------------------------------------------------------------- person_metrics
def test_person_metrics_degrees_by_hand(metrics):
    assert list(metrics.columns) == network.PERSON_COLUMNS
    assert metrics["person_id"].tolist() == ["a1", "a2", "a3", "a4", "a5", "a6",
                                             "b1", "b2", "b3", "b4"]
    got = metrics.set_index("person_id")[["out_ties", "in_ties", "reciprocal_ties", "contacts",
                                          "boundary_out_ties", "boundary_in_ties",
                                          "boundary_reciprocal_ties", "boundary_contacts"]]
    assert got.loc[["a1", "a2", "a3", "a4", "a5", "a6"]].values.tolist() == [
        [2, 2, 1, 3, 1, 1, 0, 2],
        [2, 1, 1, 2, 1, 0, 0, 1],
        [2, 2, 1, 3, 1, 2, 1, 2],
        [2, 1, 1, 2, 2, 1, 1, 2],
        [0, 2, 0, 2, 0, 1, 0, 1],
        [0, 0, 0, 0, 0, 0, 0, 0],
    ]
    a1 = row(metrics, "a1")
    assert a1.reciprocity_ratio == pytest.approx(1 / 3)
    assert (a1.out_strength, a1.in_strength, a1.mean_strength) == (6.0, 6.0, 3.0)
    assert row(metrics, "a3").boundary_mean_strength == pytest.approx(8 / 3)
    assert row(metrics, "a6").reciprocity_ratio == 0.0
    assert math.isnan(row(metrics, "a6").mean_strength)
    # non-respondent a5: no outgoing ties, but still receives ties
    a5 = row(metrics, "a5")
    assert not a5.responded and a5.in_ties == 2 and a5.out_ties == 0
    # beta has no strengths: sums are 0, means are missing
    b1 = row(metrics, "b1")
    assert b1.out_strength == 0.0 and math.isnan(b1.mean_strength)


def test_reciprocity_ratio_and_out_share_on_each_scope_of_ties(metrics):
    """The profile criteria's ratio and share are columns on all ties and on boundary ties,
    after the columns that were there, which keep their places (scripts read them so)."""
    assert network.PERSON_COLUMNS[:23] == [
        "person_id", "school_id", "responded", "out_ties", "in_ties", "reciprocal_ties",
        "contacts", "reciprocity_ratio", "out_strength", "in_strength", "mean_strength",
        "betweenness", "pagerank", "brokerage_coordinator", "brokerage_gatekeeper",
        "brokerage_representative", "brokerage_consultant", "brokerage_liaison",
        "boundary_out_ties", "boundary_in_ties", "boundary_reciprocal_ties",
        "boundary_contacts", "boundary_mean_strength"]
    got = metrics.set_index("person_id")[["reciprocity_ratio", "out_share",
                                          "boundary_reciprocity_ratio", "boundary_out_share"]]
    # a3: out 2, in 2, 1 reciprocal of 3 contacts; on boundary ties out 1, in 2, 1 of 2
    assert got.loc["a3"].tolist() == pytest.approx([1 / 3, 0.5, 0.5, 1 / 3])
    # a4: out 2, in 1, 1 of 2; all of its ties span a boundary
    assert got.loc["a4"].tolist() == pytest.approx([0.5, 2 / 3, 0.5, 2 / 3])
    assert got.loc["a6"].tolist() == [0.0] * 4   # no ties: 0, not undefined
    assert got.loc["a5", "out_share"] == 0.0     # a non-respondent names nobody


def test_person_metrics_betweenness_and_pagerank_match_networkx(tiny, metrics):
    assert row(metrics, "b2").betweenness == pytest.approx(0.5 / 6)   # half of b1 -> b3
    for school in ("alpha", "beta"):
        G = digraph(tiny, school)
        bc = nx.betweenness_centrality(G, normalized=True)
        pr = nx.pagerank(G, alpha=0.85, tol=1e-14, max_iter=10_000)
        for pid in G:
            assert row(metrics, pid).betweenness == pytest.approx(bc[pid], abs=1e-12)
            assert row(metrics, pid).pagerank == pytest.approx(pr[pid], abs=1e-10)
    assert metrics.groupby("school_id")["pagerank"].sum().tolist() == pytest.approx([1, 1])


def test_person_metrics_brokerage_by_hand(metrics):
    cols = [f"brokerage_{r}" for r in network.BROKERAGE_ROLES]
    got = metrics.set_index("person_id")[cols]
    #            coordinator, gatekeeper, representative, consultant, liaison
    assert got.loc["a1"].tolist() == [0, 1, 1, 0, 0]
    assert got.loc["a2"].tolist() == [0, 0, 1, 0, 0]
    assert got.loc["a3"].tolist() == [0, 2, 0, 0, 1]
    assert got.loc["a4"].tolist() == [0, 0, 0, 0, 1]
    assert got.loc["b2"].tolist() == [1, 0, 0, 0, 0]
    assert got.loc["b4"].tolist() == [0, 0, 0, 1, 0]
    assert got.loc[["a5", "a6", "b1", "b3"]].to_numpy().sum() == 0
    assert metrics.attrs["notes"] == []


def _brokerage_oracle(G: nx.DiGraph, group: dict) -> dict:
    out = {v: dict.fromkeys(network.BROKERAGE_ROLES, 0) for v in G}
    for b in G:
        for a in G.predecessors(b):
            for c in G.successors(b):
                if a == c or G.has_edge(a, c) or "" in (group[a], group[b], group[c]):
                    continue
                ga, gb, gc = group[a], group[b], group[c]
                role = ("coordinator" if ga == gb == gc else "representative" if ga == gb
                        else "gatekeeper" if gb == gc else "consultant" if ga == gc
                        else "liaison")
                out[b][role] += 1
    return out


def test_person_metrics_matches_oracles_on_random_schools():
    rng = np.random.default_rng(7)
    staff, noms = [], []
    for s in range(12):
        n = int(rng.integers(1, 18))
        ids = [f"s{s}_{i:02d}" for i in range(n)]
        for pid in ids:
            staff.append({"person_id": pid, "school_id": f"s{s}", "responded": True,
                          "plg_id": rng.choice(["", "g"]), "role": rng.choice(["", "x", "y",
                                                                               "z"])})
        p = rng.uniform(0.05, 0.5)
        noms += [{"school_id": f"s{s}", "ego": a, "alter": b, "strength": np.nan}
                 for a in ids for b in ids if a != b and rng.random() < p]
    staff, noms = pd.DataFrame(staff), pd.DataFrame(noms)
    m = network.person_metrics(staff, noms).set_index("person_id")
    group = dict(zip(staff.person_id, staff.role, strict=True))
    for s, grp in staff.groupby("school_id"):
        G = nx.DiGraph()
        G.add_nodes_from(grp.person_id)
        e = noms[noms.school_id == s]
        G.add_edges_from(zip(e.ego, e.alter, strict=True))
        bc = nx.betweenness_centrality(G)
        oracle = _brokerage_oracle(G, group)
        for v in G:
            assert m.at[v, "betweenness"] == pytest.approx(bc[v], abs=1e-9)
            for role, count in oracle[v].items():
                assert m.at[v, f"brokerage_{role}"] == count, (v, role)


def test_person_metrics_empty_brokerage_attribute_gives_zeros_and_note(tiny):
    staff = tiny.staff.assign(role="")
    m = network.person_metrics(staff, tiny.nominations, config())
    assert m.filter(like="brokerage_").to_numpy().sum() == 0
    assert any("empty for everyone" in note for note in m.attrs["notes"])


def test_person_metrics_other_attribute_counts_known_groups_only(tiny):
    m = network.person_metrics(tiny.staff, tiny.nominations,
                               config(brokerage_attribute="team"))
    assert m.loc[m.school_id == "beta"].filter(like="brokerage_").to_numpy().sum() == 0
    assert any("4 person(s) have no 'team'" in note for note in m.attrs["notes"])


def test_person_metrics_symmetrizes_ties_to_nonrespondents(tiny):
    m = network.person_metrics(tiny.staff, tiny.nominations,
                               config(symmetrize_nonrespondents=True))
    a5 = row(m, "a5")
    assert (a5.out_ties, a5.in_ties, a5.reciprocal_ties, a5.contacts) == (2, 2, 2, 2)
    assert row(m, "a3").reciprocal_ties == 2 and row(m, "a2").reciprocal_ties == 2
    assert row(m, "a5").mean_strength == pytest.approx(3.0)          # 2, 4 mirrored
    assert any("2 tie(s)" in note for note in m.attrs["notes"])


def test_symmetrize_adds_each_reverse_once(tiny):
    noms = network.symmetrize_nonrespondents(tiny.staff, tiny.nominations)
    added = noms.iloc[len(tiny.nominations):]
    assert sorted(zip(added.ego, added.alter, added.strength, strict=True)) == [
        ("a5", "a2", 2.0), ("a5", "a3", 4.0)]
    again = network.symmetrize_nonrespondents(tiny.staff, noms)
    assert len(again) == len(noms)


def test_person_metrics_refuses_unclean_nominations(tiny):
    dup = pd.concat([tiny.nominations, tiny.nominations.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match="duplicate.*check_nominations"):
        network.person_metrics(tiny.staff, dup)
    cross = tiny.nominations.assign(school_id="alpha")
    with pytest.raises(ValueError, match="cross-school"):
        network.person_metrics(tiny.staff, cross)


def test_person_metrics_missing_column_raises(tiny):
    with pytest.raises(ValueError, match="plg_id"):
        network.person_metrics(tiny.staff.drop(columns="plg_id"), tiny.nominations)
    with pytest.raises(ValueError, match="brokerage_attribute 'nope'"):
        network.person_metrics(tiny.staff, tiny.nominations,
                               config(brokerage_attribute="nope"))


def test_betweenness_dense_batch_equals_single():
    rng = np.random.default_rng(3)
    A = (rng.random((4, 9, 9)) < 0.3).astype(float)
    A[:, np.arange(9), np.arange(9)] = 0
    A[2, 6:, :] = A[2, :, 6:] = 0          # padding-like isolated nodes
    batch = network.betweenness_dense(A)
    for b in range(4):
        G = nx.from_numpy_array(A[b], create_using=nx.DiGraph)
        ref = nx.betweenness_centrality(G, normalized=False)
        assert batch[b] == pytest.approx([ref[i] for i in range(9)], abs=1e-12)


# ---------------------------------------------------------------- school_metrics
def test_school_metrics_by_hand(tiny):
    s = network.school_metrics(tiny.staff, tiny.nominations)
    assert list(s.columns) == network.SCHOOL_COLUMNS
    alpha, beta = s.to_dict("records")
    assert alpha == pytest.approx({
        "school_id": "alpha", "staff": 6, "respondents": 5, "response_rate": 5 / 6, "ties": 8,
        "density": 8 / 30, "reciprocity": 0.5, "mutual_dyads": 2, "asymmetric_dyads": 4,
        "null_dyads": 9, "degree_centralisation": 0.2})
    assert beta == pytest.approx({
        "school_id": "beta", "staff": 4, "respondents": 4, "response_rate": 1.0, "ties": 4,
        "density": 4 / 12, "reciprocity": 0.0, "mutual_dyads": 0, "asymmetric_dyads": 4,
        "null_dyads": 2, "degree_centralisation": 0.0})


def test_school_metrics_centralisation_extremes():
    n = 6
    staff = pd.DataFrame({"person_id": [f"p{i}" for i in range(n)], "school_id": "s",
                          "plg_id": "", "responded": True})
    star = [("p0", f"p{i}") for i in range(1, n)] + [(f"p{i}", "p0") for i in range(1, n)]
    ring = [(f"p{i}", f"p{(i + 1) % n}") for i in range(n)]
    for arcs, expected in ((star, 1.0), (ring, 0.0), ([], 0.0)):
        noms = pd.DataFrame(arcs, columns=["ego", "alter"]).assign(school_id="s")
        got = network.school_metrics(staff, noms)["degree_centralisation"].iloc[0]
        assert got == pytest.approx(expected)



def test_school_metrics_undefined_for_tiny_schools_are_nan_not_zero():
    # one person has no pair to tie (density); two have no star to compare with
    # (centralisation): 0 would read as "no ties" or "perfectly equal"
    staff = pd.DataFrame({"person_id": ["a", "b1", "b2", "c1", "c2", "c3"],
                          "school_id": ["a", "b", "b", "c", "c", "c"], "plg_id": "",
                          "responded": True})
    noms = pd.DataFrame({"school_id": ["b", "c"], "ego": ["b1", "c1"], "alter": ["b2", "c2"]})
    got = network.school_metrics(staff, noms).set_index("school_id")
    assert got["density"].isna().tolist() == [True, False, False]
    assert got.loc["b", "density"] == 0.5
    assert got["degree_centralisation"].isna().tolist() == [True, True, False]

def test_school_metrics_missing_column_raises(tiny):
    with pytest.raises(ValueError, match="alter"):
        network.school_metrics(tiny.staff, tiny.nominations.drop(columns="alter"))


# ---------------------------------------------------------------- key_figures
def test_key_figures_boundary_contacts(metrics):
    kf = network.key_figures(metrics, config(tie_scope="boundary"))
    assert list(kf.columns) == network.KEY_FIGURE_COLUMNS
    alpha = kf[kf.school_id == "alpha"]
    assert alpha["person_id"].tolist() == ["a3", "a4", "a1"]      # by boundary mean strength
    assert alpha["rank"].tolist() == [1, 2, 3]
    assert set(kf["measure"]) == {"boundary_contacts"}
    assert alpha["reason"].iloc[0].startswith("rank 1 of 6 by boundary contacts (2); tied "
                                              "with a4, ranked above it on boundary mean "
                                              "strength (2.67 vs 2.33)")
    beta = kf[kf.school_id == "beta"]                               # no strengths, no recip
    assert beta["person_id"].tolist() == ["b1", "b2", "b3"]
    assert "by person_id" in beta["reason"].iloc[0]


def test_key_figures_all_ties_tie_breaks(metrics):
    kf = network.key_figures(metrics, config(tie_scope="all"))
    alpha = kf[kf.school_id == "alpha"]
    # a1 and a3: 3 contacts, mean strength 3.0, 1 reciprocal tie each -> person_id
    assert alpha["person_id"].tolist() == ["a1", "a3", "a2"]
    assert alpha["value"].tolist() == [3, 3, 2]
    assert "ranked above it by person_id" in alpha["reason"].iloc[0]
    assert "ranked above it on mean strength (3.67 vs 3)" in alpha["reason"].iloc[2]


def test_key_figures_flags_nonrespondents(metrics):
    kf = network.key_figures(metrics, config(tie_scope="all", measure="in_ties"))
    alpha = kf[kf.school_id == "alpha"]
    assert alpha["person_id"].tolist() == ["a1", "a3", "a5"]       # a5: fewer reciprocal ties
    a5 = alpha.iloc[2]
    assert not a5.responded
    assert a5.reason.endswith("non-respondent: counted from incoming ties only")
    assert alpha["responded"].tolist() == [True, True, False]


def test_nominations_by_a_nonrespondent_are_reported_and_named_in_the_reason(tiny):
    """a5 is marked responded=false; give it nominations of its own: they are kept as ties
    (a5's out_ties count them), listed per school with their lines, and a5's reason no
    longer claims 'incoming ties only'."""
    extra = pd.DataFrame({"school_id": ["alpha", "alpha"], "ego": ["a5", "a5"],
                          "alter": ["a1", "a3"], "strength": [2.0, 4.0], "line": [90, 91]})
    noms = pd.concat([tiny.nominations, extra], ignore_index=True)
    assert network.nonrespondent_nominations(tiny.staff, tiny.nominations).empty
    found = network.nonrespondent_nominations(tiny.staff, noms)
    assert found.values.tolist() == [["alpha", 1, 2, "90, 91"]]
    metrics = network.person_metrics(tiny.staff, noms, config())
    assert row(metrics, "a5").out_ties == 2
    kf = network.key_figures(metrics, config(tie_scope="all", measure="in_ties"))
    a5 = kf.set_index("person_id").loc["a5"]
    assert "marked non-respondent, but nominated colleagues" in a5.reason
    assert "incoming ties only" not in a5.reason
    # symmetrised, a5's own nominations cannot be told from imputed ties by its out_ties:
    # the egos of the survey data say who nominated
    cfg = config(tie_scope="all", measure="in_ties", k=10, symmetrize_nonrespondents=True)
    metrics = network.person_metrics(tiny.staff, noms, cfg)
    for egos, says in [(noms["ego"], "marked non-respondent, but nominated colleagues"),
                       (tiny.nominations["ego"], "outgoing ties imputed from incoming ties")]:
        kf = network.key_figures(metrics, cfg, nominators=egos)
        reason = kf.set_index("person_id").loc["a5"].reason
        assert says in reason and "imputed" not in reason.replace(says, ""), reason


def test_key_figures_skips_zero_values_and_betweenness_stays_all_ties(metrics):
    kf = network.key_figures(metrics, config(tie_scope="all", k=10))
    assert "a6" not in set(kf.person_id) and len(kf[kf.school_id == "alpha"]) == 5
    kf = network.key_figures(metrics, config(tie_scope="boundary", measure="betweenness"))
    assert set(kf["measure"]) == {"betweenness"}
    assert "betweenness (all ties)" in kf["reason"].iloc[0]


def test_key_figures_missing_column_raises(metrics):
    with pytest.raises(ValueError, match="boundary_contacts"):
        network.key_figures(metrics.drop(columns="boundary_contacts"), config())


# ---------------------------------------------------------------- graphs and exports
def test_school_graph_attributes_and_names(tiny, metrics):
    G = network.school_graph(tiny.staff, tiny.nominations, metrics, "alpha")
    assert sorted(G.nodes) == ["a1", "a2", "a3", "a4", "a5", "a6"]
    assert G.number_of_edges() == 8 and G.edges["a1", "a2"]["strength"] == 4.0
    a5 = G.nodes["a5"]
    assert a5["responded"] is False and a5["role"] == "leader" and a5["plg_id"] == "g2"
    assert a5["in_ties"] == 2 and "name" not in a5
    assert set(network.PERSON_COLUMNS) - {"person_id"} <= set(a5)
    named = network.school_graph(tiny.staff, tiny.nominations, metrics, "alpha",
                                 reveal_names=True)
    assert named.nodes["a5"]["name"] == "Eva"


def test_school_graph_unknown_school_raises(tiny, metrics):
    with pytest.raises(ValueError, match="gamma"):
        network.school_graph(tiny.staff, tiny.nominations, metrics, "gamma")


def test_graphml_bytes_roundtrip_without_missing_values(tiny, metrics):
    G = network.school_graph(tiny.staff, tiny.nominations, metrics, "beta")
    data = network.graphml_bytes(G)
    assert b"nan" not in data.lower() and b"None" not in data
    H = nx.read_graphml(io.BytesIO(data))
    assert sorted(H.nodes) == ["b1", "b2", "b3", "b4"] and H.number_of_edges() == 4
    assert "strength" not in H.edges["b1", "b2"]                  # not asked in beta
    assert "weight" not in H.edges["b1", "b2"]                    # Gephi: weight 1
    alpha = nx.read_graphml(io.BytesIO(network.graphml_bytes(
        network.school_graph(tiny.staff, tiny.nominations, metrics, "alpha"))))
    assert alpha.number_of_edges() == 8
    for a, b, attrs in alpha.edges(data=True):                    # what Gephi weighs ties by
        assert attrs["weight"] == attrs["strength"], (a, b)
    assert "mean_strength" not in H.nodes["b1"]
    assert H.nodes["b2"]["betweenness"] == pytest.approx(0.5 / 6)
    assert H.nodes["b1"]["responded"] is True and H.nodes["b1"]["out_ties"] == 2
    assert data == network.graphml_bytes(G)


def test_graphml_bytes_unifies_mixed_types():
    G = nx.DiGraph()
    G.add_node("a", x=1, y=np.int64(3), z=[1])
    G.add_node("b", x=2.5, y=None, z="t")
    H = nx.read_graphml(io.BytesIO(network.graphml_bytes(G)))
    assert H.nodes["a"]["x"] == 1.0 and isinstance(H.nodes["a"]["x"], float)
    assert H.nodes["a"]["y"] == 3 and "y" not in H.nodes["b"]
    assert H.nodes["a"]["z"] == "[1]"


def test_pajek_text(tiny, metrics):
    G = network.school_graph(tiny.staff, tiny.nominations, metrics, "alpha")
    text = network.pajek_text(G)
    lines = text.splitlines()
    assert lines[0] == "*Vertices 6" and lines[1] == '1 "a1"' and lines[7] == "*Arcs"
    assert "1 2 4" in lines and len(lines) == 8 + 8
    beta = network.pajek_text(network.school_graph(tiny.staff, tiny.nominations, metrics,
                                                   "beta"))
    assert beta.splitlines()[6] == "1 2"                           # no strength: no weight
    G = nx.read_pajek(io.BytesIO(text.encode()))
    assert G.number_of_edges() == 8


def test_pajek_text_rejects_non_graph():
    with pytest.raises(AttributeError):
        network.pajek_text(None)


# ---------------------------------------------------------------- docs
def test_module_doctests_pass():
    result = doctest.testmod(network, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0


def test_graphml_bytes_escapes_markup_and_lowercases_booleans():
    G = nx.DiGraph(school_id='s<1> & "co"')
    G.add_node('a"1', role="docent & <mentor>", responded=False, x=2)
    G.add_edge('a"1', "b'2", strength=1.5)
    data = network.graphml_bytes(G)
    assert b">false<" in data and b"False" not in data
    H = nx.read_graphml(io.BytesIO(data))
    assert H.graph["school_id"] == 's<1> & "co"'
    assert H.nodes['a"1'] == {"role": "docent & <mentor>", "responded": False, "x": 2}
    assert H.edges['a"1', "b'2"]["strength"] == 1.5


def test_symmetrised_run_describes_one_network(shared_datadir, tmp_path, capsys, monkeypatch):
    """With symmetrize_nonrespondents the school metrics, GraphML and Pajek files must show
    the same completed network the person metrics and key figures were computed on."""
    from helpers import cli, write_config

    cfg = write_config(tmp_path, "symmetrize_nonrespondents: false",
                       "symmetrize_nonrespondents: true")
    out = tmp_path / "out"
    code, _, err = cli(["network", shared_datadir / "network" / "tiny", "--out", out,
                        "--config", cfg], capsys, monkeypatch)
    assert code == 0, err
    persons = pd.read_csv(out / "network_metrics.csv")
    schools = pd.read_csv(out / "school_metrics.csv").set_index("school_id")
    for school, m in persons.groupby("school_id"):
        G = nx.read_graphml(out / "graphs" / f"{school}.graphml")
        assert schools.loc[school, "ties"] == m["out_ties"].sum() == G.number_of_edges()
        assert schools.loc[school, "mutual_dyads"] == m["reciprocal_ties"].sum() / 2
        assert {n: d for n, d in G.out_degree()} == dict(zip(m.person_id, m.out_ties,
                                                             strict=True))
        arcs = (out / "graphs" / f"{school}.net").read_text().split("*Arcs")[1]
        assert len(arcs.strip().splitlines()) == G.number_of_edges()
    G = nx.read_graphml(out / "graphs" / "alpha.graphml")
    assert sorted((a, b) for a, b, imp in G.edges(data="imputed") if imp) == [
        ("a5", "a2"), ("a5", "a3")]
    # the imputed arcs are not nominations by a non-respondent
    assert "marked responded=false" not in err


def test_a_person_in_two_plgs_shares_both(tmp_path):
    """A team leader in two data teams (``dt1;ls1``): ties with members of either team are
    within a PLG, not boundary-spanning."""
    staff = pd.DataFrame({"person_id": ["p1", "p2", "p3", "p4"], "school_id": "s",
                          "plg_id": ["dt1;ls1", "dt1", " ls1", ""], "responded": True,
                          "role": ""})
    noms = pd.DataFrame({"school_id": "s", "ego": ["p1", "p2", "p1", "p3", "p1", "p2"],
                         "alter": ["p2", "p1", "p3", "p1", "p4", "p3"]})
    m = network.person_metrics(staff, noms).set_index("person_id")
    assert m["boundary_contacts"].to_dict() == {"p1": 1, "p2": 1, "p3": 1, "p4": 1}
    assert m["contacts"].to_dict() == {"p1": 3, "p2": 2, "p3": 2, "p4": 1}


def test_plg_ids_typed_two_ways_are_warned(shared_datadir, tmp_path, capsys, monkeypatch):
    from helpers import cli

    cohort = shared_datadir / "network" / "tiny"
    staff = cohort / "staff.csv"
    text = staff.read_text(encoding="utf-8")
    staff.write_text(text.replace("a2,alpha,Bas,teacher,3,3,g1,", "a2,alpha,Bas,teacher,3,3,G1,")
                     .replace("a3,alpha,Cor,leader,20,12,g2,lesson_study",
                              "a3,alpha,Cor,leader,20,12,g2;g1,lesson_study;lesson_study"),
                     encoding="utf-8")
    code, _, err = cli(["network", cohort, "--out", tmp_path / "out"], capsys, monkeypatch)
    assert code == 0, err
    err = " ".join(err.split())
    assert ("staff.csv: school alpha: plg_id 'g1' (line 2) and 'G1' (line 3) differ only in "
            "letter case or spaces: one PLG? They count as different PLGs") in err
    assert ("staff.csv: school alpha: plg_id 'g1' has plg_type data_team (line 2) and "
            "lesson_study (line 4)") in err
    m = pd.read_csv(tmp_path / "out" / "network_metrics.csv").set_index("person_id")
    # a3's contacts: a1 (now a fellow g1 member), a5 (g2) and a4 (no PLG)
    assert (m.loc["a3", "contacts"], m.loc["a3", "boundary_contacts"]) == (3, 1)
    staff.write_text(text.replace("g2,lesson_study", "g2,lesson_study;data_team"),
                     encoding="utf-8")
    code, _, err = cli(["network", cohort, "--out", tmp_path / "out"], capsys, monkeypatch)
    assert code == 2
    assert err.strip() == (f"error: {staff}:4: field 'plg_type': 2 plg_types for 1 plg_id(s): "
                           "give one type, or one per PLG separated by ';'")


def test_a_school_id_in_other_letter_case_is_named(shared_datadir, tmp_path, capsys,
                                                   monkeypatch):
    """``Alpha`` for ``alpha`` in nominations.csv: the rows are dropped as cross-school, and
    the warning says which school they probably meant."""
    from helpers import cli

    cohort = shared_datadir / "network" / "tiny"
    noms = cohort / "nominations.csv"
    noms.write_text(noms.read_text(encoding="utf-8").replace("alpha,a1,a3", "Alpha,a1,a3"),
                    encoding="utf-8")
    code, _, err = cli(["network", cohort, "--out", tmp_path / "out"], capsys, monkeypatch)
    assert code == 0, err
    assert ("warning: nominations.csv: school_id 'Alpha' (1 row, lines 4) is no school of "
            "staff.csv; 'alpha' is: the same school?") in err.splitlines()


def test_reciprocity_of_a_school_without_ties_is_undefined():
    staff = pd.DataFrame({"person_id": ["a", "b", "c", "d"], "school_id": ["s", "s", "t", "t"],
                          "plg_id": "", "responded": True})
    noms = pd.DataFrame({"school_id": ["s"], "ego": ["a"], "alter": ["b"]})
    got = network.school_metrics(staff, noms).set_index("school_id")
    assert got.loc["s", "reciprocity"] == 0.0 and math.isnan(got.loc["t", "reciprocity"])


def test_brokerage_says_a_cell_with_several_values_is_a_group_of_its_own():
    staff = pd.DataFrame({"person_id": ["a", "b", "c"], "school_id": "s",
                          "plg_id": ["dt1", "dt1;ls1", "dt1"], "responded": True})
    noms = pd.DataFrame({"school_id": "s", "ego": ["a", "b"], "alter": ["b", "c"]})
    m = network.person_metrics(staff, noms, config(brokerage_attribute="plg_id"))
    assert ("1 person(s) have several values in 'plg_id' (such as 'dt1;ls1'): in brokerage "
            "each such combination is a group of its own") in m.attrs["notes"]
    assert m.set_index("person_id").loc["b", "brokerage_consultant"] == 1
    by_role = network.person_metrics(staff.assign(role="teacher"), noms, config())
    assert not any("several values" in note for note in by_role.attrs["notes"])


def test_a_completed_network_is_not_symmetrised_again(tiny):
    done = network.symmetrize_nonrespondents(tiny.staff, tiny.nominations)
    cfg = config(symmetrize_nonrespondents=True)
    again = network.person_metrics(tiny.staff, done, cfg)
    assert again.equals(network.person_metrics(tiny.staff, tiny.nominations, cfg))
    assert again.attrs["notes"] == network.person_metrics(tiny.staff, tiny.nominations,
                                                          cfg).attrs["notes"]
