"""Tests for pipeline/exports.py and `pipeline export ...`: REFI-QDA project and codebook
(validated against /work/shared/refi-qda/Project.xsd, parsed back), determinism, the code
matrix and the ENA table. Fixture: tests/data/annotate/cohort (see test_annotate.py)."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree
from typer.testing import CliRunner

from pipeline import exports as ex
from pipeline.annotate import LabelStore
from pipeline.cli import app
from pipeline.coding.assign import code_segments, load_coder
from pipeline.config import load_settings
from pipeline.io import load_cohort
from pipeline.run import cohort_documents, pseudonymiser_for, run_segments

FIXTURE = Path(__file__).parent / "data" / "annotate" / "cohort"
# REFI-QDA QDA-XML 1.0 project schema (MIT, notice inside), copied from shared/refi-qda
XSD = Path(__file__).parent / "data" / "exports" / "Project.xsd"
runner = CliRunner()


@pytest.fixture(scope="session")
def schema():
    return etree.XMLSchema(etree.parse(str(XSD)))


@pytest.fixture(scope="session")
def settings():
    return load_settings()


@pytest.fixture(scope="session")
def data():
    return load_cohort(FIXTURE)


@pytest.fixture(scope="session")
def coded(data, settings):
    coder, _ = load_coder(settings, rules=True)
    return code_segments(run_segments(data, settings), coder, settings.codebook)


@pytest.fixture(scope="session")
def documents(data):
    return ex.pseudonymise_documents(cohort_documents(data),
                                     pseudonymiser_for(data, load_settings().pipeline.segment))


@pytest.fixture(scope="session")
def gold(data):
    return data.labels.assign(time="2024-01-15T10:00:00.000+00:00")


def build(settings, coded, documents, gold, cases=None, **kw):
    docs, shifts = documents
    codings = pd.concat([ex.machine_codings(coded, "rules"), ex.human_codings(gold)],
                        ignore_index=True)
    located, dropped = ex.locate_codings(codings, docs, shifts)
    assert dropped == 0
    if cases is None:
        cases = pd.DataFrame({"person_id": ["s1-p1", "s2-p1"], "school_id": ["s1", "s2"],
                              "profile": ["sender", "super_sharer"], "out_ties": [3, 1],
                              "betweenness": [0.25, float("nan")]})
    return ex.build_qdpx(name="fixture", codebook=settings.codebook, documents=docs,
                         codings=located, users=["rules", "gold"], cases=cases, **kw), located


def test_doctests():
    import doctest

    assert doctest.testmod(ex).failed == 0


def test_qdpx_validates_and_parses_back(settings, coded, documents, gold, schema, data):
    payload, located = build(settings, coded, documents, gold)
    names = zipfile.ZipFile(io.BytesIO(payload)).namelist()
    assert names[0] == "project.qde" and all(n.startswith("sources/") for n in names[1:])
    back = ex.read_qdpx(payload)
    schema.assertValid(etree.fromstring(back["xml"]))
    # codes: families are non-codable parents, colours from the codebook
    cb = settings.codebook
    assert set(back["codes"]) == set(cb.code_ids) | set(cb.subtype_ids) | {
        f.id for f in cb.families}
    for fam in cb.families:
        assert back["codes"][fam.id]["codable"] is False
        for code in fam.codes:
            assert back["codes"][code.id] == {"guid": ex.guid("code", code.id), "codable": True,
                                              "color": code.color.lower(), "parent": fam.id}
    assert back["codes"]["exchange.input"]["parent"] == "exchange"
    # sources: pseudonymised transcripts, no roster name left
    docs, _ = documents
    assert back["sources"] == dict(zip(docs["stem"], docs["text"], strict=True))
    all_text = " ".join(back["sources"].values())
    for name in data.staff["name"]:
        assert name.split()[0] not in all_text
    # ranges: one selection per segment, its text is the (pseudonymised) segment text
    sel = back["selections"]
    seg_text = dict(zip(coded["segment_id"], coded["text"], strict=True))
    for row in sel.drop_duplicates("segment").itertuples():
        assert back["sources"][row.source][row.start:row.end] == seg_text[row.segment]
    got = set(zip(sel["segment"], sel["code"], sel["user"], strict=True))
    want = set(zip(located["segment_id"], located["code"], located["user"], strict=True))
    assert got == want
    assert back["users"] == {ex.guid("user", "rules"): "rules", ex.guid("user", "gold"): "gold"}
    assert back["cases"]["s1-p1"]["profile"] == "sender"
    assert back["cases"]["s1-p1"]["betweenness"] == "0.25"
    assert "betweenness" not in back["cases"]["s2-p1"]   # NaN is left out


def test_offsets_move_with_pseudonyms(documents, coded):
    docs, shifts = documents
    named = coded[coded["text"].str.contains("[persoon-", regex=False)]
    assert len(named)                                   # the fixture mentions colleagues
    text = dict(zip(docs["stem"], docs["text"], strict=True))
    for row in named.itertuples():
        stem = Path(row.doc).stem
        s, e = (ex.Pseudonymiser.map_offset(x, shifts[stem]) for x in (row.start, row.end))
        assert text[stem][s:e] == row.text


def test_qdpx_bytes_are_deterministic(settings, coded, documents, gold):
    a, _ = build(settings, coded, documents, gold)
    b, _ = build(settings, coded, documents, gold)
    assert a == b
    for info in zipfile.ZipFile(io.BytesIO(a)).infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)


def test_qdpx_selections_name_their_coder_and_time(settings, coded, documents, gold):
    """QualCoder's importer takes a coding's owner and date from its PlainTextSelection (and
    stops on a selection without creationDateTime): each selection is one coder's, with the
    time of its codings, or the fixed epoch for the machine coder's (no time known)."""
    payload, located = build(settings, coded, documents, gold)
    root = etree.fromstring(ex.read_qdpx(payload)["xml"])
    users = {u.get("guid"): u.get("name") for u in root.iter(f"{{{ex.NS_PROJECT}}}User")}
    codes = {c.get("guid"): c.get("name") for c in root.iter(f"{{{ex.NS_PROJECT}}}Code")}
    seen, times = set(), {}
    for sel in root.iter(f"{{{ex.NS_PROJECT}}}PlainTextSelection"):
        owner = users[sel.get("creatingUser")]            # as QualCoder reads it
        times.setdefault(owner, set()).add(sel.get("creationDateTime"))
        for coding in sel.iter(f"{{{ex.NS_PROJECT}}}Coding"):
            assert users[coding.get("creatingUser")] == owner
            seen.add((sel.get("name"), codes[coding[0].get("targetGUID")], owner))
    assert seen == set(zip(located["segment_id"], located["code"], located["user"],
                           strict=True))
    assert times == {"rules": {"1980-01-01T00:00:00Z"},
                     "gold": {"2024-01-15T10:00:00.000+00:00"}}


def test_qdpx_float_variables_keep_the_table_value(settings, coded, documents, gold,
                                                   shared_datadir):
    """A case variable says what network_metrics.csv says: a small betweenness is not
    rounded to 0 and a PageRank keeps its digits."""
    cases = pd.read_csv(shared_datadir / "exports" / "cases_metrics.csv")
    payload, _ = build(settings, coded, documents, gold, cases=cases)
    back = ex.read_qdpx(payload)["cases"]
    assert back["s1-p1"]["betweenness"] == "0.00000032"
    assert float(back["s1-p1"]["pagerank"]) == 0.05897957457081729
    assert back["s2-p1"]["pagerank"] == "0.0011" and "betweenness" not in back["s2-p1"]
    assert back["s1-p1"]["out_ties"] == "3"


def test_qdpx_offsets_hold_for_crlf_bom_emoji_and_cp1252(tmp_path, shared_datadir):
    """Transcripts saved on Windows (BOM + CRLF, or Windows-1252) or holding characters
    outside the BMP: every selection still spans its segment's text in the shipped UTF-8
    source (no BOM, no CR), counted in characters."""
    cohort = tmp_path / "cohort"
    shutil.copytree(shared_datadir / "annotate" / "cohort", cohort,
                    ignore=shutil.ignore_patterns("labels"))
    tr = cohort / "transcripts"
    crlf, emoji, ansi = (tr / "s1" / "s1-p1_interview_1.txt",
                         tr / "s1" / "s1-p3_interview_1.txt",
                         tr / "s2" / "s2-p1_interview_1.txt")
    crlf.write_bytes(b"\xef\xbb\xbf" + crlf.read_bytes().replace(b"\n", b"\r\n"))
    emoji.write_text(emoji.read_text("utf-8").replace("R: ", "R: \U0001f600 "), "utf-8")
    ansi.write_bytes(ansi.read_text("utf-8").replace("R: ", "R: \u2018\u00e9chte\u2019 ")
                     .encode("cp1252"))
    out = tmp_path / "c.qdpx"
    r = runner.invoke(app, ["export", "qdpx", str(cohort), "--out", str(out), "--rules"])
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(out) as zf:
        raw = [zf.read(n) for n in zf.namelist() if n.startswith("sources/")]
    assert not any(b.startswith(b"\xef\xbb\xbf") or b"\r" in b for b in raw)
    back = ex.read_qdpx(out.read_bytes())
    assert "\U0001f600" in back["sources"]["s1-p3_interview_1"]
    assert "\u2018\u00e9chte\u2019" in back["sources"]["s2-p1_interview_1"]
    segments = tmp_path / "segments.csv"
    assert runner.invoke(app, ["segment", str(cohort), "--out", str(segments)]).exit_code == 0
    text = dict(pd.read_csv(segments, dtype=str, keep_default_na=False)
                .set_index("segment_id")["text"])
    sel = back["selections"].drop_duplicates(["segment"])
    assert set(sel["source"]) >= {"s1-p1_interview_1", "s1-p3_interview_1", "s2-p1_interview_1"}
    for row in sel.itertuples():
        assert back["sources"][row.source][row.start:row.end] == text[row.segment]


def test_qdpx_refuses_unknown_users_and_codes(settings, documents):
    docs, _ = documents
    bad = pd.DataFrame([{"segment_id": "x@0-1", "code": "focus", "user": "nobody", "time": "",
                         "stem": docs["stem"].iloc[0], "start": 0, "end": 1}])
    with pytest.raises(ValueError, match="nobody"):
        ex.build_qdpx(name="x", codebook=settings.codebook, documents=docs, codings=bad,
                      users=["rules"])
    with pytest.raises(ValueError, match="focuss"):
        ex.build_qdpx(name="x", codebook=settings.codebook, documents=docs,
                      codings=bad.assign(user="rules", code="focuss"), users=["rules"])


def test_qdc_codebook(settings, schema):
    xml = ex.build_qdc(settings.codebook)
    root = etree.fromstring(xml)
    assert root.tag == f"{{{ex.NS_CODEBOOK}}}CodeBook"
    codes = root.findall(f".//{{{ex.NS_CODEBOOK}}}Code")
    assert len(codes) == 2 + 8 + 9
    # the codebook schema's CodeType is the project schema's: validate the tree inside a project
    text = xml.decode().split("?>", 1)[1].replace(ex.NS_CODEBOOK, ex.NS_PROJECT)
    inner = etree.fromstring(text)
    project = etree.Element(f"{{{ex.NS_PROJECT}}}Project", name="x", nsmap={None: ex.NS_PROJECT})
    book = etree.SubElement(project, f"{{{ex.NS_PROJECT}}}CodeBook")
    book.append(inner[0])
    schema.assertValid(project)


def test_cli_qdpx_exports_corrected_codes(tmp_path, shared_datadir, schema):
    """`export qdpx --codes`: the codes of a run's segments.csv corrected by hand reach the
    .qdpx (as they do the report through `pipeline report --codes`), without coding again;
    the coder is the run's, and a hand-made correction is named in a warning."""
    cohort = shared_datadir / "annotate" / "cohort"
    run = tmp_path / "run"
    r = runner.invoke(app, ["run", str(cohort), "--out", str(run), "--rules", "--jobs", "1"])
    assert r.exit_code == 0, r.output
    seg = pd.read_csv(run / "segments.csv", dtype=str, keep_default_na=False)
    first = seg.index[seg["knowledge_types"].str.contains("organisational").eq(False)][0]
    seg.loc[first, "knowledge_types"] = ";".join(filter(None, [
        seg.loc[first, "knowledge_types"], "organisational"]))
    seg.loc[first, "coder"] = "JD"
    corrected = tmp_path / "corrected.csv"
    seg.to_csv(corrected, index=False)
    qdpx = tmp_path / "c.qdpx"
    r = runner.invoke(app, ["export", "qdpx", str(cohort), "--out", str(qdpx), "--codes",
                            str(corrected), "--no-labels"])
    assert r.exit_code == 0, r.output
    back = ex.read_qdpx(qdpx.read_bytes())
    schema.assertValid(etree.fromstring(back["xml"]))
    sel = back["selections"]
    assert set(sel["user"]) == {"rules", "JD"}
    hand = sel[sel["user"] == "JD"]
    assert "organisational" in set(hand["code"]) and hand["segment"].nunique() == 1
    assert "its coder column says JD + rules" in " ".join(r.output.split()), r.output
    made = qdpx.read_bytes()
    r = runner.invoke(app, ["export", "qdpx", str(cohort), "--out", str(qdpx), "--codes",
                            str(tmp_path / "missing.csv")])
    assert r.exit_code != 0 and qdpx.read_bytes() == made
    r = runner.invoke(app, ["export", "qdpx", str(cohort), "--out", str(qdpx), "--codes",
                            str(corrected), "--rules", "--model", "models/default"])
    assert r.exit_code == 2 and "give --model or --rules, not both" in r.output, r.output
    assert qdpx.read_bytes() == made


def test_cli_exports(tmp_path, shared_datadir, schema, settings):
    cohort = shared_datadir / "annotate" / "cohort"
    names = settings.codebook.code_ids + settings.codebook.subtype_ids
    store = LabelStore.for_cohort(cohort, names)
    store.add(pd.DataFrame({"segment_id": ["s1-p3_interview_1@66-84"], "code": ["benefits"],
                            "value": ["1"], "annotator": ["alice"], "time": [""]}), "t")
    qdpx = tmp_path / "c.qdpx"
    r = runner.invoke(app, ["export", "qdpx", str(cohort), "--out", str(qdpx), "--rules"])
    assert r.exit_code == 0, r.output
    back = ex.read_qdpx(qdpx.read_bytes())
    schema.assertValid(etree.fromstring(back["xml"]))
    assert set(back["users"].values()) == {"rules", "gold", "alice"}
    assert len(back["cases"]) == 6 and all("profile" in v for v in back["cases"].values())
    r = runner.invoke(app, ["export", "qdc", str(cohort), "--out", str(tmp_path / "c.qdc")])
    assert r.exit_code == 0, r.output
    matrix = tmp_path / "m.csv"
    r = runner.invoke(app, ["export", "matrix", str(cohort), "--out", str(matrix), "--rules"])
    assert r.exit_code == 0, r.output
    m = pd.read_csv(matrix, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(m.columns[:6]) == ["segment_id", "school_id", "person_id", "source", "doc",
                                   "annotator"]
    assert list(m.columns[6:]) == names
    assert m["annotator"].value_counts().to_dict() == {"rules": 56, "gold": 40, "alice": 1}
    alice = m[m["annotator"] == "alice"].iloc[0]
    assert alice["benefits"] == "1" and alice["focus"] == "" and alice["person_id"] == "s1-p3"
    ena = tmp_path / "e.csv"
    r = runner.invoke(app, ["export", "ena", str(cohort), "--out", str(ena), "--rules",
                            "--prefer-labels"])
    assert r.exit_code == 0, r.output
    e = pd.read_csv(ena, encoding="utf-8-sig")
    assert list(e.columns[:7]) == ["units", "conversation", "school_id", "person_id", "source",
                                   "segment_id", "annotator"]
    assert len(e) == 56 and e["segment_id"].is_unique
    assert set(e["annotator"]) == {"rules", "labels:gold"}
    assert e.loc[e["annotator"] == "labels:gold", "segment_id"].nunique() == 40
    assert set(e[settings.codebook.code_ids].stack().unique()) <= {0, 1}


def test_ena_help_says_who_the_units_are(tmp_path, shared_datadir):
    """The units of the ENA table are everyone with transcripts, not only the key figures
    (s1-p2 of this cohort is none), and `export ena --help` says so."""
    cohort = shared_datadir / "annotate" / "cohort"
    r = runner.invoke(app, ["export", "ena", "--help"])
    helptext = " ".join(r.output.replace("│", " ").split())
    assert ("one row per coded segment of everyone with transcripts (key figure or not), "
            "units = person_id") in helptext, helptext
    ena, net = tmp_path / "e.csv", tmp_path / "net"
    assert runner.invoke(app, ["export", "ena", str(cohort), "--out", str(ena),
                               "--rules"]).exit_code == 0
    assert runner.invoke(app, ["network", str(cohort), "--out", str(net)]).exit_code == 0
    units = set(pd.read_csv(ena, encoding="utf-8-sig")["units"])
    key_figures = set(pd.read_csv(net / "key_figures.csv")["person_id"])
    assert "s1-p2" in units - key_figures
