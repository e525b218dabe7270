"""Check hand-written, annotated demo transcripts (JSONL) before they are rendered.

Usage: python data/demo/authoring/check_authoring.py data/demo/authoring/sch01 [more dirs]

Each file <person_id>_<interview|observation>_1.jsonl holds one JSON object per line:
  {"speaker": "I", "text": "..."}                                   interviewer turn
  {"speaker": "R", "text": "...", "codes": [...], "subtypes": [...]} respondent turn
  {"speaker": "note", "text": "...", "codes": [...], "subtypes": [...]} observation note
"""
import itertools
import json
import re
import sys
from collections import Counter
from pathlib import Path

CODES = {"focus", "outcomes", "approach", "benefits", "organisational",
         "knowledge_management", "exchange", "capacity_building"}
SUBTYPES = {"knowledge_management": {"oral", "written", "product"},
            "exchange": {"input", "invitation", "support"},
            "capacity_building": {"workshop", "training", "coaching"}}
MAX_CHARS = 500
WORD = re.compile(r"\w+", re.UNICODE)


def words(text):
    return [w.lower() for w in WORD.findall(text)]


def main(dirs):
    problems = []
    segs = []
    counts = Counter()
    for d in dirs:
        for f in sorted(Path(d).glob("*.jsonl")):
            kind = "interview" if "_interview_" in f.name else "observation"
            n_coded = 0
            for ln, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                where = f"{f}:{ln}"
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    problems.append(f"{where}: invalid JSON ({e})")
                    continue
                sp, text = obj.get("speaker"), obj.get("text", "")
                if not text.strip() or "\n" in text:
                    problems.append(f"{where}: text empty or contains a newline")
                if sp == "I":
                    if kind != "interview":
                        problems.append(f"{where}: interviewer turn in an observation log")
                    continue
                if sp not in ("R", "note"):
                    problems.append(f"{where}: speaker must be I, R or note")
                    continue
                if (sp == "R") != (kind == "interview"):
                    problems.append(f"{where}: speaker {sp} does not fit a {kind} file")
                if len(text) > MAX_CHARS:
                    problems.append(f"{where}: {len(text)} chars > {MAX_CHARS}")
                codes = obj.get("codes", [])
                subs = obj.get("subtypes", [])
                for c in codes:
                    if c not in CODES:
                        problems.append(f"{where}: unknown code {c!r}")
                for s in subs:
                    act, _, sub = s.partition(".")
                    if act not in SUBTYPES or sub not in SUBTYPES[act]:
                        problems.append(f"{where}: unknown subtype {s!r}")
                    elif act not in codes:
                        problems.append(f"{where}: subtype {s!r} without code {act!r}")
                for act in SUBTYPES:
                    if act in codes and not any(s.startswith(act + ".") for s in subs):
                        problems.append(f"{where}: code {act!r} needs a subtype")
                n_coded += 1
                counts.update(codes or ["<none>"])
                counts.update(subs)
                segs.append((where, words(text)))
            need = 52 if kind == "interview" else 12
            if n_coded < need:
                problems.append(f"{f}: {n_coded} coded segments, need >= {need}")
    # template check: word-token Jaccard between any two segments
    sets = [(w, set(t)) for w, t in segs]
    for (wa, a), (wb, b) in itertools.combinations(sets, 2):
        if a and b and len(a & b) / len(a | b) > 0.8:
            problems.append(f"too similar (Jaccard > 0.8): {wa} and {wb}")
    tri = Counter()
    for _, t in segs:
        tri.update(zip(t, t[1:], t[2:], strict=False))
    total = sum(tri.values())
    ratio = len(tri) / total if total else 1
    print(f"segments: {len(segs)}; distinct trigram ratio {ratio:.3f}")
    for k, v in sorted(counts.items()):
        print(f"  {k:32s} {v}")
    if ratio < 0.7:
        problems.append(f"distinct trigram ratio {ratio:.3f} < 0.70")
    for p in problems:
        print("PROBLEM", p)
    print("OK" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
