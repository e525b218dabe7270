"""Transcripts -> segments, the unit of coding.

A segment is one respondent turn (its paragraphs together), a sentence group of a long
turn, or one observation note (CODEBOOK.md, "Unit of coding"). Interviewer turns are never
coded; the last one before a respondent segment is kept as its ``context``.

Segments table (one row per segment, in document order):

=============  ===============================================================
segment_id     ``<file stem>@<start>-<end>``: stable across runs, derived from
               the file and the offsets, never from row order
school_id      school of the person
person_id      the key figure interviewed or observed
source         interview | observation
doc            transcript path relative to the cohort folder
turn           0-based index in the document of the turn's first paragraph
part           0-based sentence-group index within the turn (0 when not split)
speaker        respondent | note
start, end     character offsets into the transcript text (``io.read_transcript``):
               ``text == transcript[start:end]``
text           the segment's text (speaker prefix removed)
context        previous interviewer turn (interviews; not a "Hm-hm.": see
               ``segment.backchannel_words``) or previous note
=============  ===============================================================
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise
from pathlib import PurePosixPath

import pandas as pd
from spacy.language import Language

from pipeline.config import SegmentConfig
from pipeline.io import SPEAKER_NAME_CHARS, TIME_STAMP, WORD_BREAK, speaker_name

__all__ = ["SEGMENT_COLUMNS", "Turn", "parse_turns", "speaker_names", "speaker_notes",
           "segment_document", "segment_transcripts", "transcript_of"]

SEGMENT_COLUMNS = ["segment_id", "school_id", "person_id", "source", "doc", "turn", "part",
                   "speaker", "start", "end", "text", "context"]
# a paragraph ends at any line break: also Word's manual line break (\v) and page break (\f)
# and Unicode's line and paragraph separators, so a turn after one is never glued to the last
PARAGRAPH = re.compile(r"[^\n\v\f\x1c-\x1e\x85\u2028\u2029]+")
SPACE = r"(?:[^\S\n]|[\u200b\u2060\ufeff])"   # also no-break and invisible (zero-width, BOM)
# a speaker's name or label: a letter, then word characters (an accent typed as a combining
# mark too), spaces, . ' - (at most io.SPEAKER_NAME_CHARS in all, the length a .vtt
# speaker's name is cut to)
LABEL = rf"(?P<prefix>[^\W\d_][\w\u0300-\u036f'’.\- ]{{0,{SPEAKER_NAME_CHARS - 1}}}?)"
STAMP = rf"[\[(]?{TIME_STAMP}[\])]?"
LEADING_STAMP = rf"(?:[\[(][\d:.,]+[\])]{SPACE}*|{TIME_STAMP}{SPACE}+)"   # before a speaker
# a speaker prefix: "I:", "Interviewer:", "Marieke de Vries:", also after a time stamp
# ("[00:01:10] R:", "(00:01) R:", "00:01 - R:"), with one after it ("R [00:01:10]:", "R 00:01:",
# "R: [00:01:10]") and with a number or initials ("R1:", "I (AB):"); alone on its line when
# the turn starts on the next one. The colon of a time stamp after a space is none
# ("Speaker 1  0:03" names no speaker "Speaker 1  0"); "R:3 jaar" and "R1:12" are R's. A tab
# instead of the colon separates too ("I<tab>Wat doe je?", a Word transcript's hanging indent;
# a name before a tab only where the transcript's turns are written so), and a line number
# typed in the margin may come before a configured label ("12   I: ...")
LINE_NUMBER = rf"\d{{1,5}}{SPACE}+"
PREFIX = re.compile(rf"{SPACE}*(?P<line>{LINE_NUMBER})?{LEADING_STAMP}?"
                    rf"(?:[-–—]{SPACE}*)?{LABEL}"
                    rf"(?:{SPACE}*(?:\([^()\n]{{0,30}}\)|\[[^\[\]\n]{{0,30}}\]|{TIME_STAMP}))?"
                    rf"(?:{SPACE}*(?!(?<=\s\d):\d)(?!(?<=\s\d\d):\d):|(?P<tab>[^\S\n\t]*\t))"
                    rf"(?:{SPACE}*[\[(]{TIME_STAMP}[\])])?"
                    rf"{SPACE}*(?=\S|$)")
# a speaker line without colon, as transcription services write it: the label and a time
# stamp alone on their line, either way round ("Speaker 1  0:03", "00:00:03 Spreker 1",
# "Marieke de Vries   1:02", Teams' "Vries, M. de (Marieke)   1:02"); the turn is the next lines
LINE_LABEL = (LABEL[:-1] + rf"(?:,{SPACE}*[^\W\d_][\w\u0300-\u036f'’.\- ]"
              rf"{{0,{SPEAKER_NAME_CHARS - 1}}}?(?:{SPACE}*\([^()\n]{{1,30}}\))?)?)")
SPEAKER_LINES = (re.compile(rf"{SPACE}*\[?{LINE_LABEL}\]?{SPACE}*(?:[-–—]{SPACE}*)?{STAMP}"
                            rf"{SPACE}*$"),   # also Zoom's "[Anton Mulder] 14:00:20"
                 re.compile(rf"{SPACE}*{LEADING_STAMP}(?:[-–—]{SPACE}*)?{LINE_LABEL}{SPACE}*$"))
SPEAKER_LINE_CHARS = 80   # longer than a label, a stamp and the spaces around them
STAMP_ONLY = re.compile(rf"{SPACE}*{STAMP}{SPACE}*$")
# a speaker's name alone on its line with the time on the next, as Teams shows a transcript
# in the browser ("Joost van den Berg" / "0:20" / the turn)
NAME_LINE = re.compile(rf"{SPACE}*{LINE_LABEL}{SPACE}*$")
# a paragraph of only a transcriber's marks: "(lacht)", "[onderbreking: telefoon gaat]"
MARKS_ONLY = re.compile(rf"(?:{SPACE}*[\[(][^\[\]()\n]*[\])])+{SPACE}*$")
# a section title, as Markdown writes it and a .docx heading reads (io.py): "## Thema 2"
HEADING = re.compile(rf"{SPACE}*#{{1,6}}{SPACE}+(?=\S)")
# a turn that its format starts (a .docx's bold or italic question, or the plain answer
# after it: io.Transcript.formats), as a match at the paragraph's start
FORMAT_TURN = re.compile("(?P<prefix>)")
FORMAT_NAMES = {"**": "in bold", "*": "in italic", "_": "underlined", "~": "in colour",
                "": "plain"}   # the formats that tell the speakers apart (io.EMPHASIS)
# the share of questions (ending in "?") among the asking side's sentences of more than a
# "Hm-hm." (BACKCHANNEL_WORDS): where the emphasised side asks, an introduction to a question
# now and then; where the plain side does, hardly anything else (plain questions and answers
# beside italic quotes are no interview told apart by format)
EMPHASISED_QUESTIONS, PLAIN_QUESTIONS = 1 / 2, 2 / 3
BACKCHANNEL_WORDS = 3
QUOTES = "'\"‘’‚“”„«»‹›"   # a paragraph that starts with one quotes someone
NUMBERED = re.compile(r"[ \t]*\d+$")
NAME_WORD = re.compile(r"[^\W\d_][\w'’.\-]*")
INITIALS = re.compile(rf"(?:[^\W\d_]\.{SPACE}*){{1,3}}[^\W\d_]\.?")   # "M.J.", "J. d. B."
PARTICLES = frozenset({"van", "de", "den", "der", "el", "ter", "ten", "te", "la", "le", "du",
                       "da", "'t"})


@dataclass(frozen=True)
class Turn:
    """One paragraph: who speaks (interviewer | respondent | other: a second respondent or a
    speaker of ``segment.other_prefixes``, not coded | note | header) and where;
    ``continues``: it has no speaker of its own, so it goes on with the previous one's turn."""

    index: int
    role: str
    start: int
    end: int
    continues: bool = False


def _speaker_line(text: str, start: int, end: int) -> re.Match | None:
    """The speaker line (label and time stamp, no colon) a paragraph is, if it is one."""
    if end - start > SPEAKER_LINE_CHARS:
        return None
    return next((m for line in SPEAKER_LINES if (m := line.match(text, start, end))), None)


def _looks_like_name(prefix: str) -> bool:
    words = prefix.split()
    return 1 <= len(words) <= 4 and words[0][0].isupper() and all(
        w in PARTICLES or (w[0].isupper() and NAME_WORD.fullmatch(w)) for w in words)


def _paragraphs(text: str) -> list[tuple[int, int, int]]:
    return [(i, m.start(), m.end()) for i, m in enumerate(PARAGRAPH.finditer(text))]


def _same_initials(label: str, name: str) -> bool:
    """Whether a speaker label is a roster name's initials: "M.J." or "MJ" for Marco Jansen,
    "J.d.B.", "J.B." or "JdB" for Jeroen de Boer (two capitals at least: "Ja" is a word)."""
    if not ("." in label and INITIALS.fullmatch(label)
            or label.isalpha() and 2 <= len(label) <= 4 and sum(map(str.isupper, label)) >= 2):
        return False
    words = NAME_WORD.findall(name)
    written = {"".join(w[0] for w in words),
               "".join(w[0] for w in words if w.casefold() not in PARTICLES)}
    return re.sub(r"[\s.]", "", label).casefold() in {w.casefold() for w in written}


def _name_words(name: str) -> set[str]:
    """The words of a name that identify a person (not particles such as ``van``, ``de``)."""
    return {w.casefold() for w in re.findall(r"[^\W\d_][\w'’\-]*", name)
            if w[0].isupper()}


def _speakers(text: str, config: SegmentConfig, respondent_name: str,
              formats: tuple[str, ...] = ()) -> tuple[list, dict[str, str], list[str]]:
    """:func:`_speakers_in`, once per transcript: segmenting it, its notes and its names for
    pseudonymisation ask the same."""
    return _speakers_in(text, _configured(config, text), respondent_name, formats)


@lru_cache(maxsize=16)
def _speakers_in(text: str, labels: tuple[tuple[str, ...], ...], respondent_name: str,
                 formats: tuple[str, ...] = ()) -> tuple[list, dict[str, str], list[str]]:
    """Who each prefix is: ``(paragraphs with their prefix match and the speaker it names,
    {speaker: role}, prefixes of two or more paragraphs that are no speaker)``.

    A configured prefix (``labels``: :func:`_configured`) is the interviewer's, the
    respondent's or another speaker's. A name used as a prefix in two or more paragraphs is
    the respondent's; where there are two, the one that shares the most words (or its
    initials, "M.J.") with the respondent's roster name is, and the other is the
    interviewer's (another speaker's, where the interviewer has a configured label).
    A speaker line without colon ("00:05:12 R", "Speaker 1  0:03") names a configured prefix
    anywhere, any other label only where such lines start more turns than the prefixes do: a
    transcript has one style, so a line such as "Om 10:30" twice among I:/R: turns is no
    speaker, and "Bijvoorbeeld:" twice among speaker lines is none either. Where neither
    names a respondent turn with more than a title, names alone on their line can
    (:func:`_by_label_lines`), or else the format of a .docx's lines (``formats``:
    :func:`_by_format`)."""
    matched = [(i, s, e, _prefix(text, s, e) or _name_over_time(text, s, e, below))
               for (i, s, e), below in pairwise([*_paragraphs(text), None])]
    configured = tuple({p.casefold() for p in prefixes} for prefixes in labels)
    prefixed = [m for *_, m in matched if m is not None and m.re is PREFIX]
    tabbed = 2 * sum(1 for m in prefixed if m["tab"]) > len(prefixed)
    by_prefix = _roles(matched, *configured, respondent_name, lines=False, tabbed=tabbed)
    by_line = _roles(matched, *configured, respondent_name, lines=True, tabbed=tabbed)

    def turns(found: list, roles: dict, lines: bool) -> int:
        return sum(1 for *_, m, key in found
                   if key in roles and (m.re is not PREFIX) == lines)
    n_line, n_prefix = turns(*by_line[:2], True), turns(*by_prefix[:2], False)
    # with no speaker either way, the lines' labels are named in the notes
    found, roles, unknown = (by_line if n_line > n_prefix or n_line == n_prefix == 0
                             else by_prefix)
    # no respondent turn that says something (only a title block's "Respondent: Kees de Wit")
    if not any(roles.get(key) == "respondent" and not _title_line(text[m.end():e].strip())
               for _, _, e, m, key in found) and (
            other := _by_label_lines(text, configured, respondent_name)
            or _by_format(text, formats)):
        return other
    return found, roles, unknown


def _by_label_lines(text: str, configured: tuple[set[str], ...], respondent_name: str
                    ) -> tuple[list, dict[str, str], list[str]] | None:
    """:func:`_speakers_in` for a transcript that names its speakers on a line of their own,
    without colon or time ("Interviewer" / the question / "Kees de Wit" / the answer, a Word
    transcript's bold name above each turn). A configured label or the respondent's roster
    name (its words, its initials) is a speaker; another name only where it takes turns with
    the respondent's, line for line: a short line said on its own ("Ja", "Anna") could be a
    word or a name. Only where the interviewer and the respondent are both so named at two
    turns or more (a title block names each once). The line after a speaker's is the turn."""
    paragraphs, after_label = [], False
    for (i, s, e), below in pairwise([*_paragraphs(text), None]):
        m = (NAME_LINE.match(text, s, e) if below is not None and not after_label
             and e - s <= SPEAKER_LINE_CHARS else None)
        paragraphs.append((i, s, e, m))
        after_label = m is not None
    found, roles, _ = _roles(paragraphs, *configured, respondent_name, lines=True, tabbed=False)
    labelled, own = set().union(*configured), _name_words(respondent_name)
    sure = {key: role for key, role in roles.items() if key.casefold() in labelled
            or _name_words(key) & own or _same_initials(key, respondent_name)}
    others = [key for key in roles if key not in sure]
    order = [key for *_, key in found if key in roles]
    if (len(others) == 1 and "interviewer" not in sure.values()
            and all(a != b for a, b in pairwise(order))):   # "Anna", "Kees de Wit", "Anna" ...
        sure[others[0]] = "interviewer"
    turns = Counter(sure[key] for key in order if key in sure)
    return (found, sure, []) if min(turns["interviewer"], turns["respondent"]) >= 2 else None


def _by_format(text: str, formats: tuple[str, ...]
               ) -> tuple[list, dict[str, str], list[str]] | None:
    """:func:`_speakers_in` for a .docx whose speakers no label names but the format does:
    its questions (or its answers) in bold or italic (``formats``: io.Transcript).

    One side is the sentences (no title or name alone: :func:`_title_line`) in the format
    most of them have, and the questions ending in "?" in the other format (a follow-up
    question in italic beside bold ones); the other side is the plain paragraphs, and an
    italic quote beside bold questions. Two or more on each side. The side with the most
    questions asks (as many: the emphasised one, as usual), where questions are most of its
    sentences (:data:`EMPHASISED_QUESTIONS`, :data:`PLAIN_QUESTIONS`). A quotation in the
    questions' format alone amid an answer is words said; a title in their format before a
    question (a section's, "Thema 2") is no turn. A turn starts where the side changes, so a
    question or an answer of several paragraphs is one turn; before the first emphasised
    question is the header."""
    if not formats:
        return None
    paragraphs, line, last = [], 0, 0   # (index, start, end, words said, format, a title?)
    for i, s, e in _paragraphs(text):
        line, last = line + text.count("\n", last, s), s
        said = text[s:e].strip()
        if not HEADING.match(text, s, e):
            paragraphs.append((i, s, e, said, formats[line] if line < len(formats) else "",
                               _title_line(said)))
    kinds = Counter(kind for *_, kind, title in paragraphs if kind and not title)
    mark = max(kinds, key=lambda kind: (kinds[kind], kind == "**"), default="")
    emphasised = [bool(kind) and not title and (kind == mark or said.endswith("?"))
                  for *_, said, kind, title in paragraphs]
    titles = {k for k, (*_, kind, title) in enumerate(paragraphs)
              if kind == mark and title and k + 1 < len(paragraphs) and emphasised[k + 1]}
    if sum(emphasised) < 2 or len(paragraphs) - len(titles) - sum(emphasised) < 2:
        return None
    asked, sentences = Counter(), Counter()
    for (*_, said, _, title), em in zip(paragraphs, emphasised, strict=True):
        asked[em] += said.endswith("?")
        sentences[em] += not title and len(said.split()) > BACKCHANNEL_WORDS
    asks = asked[True] >= asked[False]
    share = EMPHASISED_QUESTIONS if asks else PLAIN_QUESTIONS
    if asked[True] != asked[False] and asked[asks] < sentences[asks] * share:
        return None
    if asks:   # a quotation alone amid an answer is the respondent's
        emphasised = [em and not (said[:1] in QUOTES and not said.endswith("?")
                                  and 0 < k < len(paragraphs) - 1
                                  and not emphasised[k - 1] and not emphasised[k + 1])
                      for k, ((*_, said, _, _), em) in enumerate(zip(paragraphs, emphasised,
                                                                     strict=True))]
    found, before = [], None
    for k, ((i, s, e, *_), em) in enumerate(zip(paragraphs, emphasised, strict=True)):
        if k in titles:
            continue
        if before is None and not em:   # before the first emphasised: the header, or (its
            found.append((i, s, e, None if asks else FORMAT_TURN.match(text, s),   # title
                          None if asks else ""))   # lines apart) the first question
            continue
        key = None if em == before else mark if em else ""
        found.append((i, s, e, FORMAT_TURN.match(text, s), key))
        before = em
    asking, answering = ("interviewer", "respondent") if asks else ("respondent", "interviewer")
    return found, {mark: asking, "": answering}, []


def _prefix(text: str, start: int, end: int) -> re.Match | None:
    """A paragraph's speaker prefix or speaker line ("Anna Smit<tab>0:03" is a speaker line,
    not a prefix and a turn "0:03"); also a label alone formatted as a heading ("## R:")."""
    heading = HEADING.match(text, start, end)
    if heading:
        m = PREFIX.match(text, heading.end(), end)
        return m if m and not text[m.end():end].strip() else None
    m = PREFIX.match(text, start, end)
    if m is None or STAMP_ONLY.match(text, m.end(), end):
        return _speaker_line(text, start, end) or m
    return m


def _name_over_time(text: str, start: int, end: int,
                    below: tuple[int, int, int] | None) -> re.Match | None:
    """A speaker line split in two: the name here, the time stamp alone on the next line."""
    if below is None or end - start > SPEAKER_LINE_CHARS or not STAMP_ONLY.match(text, *below[1:]):
        return None
    return NAME_LINE.match(text, start, end)


def _roles(matched: list, interviewer: set[str], respondent: set[str], other: set[str],
           respondent_name: str, lines: bool, tabbed: bool
           ) -> tuple[list, dict[str, str], list[str]]:
    """:func:`_speakers` for paragraphs with their prefix match, ``(i, start, end, match)``;
    a label that is not configured counts in speaker lines with ``lines``, else in prefixes
    (after a line number: never; before a tab: where most prefixes are, ``tabbed``)."""
    def key(m: re.Match | None) -> str | None:
        """The speaker a prefix names; a configured one also numbered ("R1", "R 2")."""
        if m is None:
            return None
        said = m["prefix"].strip().rstrip(".")
        if not said.isascii():
            said = unicodedata.normalize("NFC", said)
        if "," in said:   # the surname first: "Vries, M. de (Marieke)" is Marieke de Vries
            said = speaker_name(said)
        bare = NUMBERED.sub("", said)
        return bare if bare.casefold() in labelled else said

    labelled = interviewer | respondent | other
    # "2 Groepen: maandag" and "Havo<tab>18 procent" in an answer are no speakers
    found = [(i, s, e, m, k) if m is None or k.casefold() in labelled
             or (m.re is not PREFIX) == lines
             and not (m.re is PREFIX and (m["line"] or m["tab"] and not tabbed))
             else (i, s, e, None, None)
             for i, s, e, m in matched for k in [key(m)]]
    uses = Counter(k for *_, k in found if k)
    roles = {key: "interviewer" for key in uses if key.casefold() in interviewer}
    roles |= {key: "respondent" for key in uses if key.casefold() in respondent}
    roles |= {key: "other" for key in uses if key.casefold() in other}
    # beside labelled questions and answers (I: and R: in two or more paragraphs each), one
    # word is no speaker's name but a word said ("Havo<tab>18 procent", "Stelling: ..."); a
    # full name still is
    both_labelled = {"interviewer", "respondent"} <= {r for k, r in roles.items()
                                                      if uses[k] >= 2}
    names = [key for key, n in uses.items() if key not in roles and n >= 2
             and _looks_like_name(key) and (len(key.split()) > 1 or not both_labelled)]
    own = _name_words(respondent_name)
    shared = {key: len(_name_words(key) & own) or _same_initials(key, respondent_name)
              for key in names}
    best = max(shared.values(), default=0)
    # "Jan de Vries" over "Jan Bakker" for the respondent Jan de Vries: most words in common
    mine = [key for key in names if shared[key] == best > 0] if len(names) > 1 else []
    # two speakers, one of them the respondent: the other is the interviewer, or, where the
    # interviewer has a configured label, another person (a duo interview's second
    # respondent: not the interviewed person's words). With more, a recurring "Bijvoorbeeld:"
    # could be one of them: all stay the respondent's (and a note)
    # (a configured interviewer label that asks: not only "Interviewer: Anna de Boer" in a title)
    second = ("other" if any(uses[k] >= 2 for k, r in roles.items() if r == "interviewer")
              else "interviewer")
    named = mine and len(names) - len(mine) == 1
    roles |= {key: second if named and key not in mine else "respondent" for key in names}
    unknown = [key for key, n in uses.items() if n >= 2 and key not in roles]
    return found, roles, unknown


def parse_turns(text: str, source: str, config: SegmentConfig,
                respondent_name: str = "", formats: tuple[str, ...] = ()) -> list[Turn]:
    """Split a transcript into paragraphs and decide who speaks in each.

    Interviews: a paragraph starting with a configured interviewer prefix (``I:``,
    ``Interviewer:``) is the interviewer's, a configured respondent prefix (``R:``,
    ``Respondent:``) or a name used as a prefix in at least two paragraphs is the respondent's
    (of two names, the one matching ``respondent_name``, the roster name of the person
    interviewed; the other is the interviewer's); a paragraph without prefix continues the
    previous speaker (``header`` before the first); a section title (``# Thema 2``, a .docx
    heading), one with only a time stamp or one of ``segment.ignore_lines`` (a transcription
    service's footer, "Einde interview") or only a transcriber's short marks ("(lacht)",
    "[onderbreking]") is no turn.
    Speaker lines without colon ("Speaker 1  0:03") name speakers too (:func:`_speakers_in`),
    and where nothing names them, names alone on their line or a .docx's bold or italic
    questions do (``formats``: :func:`_by_format`).
    Until the interviewer's first turn that is no title line (:func:`_title_line`), the
    speakers' title lines are the header too, with the lines that continue them
    ("Interviewer: Marieke Jansen", "Respondent: Ingrid Verbeek", "Duur: 00:45:12" in a title
    block; :func:`speaker_notes` names them); an answer there stays an answer.
    Observation logs: every paragraph is a note but a section title, an ignored line and
    the title block at the start (:func:`_log_header`); a note whose last word goes on on the
    next line after a hyphen (``io.WORD_BREAK``: "mevrouw Jans-" / "sen") goes on there.
    """
    ignored = _ignored(config.ignore_lines)
    if source == "observation":
        notes = _unbroken(text, [t for i, s, e in _paragraphs(text)
                                 if not HEADING.match(text, s, e)
                                 and not _ignored_line(text[s:e], ignored)
                                 and (t := _strip(i, "note", text, s, e))])
        header = _log_header([text[t.start:t.end] for t in notes],
                             frozenset(f.casefold() for f in config.title_fields))
        return [replace(t, role="header") for t in notes[:header]] + notes[header:]
    return list(_interview_turns(text, _configured(config, text), ignored, respondent_name,
                                 formats)[0])


def _broken_after(text: str, end: int) -> re.Match | None:
    """The word break (``io.WORD_BREAK``) that a paragraph ending at ``end`` ends in."""
    return WORD_BREAK.match(text, end - 1) if end and text[end - 1] == "-" else None


def _unbroken(text: str, notes: list[Turn]) -> list[Turn]:
    """``notes`` with a note that ends in a word broken over two lines joined to the next
    one, where that word goes on: half a word is no note, and half a name is not
    pseudonymised ("mevrouw Jans-" / "sen over de toets")."""
    whole: list[Turn] = []
    for note in notes:
        if whole and (brk := _broken_after(text, whole[-1].end)) and brk.end() == note.start:
            whole[-1] = replace(whole[-1], end=note.end)
        else:
            whole.append(note)
    return whole


# a field of a title block: "Datum: 5 maart 2024", "Naam observator: Jeroen Smits"
FIELD = re.compile(rf"{SPACE}*(?P<label>[^\W\d_][\w'’.\- ]{{0,40}}?){SPACE}*:")


def _log_header(paragraphs: list[str], fields: frozenset[str]) -> int:
    """How many of an observation log's first paragraphs are its title block, no notes:
    fields whose label is one of ``segment.title_fields``, each a title line
    (:func:`_title_line`: "Datum: 5 maart 2024", "Observator: Jeroen Smits"; not "Tijd:
    08.30. Thijs komt binnen."), after at most one title line without a label
    ("Observatieverslag PLG-bijeenkomst"). A note follows it; a log that starts with
    someone's words ("Thijs: welkom allemaal") has none."""
    def field(said: str) -> bool:
        m = FIELD.match(said)
        return (m is not None and " ".join(m["label"].split()).casefold() in fields
                and _title_line(said))

    title = int(bool(paragraphs) and _title_line(paragraphs[0])
                and not FIELD.match(paragraphs[0]))
    end = title
    while end < len(paragraphs) - 1 and field(paragraphs[end]):
        end += 1
    return end if end > title else 0


def _configured(config: SegmentConfig, text: str) -> tuple[tuple[str, ...], ...]:
    """The configured interviewer, respondent and other speakers' prefixes in NFC ("ï" typed
    as i and a combining diaeresis too), as transcripts' prefixes are compared; with the
    ``paired_prefixes`` of which ``text`` starts a line with both."""
    def nfc(prefixes: list[str]) -> tuple[str, ...]:
        return tuple(unicodedata.normalize("NFC", p) for p in prefixes)
    starting = _labels_starting_lines(text, tuple(map(tuple, config.paired_prefixes)))
    pairs = [pair for pair in config.paired_prefixes
             if all(label.casefold() in starting for label in pair)]
    return (nfc([*config.interviewer_prefixes, *(q for q, _ in pairs)]),
            nfc([*config.respondent_prefixes, *(a for _, a in pairs)]),
            nfc(config.other_prefixes))


@lru_cache(maxsize=16)
def _labels_starting_lines(text: str, pairs: tuple[tuple[str, ...], ...]) -> frozenset[str]:
    """Which labels of ``pairs`` start a line of ``text`` with a colon or tab (after a line
    number or time stamp, if any), in any letter case (casefolded): one pass per text."""
    labels = {label for pair in pairs for label in pair}
    if not labels:
        return frozenset()
    found = re.findall(r"(?im)^[^\S\n]*(?:[\d:.,\[\]()]+[^\S\n]*)?("
                       + "|".join(map(re.escape, sorted(labels, key=len, reverse=True)))
                       + r")[^\S\n]*[:\t]", text)
    return frozenset(label.casefold() for label in found)


RULE_CHARS = " \t.-–—*_=~#"   # around a footer: "--- Einde interview. ---"
ENTRY_RULE_CHARS = RULE_CHARS.replace("*", "").replace("#", "")   # "*", "#": placeholders
NUMBER = r"\d[\d:.,]*"   # what "#" stands for in an ignore_lines entry: "12", "47:12"
PAGE_NUMBER = re.compile(r"\s*[-–—]+\s*\d+\s*[-–—]+\s*")   # "- 4 -", "– 12 –"


def _ignored(lines: list[str]) -> tuple[re.Pattern, re.Pattern]:
    """``segment.ignore_lines`` as patterns of lines without the rules around them: the
    entries as written, and those with a ``*``, which stands for any text ("* stopped
    transcription"), or a ``#``, a number or a time ("Pagina # van #", "Einde opname: #")."""
    return _ignore_patterns(tuple(sorted({line.strip(ENTRY_RULE_CHARS).casefold()
                                          for line in lines})))


@lru_cache(maxsize=8)
def _ignore_patterns(entries: tuple[str, ...]) -> tuple[re.Pattern, re.Pattern]:
    def pattern(kept: list[str]) -> re.Pattern:
        return re.compile("|".join(re.escape(e).replace(r"\*", ".*").replace(r"\#", NUMBER)
                                   for e in kept) or "(?!)")
    return (pattern([e for e in entries if "*" not in e and "#" not in e]),
            pattern([e for e in entries if "*" in e or "#" in e]))


def _ignored_line(said: str, ignored: tuple[re.Pattern, re.Pattern]) -> bool:
    """A line no one said or noted: one of ``segment.ignore_lines`` (:func:`_ignored`), or a
    page number between rules ("- 4 -"). An entry with a placeholder matches no sentence (a
    line ending in . ? ! or of more than :data:`TITLE_WORDS` words)."""
    bare = said.strip(RULE_CHARS).casefold()
    exact, wild = ignored
    return (exact.fullmatch(bare) is not None
            or PAGE_NUMBER.fullmatch(said) is not None
            or _title_line(said.rstrip(RULE_CHARS.replace(".", "")))
            and wild.fullmatch(bare) is not None)


TITLE_WORDS = 8   # a title line is short and no sentence: "Respondent: Ingrid Verbeek"


def _title_line(said: str) -> bool:
    """A speaker's line that is a title block's, not a sentence said: at most
    :data:`TITLE_WORDS` words, not ending as a sentence does."""
    return len(said.split()) <= TITLE_WORDS and said.rstrip()[-1:] not in ".?!…"


@lru_cache(maxsize=16)
def _interview_turns(text: str, labels: tuple[tuple[str, ...], ...],
                     ignored: tuple[re.Pattern, re.Pattern], respondent_name: str,
                     formats: tuple[str, ...] = ()
                     ) -> tuple[tuple[Turn, ...], tuple[Turn, ...]]:
    """An interview's turns (:func:`parse_turns`) and the respondent's title lines made
    header, once per transcript: segmenting it and its notes ask the same."""
    found, roles, _ = _speakers_in(text, labels, respondent_name, formats)
    numbered = _line_numbered(found)
    turns, titles, role, opened = [], [], "header", False
    zone = titled = True   # zone: no question asked yet; titled: the turn is a title line's
    for i, s, e, m, speaker in found:
        start = s
        if m and (known := roles.get(speaker)):
            role, start, opened = known, m.end(), True
            if m.re is FORMAT_TURN and _no_turn(text, s, e, ignored):
                continue   # "Einde interview" after the last question: the turn goes on
        elif _no_turn(text, s, e, ignored):
            continue
        elif numbered and (number := NUMBER_START.match(text, s, e)):
            start = number.end()   # a line that continues a turn, after its line number
        start, end = _trim(text, start, e)
        if end == start or _marks_only(text, start, end):
            continue   # no words said: no turn (a speaker's turn, if named, goes on)
        if zone and opened:
            titled = _title_line(text[start:end])
            zone = titled or role != "interviewer"
        if zone and titled and role in ("interviewer", "respondent"):
            if role == "respondent" and opened:
                titles.append(Turn(i, "header", start, end))
            turns.append(Turn(i, "header", start, end, not opened))
        else:
            turns.append(Turn(i, role, start, end, not opened))
        opened = False
    return tuple(turns), tuple(titles)


def _no_turn(text: str, start: int, end: int, ignored: tuple[re.Pattern, re.Pattern]) -> bool:
    """A paragraph no one said: a time stamp alone, a section title, an ignored line."""
    return bool(STAMP_ONLY.match(text, start, end) or HEADING.match(text, start, end)
                or _ignored_line(text[start:end], ignored))


# answers hold more words than questions, but in a short interview the questions can
# outnumber them a little: only an interviewer with more than this many times the
# respondent's words is taken for speakers the wrong way round
SWAPPED_RATIO = 2
NUMBER_START = re.compile(rf"{SPACE}*\d{{1,5}}(?:{SPACE}+|$)")


def _line_numbered(found: list) -> bool:
    """Whether a transcript's lines are numbered in the margin ("12   I: ..."): most of its
    speakers' prefixes come after a number."""
    prefixes = [m for *_, m, key in found if key and m.re is PREFIX]
    return 2 * sum(1 for m in prefixes if m["line"]) > len(prefixes) > 0


MARK_WORDS = 4   # "[onderbreking: telefoon gaat]"; a longer bracketed text is a summary said


def _marks_only(text: str, start: int, end: int) -> bool:
    """Only a transcriber's short marks: "(lacht)", "[onverstaanbaar] (stilte)"."""
    return (MARKS_ONLY.match(text, start, end) is not None
            and len(text[start:end].split()) <= MARK_WORDS)


def speaker_notes(text: str, source: str, config: SegmentConfig,
                  respondent_name: str = "", formats: tuple[str, ...] = ()) -> list[str]:
    """What a researcher should check in an interview's speakers, in words: no respondent turn
    recognised (nothing of it is coded), a prefix of several paragraphs that is no speaker
    (its paragraphs continue the previous turn), a full name or a speaker line that starts
    only one paragraph (a third speaker's words would be the previous speaker's), several
    names all taken as the respondent, or one beside the configured respondent (a label
    such as "Stelling:" twice), the respondent's title lines before the first question (read
    as the header), an interviewer who says much more than the respondent (the roles the
    wrong way round: the coded words would be the questions), a second respondent or
    another speaker whose turns are not coded, numbered respondents ("R1", "R2") all coded
    as the one interviewed, speakers told apart by the format of a .docx's lines."""
    if source == "observation":
        return []
    found, roles, unknown = _speakers(text, config, respondent_name, formats)
    notes = []
    if mark := next((key for *_, m, key in found if m is not None and m.re is FORMAT_TURN
                     and key), None):
        notes.append(f"no speaker labels: its paragraphs {FORMAT_NAMES[mark]} are read as "
                     f"the {roles[mark]}'s turns and the others as the {roles['']}'s: check "
                     "that its format tells them apart so, or start each turn with its "
                     "speaker's label ('I: ...', 'R: ...')")
    elif "respondent" not in roles.values():
        notes.append("no respondent turn recognised, so nothing of it is coded (prefixes "
                     f"seen: {', '.join(sorted(roles) + unknown) or 'none'}): start each turn "
                     "with its speaker's label and a colon or a tab ('I: ...', 'R: ...'), or "
                     "name the labels used in segment.interviewer_prefixes and "
                     "respondent_prefixes in the config")
    notes += [f"prefix '{key}' starts several paragraphs but is no configured speaker: they "
              "continue the previous turn (segment.interviewer_prefixes, "
              "respondent_prefixes in the config)" for key in unknown]
    labels = [{p.casefold() for p in prefixes} for prefixes in _configured(config, text)]
    notes += [f"'{key}' speaks beside the interviewer and the respondent "
              f"'{next(k for k, r in roles.items() if r == 'respondent')}': a second "
              "respondent, whose turns are not coded (they are not the words of the person "
              "interviewed)" if key.casefold() not in labels[2] else
              f"the turns of '{key}' are not coded (segment.other_prefixes in the config)"
              for key, role in roles.items() if role == "other"]
    names = [key for key, role in roles.items() if role == "respondent"
             and key.casefold() not in labels[1] and key not in FORMAT_NAMES]
    if len(names) > 1:
        notes.append(f"{', '.join(names)} are all taken as the respondent: check who speaks "
                     "(of two speaker names, the one matching the roster name is the "
                     "respondent and the other the interviewer)")
    elif names and (beside := [key for key, role in roles.items()
                               if role == "respondent" and key not in names]):
        notes.append(f"'{names[0]}' starts several paragraphs and is taken as a respondent "
                     f"beside '{beside[0]}': if it is no speaker but a label (\"Stelling:\"), "
                     "check who says it (segment.interviewer_prefixes in the config, if the "
                     "interviewer does)")
    numbered = sorted({" ".join(m["prefix"].split()) for *_, m, key in found
                       if roles.get(key) == "respondent" and NUMBERED.search(m["prefix"])})
    if len(numbered) > 1:   # "R1", "R2": two people, both coded as the one interviewed
        notes.append(f"{', '.join(numbered)} are all coded as the respondent's words: if "
                     "they are different people, only the interviewed person's turns belong "
                     "in this transcript")
    turns, titles = _interview_turns(text, _configured(config, text), _ignored(config.ignore_lines),
                                     respondent_name, formats)
    if titles:   # a title line is short: quoted whole, so its names are pseudonymised whole
        said = " ".join(text[titles[0].start:titles[0].end].split())
        notes.append(f"line {text.count(chr(10), 0, titles[0].start) + 1}: {len(titles)} "
                     "respondent line(s) before the interviewer's first question read as a "
                     f"title, not coded ('{said}'): check where the interview starts")
    notes += [f"line {text.count(chr(10), 0, s) + 1}: '{key}' looks like a speaker but starts "
              "only this paragraph, so it is part of the previous turn: check who speaks"
              for _, s, _, m, key in found if key and key not in roles and key not in unknown
              and (len(key.split()) > 1 and _looks_like_name(key)
                   or m.re is not PREFIX and NUMBERED.search(key))]   # "Spreker 3  4:40"
    words = Counter()
    for turn in turns:
        words[turn.role] += len(text[turn.start:turn.end].split())
    if 0 < SWAPPED_RATIO * words["respondent"] < words["interviewer"]:
        notes.append(f"the interviewer's turns hold more words ({words['interviewer']}) than "
                     f"the respondent's ({words['respondent']}): check that the speakers are "
                     "the right way round (segment.interviewer_prefixes, respondent_prefixes in "
                     "the config; a transcription service numbers its speakers per file)")
    return notes


def speaker_names(text: str, source: str, config: SegmentConfig,
                  respondent_name: str = "", formats: tuple[str, ...] = ()) -> set[str]:
    """The people's names a transcript uses as speakers: the interviewer's too, who is rarely
    in the roster, so that pseudonymisation knows them. A name of two words that starts one
    paragraph counts; a single word only as one of the two speakers (a third word used
    twice, "Bijvoorbeeld:", is no name to replace)."""
    if source == "observation":
        return set()
    found, roles, _ = _speakers(text, config, respondent_name, formats)
    configured = {p.casefold() for prefixes in _configured(config, text) for p in prefixes}
    names = {key for key in roles if key.casefold() not in configured and _looks_like_name(key)}
    return {key for *_, key in found if key and key.casefold() not in configured
            and _looks_like_name(key)
            and (len(key.split()) > 1 or key in names and len(names) <= 2)}


def _strip(index: int, role: str, text: str, start: int, end: int) -> Turn | None:
    start, end = _trim(text, start, end)
    return Turn(index, role, start, end) if end > start else None


def _sentence_groups(text: str, start: int, end: int, max_chars: int,
                     nlp: Language) -> list[tuple[int, int]]:
    """Greedy groups of whole sentences of at most ``max_chars``; a longer sentence is cut
    between words (:func:`_word_pieces`)."""
    if end - start <= max_chars:
        return [(start, end)]
    doc = nlp(text[start:end])
    groups: list[tuple[int, int]] = []
    g_start = g_end = None
    spans = (piece for sent in doc.sents for piece in
             _word_pieces(text, start + sent.start_char, start + sent.end_char, max_chars))
    for s, e in spans:
        if g_start is None:
            g_start, g_end = s, e
        elif e - g_start <= max_chars:
            g_end = e
        else:
            groups.append((g_start, g_end))
            g_start, g_end = s, e
    if g_start is not None:
        groups.append((g_start, g_end))
    return [(s, e) for s, e in (_trim(text, s, e) for s, e in groups) if e > s]


def _word_pieces(text: str, s: int, e: int, max_chars: int) -> list[tuple[int, int]]:
    """A sentence in pieces of at most ``max_chars``, each cut at the last space that fits:
    speech transcribed without punctuation is one "sentence" that would otherwise be one
    segment of any length (a word longer than ``max_chars`` is cut inside; a word broken
    over two lines, ``io.WORD_BREAK``, is no two words)."""
    pieces = []
    while e - s > max_chars:
        cut = next((i for i in range(s + max_chars, s, -1) if text[i].isspace()
                    and not _inside_broken_word(text, i)), s + max_chars)
        pieces.append((s, cut))
        s = cut
    return pieces + [(s, e)]


def _inside_broken_word(text: str, i: int) -> bool:
    """Whether the space at ``i`` is in a word break (``io.WORD_BREAK``: "Jans-\\nsen")."""
    k = i
    while k and text[k - 1].isspace():
        k -= 1
    return (brk := _broken_after(text, k)) is not None and brk.end() > i


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def segment_document(text: str, *, doc: str, school_id: str, person_id: str, source: str,
                     config: SegmentConfig, nlp: Language, respondent_name: str = "",
                     formats: tuple[str, ...] = ()) -> pd.DataFrame:
    """Segments of one transcript (columns: :data:`SEGMENT_COLUMNS`; ``formats``: those of
    its lines, ``io.Transcript.formats``)."""
    stem = PurePosixPath(doc).stem
    rows, context, asking = [], "", False   # asking: the interviewer's turn so far is a question
    for turn in _whole_answers(text, parse_turns(text, source, config, respondent_name,
                                                 formats)):
        body = text[turn.start:turn.end]
        if turn.role == "interviewer":
            if asking and turn.continues:   # a question on several lines is the context whole
                context = _last_chars(context + "\n" + body, config.max_chars)
            elif not _backchannel(body, config):
                context, asking = body, True
            continue
        asking = False
        if turn.role in ("header", "other"):
            continue
        spans = ([(turn.start, turn.end)] if turn.role == "note" else
                 _sentence_groups(text, turn.start, turn.end, config.max_chars, nlp))
        for part, (s, e) in enumerate(spans):
            rows.append({"segment_id": f"{stem}@{s}-{e}", "school_id": school_id,
                         "person_id": person_id, "source": source, "doc": doc,
                         "turn": turn.index, "part": part,
                         "speaker": "note" if turn.role == "note" else "respondent",
                         "start": s, "end": e, "text": text[s:e], "context": context})
        if turn.role == "note":
            context = body
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


def _last_chars(question: str, limit: int) -> str:
    """A question's last lines within ``limit`` characters (at least its last line): an
    introduction of many lines before it is no context of the answer."""
    lines = question.split("\n")
    keep = len(lines) - 1
    while keep > 0 and len("\n".join(lines[keep - 1:])) <= limit:
        keep -= 1
    return "\n".join(lines[keep:])


LINE_GAP = re.compile(rf"\s*(?:{LINE_NUMBER})?")   # between two lines of a turn: a line number


def _whole_answers(text: str, turns: list[Turn]) -> list[Turn]:
    """``turns`` with each respondent paragraph that continues a turn joined to it: the unit
    of coding is the respondent's turn (CODEBOOK.md), however the typist broke its lines (a
    Shift+Enter in Word, a blank line), and only a long one is split, into sentence groups.
    A line that is no turn (a time stamp, marks only) between two paragraphs keeps them
    apart, so that no segment holds it; a line number typed in the margin does not (inside
    a turn it stays in the segment's text, which is the transcript's at its offsets)."""
    whole: list[Turn] = []
    for turn in turns:
        last = whole[-1] if whole else None
        if (last is not None and turn.continues and turn.role == last.role == "respondent"
                and LINE_GAP.fullmatch(text, last.end, turn.start)):
            whole[-1] = replace(last, end=turn.end)
        else:
            whole.append(turn)
    return whole


def _backchannel(said: str, config: SegmentConfig) -> bool:
    """An interviewer's "Hm-hm." or "Ja, oké." between two parts of an answer: no question,
    so the context of the next part stays the question asked before."""
    return len(said.split()) <= config.backchannel_words and "?" not in said


def transcript_of(segment_id: str) -> str:
    """The transcript (file stem) a segment id ``<stem>@<start>-<end>`` belongs to."""
    return segment_id.rsplit("@", 1)[0]


def _formats(value: object) -> tuple[str, ...]:
    """A transcripts table's ``formats`` cell: a tuple, or none (a .txt's, an empty cell)."""
    return tuple(value) if isinstance(value, tuple | list) else ()


def segment_transcripts(transcripts: pd.DataFrame, config: SegmentConfig,
                        nlp: Language) -> pd.DataFrame:
    """Segments of every transcript.

    ``transcripts`` has the columns of ``io.Cohort.transcripts`` plus ``text`` (the content
    read by ``io.read_transcript``) and, optionally, ``respondent_name`` (the roster name of
    the person interviewed: which of several speaker names is the respondent) and
    ``formats`` (``io.Transcript.formats``).
    """
    parts = [segment_document(r.text, doc=r.path, school_id=r.school_id, person_id=r.person_id,
                              source=r.source, config=config, nlp=nlp,
                              respondent_name=getattr(r, "respondent_name", ""),
                              formats=_formats(getattr(r, "formats", ())))
             for r in transcripts.itertuples(index=False)]
    if not parts:
        return pd.DataFrame(columns=SEGMENT_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    return out.astype({"turn": "int64", "part": "int64", "start": "int64", "end": "int64"})
