"""Generate the demo cohort's network: cohort.yaml, staff.csv and nominations.csv.

The demo cohort is fictional: five invented Dutch secondary schools, invented people, an
invented survey. This script is the only source of the three files; edit it, not them.

    python data/demo/generate_network.py            # rewrite data/demo/{cohort.yaml,...}
    python data/demo/generate_network.py --out DIR  # write them elsewhere
    python data/demo/generate_network.py --tables   # also print the data card's tables

What it does

* Five schools (:data:`SCHOOLS`) with their PLGs and nine fixed people each
  (:data:`FIXED`): three key figures with an intended profile (sender, basic / advanced
  interactive, super-sharer) and six named colleagues who appear in the interview
  transcripts. Everyone else is generated (names from lists of Dutch first and last names).
* The network comes from :mod:`pipeline.synthetic`: ordinary respondents nominate about
  Poisson(4) colleagues, more often and more strongly within their own PLG, with some
  reciprocity; the key figures get planted ties that fit their profile, mostly with
  colleagues outside their own PLG (boundary-spanning). See that module's docstring.
* Six deliberate data-quality problems are added (2 self-nominations, 3 duplicate
  nominations, 1 nomination of an unknown person id), for the pipeline's data-quality report.
* :func:`verify` recomputes every key figure's contacts, reciprocity and strength from the
  written tables (without the deliberate bad rows) and asserts the design: the three key
  figures are the school's top 3 by contacts with a clear margin, on all ties and on
  boundary-spanning ties, and each one's position fits its profile with room to spare.

All randomness comes from ``numpy.random.default_rng(SEED)``; every run writes the same
bytes. Files are written with :func:`pipeline.io.write_csv` / :func:`pipeline.io.atomic_write`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
try:
    import pipeline  # noqa: F401
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(HERE.parents[1]))

from pipeline import io  # noqa: E402
from pipeline.synthetic import (  # noqa: E402
    NOMINATION_COLUMNS,
    STAFF_COLUMNS,
    FixedPerson,
    SchoolSpec,
    add_data_quality_problems,
    clean_nominations,
    generate_cohort,
    tie_summary,
)

#: The article number of van den Boom-Muilenburg et al. (2022), the study this demo mimics.
SEED = 103577

COHORT_YAML = """\
# The demo cohort (fictional). Written by data/demo/generate_network.py: edit the script.
name: demo
language: nl
survey_question: "Met wie praat je over de PLG?"
tie_strength:
  min: 1
  max: 5
  label: "1 = een paar keer per jaar ... 5 = (bijna) dagelijks"
"""


def _plgs(school: str, *kinds: str) -> tuple[tuple[str, str], ...]:
    types = {"dt": "data_team", "ls": "lesson_study"}
    return tuple((f"{school}-{k}", types[k[:2]]) for k in kinds)


SCHOOLS = [
    # Ingrid's data team: "met zes begonnen" (incl. Yvonne Smit), Lotte van Dijk joined
    SchoolSpec("sch01", "Meerwijk College", 120, _plgs("sch01", "dt1", "dt2", "ls1"),
               plg_sizes=(("sch01-dt1", 7),)),
    SchoolSpec("sch02", "Scholengemeenschap De Wielewaal", 140,
               _plgs("sch02", "dt1", "dt2", "ls1", "ls2")),
    SchoolSpec("sch03", "Oostergrift Lyceum", 90, _plgs("sch03", "dt1", "ls1", "ls2")),
    # the transcripts name the data team on absenteeism: Peter, Romy, Ilse, Gijs + 1 mentor
    SchoolSpec("sch04", "Kempenhorst College", 75, _plgs("sch04", "dt1", "dt2", "ls1"),
               plg_sizes=(("sch04-dt1", 5),)),
    # the transcripts: lesson study team of four, data team "we zijn met vijf"
    SchoolSpec("sch05", "Stedelijk College Zandhove", 55, _plgs("sch05", "dt1", "ls1"),
               plg_sizes=(("sch05-ls1", 4), ("sch05-dt1", 5))),
]

F = FixedPerson
#: Fixed people per school. PLG None = drawn, "" = none; memberships of named colleagues
#: follow what the interview transcripts say about them.
FIXED: dict[str, list[FixedPerson]] = {
    "sch01": [
        F(1, "Ingrid Verbeek", "team_leader", "bovenbouw havo", (24, 15), "sch01-dt1",
          "super_sharer"),
        F(2, "Ruud Hoekstra", "teacher", "wiskunde", (17, 11), "sch01-dt2", "sender"),
        F(3, "Fatima el Amrani", "teacher", "biologie", (12, 8), "sch01-ls1",
          "basic_interactive"),
        F(4, "Kees de Wit", "school_leader", "rector"),
        F(5, "Sanne Bos", "teacher", "Engels"),
        F(6, "Marco Jansen", "team_leader", "onderbouw"),
        F(7, "Lotte van Dijk", "teacher", "Nederlands", plg_id="sch01-dt1"),
        F(8, "Yvonne Smit", "support", "decaan", plg_id="sch01-dt1"),
        F(9, "Hans Peters", "support", "roostermaker"),
    ],
    "sch02": [
        F(1, "Marieke Dekker", "team_leader", "afdelingsleider vmbo", (22, 14), "sch02-dt1",
          "super_sharer"),
        F(2, "Joost van den Berg", "teacher", "geschiedenis", (19, 12), "sch02-ls1",
          "advanced_interactive"),
        F(3, "Anton Mulder", "teacher", "economie", (15, 9), "sch02-dt2", "sender"),
        F(4, "Gerda Hofman", "school_leader", "directeur"),
        F(5, "Thijs Vermeulen", "teacher", "Nederlands"),
        F(6, "Nadia Bouzid", "support", "zorgcoördinator"),
        F(7, "Erik Schouten", "teacher", "wiskunde"),
        F(8, "Femke Kok", "team_leader", "havo"),
        F(9, "Rob van Leeuwen", "support", "ICT"),
    ],
    "sch03": [
        F(1, "Hester Willems", "school_leader", "conrector", (26, 18), "sch03-dt1",
          "super_sharer"),
        F(2, "Bram Koster", "teacher", "natuurkunde", (10, 6), "sch03-ls1",
          "basic_interactive"),
        F(3, "Esther Bakker", "teacher", "Frans", (18, 13), "sch03-dt1", "advanced_interactive"),
        F(4, "Frank Hermans", "school_leader", "rector"),
        F(5, "Julia Maas", "teacher", "Latijn", plg_id="sch03-ls2"),
        F(6, "Pieter Claassen", "teacher", "Duits", plg_id="sch03-dt1"),
        F(7, "Noor Sedney", "teacher", "scheikunde", plg_id=""),
        F(8, "Daan Kuipers", "team_leader", "bovenbouw", plg_id=""),
        F(9, "Wendy Lammers", "support", "onderwijsassistent"),
    ],
    "sch04": [
        F(1, "Peter Visser", "team_leader", "vmbo-t", (21, 16), "sch04-dt1", "super_sharer"),
        F(2, "Linda Meijer", "teacher", "Nederlands", (14, 10), "sch04-dt2", "sender"),
        F(3, "Mehmet Yilmaz", "teacher", "wiskunde", (9, 7), "sch04-ls1", "basic_interactive"),
        F(4, "Ans Groen", "school_leader", "directeur"),
        F(5, "Bas Timmermans", "teacher", "geschiedenis", plg_id=""),
        F(6, "Ilse Vos", "teacher", "mentor leerjaar 3", plg_id="sch04-dt1"),
        F(7, "Gijs Scholten", "teacher", "wiskunde", plg_id="sch04-dt1"),
        F(8, "Romy Prins", "support", "verzuimcoördinator", plg_id="sch04-dt1"),
        F(9, "Jan Wouters", "support", "conciërge", plg_id=""),
    ],
    "sch05": [
        F(1, "Anouk de Graaf", "teacher", "aardrijkskunde", (20, 12), "sch05-ls1",
          "advanced_interactive"),
        F(2, "Wim Brouwer", "teacher", "Duits", (27, 20), "sch05-dt1", "sender"),
        F(3, "Sophie Hendriks", "teacher", "Engels", (11, 5), "sch05-ls1", "basic_interactive"),
        F(4, "Karin Postma", "school_leader", "directeur"),
        F(5, "Ahmed Benali", "teacher", "Frans", plg_id="sch05-ls1"),
        F(6, "Lisa van der Heijden", "team_leader", "bovenbouw", plg_id="sch05-dt1"),
        F(7, "Tom Verhoeven", "teacher", "aardrijkskunde", plg_id="sch05-ls1"),
        F(8, "Mirjam de Boer", "support", "mediathecaris"),
        F(9, "Henk Jacobs", "teacher", "Duits", plg_id=""),
    ],
}

#: The typo in the unknown-person nomination: sch02-p017 entered as sch02-p0l7.
TYPO_OF = ("sch02-p017",)


# ---------------------------------------------------------------- build
def build(seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(staff, nominations with the deliberate problems, key-figure plan, problems)."""
    rng = np.random.default_rng(seed)
    staff, noms, key = generate_cohort(rng, SCHOOLS, FIXED, mean_out=4.0, kf_jitter=1)
    noms, problems = add_data_quality_problems(
        rng, staff, noms, self_nominations=2, duplicates=3, typo_of=TYPO_OF,
        protect=[p for p in staff["person_id"] if int(p.rsplit("-p", 1)[1]) <= 9])
    return staff, noms, key, problems


def staff_csv_frame(staff: pd.DataFrame) -> pd.DataFrame:
    out = staff[STAFF_COLUMNS].copy()
    out["responded"] = np.where(out["responded"], "true", "false")
    return out


def write(out: Path, staff: pd.DataFrame, noms: pd.DataFrame) -> None:
    io.atomic_write(out / "cohort.yaml", COHORT_YAML)
    io.write_csv(staff_csv_frame(staff), out / "staff.csv")
    io.write_csv(noms[NOMINATION_COLUMNS], out / "nominations.csv")


# ---------------------------------------------------------------- verify
TARGETS = {  # profile: (contacts range, mean strength target)
    "sender": ((25, 35), 3.0),
    "basic_interactive": ((20, 30), 3.2),
    "advanced_interactive": ((25, 35), 3.4),
    "super_sharer": ((33, 43), 4.3),
}
CONTACT_MARGIN = 5  # key figure no. 3 has at least this many more contacts than no. 4 ...
CONTACT_RATIO = 1.25  # ... and at least this many times as many


def key_figure_metrics(staff: pd.DataFrame, clean: pd.DataFrame,
                       key: pd.DataFrame) -> pd.DataFrame:
    """The key figures' generated position, on all ties and on boundary-spanning ties."""
    cols = ["out_ties", "in_ties", "reciprocal_ties", "contacts", "mean_strength",
            "reciprocity_ratio", "out_share"]
    all_ = tie_summary(staff, clean, scope="all").set_index("person_id")[cols]
    bnd = tie_summary(staff, clean, scope="boundary").set_index("person_id")[cols]
    info = staff.set_index("person_id")
    t = key[["school_id", "person_id", "profile"]].copy()
    for c in ("name", "role", "subject", "years_in_education", "years_at_school", "plg_id"):
        t[c] = t["person_id"].map(info[c])
    for c in cols:
        t[c] = t["person_id"].map(all_[c])
        t[f"b_{c}"] = t["person_id"].map(bnd[c])
    return t


def verify(staff: pd.DataFrame, noms: pd.DataFrame, key: pd.DataFrame,
           problems: pd.DataFrame) -> pd.DataFrame:
    """Check everything the demo promises; raise AssertionError listing what fails.

    Returns the key figures' metrics (see :func:`key_figure_metrics`).
    """
    fails: list[str] = []

    def check(ok: bool, msg: str) -> None:
        if not ok:
            fails.append(msg)

    # --- staff
    check(list(staff.columns[:9]) == STAFF_COLUMNS[:9], "staff: contract columns first")
    check(staff["person_id"].is_unique, "staff: person ids must be unique")
    for spec in SCHOOLS:
        s = staff[staff["school_id"] == spec.school_id]
        sid = spec.school_id
        check(len(s) == spec.n_staff, f"{sid}: {len(s)} staff, expected {spec.n_staff}")
        check(s["name"].is_unique, f"{sid}: names must be unique within the school")
        roles = s["role"].value_counts()
        check(2 <= roles.get("school_leader", 0) <= 3, f"{sid}: 2-3 school leaders")
        check(0.03 <= roles.get("team_leader", 0) / len(s) <= 0.08, f"{sid}: ~5% team leaders")
        check(0.09 <= roles.get("support", 0) / len(s) <= 0.15, f"{sid}: ~12% support")
        check(roles.get("teacher", 0) / len(s) >= 0.7, f"{sid}: most staff are teachers")
        check(0.78 <= s["responded"].mean() <= 0.92,
              f"{sid}: response rate {s['responded'].mean():.2f} not about 0.85")
        sizes = s.loc[s["plg_id"] != "", "plg_id"].value_counts()
        for plg_id, plg_type in spec.plgs:
            n = int(sizes.get(plg_id, 0))
            check(3 <= n <= 8, f"{sid}: PLG {plg_id} has {n} members (3-8)")
            types = set(s.loc[s["plg_id"] == plg_id, "plg_type"])
            check(types == {plg_type}, f"{sid}: PLG {plg_id} type {types} != {plg_type}")
        check((s["plg_id"] == "").mean() > 0.5, f"{sid}: most staff are in no PLG")
        check(((s["plg_id"] == "") == (s["plg_type"] == "")).all(),
              f"{sid}: plg_type empty exactly when plg_id is")
        for f in FIXED[sid]:
            row = s[s["person_id"] == f"{sid}-p{f.number:03d}"].iloc[0]
            check(row["name"] == f.name and row["role"] == f.role and bool(row["responded"]),
                  f"{sid}: fixed person {f.name} is not as given (name/role/responded)")
            if f.years:
                check((row["years_in_education"], row["years_at_school"]) == f.years,
                      f"{sid}: {f.name}'s years are not {f.years}")
            if f.plg_id is not None:
                check(row["plg_id"] == f.plg_id, f"{sid}: {f.name} should be in {f.plg_id!r}")
    yrs = staff[["years_in_education", "years_at_school"]]
    check((yrs.dtypes == "int64").all(), "staff: years must be integers")
    check(((yrs["years_at_school"] >= 0)
           & (yrs["years_at_school"] <= yrs["years_in_education"])
           & (yrs["years_in_education"] <= 45)).all(),
          "staff: need 0 <= years_at_school <= years_in_education <= 45")

    # --- nominations and the deliberate problems
    check(list(noms.columns) == NOMINATION_COLUMNS, "nominations: columns")
    check(noms["strength"].between(1, 5).all() and noms["strength"].dtype == "int64",
          "nominations: strength must be an integer 1-5")
    responded = dict(zip(staff["person_id"], staff["responded"], strict=True))
    check(noms["ego"].map(responded).fillna(False).astype(bool).all(),
          "nominations: only respondents nominate")
    clean, dropped = clean_nominations(staff, noms)
    expected = {"self_nomination": 2, "duplicate": 3, "unknown_person": 1}
    check(dropped == expected, f"data-quality problems: {dropped}, expected {expected}")
    check(problems["kind"].value_counts().to_dict() == expected,
          "problems table does not list exactly the deliberate rows")
    check(len(noms) - len(clean) == 6, "exactly six deliberate bad rows")

    # --- the background network
    kf_ids = set(key["person_id"])
    t_all = tie_summary(staff, clean, scope="all")
    ordinary = t_all[~t_all["person_id"].isin(kf_ids)
                     & t_all["person_id"].map(responded).astype(bool)]
    mean_out = ordinary["out_ties"].mean()
    check(3.5 <= mean_out <= 4.5, f"ordinary respondents' mean out-degree {mean_out:.2f} != ~4")
    check((ordinary["out_ties"] == 0).sum() > 0, "some respondents nominate nobody")
    plg = dict(zip(staff["person_id"], staff["plg_id"], strict=True))
    o = clean[~clean["ego"].isin(kf_ids) & ~clean["alter"].isin(kf_ids)]
    inside = (o["ego"].map(plg) == o["alter"].map(plg)) & (o["ego"].map(plg) != "")
    s_in, s_out = o.loc[inside, "strength"].mean(), o.loc[~inside, "strength"].mean()
    check(s_in >= s_out + 0.5, f"ties within a PLG should be stronger ({s_in:.2f} vs {s_out:.2f})")
    members = o["ego"].map(plg) != ""
    share_in = inside[members].mean()
    check(share_in >= 0.15,
          f"PLG members' ties inside their PLG: {share_in:.2f} (expect >= 0.15)")
    pairs = set(zip(o["ego"], o["alter"], strict=True))
    rec = np.mean([(b, a) in pairs for a, b in zip(o["ego"], o["alter"], strict=True)])
    check(0.1 <= rec <= 0.45, f"share of ordinary ties that are reciprocated {rec:.2f}")

    # --- the key figures
    m = key_figure_metrics(staff, clean, key)
    for scope, prefix in (("all ties", ""), ("boundary-spanning ties", "b_")):
        t = t_all if not prefix else tie_summary(staff, clean, scope="boundary")
        for spec in SCHOOLS:
            sid = spec.school_id
            s = t[t["school_id"] == sid].sort_values(["contacts", "person_id"],
                                                     ascending=[False, True])
            top3 = set(s["person_id"].iloc[:3])
            kfs = set(key.loc[key["school_id"] == sid, "person_id"])
            check(top3 == kfs, f"{sid} ({scope}): top 3 by contacts {sorted(top3)} are not "
                  f"the key figures {sorted(kfs)}")
            third, fourth = int(s["contacts"].iloc[2]), int(s["contacts"].iloc[3])
            check(third >= fourth + CONTACT_MARGIN and third >= CONTACT_RATIO * fourth,
                  f"{sid} ({scope}): no clear margin, no. 3 has {third} contacts, "
                  f"no. 4 {fourth}")
            mk = m[m["school_id"] == sid]
            super_ = mk[mk["profile"] == "super_sharer"]
            if len(super_):
                r = super_.iloc[0]
                others = s[s["person_id"] != r["person_id"]]
                gap = r[f"{prefix}reciprocal_ties"] - others["reciprocal_ties"].max()
                check(gap >= 5, f"{sid} ({scope}): super-sharer {r['name']} has only {gap} "
                      "more reciprocal ties than anyone else (need >= 5)")
                kf_others = mk[mk["person_id"] != r["person_id"]]
                sgap = r[f"{prefix}mean_strength"] - kf_others[f"{prefix}mean_strength"].max()
                check(sgap >= 0.5, f"{sid} ({scope}): super-sharer {r['name']}'s mean strength "
                      f"is only {sgap:.2f} above the other key figures' (need >= 0.5)")
        for _, r in m.iterrows():
            who = f"{r['school_id']} {r['name']} ({r['profile']}, {scope})"
            ratio, share = r[f"{prefix}reciprocity_ratio"], r[f"{prefix}out_share"]
            if r["profile"] == "sender":
                check(share >= 0.8, f"{who}: out_share {share:.2f} < 0.8")
                check(ratio <= 0.2, f"{who}: reciprocity_ratio {ratio:.2f} > 0.2")
            elif r["profile"] in ("basic_interactive", "advanced_interactive"):
                check(ratio >= 0.55, f"{who}: reciprocity_ratio {ratio:.2f} < 0.55")
            else:
                check(ratio >= 0.65, f"{who}: reciprocity_ratio {ratio:.2f} < 0.65")
    for _, r in m.iterrows():
        who = f"{r['school_id']} {r['name']} ({r['profile']})"
        (lo, hi), strength = TARGETS[r["profile"]]
        check(lo <= r["contacts"] <= hi, f"{who}: {r['contacts']} contacts, want {lo}-{hi}")
        check(abs(r["mean_strength"] - strength) <= 0.3,
              f"{who}: mean strength {r['mean_strength']:.2f}, want ~{strength}")
        b_plg = r["contacts"] - r["b_contacts"]
        check(b_plg <= 0.25 * r["contacts"], f"{who}: most ties must be boundary-spanning")

    if fails:
        raise AssertionError("demo network does not meet its design:\n  - " + "\n  - ".join(fails))
    return m


# ---------------------------------------------------------------- data card tables
def markdown_tables(staff: pd.DataFrame, noms: pd.DataFrame, key: pd.DataFrame,
                    problems: pd.DataFrame) -> str:
    """The schools, key-figure and data-quality tables of data/demo/README.md."""
    clean, _ = clean_nominations(staff, noms)
    lines = ["| school | name | staff | respondents | nominations | PLGs (members) |",
             "|---|---|---:|---:|---:|---|"]
    for spec in SCHOOLS:
        s = staff[staff["school_id"] == spec.school_id]
        sizes = s.loc[s["plg_id"] != "", "plg_id"].value_counts()
        plgs = ", ".join(f"{p} {t.replace('_', ' ')} ({sizes.get(p, 0)})" for p, t in spec.plgs)
        n_noms = int((clean["school_id"] == spec.school_id).sum())
        lines.append(f"| {spec.school_id} | {spec.name} | {len(s)} | {int(s['responded'].sum())} "
                     f"| {n_noms} | {plgs} |")
    lines.append(f"| **all** | | **{len(staff)}** | **{int(staff['responded'].sum())}** | "
                 f"**{len(clean)}** | |")
    lines += ["", "| school | person_id | name | role | years (educ./school) | PLG | intended "
              "profile | contacts | out | in | reciprocal | mean strength | boundary: contacts "
              "| out | in | reciprocal |",
              "|---|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    m = key_figure_metrics(staff, clean, key)
    for _, r in m.iterrows():
        role = r["role"].replace("_", " ") + (f" ({r['subject']})" if r["subject"] else "")
        lines.append(
            f"| {r['school_id']} | {r['person_id']} | {r['name']} | {role} | "
            f"{r['years_in_education']}/{r['years_at_school']} | {r['plg_id']} | "
            f"{r['profile']} | {r['contacts']} | {r['out_ties']} | {r['in_ties']} | "
            f"{r['reciprocal_ties']} | {r['mean_strength']:.2f} | {r['b_contacts']} | "
            f"{r['b_out_ties']} | {r['b_in_ties']} | {r['b_reciprocal_ties']} |")
    ratio = m["reciprocal_ties"] / m["contacts"]
    share = m["out_ties"] / (m["out_ties"] + m["in_ties"])
    send, inter = m["profile"] == "sender", m["profile"].str.endswith("_interactive")
    sup = m["profile"] == "super_sharer"
    t = tie_summary(staff, clean)
    gaps = [int(r["reciprocal_ties"] - t.loc[(t["school_id"] == r["school_id"])
                                             & (t["person_id"] != r["person_id"]),
                                             "reciprocal_ties"].max())
            for _, r in m[sup].iterrows()]

    def span(x: pd.Series | list, fmt: str = ".2f") -> str:
        lo, hi = format(min(x), fmt), format(max(x), fmt)
        return lo if lo == hi else f"{lo}-{hi}"

    lines += ["", f"Derived: senders' out_share (out / (out + in)) is {span(share[send])} and "
              f"reciprocity_ratio (reciprocal / contacts) {span(ratio[send])}; interactive key "
              f"figures' reciprocity_ratio is {span(ratio[inter])}; super-sharers' "
              f"{span(ratio[sup])}, with {span(gaps, 'd')} more reciprocal ties than anyone "
              "else in their school."]
    lines += ["", "| problem | school | ego | alter | strength | what |",
              "|---|---|---|---|---:|---|"]
    for _, p in problems.iterrows():
        lines.append(f"| {p['kind']} | {p['school_id']} | {p['ego']} | {p['alter']} | "
                     f"{p['strength']} | {p['note']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE, help="folder to write (default: here)")
    ap.add_argument("--tables", action="store_true", help="print the data card's tables")
    args = ap.parse_args(argv)
    staff, noms, key, problems = build()
    verify(staff, noms, key, problems)
    write(args.out, staff, noms)
    # verify what was written, as the pipeline will read it
    cohort = io.load_cohort(args.out)
    back = cohort.staff.drop(columns="line").astype({"years_in_education": "int64",
                                                     "years_at_school": "int64"})
    back_noms = cohort.nominations.drop(columns="line").astype({"strength": "int64"})
    verify(back[STAFF_COLUMNS], back_noms, key, problems)
    print(f"wrote {args.out}: {len(staff)} staff, {len(noms)} nominations "
          f"({len(problems)} deliberate problems); verification passed")
    if args.tables:
        print(markdown_tables(staff, noms, key, problems))
    return 0


if __name__ == "__main__":
    sys.exit(main())
