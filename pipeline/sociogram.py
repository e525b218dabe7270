"""Sociograms of one school's network, in the style of the seed study's Figure 1.

A dot per staff member (size by number of contacts, open dots for non-respondents), an
arrow for a one-way tie, a double-headed line for a reciprocal tie, and the key figures
numbered 1..k, coloured by profile when profiles are known. The layout is a seeded
force-directed layout over a sorted copy of the graph, so the same graph and seed give the
same picture; :func:`figure_bytes` renders PNG or SVG with fixed metadata and SVG id salt so
the bytes are identical across runs.

No file is written here (``report.py`` saves what :func:`figure_bytes` returns), and
pyplot's global state is never touched: figures are plain ``matplotlib.figure.Figure``
objects on an Agg canvas.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

__all__ = ["draw_sociogram", "figure_bytes", "DEFAULT_SEED", "SVG_HASHSALT", "LEGEND"]

DEFAULT_SEED = 20220103
SVG_HASHSALT = "sleutelfiguren"
KEY_COLOR = "#d62728"        # key figures when no profiles are given
NODE_COLOR = "#bdbdbd"
EDGE_COLOR = "#7f7f7f"
# fallback colours for profiles without one in `colors` (colour-blind safe, Okabe-Ito)
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
# the picture's own words, in English; the report gives them in its language (report.UI)
LEGEND = {"one_way": "one-way tie", "reciprocal": "reciprocal tie",
          "imputed": "made mutual (did not respond)",
          "no_response": "did not respond", "key_figure": "key figure (numbered by rank)",
          "key_figure_no_profile": "key figure, no profile", "no_staff": "no staff"}


def _key_order(graph: nx.DiGraph, key_figures: Any) -> list[str]:
    """Key-figure person ids in rank order, only those of this graph's school."""
    if key_figures is None:
        return []
    if isinstance(key_figures, pd.DataFrame):
        if "person_id" not in key_figures.columns:
            raise ValueError("key_figures lacks column person_id")
        kf = key_figures
        school = graph.graph.get("school_id")
        if school is not None and "school_id" in kf.columns:
            kf = kf[kf["school_id"].astype(str) == str(school)]
        if "rank" in kf.columns:
            kf = kf.sort_values("rank", kind="stable")
        ids = [str(p) for p in kf["person_id"]]
    elif isinstance(key_figures, Sequence) and not isinstance(key_figures, str):
        ids = [str(p) for p in key_figures]
    else:
        raise TypeError("key_figures must be a DataFrame (person_id, rank) or a list of ids")
    missing = [p for p in ids if p not in graph]
    if missing:
        raise ValueError(f"key figure(s) not in the graph: {', '.join(missing)}")
    return ids


def _spread(pos: dict[str, np.ndarray], ids: list[str], min_dist: float = 0.22) -> None:
    """Push the key figures apart (in place) until no two are closer than ``min_dist``.

    They are the hubs, so a spring layout puts them on top of each other in the middle of the
    picture, where their numbers would overlap. Deterministic: fixed order, fixed steps.
    """
    pts = [p for p in ids if p in pos]
    for _ in range(100):
        moved = False
        for i, a in enumerate(pts):
            for b in pts[i + 1:]:
                d = pos[b] - pos[a]
                dist = float(np.hypot(*d))
                if dist < min_dist:
                    u = d / dist if dist > 1e-9 else np.array([1.0, 0.0])
                    step = (min_dist - dist) / 2 + 1e-3
                    pos[a] = pos[a] - u * step
                    pos[b] = pos[b] + u * step
                    moved = True
        if not moved:
            break


def _layout(graph: nx.DiGraph, seed: int) -> dict[str, np.ndarray]:
    """Seeded spring layout of everyone with a tie, over a sorted undirected copy (so the
    input order does not matter); isolates in rows below it, in sorted order."""
    nodes = sorted(graph.nodes, key=str)
    U = nx.Graph()
    U.add_nodes_from(nodes)
    U.add_edges_from(sorted((min(a, b, key=str), max(a, b, key=str)) for a, b in graph.edges))
    tied = [n for n in nodes if U.degree(n) > 0]
    isolates = [n for n in nodes if U.degree(n) == 0]
    pos: dict[str, np.ndarray] = {}
    if tied:
        sub = U.subgraph(tied)
        pos = nx.spring_layout(sub, seed=seed, k=1.5 / math.sqrt(len(sub)), iterations=200)
    per_row = max(8, math.ceil(math.sqrt(len(isolates) * 4)))
    for i, n in enumerate(isolates):
        r, c = divmod(i, per_row)
        in_row = min(per_row, len(isolates) - r * per_row)
        x = 0.0 if in_row == 1 else -0.9 + 1.8 * c / (in_row - 1)
        pos[n] = np.array([x, (-1.3 if tied else 0.0) - 0.2 * r])
    return pos


def _draw_ties(ax: Any, graph: nx.DiGraph, pos: dict, area: dict, rank_of: dict) -> None:
    """One-way arcs as arrows, reciprocal pairs as one double-headed line; a pair with an arc
    added by ``symmetrize_nonrespondents`` (edge attribute ``imputed``) dashed.

    Drawn as two line collections plus one collection of arrowhead triangles, computed in
    data coordinates (lines stop at the node's rim), which renders far faster than one
    arrow patch per tie. Collections carry gids ``one_way_ties``, ``reciprocal_ties`` and
    ``arrowheads``.
    """
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    box = ax.get_position()
    w_pt, h_pt = (box.width * ax.figure.get_figwidth() * 72,
                  box.height * ax.figure.get_figheight() * 72)
    per_pt = max((x1 - x0) / w_pt, (y1 - y0) / h_pt)     # data units per point (equal aspect)
    head_len, head_w = 6.0 * per_pt, 4.0 * per_pt
    lines: dict[bool, list] = {False: [], True: []}
    strong: dict[bool, list] = {False: [], True: []}
    dashed: dict[bool, list] = {False: [], True: []}   # a pair with an imputed arc
    heads = []
    seen: set[tuple[str, str]] = set()
    for a, b in sorted(graph.edges, key=lambda e: (str(e[0]), str(e[1]))):
        if (b, a) in seen:
            continue
        seen.add((a, b))
        mutual = graph.has_edge(b, a)
        pa, pb = np.asarray(pos[a], float), np.asarray(pos[b], float)
        d = pb - pa
        length = float(np.hypot(*d))
        ra = (math.sqrt(area[a]) / 2 + 1.5) * per_pt
        rb = (math.sqrt(area[b]) / 2 + 1.5) * per_pt
        if length <= ra + rb:
            continue                                    # nodes overlap: nothing to draw
        u = d / length
        start, end = pa + u * ra, pb - u * rb
        lines[mutual].append((start, end))
        strong[mutual].append(a in rank_of or b in rank_of)
        dashed[mutual].append(bool(graph.edges[a, b].get("imputed"))
                              or (mutual and bool(graph.edges[b, a].get("imputed"))))
        perp = np.array([-u[1], u[0]]) * head_w / 2
        for tip, back in ((end, -u),) + (((start, u),) if mutual else ()):
            base = tip + back * head_len
            heads.append((tip, base + perp, base - perp))
    for mutual, segs in lines.items():
        if not segs:
            continue
        alpha = [0.75 if s else 0.4 for s in strong[mutual]]
        colors = [matplotlib.colors.to_rgba(EDGE_COLOR, al) for al in alpha]
        lc = LineCollection(segs, colors=colors, linewidths=1.1 if mutual else 0.7, zorder=1,
                            linestyles=[(0, (3, 2)) if d else "solid" for d in dashed[mutual]])
        lc.set_gid("reciprocal_ties" if mutual else "one_way_ties")
        ax.add_collection(lc)
    if heads:
        pc = PolyCollection(heads, facecolors=EDGE_COLOR, edgecolors="none", alpha=0.8,
                            zorder=1)
        pc.set_gid("arrowheads")
        ax.add_collection(pc)


def draw_sociogram(graph: nx.DiGraph, key_figures: Any = None,
                   profiles: Mapping[str, str] | None = None, seed: int = DEFAULT_SEED,
                   colors: Mapping[str, str] | None = None,
                   labels: Mapping[str, str] | None = None, title: str | None = None,
                   size: float = 7.0, legend: Mapping[str, str] | None = None) -> Figure:
    """Draw one school's network.

    Parameters
    ----------
    graph : networkx.DiGraph
        From :func:`pipeline.network.school_graph` (uses node attributes ``contacts`` and
        ``responded`` when present; ``graph.graph["school_id"]`` for the title).
    key_figures : DataFrame or list of str, optional
        The key figures: a :func:`pipeline.network.key_figures` table (rows of other
        schools are ignored) or person ids in rank order. They are numbered 1..k.
    profiles : mapping person_id -> profile, optional
        Colours key figures by profile (people not in it keep the default key colour).
    seed : int
        Layout seed: the same graph and seed give the same picture.
    colors : mapping profile -> colour, optional
        Colours per profile; profiles without one get a fixed palette colour.
    labels : mapping profile -> legend label, optional
        Legend text per profile (default: the profile id).
    title : str, optional
        Default: ``"School <school_id>"``.
    size : float
        Figure width and height in inches.
    legend : mapping, optional
        The picture's words (keys of :data:`LEGEND`) in the report's language; those not
        given stay English.

    Returns
    -------
    matplotlib.figure.Figure
        On an Agg canvas; render with :func:`figure_bytes`.
    """
    ranked = _key_order(graph, key_figures)
    rank_of = {p: i for i, p in enumerate(ranked, start=1)}
    profiles = dict(profiles or {})
    colors = dict(colors or {})
    labels = dict(labels or {})
    words = {**LEGEND, **(legend or {})}
    used_profiles = sorted({profiles[p] for p in ranked if p in profiles})
    free = [c for c in PALETTE if c.lower() not in {str(v).lower() for v in colors.values()}]
    for i, prof in enumerate(p for p in used_profiles if p not in colors):
        colors[prof] = (free or list(PALETTE))[i % len(free or PALETTE)]
    for prof in used_profiles:
        if not matplotlib.colors.is_color_like(colors[prof]):
            raise ValueError(f"not a colour for profile {prof!r}: {colors[prof]!r}")

    fig = Figure(figsize=(size, size), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.1, 0.96, 0.82))
    ax.set_axis_off()
    ax.set_aspect("equal")
    school = graph.graph.get("school_id")
    fig.suptitle(title if title is not None else (f"School {school}" if school else ""),
                 fontsize=12, y=0.97)

    pos = _layout(graph, seed)
    _spread(pos, ranked)
    nodes = sorted(graph.nodes, key=str)
    if not nodes:
        ax.text(0.5, 0.5, words["no_staff"], ha="center", va="center", transform=ax.transAxes)
        return fig

    def contacts(n: str) -> float:
        c = graph.nodes[n].get("contacts")
        if c is None or (isinstance(c, float) and math.isnan(c)):
            c = len(set(graph.successors(n)) | set(graph.predecessors(n)))
        return float(c)

    cmax = max(max(contacts(n) for n in nodes), 1.0)
    area = {n: 30.0 + 220.0 * contacts(n) / cmax + (120.0 if n in rank_of else 0.0)
            for n in nodes}

    nodes = [n for n in nodes if n not in rank_of] + ranked  # key figures drawn on top
    xy = np.array([pos[n] for n in nodes])
    pad = 0.08
    ax.set_xlim(xy[:, 0].min() - pad, xy[:, 0].max() + pad)
    ax.set_ylim(xy[:, 1].min() - pad, xy[:, 1].max() + pad)
    _draw_ties(ax, graph, pos, area, rank_of)

    fill = []
    for n in nodes:
        if n in rank_of:
            fill.append(colors.get(profiles.get(n, ""), KEY_COLOR) if n in profiles
                        else KEY_COLOR)
        else:
            fill.append(NODE_COLOR)
    responded = [bool(graph.nodes[n].get("responded", True)) for n in nodes]
    face = [f if r else "white" for f, r in zip(fill, responded, strict=True)]
    edge = ["#333333" if r else f for f, r in zip(fill, responded, strict=True)]
    dots = ax.scatter(xy[:, 0], xy[:, 1], s=[area[n] for n in nodes], c=face, edgecolors=edge,
                      linewidths=[0.6 if r else 1.6 for r in responded], zorder=2)
    dots.set_gid("staff")
    for n in ranked:
        x, y = pos[n]
        ax.text(x, y, str(rank_of[n]), ha="center", va="center", fontsize=9,
                fontweight="bold", color="white" if graph.nodes[n].get("responded", True)
                else "black", zorder=3)

    handles = [Line2D([], [], ls="", marker=r"$\longrightarrow$", markersize=22,
                      color=EDGE_COLOR, label=words["one_way"]),
               Line2D([], [], ls="", marker=r"$\longleftrightarrow$", markersize=22,
                      color=EDGE_COLOR, label=words["reciprocal"]),
               Line2D([], [], ls="", marker="o", mfc="white", mec="#555555",
                      label=words["no_response"])]
    if any(imputed for _, _, imputed in graph.edges(data="imputed")):
        handles.insert(2, Line2D([], [], ls=(0, (3, 2)), lw=1.1, color=EDGE_COLOR,
                                 label=words["imputed"]))
    if any(p not in profiles for p in ranked):
        handles.append(Line2D([], [], ls="", marker="o", mfc=KEY_COLOR, mec="#333333",
                              markersize=9, label=words["key_figure_no_profile"]
                              if used_profiles else words["key_figure"]))
    for prof in used_profiles:
        handles.append(Line2D([], [], ls="", marker="o", mfc=colors[prof], mec="#333333",
                              markersize=9, label=labels.get(prof, prof)))
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    return fig


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 150) -> bytes:
    """Render a figure to PNG or SVG bytes that are identical across runs.

    SVG: fixed ``svg.hashsalt`` (element ids), text as paths, no date in the metadata.
    PNG: no date, fixed ``Software`` entry.

    Examples
    --------
    >>> fig = Figure(); _ = FigureCanvasAgg(fig); _ = fig.add_subplot().plot([0, 1])
    >>> figure_bytes(fig, "svg") == figure_bytes(fig, "svg")
    True
    """
    if fmt not in ("png", "svg"):
        raise ValueError(f"format must be 'png' or 'svg', got {fmt!r}")
    metadata = ({"Date": None, "Creator": "sleutelfiguren"} if fmt == "svg"
                else {"Software": "sleutelfiguren (matplotlib)"})
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASHSALT, "svg.fonttype": "path"}):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()
