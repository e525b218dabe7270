"""Pseudonymisation of transcripts: roster names and school names out of every output.

Transcripts and rosters are personal data (GDPR). By default every name from ``staff.csv``
(full name, first name, last name with or without its tussenvoegsel, initials written like
"I. Verbeek") and every school name found in ``staff.csv`` (column ``school_name``, when
present) is replaced in segment texts *before* coding, training and any output.

Pseudonyms are stable: keyed by a hash of the cohort's name and roster, so the same person gets
the same pseudonym in every run of the same cohort, while the pseudonyms of two cohorts cannot
be linked or guessed without the roster itself. ``--reveal-names`` turns this off, and the
manifest records that it did.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

import pandas as pd

__all__ = ["Pseudonymiser", "cohort_key"]

TUSSENVOEGSELS = {"van", "de", "der", "den", "el", "ter", "ten", "te", "het", "'t", "la", "le",
                  "du", "da", "op", "in", "vd"}


def cohort_key(cohort_name: str, staff_bytes: bytes) -> bytes:
    return hashlib.sha256(cohort_name.encode("utf-8") + b"\0" + staff_bytes).digest()


def _variants(full: str) -> list[str]:
    """Ways a person is written in a transcript: full, first, last (with tussenvoegsel)."""
    words = full.split()
    if not words:
        return []
    out = {full}
    if len(words) >= 2:
        first = words[0]
        last_words = words[1:]
        core = [w for w in last_words if w.lower() not in TUSSENVOEGSELS]
        last = " ".join(last_words)
        out.update({first, last, f"{first[0]}. {last}"})
        if core:
            out.add(" ".join(core))
            # "Van den Berg" capitalised at a sentence start
            out.add(last[0].upper() + last[1:])
    return sorted((v for v in out if len(v) >= 2), key=len, reverse=True)


@dataclass
class Pseudonymiser:
    """Replace roster and school names in text by stable pseudonyms."""

    pattern: re.Pattern | None
    table: dict[str, str]

    @classmethod
    def from_staff(cls, staff: pd.DataFrame, key: bytes) -> Pseudonymiser:
        table: dict[str, str] = {}
        for pid, name in zip(staff["person_id"], staff.get("name", pd.Series(dtype=str)),
                             strict=False):
            name = str(name or "").strip()
            if not name or name.lower() == "nan":
                continue
            tag = hmac.new(key, str(pid).encode(), hashlib.sha256).hexdigest()[:4]
            pseudonym = f"[persoon-{tag}]"
            for v in _variants(name):
                table.setdefault(v, pseudonym)
        if "school_name" in staff.columns:
            for sid, sname in staff[["school_id", "school_name"]].drop_duplicates().itertuples(
                    index=False):
                sname = str(sname or "").strip()
                if sname:
                    tag = hmac.new(key, f"school:{sid}".encode(), hashlib.sha256).hexdigest()[:4]
                    table.setdefault(sname, f"[school-{tag}]")
        if not table:
            return cls(None, {})
        alternatives = sorted(table, key=lambda s: (-len(s), s))
        pattern = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, alternatives)) + r")(?!\w)")
        return cls(pattern, table)

    def __call__(self, text: str) -> str:
        if self.pattern is None or not text:
            return text
        return self.pattern.sub(lambda m: self.table[m.group(1)], text)

    def with_offsets(self, text: str) -> tuple[str, list[tuple[int, int, int]]]:
        """Pseudonymised text and the shifts ``(orig_end, new_end, delta)`` of each
        replacement, to map character offsets of the original onto the new text."""
        if self.pattern is None:
            return text, []
        out, shifts, last, delta = [], [], 0, 0
        for m in self.pattern.finditer(text):
            rep = self.table[m.group(1)]
            out.append(text[last:m.start()])
            out.append(rep)
            delta += len(rep) - (m.end() - m.start())
            shifts.append((m.end(), m.end() + delta, delta))
            last = m.end()
        out.append(text[last:])
        return "".join(out), shifts

    @staticmethod
    def map_offset(offset: int, shifts: list[tuple[int, int, int]]) -> int:
        """An offset of the original text in the pseudonymised text (offsets at segment
        boundaries never fall inside a name)."""
        delta = 0
        for orig_end, _, d in shifts:
            if orig_end <= offset:
                delta = d
            else:
                break
        return offset + delta
