"""Writing results: tables, sociograms, graph exports and the HTML report.

With ``io.py`` the only module that writes files. It receives finished tables from the
stages and lays them out in the output folder (see DESIGN.md, "Outputs of a run").
"""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402

from pipeline import network  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.io import Cohort, atomic_write, write_csv  # noqa: E402
from pipeline.sociogram import draw_sociogram, figure_bytes  # noqa: E402

__all__ = ["write_network", "write_run", "render_html"]


def _sociograms(stage: Path, net, cohort: Cohort, settings: Settings, profiles: dict | None,
                reveal_names: bool) -> dict[str, str]:
    """PNG + SVG per school; returns school -> PNG as a data URI for the HTML report."""
    colors = {p.id: p.color for p in settings.profiles.profiles}
    colors["undetermined"] = settings.profiles.undetermined.color
    lang = settings.pipeline.language
    labels = {p.id: getattr(p.label, lang) for p in settings.profiles.profiles}
    labels["undetermined"] = getattr(settings.profiles.undetermined.label, lang)
    inline = {}
    import matplotlib.pyplot as plt

    for school in sorted(net.metrics["school_id"].unique()):
        graph = network.school_graph(cohort.staff, net.nominations, net.metrics, school,
                                     reveal_names=reveal_names)
        atomic_write(stage / "graphs" / f"{school}.graphml", network.graphml_bytes(graph))
        atomic_write(stage / "graphs" / f"{school}.net", network.pajek_text(graph))
        fig = draw_sociogram(graph, net.key_figures, profiles=profiles,
                             seed=settings.pipeline.seed, colors=colors, labels=labels)
        png = figure_bytes(fig, "png")
        atomic_write(stage / "figures" / f"sociogram_{school}.png", png)
        atomic_write(stage / "figures" / f"sociogram_{school}.svg", figure_bytes(fig, "svg"))
        plt.close(fig)
        inline[school] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return inline


def write_network(stage: Path, net, cohort: Cohort, settings: Settings, *,
                  reveal_names: bool = False, profiles: dict | None = None) -> dict[str, str]:
    """network_metrics.csv, school_metrics.csv, key_figures.csv, data_quality.csv, figures,
    graphs."""
    write_csv(net.metrics, stage / "network_metrics.csv")
    write_csv(net.schools, stage / "school_metrics.csv")
    write_csv(net.key_figures, stage / "key_figures.csv")
    write_csv(net.quality, stage / "data_quality.csv")
    return _sociograms(stage, net, cohort, settings, profiles, reveal_names)


def write_run(stage: Path, result, cohort: Cohort, settings: Settings, *,
              reveal_names: bool = False) -> None:
    """Every output of `pipeline run` (except the manifest, written last by the CLI)."""
    profiles = dict(zip(result.profiles["person_id"], result.profiles["profile"], strict=True))
    figures = write_network(stage, result.network, cohort, settings, reveal_names=reveal_names,
                            profiles=profiles)
    write_csv(result.segments, stage / "segments.csv")
    write_csv(result.person_codes, stage / "person_codes.csv")
    write_csv(result.features, stage / "person_features.csv")
    write_csv(result.profiles, stage / "profiles.csv")
    atomic_write(stage / "report.html", render_html(result, cohort, settings, figures))


def render_html(result, cohort: Cohort, settings: Settings, figures: dict[str, str]) -> str:
    env = Environment(loader=PackageLoader("pipeline", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    lang = settings.pipeline.language
    kf = result.network.key_figures.merge(result.profiles, on=["person_id", "school_id"],
                                          how="left")
    staff = cohort.staff.set_index("person_id")
    kf["role"] = kf["person_id"].map(staff["role"])
    kf["years_in_education"] = kf["person_id"].map(staff["years_in_education"])
    kf["profile_label"] = kf["profile"].map(lambda p: settings.profiles.label(p, lang))
    kf["color"] = kf["profile"].map(settings.profiles.color)
    schools = []
    for school, rows in kf.groupby("school_id", sort=True):
        schools.append({"id": school, "figure": figures.get(school, ""),
                        "key_figures": rows.sort_values("rank").to_dict(orient="records")})
    return env.get_template("report.html.j2").render(
        lang=lang, cohort=cohort.meta, schools=schools, warnings=result.warnings,
        n_staff=len(cohort.staff), n_segments=len(result.segments),
        school_table=result.network.schools.to_dict(orient="records"),
        card=result.model_card, coder=result.coder,
        counts=pd.Series(result.profiles["profile"]).value_counts().to_dict())
