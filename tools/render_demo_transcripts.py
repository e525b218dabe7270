"""Render the hand-written, annotated demo transcripts into the cohort folder.

The demo's interviews and observation logs were written by hand in natural spoken Dutch
(see data/demo/README.md), one JSON line per speaker turn with its gold codes, in
data/demo/authoring/<school>/<person>_<interview|observation>_1.jsonl. This script turns them
into what a researcher would receive, with a different transcript style per school (so every
supported speaker-prefix style and the .docx reader are exercised), and writes the gold labels
keyed by the ids that `pipeline segment` produces for those files:

  data/demo/transcripts/<school>/<person>_<kind>_1.<txt|docx>
  data/demo/labels/gold.csv   segment_id, code, value, annotator, time

Run: .venv/bin/python tools/render_demo_transcripts.py   (deterministic: same bytes every run;
``--out DIR`` renders elsewhere, as tests/test_demo_data.py does to check the demo is current)
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import load_settings  # noqa: E402
from pipeline.io import atomic_write, read_transcript, redated_zip, write_csv  # noqa: E402
from pipeline.nlp import make_nlp  # noqa: E402
from pipeline.segment import segment_document  # noqa: E402

DEMO = ROOT / "data" / "demo"
SRC = DEMO / "authoring"
GOLD_TIME = "2026-11-20T12:00:00+00:00"
SCHOOL_NAMES = {"sch01": "Meerwijk College", "sch02": "Scholengemeenschap De Wielewaal",
                "sch03": "Oostergrift Lyceum", "sch04": "Kempenhorst College",
                "sch05": "Stedelijk College Zandhove"}
# transcript style per school: (interviewer prefix, respondent prefix or "firstname", format)
STYLES = {"sch01": ("I", "R", "txt"), "sch02": ("Interviewer", "Respondent", "txt"),
          "sch03": ("Interviewer", "firstname", "txt"), "sch04": ("I", "R", "txt"),
          "sch05": ("I", "R", "docx")}


def render(turns: list[dict], kind: str, school: str, first_name: str) -> list[str]:
    """Paragraphs of the transcript (one speaker turn or note each)."""
    if kind == "observation":
        return [t["text"] for t in turns]
    ip, rp, _ = STYLES[school]
    rp = first_name if rp == "firstname" else rp
    head = f"Interview sleutelfiguur PLG-onderzoek, {SCHOOL_NAMES[school]} (transcript)"
    return [head] + [f"{ip if t['speaker'] == 'I' else rp}: {t['text']}" for t in turns]


def docx_bytes(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.author = "sleutelfiguren demo"
    for p in paragraphs:
        document.add_paragraph(p)
    buf = io.BytesIO()
    document.save(buf)
    # python-docx dates every entry with the time of saving: the same text, other bytes
    return redated_zip(buf.getvalue())


def main(out: Path = DEMO) -> None:
    """Render every authored transcript into ``out`` (the demo folder itself, or another to
    compare with it) and the gold labels into ``out/labels/gold.csv``."""
    settings = load_settings()
    cb = settings.codebook
    staff = pd.read_csv(DEMO / "staff.csv", dtype=str, keep_default_na=False)
    first = {r.person_id: r.name.split()[0] for r in staff.itertuples()}
    nlp = make_nlp()
    rows = []
    for src in sorted(SRC.glob("sch*/*.jsonl")):
        school = src.parent.name
        person, kind, _ = src.stem.split("_")
        turns = [json.loads(x) for x in src.read_text(encoding="utf-8").splitlines() if x.strip()]
        paras = render(turns, kind, school, first[person])
        fmt = STYLES[school][2] if kind == "interview" else "txt"
        rel = f"transcripts/{school}/{src.stem}.{fmt}"
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "docx":
            atomic_write(path, docx_bytes(paras))
        else:
            atomic_write(path, "\n\n".join(paras) + "\n")
        text = read_transcript(path)
        segs = segment_document(text, doc=rel, school_id=school, person_id=person, source=kind,
                                config=settings.pipeline.segment, nlp=nlp)
        coded = [t for t in turns if t["speaker"] != "I"]
        if len(segs) != len(coded):
            raise SystemExit(f"{src}: {len(coded)} annotated turns but {len(segs)} segments")
        for seg, turn in zip(segs.itertuples(), coded, strict=True):
            if seg.text != turn["text"]:
                raise SystemExit(f"{src}: segment text differs from the annotated turn: "
                                 f"{seg.text[:60]!r}")
            for code in cb.code_ids:
                rows.append((seg.segment_id, code, int(code in turn["codes"])))
            for sub in cb.subtype_ids:
                rows.append((seg.segment_id, sub, int(sub in turn.get("subtypes", []))))
    gold = pd.DataFrame(rows, columns=["segment_id", "code", "value"])
    gold["annotator"] = "gold"
    gold["time"] = GOLD_TIME
    (out / "labels").mkdir(parents=True, exist_ok=True)
    write_csv(gold, out / "labels" / "gold.csv")
    n = gold["segment_id"].nunique()
    print(f"rendered {len(list(SRC.glob('sch*/*.jsonl')))} transcripts, {n} labelled segments")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEMO,
                        help="folder to write transcripts/ and labels/gold.csv into "
                             "(default: data/demo)")
    main(parser.parse_args().out)
