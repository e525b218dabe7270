"""Tests for pipeline/sociogram.py on the tiny cohort in tests/data/network/."""

from __future__ import annotations

import doctest

import pytest
from matplotlib.figure import Figure

from pipeline import network, sociogram
from pipeline.config import KeyFigureConfig, NetworkConfig
from pipeline.io import load_cohort

CONFIG = NetworkConfig(tie_scope="all", key_figures=KeyFigureConfig(k=3))


@pytest.fixture
def alpha(shared_datadir):
    c = load_cohort(shared_datadir / "network" / "tiny")
    m = network.person_metrics(c.staff, c.nominations, CONFIG)
    kf = network.key_figures(m, CONFIG)
    return network.school_graph(c.staff, c.nominations, m, "alpha"), kf


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def ties(fig: Figure) -> dict[str, int]:
    """Number of segments / arrowheads per tie collection."""
    out = {}
    for c in fig.axes[0].collections:
        if c.get_gid() in ("one_way_ties", "reciprocal_ties"):
            out[c.get_gid()] = len(c.get_segments())
        elif c.get_gid() == "arrowheads":
            out["arrowheads"] = len(c.get_paths())
    return out


def test_draws_ties_and_numbers_key_figures(alpha):
    G, kf = alpha
    fig = sociogram.draw_sociogram(G, kf)                # whole-cohort table: beta ignored
    assert isinstance(fig, Figure)
    assert sorted(texts(fig)) == ["1", "2", "3"]
    # 8 arcs: 2 reciprocal pairs (one double-headed line each) + 4 one-way arrows
    assert ties(fig) == {"one_way_ties": 4, "reciprocal_ties": 2, "arrowheads": 4 + 2 * 2}
    assert fig._suptitle.get_text() == "School alpha"


def test_profiles_colour_key_figures_and_label_legend(alpha):
    G, kf = alpha
    first = kf[kf.school_id == "alpha"].person_id.tolist()
    fig = sociogram.draw_sociogram(
        G, first, profiles={first[0]: "super_sharer", first[1]: "sender"},
        colors={"super_sharer": "#123456"}, labels={"super_sharer": "Superdeler"})
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Superdeler" in legend and "sender" in legend and "key figure, no profile" in legend
    dots = [c for c in fig.axes[0].collections if c.get_gid() == "staff"]
    faces = dots[0].get_facecolors()
    assert len(faces) == 6
    assert any(abs(f[0] - 0x12 / 255) < 1e-6 and abs(f[2] - 0x56 / 255) < 1e-6 for f in faces)


@pytest.mark.parametrize("language, words", [
    ("nl", ["eenzijdige relatie", "wederkerige relatie", "vragenlijst niet ingevuld",
            "sleutelfiguur (genummerd naar rang)"]),
    ("en", ["one-way tie", "reciprocal tie", "did not respond",
            "key figure (numbered by rank)"])])
def test_the_legend_speaks_the_report_language(language, words, tmp_path, capsys,
                                               monkeypatch):
    """`pipeline network`'s sociograms (and so the report's) have their legend in
    ``language`` of pipeline.yaml, as the report around them: Dutch by default."""
    from helpers import REPO, cli, write_config

    from pipeline import report

    legends = []

    def draw(*args, **kwargs):
        fig = sociogram.draw_sociogram(*args, **kwargs)
        legends.append([t.get_text() for t in fig.legends[0].get_texts()])
        return fig

    monkeypatch.setattr(report, "draw_sociogram", draw)
    config = write_config(tmp_path, "language: nl", f"language: {language}")
    code, _, err = cli(["network", REPO / "tests" / "data" / "tiny_cohort", "--out",
                        tmp_path / "out", "--config", config, "--jobs", "1"], capsys, monkeypatch)
    assert code == 0, err
    assert legends == [words, words]   # two schools, no profiles yet


def test_legend_words_can_be_given(alpha):
    G, kf = alpha
    fig = sociogram.draw_sociogram(G, kf, legend={"one_way": "eenzijdig"})
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["eenzijdig", sociogram.LEGEND["reciprocal"]]


def test_same_bytes_every_run(alpha):
    G, kf = alpha
    for fmt in ("png", "svg"):
        a = sociogram.figure_bytes(sociogram.draw_sociogram(G, kf, seed=5), fmt)
        b = sociogram.figure_bytes(sociogram.draw_sociogram(G, kf, seed=5), fmt)
        assert a == b and len(a) > 1000
    svg = sociogram.figure_bytes(sociogram.draw_sociogram(G, kf), "svg")
    assert svg.startswith(b"<?xml") and b"<dc:date>" not in svg


def test_unknown_key_figure_raises(alpha):
    G, _ = alpha
    with pytest.raises(ValueError, match="not in the graph: zz"):
        sociogram.draw_sociogram(G, ["a1", "zz"])


def test_bad_colour_and_format_raise(alpha):
    G, _ = alpha
    with pytest.raises(ValueError, match="not a colour"):
        sociogram.draw_sociogram(G, ["a1"], profiles={"a1": "sender"},
                                 colors={"sender": "notacolour"})
    with pytest.raises(ValueError, match="format"):
        sociogram.figure_bytes(sociogram.draw_sociogram(G), "gif")


def test_module_doctests_pass():
    assert doctest.testmod(sociogram).failed == 0


def test_ties_made_mutual_are_dashed_and_named_in_the_legend(alpha):
    """With symmetrize_nonrespondents a non-respondent's arcs are imputed: drawn like the
    nominations they mirror they would pass for answers."""
    G, kf = alpha
    plain = sociogram.draw_sociogram(G, kf)
    assert sociogram.LEGEND["imputed"] not in [t.get_text() for t in plain.legends[0].texts]
    a, b = next((a, b) for a, b in G.edges if not G.has_edge(b, a))
    H = G.copy()
    H.add_edge(b, a, strength=float("nan"), imputed=True)
    fig = sociogram.draw_sociogram(H, kf)
    assert sociogram.LEGEND["imputed"] in [t.get_text() for t in fig.legends[0].texts]
    reciprocal = next(c for c in fig.axes[0].collections if c.get_gid() == "reciprocal_ties")
    dashes = [dash for _, dash in reciprocal.get_linestyles()]
    assert sum(dash is not None for dash in dashes) == 1, dashes       # the one made mutual
