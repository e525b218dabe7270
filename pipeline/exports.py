"""Exports for other tools: REFI-QDA projects (.qdpx) and codebooks (.qdc), a code matrix and
an ENA table. Pure functions that build bytes or tables; the CLI writes them with ``io``.

REFI-QDA (QDA-XML 1.0, ``/work/shared/refi-qda/Project.xsd``; ATLAS.ti, NVivo, MAXQDA and
QualCoder import it):

- ``.qdpx`` is a zip of ``project.qde`` and ``sources/<guid>.txt``, one UTF-8 plain-text file
  per transcript, referenced as ``plainTextPath="internal://<guid>.txt"``. The texts are the
  pseudonymised transcripts (``run.pseudonymiser_for``): segment offsets refer to the
  original text and are moved onto the pseudonymised one with ``Pseudonymiser.map_offset``.
- One ``PlainTextSelection`` per coded segment and coder, ``startPosition`` inclusive and
  ``endPosition`` exclusive, in Unicode code points (Python string indices), with one
  ``Coding`` per code; the selection's and the codings' ``creatingUser`` say who coded (the
  machine coder and every human annotator of the label store are ``User`` elements), its
  ``creationDateTime`` when: the earliest time of its codings, or ``UNKNOWN_TIME`` for the
  machine coder's (QualCoder reads owner and date from the selection, and stops on a
  selection without a date).
- The codebook: each family is a non-codable parent code (``isCodable="false"``) holding its
  codes, each code holds its sub-types; colours ``#rrggbb`` from the codebook (a sub-type
  takes its code's colour). Code names are the code ids (``exchange.input`` for sub-types),
  descriptions carry the Dutch and English labels and the definition.
- Key figures are ``Case`` elements (name: person id) with their profile and network
  metrics as ``VariableValue`` and a ``SourceRef`` to each of their transcripts.
- Every GUID is a uuid5 of a stable name (``code/focus``, ``source/<doc>``,
  ``selection/<segment id>/<user>``, ...) and the zip entries carry a fixed timestamp, so the same
  inputs give the same bytes.

Tables:

``code matrix``  one row per segment and annotator: segment_id, school_id, person_id,
                 source, doc, annotator, then one 0/1 column per code and sub-type (empty
                 where a human annotator gave no label for that code)
``ENA``          one row per segment in document order: units (the person), conversation
                 (the transcript), school_id, person_id, source, segment_id, annotator, one
                 0/1 column per code, text
"""

from __future__ import annotations

import io as _io
import itertools
import uuid
import zipfile
from collections.abc import Callable
from operator import itemgetter
from pathlib import PurePosixPath

import numpy as np
import pandas as pd
from lxml import etree

from pipeline.annotate import ADJUDICATOR, segment_offsets
from pipeline.config import Codebook
from pipeline.io import ZIP_TIME
from pipeline.privacy import Pseudonymiser

__all__ = [
    "NS_PROJECT",
    "NS_CODEBOOK",
    "guid",
    "build_qdc",
    "build_qdpx",
    "read_qdpx",
    "pseudonymise_documents",
    "locate_codings",
    "machine_codings",
    "human_codings",
    "code_matrix",
    "ena_table",
]

NS_PROJECT = "urn:QDA-XML:project:1.0"
NS_CODEBOOK = "urn:QDA-XML:codebook:1.0"
#: the root of every uuid5 in these exports (a fixed, arbitrary namespace)
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:sleutelfiguren:refi-qda")
#: creationDateTime of a selection whose codings carry no time (the machine coder's): the
#: zip entries' fixed epoch, so the same inputs give the same bytes
UNKNOWN_TIME = "1980-01-01T00:00:00Z"
DOCUMENT_COLUMNS = ["doc", "stem", "school_id", "person_id", "source", "text"]
CODING_COLUMNS = ["segment_id", "code", "user", "time"]


def guid(*parts: str) -> str:
    """A stable GUID for a named thing: uuid5 of ``"/".join(parts)``.

    >>> guid("code", "focus") == guid("code", "focus")
    True
    """
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


# ====================================================================== codebook
def _codes_element(codebook: Codebook, ns: str) -> etree._Element:
    q = f"{{{ns}}}"
    codes = etree.Element(q + "Codes")
    for fam in codebook.families:
        fe = etree.SubElement(codes, q + "Code", guid=guid("family", fam.id), name=fam.id,
                              isCodable="false")
        etree.SubElement(fe, q + "Description").text = (
            f"{fam.label.nl} / {fam.label.en}: {fam.definition.strip()}")
        for code in fam.codes:
            color = code.color.lower()
            ce = etree.SubElement(fe, q + "Code", guid=guid("code", code.id), name=code.id,
                                  isCodable="true", color=color)
            etree.SubElement(ce, q + "Description").text = (
                f"{code.label.nl} / {code.label.en}: {code.definition.strip()}")
            for sub in code.subtypes:
                sid = f"{code.id}.{sub.id}"
                se = etree.SubElement(ce, q + "Code", guid=guid("code", sid), name=sid,
                                      isCodable="true", color=color)
                etree.SubElement(se, q + "Description").text = (
                    f"{sub.label.nl} / {sub.label.en} ({code.label.en})")
    return codes


def _xml(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def build_qdc(codebook: Codebook, *, origin: str = "sleutelfiguren") -> bytes:
    """The codebook alone as a REFI-QDA codebook (``.qdc``, namespace
    ``urn:QDA-XML:codebook:1.0``): the same code tree as in a ``.qdpx``."""
    root = etree.Element(f"{{{NS_CODEBOOK}}}CodeBook", nsmap={None: NS_CODEBOOK},
                         origin=origin)
    root.append(_codes_element(codebook, NS_CODEBOOK))
    return _xml(root)


# ====================================================================== documents
def pseudonymise_documents(documents: pd.DataFrame, pseudonymise: Callable | None
                           ) -> tuple[pd.DataFrame, dict[str, list]]:
    """Documents (``doc, stem, school_id, person_id, source, text``) with their text
    pseudonymised, and per document stem the offset shifts for ``map_offset``.

    ``pseudonymise`` is a ``Pseudonymiser`` (its ``with_offsets``, each text as its school's),
    or ``None`` to keep the text (``--reveal-names``).
    """
    docs = documents.copy()
    shifts: dict[str, list] = {}
    if pseudonymise is None:
        return docs, {s: [] for s in docs["stem"]}
    texts = []
    for stem, text, school in zip(docs["stem"], docs["text"], docs["school_id"], strict=True):
        new, sh = pseudonymise.with_offsets(text, school)
        texts.append(new)
        shifts[stem] = sh
    docs["text"] = texts
    return docs, shifts



def locate_codings(codings: pd.DataFrame, documents: pd.DataFrame, shifts: dict[str, list]
                   ) -> tuple[pd.DataFrame, int]:
    """Codings (``segment_id, code, user, time``) with ``stem, start, end`` in the (possibly
    pseudonymised) document text, from the offsets in the segment ids. Returns the table and
    the number of codings dropped (unknown document, or offsets outside its text)."""
    lengths = {stem: len(text) for stem, text in zip(documents["stem"], documents["text"],
                                                     strict=True)}
    rows, dropped = [], 0
    for rec in codings.to_dict(orient="records"):
        where = segment_offsets(str(rec["segment_id"]))
        if where is None or where[0] not in lengths:
            dropped += 1
            continue
        stem, s, e = where
        sh = shifts.get(stem, [])
        s2, e2 = Pseudonymiser.map_offset(s, sh), Pseudonymiser.map_offset(e, sh)
        if not 0 <= s2 < e2 <= lengths[stem]:
            dropped += 1
            continue
        rows.append({**rec, "stem": stem, "start": s2, "end": e2})
    out = pd.DataFrame(rows, columns=[*CODING_COLUMNS, "stem", "start", "end"])
    return out, dropped


def machine_codings(coded: pd.DataFrame, user: str) -> pd.DataFrame:
    """Codings of a coded segments table (``knowledge_types``, ``activities``,
    ``activity_subtypes``: ``;``-separated) attributed to the row's ``coder`` (a correction
    by hand names its coder) or, where it has none, to ``user``."""
    rows = []
    cols = [c for c in ("knowledge_types", "activities", "activity_subtypes") if c in coded]
    coders = coded["coder"].fillna("") if "coder" in coded else pd.Series("", coded.index)
    for rec, coder in zip(coded[["segment_id", *cols]].to_dict(orient="records"),
                          coders.tolist(), strict=True):
        for c in cols:
            for code in str(rec[c] or "").split(";"):
                if code and code != "nan":
                    rows.append({"segment_id": rec["segment_id"], "code": code,
                                 "user": coder or user, "time": ""})
    return pd.DataFrame(rows, columns=CODING_COLUMNS)


def human_codings(current: pd.DataFrame) -> pd.DataFrame:
    """Codings from the label store's current labels: every label with value ``1``."""
    if current.empty:
        return pd.DataFrame(columns=CODING_COLUMNS)
    pos = current[current["value"].astype(str) == "1"]
    return pd.DataFrame({"segment_id": pos["segment_id"].astype(str),
                         "code": pos["code"].astype(str),
                         "user": pos["annotator"].astype(str),
                         "time": pos["time"].fillna("").astype(str)}).reset_index(drop=True)


# ====================================================================== qdpx
def _variable_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "Boolean"
    if pd.api.types.is_integer_dtype(series):
        return "Integer"
    if pd.api.types.is_float_dtype(series):
        return "Float"
    return "Text"


def _value_text(kind: str, v: object) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    if kind == "Boolean":
        return "true" if bool(v) else "false"
    if kind == "Integer":
        return str(int(v))
    if kind == "Float":
        x = float(v)
        if not np.isfinite(x):
            return None
        # every digit of the tables' value (xsd:decimal: no exponent), so it can be traced
        return np.format_float_positional(x, trim="-")
    return str(v)


def build_qdpx(*, name: str, codebook: Codebook, documents: pd.DataFrame,
               codings: pd.DataFrame, users: list[str], cases: pd.DataFrame | None = None,
               description: str = "", origin: str = "sleutelfiguren") -> bytes:
    """A REFI-QDA project (``.qdpx`` bytes).

    documents  ``doc, stem, school_id, person_id, source, text`` (the text to ship, already
               pseudonymised where wanted)
    codings    ``segment_id, code, user, time, stem, start, end`` (see :func:`locate_codings`;
               ``time`` may be empty); ``user`` must be in ``users``
    users      user ids, the machine coder first (it is the project's creating user)
    cases      one row per key figure: ``person_id``, ``school_id`` and any variables
               (profile, network metrics); numbers become Integer/Float variables
    """
    q = f"{{{NS_PROJECT}}}"
    users = list(dict.fromkeys(users))
    unknown = sorted(set(codings["user"]) - set(users))
    if unknown:
        raise ValueError(f"codings by users not listed in users: {', '.join(unknown)}")
    known_codes = set(codebook.code_ids) | set(codebook.subtype_ids)
    bad = sorted(set(codings["code"]) - known_codes)
    if bad:
        raise ValueError(f"codings with codes not in the codebook: {', '.join(bad)}")
    user_guid = {u: guid("user", u) for u in users}
    attrs = {"name": name, "origin": origin}
    if users:
        attrs["creatingUserGUID"] = user_guid[users[0]]
    root = etree.Element(q + "Project", nsmap={None: NS_PROJECT}, **attrs)
    if users:
        ue = etree.SubElement(root, q + "Users")
        for u in users:
            etree.SubElement(ue, q + "User", guid=user_guid[u], name=u, id=u)
    cb = etree.SubElement(root, q + "CodeBook")
    cb.append(_codes_element(codebook, NS_PROJECT))

    docs = documents.sort_values("doc", kind="stable").reset_index(drop=True)
    src_guid = {s: guid("source", d) for s, d in zip(docs["stem"], docs["doc"], strict=True)}
    if cases is not None and len(cases):
        var_cols = [c for c in cases.columns if c != "person_id"]
        var_kind = {c: _variable_type(cases[c]) for c in var_cols}
        ve = etree.SubElement(root, q + "Variables")
        for c in var_cols:
            etree.SubElement(ve, q + "Variable", guid=guid("variable", c), name=c,
                             typeOfVariable=var_kind[c])
        ce = etree.SubElement(root, q + "Cases")
        for rec in cases.sort_values("person_id", kind="stable").to_dict(orient="records"):
            pid = str(rec["person_id"])
            case = etree.SubElement(ce, q + "Case", guid=guid("case", pid), name=pid)
            etree.SubElement(case, q + "Description").text = (
                f"key figure {pid}" + (f" of school {rec['school_id']}"
                                       if "school_id" in rec else ""))
            for c in var_cols:
                text = _value_text(var_kind[c], rec[c])
                if text is None:
                    continue
                vv = etree.SubElement(case, q + "VariableValue")
                etree.SubElement(vv, q + "VariableRef", targetGUID=guid("variable", c))
                etree.SubElement(vv, q + f"{var_kind[c]}Value").text = text
            for stem in docs.loc[docs["person_id"] == pid, "stem"]:
                etree.SubElement(case, q + "SourceRef", targetGUID=src_guid[stem])

    files: dict[str, bytes] = {}
    # the schema wants no <Sources> rather than an empty one (a network-only cohort)
    se = etree.SubElement(root, q + "Sources") if len(docs) else None
    # the codings of each source in order: by position, then segment, then user (the machine
    # first) and code; sorted once, as a national project has hundreds of thousands
    rank = {u: i for i, u in enumerate(users)}
    ordered = (codings.assign(_u=codings["user"].map(rank))
               .sort_values(["stem", "start", "end", "segment_id", "_u", "code"], kind="stable")
               .drop_duplicates(["segment_id", "user", "code"]))
    by_stem: dict[str, list[dict]] = {}
    for rec in ordered.to_dict(orient="records"):
        by_stem.setdefault(rec["stem"], []).append(rec)
    for doc in docs.to_dict(orient="records"):
        g = src_guid[doc["stem"]]
        ts = etree.SubElement(se, q + "TextSource", guid=g, name=doc["stem"],
                              plainTextPath=f"internal://{g}.txt")
        etree.SubElement(ts, q + "Description").text = (
            f"{doc['source']} of {doc['person_id']}, school {doc['school_id']} "
            f"({doc['doc']})")
        files[f"sources/{g}.txt"] = doc["text"].encode("utf-8")
        recs = by_stem.get(doc["stem"], [])
        for (seg, user), group in itertools.groupby(recs, key=itemgetter("segment_id", "user")):
            group = list(group)
            times = [r["time"] for r in group if r.get("time")]
            pts = etree.SubElement(ts, q + "PlainTextSelection",
                                   guid=guid("selection", seg, user), name=seg,
                                   startPosition=str(int(group[0]["start"])),
                                   endPosition=str(int(group[0]["end"])),
                                   creatingUser=user_guid[user],
                                   creationDateTime=min(times, default=UNKNOWN_TIME))
            for rec in group:
                cattrs = {"guid": guid("coding", seg, rec["code"], user),
                          "creatingUser": user_guid[user]}
                if rec.get("time"):
                    cattrs["creationDateTime"] = rec["time"]
                coding = etree.SubElement(pts, q + "Coding", **cattrs)
                etree.SubElement(coding, q + "CodeRef", targetGUID=guid("code", rec["code"]))
    if description:
        etree.SubElement(root, q + "Description").text = description

    buf = _io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for fname, payload in [("project.qde", _xml(root)), *sorted(files.items())]:
            info = zipfile.ZipInfo(fname, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, payload)
    return buf.getvalue()


def read_qdpx(data: bytes) -> dict:
    """Parse a ``.qdpx`` back: ``project`` (name), ``xml`` (the project.qde bytes), ``codes``
    (name -> {guid, codable, color, parent}), ``users`` (guid -> name), ``sources`` (name ->
    text), ``selections`` (table: source, segment, start, end, code, user) and ``cases``
    (name -> {variable: text value})."""
    ns = {"q": NS_PROJECT}
    with zipfile.ZipFile(_io.BytesIO(data)) as zf:
        xml = zf.read("project.qde")
        root = etree.fromstring(xml)
        codes: dict[str, dict] = {}
        by_guid: dict[str, str] = {}

        def walk(el, parent):
            for c in el.findall("q:Code", ns):
                codes[c.get("name")] = {"guid": c.get("guid"),
                                        "codable": c.get("isCodable") == "true",
                                        "color": c.get("color"), "parent": parent}
                by_guid[c.get("guid")] = c.get("name")
                walk(c, c.get("name"))

        cb = root.find("q:CodeBook/q:Codes", ns)
        if cb is not None:
            walk(cb, None)
        users = {u.get("guid"): u.get("name") for u in root.findall("q:Users/q:User", ns)}
        variables = {v.get("guid"): v.get("name")
                     for v in root.findall("q:Variables/q:Variable", ns)}
        sources, rows = {}, []
        for ts in root.findall("q:Sources/q:TextSource", ns):
            path = ts.get("plainTextPath", "")
            fname = "sources/" + PurePosixPath(path.removeprefix("internal://")).name
            sources[ts.get("name")] = zf.read(fname).decode("utf-8")
            for sel in ts.findall("q:PlainTextSelection", ns):
                for c in sel.findall("q:Coding", ns):
                    rows.append({"source": ts.get("name"), "segment": sel.get("name"),
                                 "start": int(sel.get("startPosition")),
                                 "end": int(sel.get("endPosition")),
                                 "code": by_guid.get(c.find("q:CodeRef", ns).get("targetGUID")),
                                 "user": users.get(c.get("creatingUser"))})
        cases = {}
        for case in root.findall("q:Cases/q:Case", ns):
            vals = {}
            for vv in case.findall("q:VariableValue", ns):
                ref = vv.find("q:VariableRef", ns).get("targetGUID")
                val = [e for e in vv if e.tag != f"{{{NS_PROJECT}}}VariableRef"][0]
                vals[variables.get(ref)] = val.text
            cases[case.get("name")] = vals
    return {"project": root.get("name"), "xml": xml, "codes": codes, "users": users,
            "sources": sources,
            "selections": pd.DataFrame(rows, columns=["source", "segment", "start", "end",
                                                      "code", "user"]),
            "cases": cases}


# ====================================================================== tables
def _doc_lookup(documents: pd.DataFrame) -> dict[str, dict]:
    return {r["stem"]: r for r in documents.drop(columns=["text"], errors="ignore")
            .to_dict(orient="records")}


def code_matrix(coded: pd.DataFrame | None, labels: pd.DataFrame | None, codebook: Codebook,
                documents: pd.DataFrame, coder: str) -> pd.DataFrame:
    """Segment x code matrix, one row per segment and annotator (the machine coder
    ``coder`` on every coded segment, each human annotator on the segments they labelled).

    ``coded``: a coded segments table (``segment_id`` and the coding contract's columns);
    ``labels``: the store's current labels (``segment_id, code, value, annotator``);
    ``documents``: ``doc, stem, school_id, person_id, source`` to place labelled segments.
    """
    names = codebook.code_ids + codebook.subtype_ids
    info = _doc_lookup(documents)
    base = ["segment_id", "school_id", "person_id", "source", "doc", "annotator"]
    frames = []
    if coded is not None and len(coded):
        m = machine_codings(coded, coder)
        on = set(zip(m["segment_id"], m["code"], strict=True))
        mat = pd.DataFrame({"segment_id": coded["segment_id"].astype(str).to_numpy()})
        for col in ("school_id", "person_id", "source", "doc"):
            mat[col] = coded[col].to_numpy() if col in coded else ""
        mat["annotator"] = coder
        for n in names:
            mat[n] = [int((s, n) in on) for s in mat["segment_id"]]
        frames.append(mat[base + names].astype({n: "Int64" for n in names}))
    if labels is not None and len(labels):
        lab = labels[["segment_id", "code", "value", "annotator"]].copy()
        lab = lab[lab["code"].isin(names)]
        wide = lab.pivot_table(index=["segment_id", "annotator"], columns="code",
                               values="value", aggfunc="last").reset_index()
        for n in names:
            wide[n] = (pd.to_numeric(wide[n], errors="coerce").astype("Int64") if n in wide
                       else pd.Series(pd.NA, index=wide.index, dtype="Int64"))
        for col, key in (("school_id", "school_id"), ("person_id", "person_id"),
                         ("source", "source"), ("doc", "doc")):
            wide[col] = [info.get((segment_offsets(s) or ("",))[0], {}).get(key, "")
                         for s in wide["segment_id"]]
        frames.append(wide[base + names])
    if not frames:
        return pd.DataFrame(columns=base + names)
    out = pd.concat(frames, ignore_index=True)
    order = {a: (0 if a == coder else 2 if a.startswith(ADJUDICATOR) else 1)
             for a in out["annotator"].unique()}
    out = out.assign(_o=out["annotator"].map(order)).sort_values(
        ["doc", "segment_id", "_o", "annotator"], kind="stable",
        key=lambda s: s.map(_natural) if s.name == "segment_id" else s)
    return out.drop(columns="_o").reset_index(drop=True)


def _natural(segment_id: str) -> tuple:
    where = segment_offsets(str(segment_id))
    return (where[0], where[1], where[2]) if where else (str(segment_id), 0, 0)


def ena_table(coded: pd.DataFrame, codebook: Codebook, coder: str,
              reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ENA input table (webENA / rENA): one row per segment in document order.

    ``units`` is the person (person id: everyone with a transcript, key figure or not),
    ``conversation`` the transcript (document stem);
    codes are 0/1 columns, one per code of both families. With ``reference`` (resolved human
    labels: ``segment_id, code, value[, source]``), segments that have human labels for
    every code take them instead of the machine coder's, and ``annotator`` says which.
    """
    codes = codebook.code_ids
    m = machine_codings(coded, coder)
    on = set(zip(m["segment_id"], m["code"], strict=True))
    out = pd.DataFrame({
        "units": coded["person_id"].astype(str).to_numpy(),
        "conversation": [PurePosixPath(str(d)).stem for d in coded["doc"]],
        "school_id": coded["school_id"].to_numpy(),
        "person_id": coded["person_id"].to_numpy(),
        "source": coded["source"].to_numpy(),
        "segment_id": coded["segment_id"].astype(str).to_numpy(),
        "start": coded["start"].to_numpy() if "start" in coded else 0,
        "annotator": coder,
    })
    for c in codes:
        out[c] = [int((s, c) in on) for s in out["segment_id"]]
    if reference is not None and len(reference):
        ref = reference[reference["code"].isin(codes)]
        wide = ref.pivot_table(index="segment_id", columns="code", values="value",
                               aggfunc="last")
        full = wide.dropna(subset=[c for c in codes if c in wide.columns])
        full = full[[c for c in codes if c in full.columns]]
        if len(full.columns) == len(codes):
            src = (ref.groupby("segment_id")["source"].first().to_dict()
                   if "source" in ref.columns else {})
            hit = out["segment_id"].isin(full.index)
            for c in codes:
                out.loc[hit, c] = full.loc[out.loc[hit, "segment_id"], c].astype(int).to_numpy()
            out.loc[hit, "annotator"] = [f"labels:{src.get(s, 'human')}"
                                         for s in out.loc[hit, "segment_id"]]
    out["text"] = coded["text"].to_numpy()
    out = out.sort_values(["conversation", "start"], kind="stable").drop(columns="start")
    return out.reset_index(drop=True)
