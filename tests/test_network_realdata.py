"""pipeline/network.py on real, published networks (shared/realdata; see its README.md).

Checks the published totals exactly (arcs and the MAN dyad census of Krackhardt's advice
and friendship networks, Wasserman & Faust 1994; the hi-tech firm's 147 arcs and 56
mutual dyads, de Nooy, Mrvar & Batagelj), the per-node in/out-degree tables and the
Pitts & Spillane per-school table of the README, and every node against python-igraph.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from pipeline import network
from pipeline.config import KeyFigureConfig, NetworkConfig
from pipeline.io import load_cohort

igraph = pytest.importorskip("igraph", reason="python-igraph (a dev dependency) is needed")

REALDATA = Path(__file__).parents[2] / "shared" / "realdata"
COHORTS = ["krackhardt_advice", "krackhardt_friendship", "hitech_friendship",
           "pitts_spillane_advice"]

if not (REALDATA / "README.md").is_file():
    pytest.skip(f"real network data not found at {REALDATA} (the shared/realdata folder "
                "next to the repository); these checks need it", allow_module_level=True)

# published totals: (arcs, mutual, asymmetric, null)
PUBLISHED = {
    "krackhardt_advice": (190, 45, 100, 65),        # Wasserman & Faust 1994
    "krackhardt_friendship": (102, 23, 56, 131),    # Wasserman & Faust 1994
    "hitech_friendship": (147, 56, 35, 539),        # de Nooy et al.: 147 arcs, 112 reciprocated
}


@cache
def cohort(name: str):
    c = load_cohort(REALDATA / name)
    clean, quality = network.check_nominations(c.staff, c.nominations, c.meta, "fail")
    assert quality.empty and len(clean) == len(c.nominations)
    return c, network.person_metrics(c.staff, clean), network.school_metrics(c.staff, clean)


@cache
def readme_tables() -> dict[str, list[list[str]]]:
    """The markdown tables of the README, by the ``###`` heading above them."""
    tables: dict[str, list[list[str]]] = {}
    heading = None
    for line in (REALDATA / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^###\s+(\S+)", line)
        if m:
            heading = m.group(1)
        elif heading and line.startswith("|") and not set(line) <= set("|-: "):
            cells = [c.strip() for c in line.strip("|").split("|")]
            tables.setdefault(heading, []).append(cells)
    return tables


def school_graphs(name: str):
    """(school_id, person ids in metrics order, igraph.Graph) per school."""
    c, m, _ = cohort(name)
    for school, grp in m.groupby("school_id", sort=True):
        ids = grp["person_id"].tolist()
        index = {p: i for i, p in enumerate(ids)}
        e = c.nominations[c.nominations.school_id == school]
        g = igraph.Graph(n=len(ids), directed=True,
                         edges=[(index[a], index[b]) for a, b in zip(e.ego, e.alter, strict=True)])
        yield school, grp, g


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_arcs_and_dyad_census(name):
    _, m, s = cohort(name)
    arcs, M, A, N = PUBLISHED[name]
    assert len(s) == 1
    got = s.iloc[0]
    assert (got.ties, got.mutual_dyads, got.asymmetric_dyads, got.null_dyads) == (arcs, M, A, N)
    assert m["out_ties"].sum() == m["in_ties"].sum() == arcs
    assert m["reciprocal_ties"].sum() == 2 * M
    assert got.reciprocity == pytest.approx(2 * M / arcs)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_per_node_degrees_match_readme(name):
    table = readme_tables()[name]
    assert table[0] == ["id", "in", "out"], f"unexpected README table for {name}"
    expected = {r[0]: (int(r[1]), int(r[2])) for r in table[1:]}
    _, m, _ = cohort(name)
    got = {p: (i, o) for p, i, o in zip(m.person_id, m.in_ties, m.out_ties, strict=True)}
    assert got == expected


def test_pitts_spillane_per_school_table():
    table = readme_tables()["pitts_spillane_advice"]
    assert table[0] == ["school", "teachers", "arcs", "M", "A", "N"]
    expected = [[r[0], *map(int, r[1:])] for r in table[1:]]
    assert len(expected) == 15
    _, m, s = cohort("pitts_spillane_advice")
    got = s[["school_id", "staff", "ties", "mutual_dyads", "asymmetric_dyads",
             "null_dyads"]].values.tolist()
    assert got == expected
    assert len(m) == 433 and s["ties"].sum() == 1540


@pytest.mark.parametrize("name", COHORTS)
def test_every_node_matches_igraph(name):
    for _school, grp, g in school_graphs(name):
        n = g.vcount()
        assert grp["in_ties"].tolist() == g.indegree()
        assert grp["out_ties"].tolist() == g.outdegree()
        mutual = np.array(g.is_mutual(), dtype=bool)
        sources = np.array([e.source for e in g.es], dtype=int)
        recip = np.bincount(sources[mutual], minlength=n) if len(sources) else np.zeros(n)
        assert grp["reciprocal_ties"].tolist() == recip.tolist()
        neighbours = [len(set(g.neighbors(v, mode="all"))) for v in range(n)]
        assert grp["contacts"].tolist() == neighbours
        # igraph's directed betweenness is unnormalised: divide by (n-1)(n-2)
        bc = np.array(g.betweenness(directed=True)) / ((n - 1) * (n - 2))
        np.testing.assert_allclose(grp["betweenness"].to_numpy(), bc, rtol=0, atol=1e-9)
        pr = np.array(g.pagerank(damping=0.85, directed=True))
        np.testing.assert_allclose(grp["pagerank"].to_numpy(), pr, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", COHORTS)
def test_dyad_census_matches_igraph(name):
    _, _, s = cohort(name)
    by_school = s.set_index("school_id")
    for school, _grp, g in school_graphs(name):
        M, A, N = g.dyad_census()
        got = by_school.loc[school]
        assert (got.mutual_dyads, got.asymmetric_dyads, got.null_dyads) == (M, A, N)
        assert got.density == pytest.approx(g.density(loops=False))


def test_hitech_nonrespondents_are_flagged_and_kept():
    c, m, s = cohort("hitech_friendship")
    silent = m.loc[~m.responded, "person_id"].tolist()
    names = c.staff.set_index("person_id").loc[silent, "name"].tolist()
    assert sorted(names) == ["Fran", "Quincy", "York"]
    rows = m.set_index("person_id").loc[silent]
    # they sent nothing (never answered); whatever others said about them is kept: in this
    # network nobody named them, so they are isolates (README table: in 0, out 0)
    assert (rows.out_ties == 0).all() and (rows.in_ties == 0).all()
    assert s.iloc[0].respondents == 33 and s.iloc[0].staff == 36
    # nothing points at them, so symmetrisation must change nothing
    sym = network.symmetrize_nonrespondents(c.staff, c.nominations)
    assert len(sym) == len(c.nominations)


def test_key_figures_on_krackhardt_advice():
    _, m, _ = cohort("krackhardt_advice")
    cfg = NetworkConfig(tie_scope="all", key_figures=KeyFigureConfig(k=3, measure="in_ties"))
    kf = network.key_figures(m, cfg)
    # README: m02 has the most incoming advice ties (18), then m18 and m21 (15 each)
    assert kf["person_id"].tolist()[0] == "m02" and kf["value"].tolist() == [18, 15, 15]
    assert set(kf["person_id"][1:]) == {"m18", "m21"}
