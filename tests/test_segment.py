"""Transcripts -> segments (pipeline/segment.py) and transcript reading (pipeline/io.py).

Fixtures: tests/data/segment/ (one transcript per speaker-prefix style, an observation log).
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.io import InputError, Transcript, load_transcript, read_transcript
from pipeline.segment import (
    SEGMENT_COLUMNS,
    parse_turns,
    segment_document,
    segment_transcripts,
    speaker_names,
    speaker_notes,
)


@pytest.fixture(scope="module")
def seg_config(settings):
    return settings.pipeline.segment


def segment(text, seg_config, nlp, *, source="interview", doc="transcripts/s1/p1_interview_1.txt",
            config=None, respondent_name="", formats=()):
    return segment_document(text, doc=doc, school_id="s1", person_id="p1", source=source,
                            config=config or seg_config, nlp=nlp,
                            respondent_name=respondent_name, formats=formats)


def check_offsets(segs: pd.DataFrame, text: str) -> None:
    for row in segs.itertuples(index=False):
        assert row.text == text[row.start:row.end]
        assert row.segment_id.endswith(f"@{row.start}-{row.end}")


# ---------------------------------------------------------------- speaker prefixes
def test_i_r_prefixes_headers_and_continuation(shared_datadir, seg_config, nl_pipeline):
    text = read_transcript(shared_datadir / "segment" / "interview_ir.txt")
    roles = [t.role for t in parse_turns(text, "interview", seg_config)]
    # two header lines, then I, R, continuation of R, I, R
    assert roles == ["header", "header", "interviewer", "respondent", "respondent",
                     "interviewer", "respondent"]
    segs = segment(text, seg_config, nl_pipeline)
    assert list(segs.columns) == SEGMENT_COLUMNS
    assert segs["text"].tolist() == [   # a turn's paragraphs are one segment (CODEBOOK)
        "Aan zittenblijven in havo 4. Dat is al jaren een pijnpunt bij ons.\n"
        "En daar wilden we echt iets aan doen.",
        "Eerst hebben we een hypothese opgesteld en toen data verzameld."]
    assert not segs["text"].str.contains("Datum|Interview sleutelfiguur").any()
    assert set(segs["speaker"]) == {"respondent"}
    # the interviewer's question is kept as context, never coded
    assert segs["context"].iloc[0] == "Fijn dat je tijd hebt. Waar werkt het datateam aan?"
    check_offsets(segs, text)


def test_interviewer_respondent_prefixes(shared_datadir, seg_config, nl_pipeline):
    text = read_transcript(shared_datadir / "segment" / "interview_full.txt")
    segs = segment(text, seg_config, nl_pipeline)
    assert segs["text"].tolist() == [
        "Ik schrijf elke maand een stukje in de nieuwsbrief.",
        "In de teamvergadering heb ik verteld wat we gevonden hebben."]
    assert segs["context"].tolist() == ["Hoe vertel je collega's over de PLG?", "En verder?"]
    check_offsets(segs, text)


def test_vraag_antwoord_labels(seg_config, nl_pipeline):
    """Dutch transcripts often label turns "Vraag:" and "Antwoord:": by default the questions
    are the interviewer's (context) and only the answers are coded. Before, both were taken
    for speaker names and the questions coded as the respondent's words."""
    text = ("Vraag: Hoe lang werk je al op deze school?\nAntwoord: Twaalf jaar nu.\n"
            "Vraag: Wat doet het datateam?\nAntwoord: We kijken naar de toetsresultaten.\n")
    segs = segment(text, seg_config, nl_pipeline, respondent_name="Anna de Vries")
    assert segs["text"].tolist() == ["Twaalf jaar nu.", "We kijken naar de toetsresultaten."]
    assert segs["context"].tolist() == ["Hoe lang werk je al op deze school?",
                                        "Wat doet het datateam?"]
    assert speaker_notes(text, "interview", seg_config, "Anna de Vries") == []
    check_offsets(segs, text)


def test_name_as_prefix(shared_datadir, seg_config, nl_pipeline):
    text = read_transcript(shared_datadir / "segment" / "interview_names.txt")
    roles = [t.role for t in parse_turns(text, "interview", seg_config)]
    assert roles == ["interviewer", "respondent", "interviewer", "respondent"]
    segs = segment(text, seg_config, nl_pipeline)
    assert segs["text"].tolist() == [
        "Ik vraag collega's op het whiteboard naar mogelijke oorzaken.",
        "Ja, we krijgen veel reacties. Ook op het intranet."]
    assert not segs["text"].str.contains("Marieke de Vries:").any()
    check_offsets(segs, text)


@pytest.mark.parametrize("interviewer, respondent", [
    ("[00:00:05] I:", "[00:00:09] R:"),      # time stamps in brackets
    ("00:00 I:", "00:01 R:"),                # bare time stamps
    ("I1:", "R1:"),                          # numbered speakers
    ("I 2:", "R 2:"),
    ("Interviewer (AB):", "Respondent (LdJ):"),   # initials in brackets
    ("(00:00:05) I:", "(00:00:09) R:"),      # the stamp in parentheses,
    ("00:00:05 - I:", "00:00:09 - R:"),      # with a dash,
    ("I [00:00:05]:", "R [00:00:09]:"),      # after the speaker,
    ("I 00:00:05:", "R 00:00:09:"),
    ("I: [00:00:05]", "R: [00:00:09]"),      # or after the colon
    ("I:\u00a0", "R\u00a0:"),                # a no-break space (Word)
    ("\ufeffI:", "\u200bR:"),                # a BOM of a pasted file, a zero-width space
    ("I\t", "R\t"),                          # a tab instead of the colon
    ("Interviewer \t", "Respondent\t\t"),
    ("[00:00:05]\tI\t", "[00:00:09]\tR\t"),  # columns pasted from a spreadsheet
    ("12   I:", "13   R:"),                 # line numbers typed in the margin
    ("5\tI:", "R:"),
])
def test_prefix_styles_with_stamps_numbers_and_initials(interviewer, respondent, seg_config,
                                                        nl_pipeline):
    text = (f"{interviewer} Wat is het probleem?\n{respondent} Het verzuim op maandag.\n"
            f"{interviewer} En verder?\n{respondent} Ik vertel het in de teamvergadering.\n")
    segs = segment(text, seg_config, nl_pipeline)
    assert segs["text"].tolist() == ["Het verzuim op maandag.",
                                     "Ik vertel het in de teamvergadering."]
    assert segs["context"].tolist() == ["Wat is het probleem?", "En verder?"]
    check_offsets(segs, text)
    assert speaker_notes(text, "interview", seg_config) == []


def test_speaker_label_on_its_own_line(shared_datadir, seg_config, nl_pipeline):
    """A label alone on its line (Word, transcription services) starts the turn of the
    next lines: the answers used to be headers, or the interviewer's where a label followed
    a question. An empty turn ("Şeyma Kaya:" then "Interviewer:") is no segment, and a
    line with only a time stamp is no turn."""
    text = read_transcript(shared_datadir / "segment" / "interview_labels_own_line.txt")
    segs = segment(text, seg_config, nl_pipeline, respondent_name="Şeyma Kaya")
    assert segs["text"].tolist() == ["Ik zet het in de nieuwsbrief.\n\n"
                                     "En ik vertel het in de sectievergadering.",
                                     "(lacht) Nee, dat was het."]
    assert segs["context"].tolist() == ["Hoe deel je wat het datateam vindt?", "Nog iets?"]
    check_offsets(segs, text)
    roles = [(t.role, text[t.start:t.end]) for t in parse_turns(text, "interview", seg_config,
                                                                "Şeyma Kaya")]
    assert ("interviewer", "Dat was het?") in roles and ("interviewer", "Nog iets?") in roles
    assert not any("00:0" in said for _, said in roles)
    assert speaker_notes(text, "interview", seg_config, "Şeyma Kaya") == []


def test_speaker_lines_of_transcription_services(shared_datadir, seg_config, nl_pipeline):
    """A speaker and a time stamp alone on a line, no colon, the turn on the next lines (Otter,
    Word's transcription, Teams): the stamp's colon was read as the speaker's ("Speaker 1  0"),
    and "03", "09" were coded as the respondent's answers. Numbered labels are named in the
    config; a one-off line such as "Om 10:30" in an answer stays the answer's."""
    text = read_transcript(shared_datadir / "segment" / "interview_speaker_lines.txt")
    notes = speaker_notes(text, "interview", seg_config)
    assert notes[0] == ("no respondent turn recognised, so nothing of it is coded (prefixes "
                        "seen: Speaker 1, Speaker 2): start each turn with its speaker's label "
                        "and a colon or a tab ('I: ...', 'R: ...'), or name the labels used in "
                        "segment.interviewer_prefixes and respondent_prefixes in the config")
    assert segment(text, seg_config, nl_pipeline).empty
    config = seg_config.model_copy(update={
        "interviewer_prefixes": [*seg_config.interviewer_prefixes, "Speaker 1"],
        "respondent_prefixes": [*seg_config.respondent_prefixes, "Speaker 2"]})
    segs = segment(text, seg_config, nl_pipeline, config=config)
    assert segs["text"].tolist() == [
        "Het verzuim op maandag.\nDat zien we al jaren terug in de cijfers.",
        "Ik vertel het in de teamvergadering.\nOm 10:30\n"
        "hebben we altijd koffie, dan vraag ik wat mensen ervan vinden."]
    assert segs["context"].tolist() == ["Wat is het probleem waar jullie datateam aan werkt?",
                                        "En met wie deel je dat?"]
    check_offsets(segs, text)
    assert speaker_notes(text, "interview", config) == []


@pytest.mark.parametrize("interviewer, respondent", [
    ("I  0:03", "R  0:09"),                              # the stamp after the speaker
    ("00:00:03 I", "00:00:09 R"),                        # or before it (Word)
    ("[00:00:03] Interviewer", "[00:00:09] Respondent"),
    ("I - 0:03", "R - 0:09"),
    ("Marieke de Vries   0:03", "Jan Bakker   0:09"),    # names (Teams)
    ("Vries, Marieke de   0:03", "Bakker, Jan   0:09"),  # the surname first (Teams' .docx)
    ("Vries, M. de (Marieke)   0:03", "Bakker, J. (Jan)   0:09"),
    ("00:00:03 Vries, Marieke de", "00:00:09 Bakker, Jan"),
    ("[Marieke de Vries] 14:00:03", "[Jan Bakker] 14:00:09"),   # Zoom's saved transcript
    ("Marieke de Vries\t0:03", "Jan Bakker\t0:09"),    # a tab before the time
    ("Marieke de Vries\n0:03", "Jan Bakker\n0:09"),    # Teams in the browser, copied
    ("M.d.V.:", "J.B.:"),                              # initials: the roster name's are R's
    ("MdV:", "JB:"),
])
def test_speaker_line_styles(interviewer, respondent, seg_config, nl_pipeline):
    text = (f"{interviewer}\nWat is het probleem?\n{respondent}\nHet verzuim op maandag.\n"
            f"{interviewer}\nEn verder?\n{respondent}\nIk vertel het in de teamvergadering.\n")
    segs = segment(text, seg_config, nl_pipeline, respondent_name="Jan Bakker")
    assert segs["text"].tolist() == ["Het verzuim op maandag.",
                                     "Ik vertel het in de teamvergadering."]
    assert segs["context"].tolist() == ["Wat is het probleem?", "En verder?"]
    check_offsets(segs, text)
    assert speaker_notes(text, "interview", seg_config, "Jan Bakker") == []
    if "Vries" in interviewer:   # named as the roster and the pseudonymiser know names
        assert speaker_names(text, "interview", seg_config, "Jan Bakker") == {
            "Marieke de Vries", "Jan Bakker"}


@pytest.mark.parametrize(("interviewer", "respondent"), [("AB:", "KdW:"), ("Anna", "KdW")])
def test_initials_with_a_particle_in_lower_case(interviewer, respondent, seg_config,
                                                nl_pipeline):
    """"KdW" is Kees de Wit's initials as a prefix and alone on its line (then beside the
    interviewer's name, turn for turn); a capitalised word ("Ja") is not."""
    text = (f"{interviewer}\nWat is het probleem?\n{respondent}\nHet verzuim op maandag.\n"
            f"{interviewer}\nEn verder?\n{respondent}\nIk vertel het in de teamvergadering.\n")
    segs = segment(text, seg_config, nl_pipeline, respondent_name="Kees de Wit")
    assert segs["text"].tolist() == ["Het verzuim op maandag.",
                                     "Ik vertel het in de teamvergadering."]
    from pipeline.segment import _same_initials

    assert not _same_initials("Ja", "Jan Alders") and _same_initials("JA", "Jan Alders")


@pytest.mark.parametrize(("text", "roles"), [
    # a digit right after a prefix's colon: R's turn ("R:3" is no time stamp)
    ("I: Hoe lang al?\nR:3 jaar nu.\nI: En daarvoor?\nR:2019, toen.\n",
     ["interviewer", "respondent", "interviewer", "respondent"]),
    ("Marieke de Vries:Hoeveel?\nJan Bakker:12 in totaal.\nMarieke de Vries:Oké.\n"
     "Jan Bakker:Ja.\n", ["interviewer", "respondent", "interviewer", "respondent"]),
    # a word and a time on a line of their own, twice, in a transcript with prefixes: no speaker
    ("I: Wanneer?\nR: Op dinsdag.\nOm 10:30\nen donderdag\nOm 10:30\nI: En?\nR: Niets.\n",
     ["interviewer", "respondent", "respondent", "respondent", "respondent", "interviewer",
      "respondent"]),
    ("I1: Hoe lang al?\nR1:12 jaar, sinds het begin.\nI1: En?\nR1: Goed.\n",
     ["interviewer", "respondent", "interviewer", "respondent"]),
    # a configured speaker's line without colon counts in any transcript
    ("I: Vraag?\n00:05:12 R\nAntwoord.\n", ["interviewer", "respondent"]),
    # among speaker lines, "Bijvoorbeeld:" twice is no speaker
    ("Marieke de Vries   0:03\nWat doen jullie?\nJan Bakker   0:09\nVeel.\n"
     "Bijvoorbeeld: toetsen.\nMarieke de Vries   0:20\nEn?\nJan Bakker   0:24\n"
     "Bijvoorbeeld: cijfers.\n",
     ["interviewer", "respondent", "respondent", "interviewer", "respondent"]),
    ("[00:00:03]I\nWat?\n[00:00:09]R\nDit.\n", ["interviewer", "respondent"]),
    # Dutch tools write the stamp with dots; "08.15 uur" in a turn is no stamp
    ("00.00.05 I: Wat?\n00.00.09 R: Dit.\n00.03.10\nOm 08.15 uur.\n",
     ["interviewer", "respondent", "respondent"]),
])
def test_time_stamps_beside_speakers_and_in_turns(text, roles, seg_config):
    turns = parse_turns(text, "interview", seg_config, "Jan Bakker")
    assert [t.role for t in turns] == roles
    assert speaker_notes(text, "interview", seg_config, "Jan Bakker") == []


def test_a_third_speakers_line_is_a_note(seg_config):
    """A speaker line seen once (a colleague walks in) continues the previous turn, and says
    so: before, nothing told the researcher that those words were coded as the respondent's."""
    text = ("Marieke de Vries   0:03\nWat?\nJan Bakker   0:09\nDit.\nPiet Jansen   0:20\n"
            "Ik ook.\nMarieke de Vries   0:30\nOké.\nJan Bakker   0:31\nJa, dat is zo.\n")
    assert speaker_notes(text, "interview", seg_config, "Jan Bakker") == [
        "line 5: 'Piet Jansen' looks like a speaker but starts only this paragraph, so it is "
        "part of the previous turn: check who speaks"]


def test_a_transcription_services_footer_is_no_turn(seg_config, nl_pipeline):
    """Otter ends every export with "Transcribed by https://otter.ai": it was coded as the
    respondent's last segment."""
    text = ("I: Wat deel je?\nR: De toetsanalyse, met de hele sectie.\n\n"
            "Transcribed by https://otter.ai\n")
    assert segment(text, seg_config, nl_pipeline)["text"].tolist() == [
        "De toetsanalyse, met de hele sectie."]
    kept = seg_config.model_copy(update={"ignore_lines": []})
    assert segment(text, seg_config, nl_pipeline, config=kept)["text"].tolist()[-1].endswith(
        "\n\nTranscribed by https://otter.ai")


def test_footers_and_page_numbers_are_no_turn(seg_config, nl_pipeline):
    """Page numbers, an end-of-recording line with its duration and Teams' closing line
    were coded as part of the last answer: ``segment.ignore_lines`` entries match with
    ``*`` for any text, and a line of only a number is a page number."""
    text = ("I: Wat deel je?\nR: De toetsanalyse.\nPagina 3 van 12\nWe hebben toen gepland.\n"
            "– 4 –\nI: En verder?\nR: Aan rekenen.\nEinde opname: 47:12\n"
            "--- Einde opname, duur 00:47:12 ---\nJeroen Smits stopped transcription\n")
    segs = segment(text, seg_config, nl_pipeline)
    assert segs["text"].tolist() == ["De toetsanalyse.", "We hebben toen gepland.",
                                     "Aan rekenen."]
    # a sentence is no footer, whatever it starts with, and a number alone is an answer
    said = ("I: Wat?\nR: Ja.\nEinde opname van de les was lastig.\nPagina 3 van het plan was "
            "onduidelijk.\nPagina 12 van het handboek ging over feedback\n"
            "Einde opname van de les bekeken we samen\nI: Sinds wanneer?\nR:\n2019\n")
    assert segment(said, seg_config, nl_pipeline)["text"].tolist() == [
        "Ja.\nEinde opname van de les was lastig.\nPagina 3 van het plan was onduidelijk.\n"
        "Pagina 12 van het handboek ging over feedback\n"
        "Einde opname van de les bekeken we samen", "2019"]


def test_an_interviewer_who_says_more_is_a_note(seg_config):
    """Speakers the wrong way round (numbered per file by a transcription service, a name not
    read) code the questions: an interviewer with more words than the respondent is a note."""
    config = seg_config.model_copy(update={
        "interviewer_prefixes": ["Speaker 1"], "respondent_prefixes": ["Speaker 2"]})
    text = ("Speaker 2  0:01\nWat doe je?\nSpeaker 1  0:03\nIk ben docent wiskunde en ik "
            "doe de analyses voor het datateam.\nSpeaker 2  0:12\nMet wie?\nSpeaker 1  0:14\n"
            "Met de sectie, in de sectievergadering.\n")
    assert speaker_notes(text, "interview", config) == [
        "the interviewer's turns hold more words (18) than the respondent's (5): check that "
        "the speakers are the right way round (segment.interviewer_prefixes, "
        "respondent_prefixes in the config; a transcription service numbers its speakers per "
        "file)"]
    swapped = config.model_copy(update={"interviewer_prefixes": ["Speaker 2"],
                                        "respondent_prefixes": ["Speaker 1"]})
    assert speaker_notes(text, "interview", swapped) == []


@pytest.mark.parametrize(("text", "names"), [
    ("Marieke de Vries: Wat?\nJan Bakker: Dit.\nMarieke de Vries: En?\nJan Bakker: Dat.\n",
     {"Marieke de Vries", "Jan Bakker"}),                 # the interviewer, not in the roster
    ("Interviewer: Wat?\nHester: Dit.\nInterviewer: En?\nHester: Dat.\n", {"Hester"}),
    ("I: Wat?\nR: Dit.\nPiet Jansen: En ik?\n", {"Piet Jansen"}),   # a third, once
    # a word used twice as a third "speaker" is no name to pseudonymise
    ("Anouk: Wat?\nJeroen: Dit.\nBijvoorbeeld: toetsen.\nAnouk: En?\nJeroen: Dat.\n"
     "Bijvoorbeeld: cijfers.\n", set()),
])
def test_speaker_names_for_pseudonymisation(text, names, seg_config):
    assert speaker_names(text, "interview", seg_config, "Jan Bakker") == names
    assert speaker_names(text, "observation", seg_config) == set()


def test_a_backchannel_keeps_the_question_as_context(seg_config, nl_pipeline):
    """"Hm-hm." between two parts of an answer was the context of the second part (70 of the
    demo's 998 segments): the question asked stays the context; a short question is one."""
    text = ("I: Hoe deel je de uitkomsten?\nR: In de teamvergadering.\nI: Hm-hm.\n"
            "R: En in de nieuwsbrief.\nI: Ja, oké.\nR: Soms ook per mail.\nI: Waarom?\n"
            "R: Dat leest iedereen.\n")
    segs = segment(text, seg_config, nl_pipeline)
    assert segs["context"].tolist() == ["Hoe deel je de uitkomsten?"] * 3 + ["Waarom?"]
    every_turn = seg_config.model_copy(update={"backchannel_words": 0})
    assert segment(text, seg_config, nl_pipeline, config=every_turn)["context"].tolist() == [
        "Hoe deel je de uitkomsten?", "Hm-hm.", "Ja, oké.", "Waarom?"]


@pytest.mark.parametrize("name", ["Şeyma Kaya", "Łukasz Nowak", "Žan de Wit", "J.de Vries"])
def test_speaker_names_with_any_capital(name, seg_config):
    """A name is recognised whatever its capital (Ş, Ł, Ž were not, and nothing of the
    interview was coded)."""
    text = (f"Interviewer: Wat deel je?\n{name}: De data.\nInterviewer: Met wie?\n"
            f"{name}: De sectie.\n")
    roles = [t.role for t in parse_turns(text, "interview", seg_config, name)]
    assert roles == ["interviewer", "respondent"] * 2


@pytest.mark.parametrize("brk", ["\v", "\f", "\u2028", "\u2029"])
def test_every_line_break_ends_a_turn(brk, seg_config, nl_pipeline):
    """Word's manual line break (\\v) and page break (\\f) and the Unicode separators end a
    paragraph: the answer after one was glued to the question and never coded."""
    text = f"I: Wat deel je?{brk}R: De toetsanalyse.{brk}I: Met wie?{brk}R: Met de sectie."
    segs = segment(text, seg_config, nl_pipeline)
    assert segs["text"].tolist() == ["De toetsanalyse.", "Met de sectie."]
    assert segs["context"].tolist() == ["Wat deel je?", "Met wie?"]
    check_offsets(segs, text)


def test_numbered_words_in_an_answer_are_no_speaker(seg_config):
    """Only a configured prefix loses its number ("R1" is "R"): "Stap 1:" and "Stap 2:" in an
    answer are not a speaker called "Stap", so they stay the respondent's. Of two names beside
    a configured interviewer, the one that is not the respondent's is another speaker's
    (:func:`test_a_second_respondent_is_not_coded_as_the_first`)."""
    text = ("I: Hoe ging het?\nR: Zo:\nStap 1: data verzamelen.\nStap 2: analyseren.\n"
            "I: Met wie?\nJeroen: Met de sectie.\nAnouk: Ook met mij.\nJeroen: Ja.\n"
            "Anouk: Goed.\n")
    roles = [t.role for t in parse_turns(text, "interview", seg_config, "Jeroen de Vries")]
    assert roles[:5] == ["interviewer", "respondent", "respondent", "respondent",
                         "interviewer"]
    assert roles[5:] == ["respondent", "other", "respondent", "other"]


def test_numbered_respondents_get_a_note(seg_config):
    """R1 and R2 (a duo interview) were both coded as the file's person, silently."""
    text = ("I: Hoe werken jullie samen?\nR1: We delen de analyses van de toetsen.\n"
            "R2: En we overleggen elke dinsdag met de sectie.\n")
    assert speaker_notes(text, "interview", seg_config) == [
        "R1, R2 are all coded as the respondent's words: if they are different people, only "
        "the interviewed person's turns belong in this transcript"]
    assert speaker_notes(text.replace("R2", "R1"), "interview", seg_config) == []


def test_an_unknown_speaker_is_not_coded(seg_config, nl_pipeline):
    """Otter's "Unknown Speaker" (someone walking in) was glued into the answer before it and
    pseudonymised as if a person: the labels of ``segment.other_prefixes`` are speakers whose
    turns are not coded."""
    text = ("Anna Smit  0:00\nWat deel je met je sectie?\nMarco Jansen  0:05\nDe analyses van de "
            "toetsen.\nUnknown Speaker  2:13\nSorry, ik kom even de sleutel halen.\n"
            "Anna Smit  2:20\nEn met wie nog meer?\nMarco Jansen  2:25\nMet het hele team.\n")
    segs = segment(text, seg_config, nl_pipeline, respondent_name="Marco Jansen")
    assert segs["text"].tolist() == ["De analyses van de toetsen.", "Met het hele team."]
    assert speaker_notes(text, "interview", seg_config, "Marco Jansen") == [
        "the turns of 'Unknown Speaker' are not coded (segment.other_prefixes in the config)"]
    assert speaker_names(text, "interview", seg_config, "Marco Jansen") == {"Anna Smit",
                                                                            "Marco Jansen"}


def test_a_second_respondent_is_not_coded_as_the_first(seg_config, nl_pipeline):
    """A duo interview: Lotte's turns were read as the interviewer's (two names: one the
    respondent's, so the other the interviewer's), silently. With an interviewer labelled,
    she is a second respondent: not coded as Ruud's words, and a note says so."""
    text = ("Interviewer: Hoe werken jullie samen?\nRuud: We delen de analyses van de toetsen.\n"
            "Lotte: Ja, en we overleggen elke dinsdag.\nInterviewer: Met wie nog meer?\n"
            "Ruud: Met de sectie en de intern begeleider.\nLotte: Klopt.\n")
    segs = segment(text, seg_config, nl_pipeline, respondent_name="Ruud Bakker")
    assert segs["text"].tolist() == ["We delen de analyses van de toetsen.",
                                     "Met de sectie en de intern begeleider."]
    assert segs["context"].tolist() == ["Hoe werken jullie samen?", "Met wie nog meer?"]
    assert speaker_notes(text, "interview", seg_config, "Ruud Bakker") == [
        "'Lotte' speaks beside the interviewer and the respondent 'Ruud': a second respondent, "
        "whose turns are not coded (they are not the words of the person interviewed)"]
    # "Interviewer:" only in the title block: the other name is the interviewer who asks
    titled = ("Interviewer: Anna de Boer\nAnna: Wat doe je?\nRuud: De toetsen analyseren.\n"
              "Anna: En?\nRuud: Met het team.\nOnbekende spreker: Mag ik even?\nRuud: Ja.\n")
    roles = [t.role for t in parse_turns(titled, "interview", seg_config, "Ruud Bakker")]
    assert roles == ["header", "interviewer", "respondent", "interviewer", "respondent",
                     "other", "respondent"]   # segment.other_prefixes


NAMES = ("Anouk: Hoe werkt het datateam bij jullie?\n"
         "Jeroen: We verzamelen eerst data.\n"
         "Anouk: En wat deel je daarvan?\n"
         "Jeroen: Ik mail de conclusies naar de sectie.\n")


def test_of_several_speaker_names_the_respondents_is_the_respondent(seg_config):
    """Both speakers named: the one matching the roster name of the person interviewed is
    the respondent, the other the interviewer; without that name both are taken as the
    respondent, and a note says so."""
    roles = [t.role for t in parse_turns(NAMES, "interview", seg_config, "Jeroen de Vries")]
    assert roles == ["interviewer", "respondent"] * 2
    assert speaker_notes(NAMES, "interview", seg_config, "Jeroen de Vries") == []
    assert [t.role for t in parse_turns(NAMES, "interview", seg_config)] == ["respondent"] * 4
    [note] = speaker_notes(NAMES, "interview", seg_config, "Bram Visser")
    assert "Anouk, Jeroen are all taken as the respondent" in note
    # a third recurring capitalised prefix could be the respondent's: nobody is dropped
    third = NAMES + "Bijvoorbeeld: de toetsen.\nBijvoorbeeld: het verzuim.\n"
    roles = [t.role for t in parse_turns(third, "interview", seg_config, "Jeroen de Vries")]
    assert set(roles) == {"respondent"}
    assert speaker_notes(third, "interview", seg_config, "Jeroen de Vries")


def test_of_two_speakers_sharing_a_first_name_the_closer_match_is_the_respondent(seg_config):
    """Interviewer and respondent are both called Jan: the prefix with more words of the
    roster name is the respondent; where they match equally, both are (with a note)."""
    text = NAMES.replace("Anouk:", "Jan Bakker:").replace("Jeroen:", "Jan de Vries:")
    roles = [t.role for t in parse_turns(text, "interview", seg_config, "Jan de Vries")]
    assert roles == ["interviewer", "respondent"] * 2
    assert speaker_notes(text, "interview", seg_config, "Jan de Vries") == []
    assert [t.role for t in parse_turns(text, "interview", seg_config, "Jan Smit")] == [
        "respondent"] * 4
    assert speaker_notes(text, "interview", seg_config, "Jan Smit")


def test_a_full_name_starting_one_paragraph_gets_a_note(seg_config):
    """A third speaker who speaks once (a second interviewer) is no speaker, so the words are
    the previous speaker's: a note names the line instead of letting that pass silently."""
    text = NAMES.replace("Anouk:", "Anouk Smit:").replace("Jeroen:", "Jeroen de Vries:")
    assert speaker_notes(text, "interview", seg_config, "Jeroen de Vries") == []
    text += "Peter Bos: Mag ik ook iets vragen?\nBijvoorbeeld: de toetsen.\n"
    [note] = speaker_notes(text, "interview", seg_config, "Jeroen de Vries")
    assert note.startswith("line 5: 'Peter Bos' looks like a speaker")


def test_speaker_notes_say_what_was_not_recognised(seg_config):
    only_questions = "I: Wat doet het team?\nI: En jij?\n"
    [note] = speaker_notes(only_questions, "interview", seg_config)
    assert "no respondent turn" in note and "I" in note
    unknown = "I: Wat doet het team?\nR: Data van de toetsen.\nstap: En jij?\nstap: Verder?\n"
    [note] = speaker_notes(unknown, "interview", seg_config)
    assert "prefix 'stap'" in note
    assert speaker_notes("Een notitie.\nNog een.\n", "observation", seg_config) == []


def test_a_title_block_before_the_first_question_is_no_answer(seg_config, nl_pipeline):
    """"Respondent: Ingrid Verbeek" in a .docx's title block was coded as her first answer,
    and "Duur: 00:45:12" after it as her second. Only title lines are left out: an answer
    before the first question (a recording started mid-answer) and a name given as the
    answer to a question stay the respondent's."""
    text = ("Interview sleutelfiguur\nDatum: 12 maart 2024\nRespondent: Ingrid Verbeek\n"
            "Duur: 00:45:12\n\nI: Wat doe je in het datateam?\nR: Ik verzamel de cijfers van alle "
            "klassen.\n")
    segs = segment(text, seg_config, nl_pipeline)
    assert segs["text"].tolist() == ["Ik verzamel de cijfers van alle klassen."]
    [note] = speaker_notes(text, "interview", seg_config, "Ingrid Verbeek")
    assert note == ("line 3: 1 respondent line(s) before the interviewer's first question read "
                    "as a title, not coded ('Ingrid Verbeek'): check where the interview starts")
    # after the interviewer's name, with her role: still a title block, and no context
    block = text.replace("Datum:", "Interviewer: Marieke Jansen\nDatum:").replace(
        "Ingrid Verbeek", "Ingrid Verbeek (teamleider bovenbouw)")
    segs = segment(block, seg_config, nl_pipeline)
    assert segs["text"].tolist() == ["Ik verzamel de cijfers van alle klassen."]
    assert segs["context"].tolist() == ["Wat doe je in het datateam?"]
    assert speaker_notes(block, "interview", seg_config)[0].startswith("line 4: 1 respondent")
    answers = ("R: ...en daarom zijn we met het datateam begonnen.\nI: Hoe deel je dat?\n"
               "R: Via de nieuwsbrief.\nI: Wil je je even voorstellen?\nR: Ingrid Verbeek\n"
               "Ik ben teamleider bovenbouw.\n")
    assert segment(answers, seg_config, nl_pipeline)["text"].tolist() == [
        "...en daarom zijn we met het datateam begonnen.", "Via de nieuwsbrief.",
        "Ingrid Verbeek\nIk ben teamleider bovenbouw."]
    assert not any("title" in n for n in speaker_notes(answers, "interview", seg_config))
    # without any question, the respondent's words stay hers
    alone = "Respondent: Ik begin maar.\nR: Over de toetsen.\n"
    assert segment(alone, seg_config, nl_pipeline)["text"].tolist() == [
        "Ik begin maar.", "Over de toetsen."]


def test_marks_only_a_closing_line_and_a_decomposed_label(seg_config, nl_pipeline):
    """Paragraphs of only "(lacht)" or "[onderbreking: telefoon gaat]", and a closing "Einde
    interview", were coded as the respondent's segments; "Geïnterviewde" typed with a
    combining diaeresis (NFD) was no respondent prefix, so nothing was coded."""
    import unicodedata

    label = unicodedata.normalize("NFD", "Geïnterviewde")
    assert label != "Geïnterviewde"
    text = (f"I: Wat deed je toen?\n{label}: Ik belde de teamleider.\n(lacht)\n"
            "[onderbreking: telefoon gaat] (stilte)\nDaarna de sectie.\nI: (lacht)\n"
            f"{label}: [onverstaanbaar]\nEn de mentoren.\nEinde interview\n")
    segs = segment(text, seg_config, nl_pipeline)
    assert segs["text"].tolist() == ["Ik belde de teamleider.", "Daarna de sectie.",
                                     "En de mentoren."]
    assert segs["context"].tolist() == ["Wat deed je toen?"] * 3
    check_offsets(segs, text)
    assert speaker_notes(text, "interview", seg_config) == []
    # a configured label typed decomposed is a label, no speaker's name to pseudonymise
    nfd = seg_config.model_copy(update={"respondent_prefixes": ["R", label]})
    composed = text.replace(label, "Geïnterviewde")
    assert speaker_names(composed, "interview", nfd) == set()
    assert segment(composed, seg_config, nl_pipeline, config=nfd)["text"].tolist() == segs[
        "text"].tolist()
    # a typist's summary in brackets is what was said; a closing line with rules around it
    summary = ("I: Hoe presenteer je het?\nR: [vertelt hoe ze de analyse in de teamvergadering "
               "presenteert]\n--- Einde interview. ---\n")
    assert segment(summary, seg_config, nl_pipeline)["text"].tolist() == [
        "[vertelt hoe ze de analyse in de teamvergadering presenteert]"]


def test_a_question_on_several_lines_is_the_context_whole(seg_config, nl_pipeline):
    """Only a question's last line was the context ("bijvoorbeeld?")."""
    text = ("I: Je vertelde net dat er veel uit de analyse kwam.\nWat heb je daarmee gedaan?\n"
            "R: Gedeeld met de sectie.\nI: Hm-hm.\nEn met wie deelde je het nog meer,\n"
            "bijvoorbeeld?\nR: Met de mentoren.\nI: Oké.\nR: En de teamleider.\n")
    segs = segment(text, seg_config, nl_pipeline)
    assert segs["context"].tolist() == [
        "Je vertelde net dat er veel uit de analyse kwam.\nWat heb je daarmee gedaan?",
        "En met wie deelde je het nog meer,\nbijvoorbeeld?",
        "En met wie deelde je het nog meer,\nbijvoorbeeld?"]


def test_a_long_introduction_is_no_context(seg_config, nl_pipeline):
    """A consent text of many lines before the question was all the answer's context (the
    model weighs it): the question's last lines within segment.max_chars are."""
    intro = [f"Zin {k} van de uitleg over de opname en de toestemming." for k in range(20)]
    text = "I: " + "\n".join(intro) + "\nWat doe je in het datateam?\nR: Ik analyseer.\n"
    [context] = segment(text, seg_config, nl_pipeline)["context"].tolist()
    assert context.endswith("\nWat doe je in het datateam?")
    assert len(context) <= seg_config.max_chars and context.startswith("Zin ")


def test_a_label_used_twice_beside_the_respondent_gets_a_note(seg_config):
    """Two "Stelling:" lines the interviewer read out were coded as the respondent's words,
    without a note (the note came only with two or more such names). Beside labelled
    questions and answers a word is no speaker: they continue the interviewer's turn."""
    text = ("I: Ik lees twee stellingen voor.\nStelling: Data maken lessen beter.\n"
            "Stelling: Collega's delen te weinig.\nR: Met de eerste ben ik het eens, want we "
            "zien het in de toetsen.\nI: En verder?\nR: Met de tweede niet: we delen veel.\n")
    [note] = speaker_notes(text, "interview", seg_config)
    assert note.startswith("prefix 'Stelling' starts several paragraphs but is no configured "
                           "speaker")
    assert [t.role for t in parse_turns(text, "interview", seg_config)] == [
        "interviewer", "interviewer", "interviewer", "respondent", "interviewer", "respondent"]
    beside = "Anna: Wat doe je?\nR: Data delen.\nAnna: En?\nR: Meer.\n"   # no I: label
    [note] = speaker_notes(beside, "interview", seg_config)
    assert note.startswith("'Anna' starts several paragraphs and is taken as a respondent "
                           "beside 'R'")
    assert speaker_notes("I: Wat?\nR: Data.\nI: En?\nR: Meer.\n", "interview",
                         seg_config) == []


@pytest.mark.parametrize(("log", "notes"), [
    ("Observatieverslag PLG-bijeenkomst datateam\nSchool: De Regenboog\nDatum: 5 maart 2024\n"
     "Observator: Jeroen Smits\nPagina 1 van 2\n15:30 Thijs opent de vergadering.\n"
     "15:35 Lotte: we beginnen\n",
     ["15:30 Thijs opent de vergadering.", "15:35 Lotte: we beginnen"]),
    ("Observatie PLG 12 maart\nLocatie: lokaal 2.03\nThijs vertelt.\n", ["Thijs vertelt."]),
    # no title block: a title line alone, someone's words, a field as the only paragraph
    ("Observatie PLG\n08.15 uur, docentenkamer.\n",
     ["Observatie PLG", "08.15 uur, docentenkamer."]),
    ("Observatie PLG 12 maart\nThijs: welkom allemaal\nLotte: fijn dat jullie er zijn\n",
     ["Observatie PLG 12 maart", "Thijs: welkom allemaal", "Lotte: fijn dat jullie er zijn"]),
    # no title block: short notes without a time, and a first note that is a sentence
    ("Thijs opent\nLotte vertelt\n", ["Thijs opent", "Lotte vertelt"]),
    ("Datum: 5 maart\n", ["Datum: 5 maart"]),
    ("Thijs opent de vergadering.\nAgenda: toetsen\nLotte vertelt.\n",
     ["Thijs opent de vergadering.", "Agenda: toetsen", "Lotte vertelt."]),
    # a note that starts with a field's label is no field: "Tijd: 08.30. Thijs komt binnen."
    ("Observatie Thijs Vermeulen\nTijd: 08.30. Thijs komt binnen.\nTijd: 08.45. Hij vertelt.\n",
     ["Observatie Thijs Vermeulen", "Tijd: 08.30. Thijs komt binnen.",
      "Tijd: 08.45. Hij vertelt."]),
    ("Thijs: welkom allemaal\nAanwezig: vijf docenten\nJoost zit naast de deur.\n",
     ["Thijs: welkom allemaal", "Aanwezig: vijf docenten", "Joost zit naast de deur."]),
])
def test_an_observation_logs_title_block_is_no_note(log, notes, seg_config, nl_pipeline):
    """A log's title and fields ("Datum: 5 maart 2024", "Observator: ...") were coded as
    notes, and the first note had the last of them as its context."""
    segs = segment(log, seg_config, nl_pipeline, source="observation",
                   doc="transcripts/s1/p1_observation_1.txt")
    assert segs["text"].tolist() == notes
    assert segs["context"].iloc[0] == ""
    check_offsets(segs, log)


def test_observation_notes_one_segment_each(shared_datadir, seg_config, nl_pipeline):
    text = read_transcript(shared_datadir / "segment" / "observation.txt")
    segs = segment(text, seg_config, nl_pipeline, source="observation",
                   doc="transcripts/s1/p1_observation_1.txt")
    assert len(segs) == 3  # three notes; the blank line is no note
    assert set(segs["speaker"]) == {"note"} and set(segs["part"]) == {0}
    assert segs["text"].iloc[2] == ("10.45 uur, lokaal 12. Start van de workshop voor de "
                                    "sectie wiskunde.")
    # a note is one segment even when it is longer than max_chars
    long_note = " ".join(["Zij legt het observatieformulier uit aan de sectie."] * 20)
    one = segment(long_note, seg_config, nl_pipeline, source="observation")
    assert len(one) == 1 and one["text"].iloc[0] == long_note
    check_offsets(segs, text)


# ---------------------------------------------------------------- long turns
def test_long_turns_split_into_sentence_groups(seg_config, nl_pipeline):
    cfg = seg_config.model_copy(update={"max_chars": 120})
    sentences = [f"Dit is zin nummer {i} over de hypothese en de data van het datateam."
                 for i in range(12)]
    text = "I: Vertel eens.\nR: " + " ".join(sentences) + "\nI: Dank je."
    segs = segment(text, seg_config, nl_pipeline, config=cfg)
    assert len(segs) > 1
    assert (segs["end"] - segs["start"]).max() <= 120
    assert segs["part"].tolist() == list(range(len(segs)))
    assert set(segs["turn"]) == {1}
    # sentence groups: every group starts at a sentence start and together they cover the turn
    assert all(t.startswith("Dit is zin nummer") for t in segs["text"])
    assert " ".join(segs["text"]) == " ".join(sentences)
    check_offsets(segs, text)


def test_long_turn_without_punctuation_is_cut_between_words(seg_config, nl_pipeline):
    """Speech transcribed without punctuation is one "sentence": it is cut between words
    into segments of at most max_chars, not kept as one segment of any length."""
    cfg = seg_config.model_copy(update={"max_chars": 120})
    answer = " ".join(["en toen hebben we met de sectie over de toetsdata gepraat"] * 12)
    text = f"I: Vertel eens.\nR: {answer}\n"
    segs = segment(text, seg_config, nl_pipeline, config=cfg)
    assert len(segs) > 1 and (segs["end"] - segs["start"]).max() <= 120
    assert " ".join(segs["text"]) == answer   # every word once, none cut in two
    assert segs["part"].tolist() == list(range(len(segs)))
    check_offsets(segs, text)


def test_a_word_hyphenated_over_two_lines_is_never_cut_in_two(seg_config, nl_pipeline):
    """Word-wrap hyphenation ("mevrouw Jans-" at a line end, "sen" on the next) made two
    observation notes of one, and a long answer could be cut between the halves: each segment
    held half the surname, which pseudonymisation cannot know, and its offsets fell inside it."""
    log = ("09.00 uur. Overleg met mevrouw Jans-\nsen over de toets.\n"
           "09.30 uur. Start van de PLG-\n\nBijeenkomst over de toets.\n")
    notes = segment(log, seg_config, nl_pipeline, source="observation",
                    doc="transcripts/s1/p1_observation_1.txt")
    assert notes["text"].tolist() == ["09.00 uur. Overleg met mevrouw Jans-\nsen over de toets.",
                                      "09.30 uur. Start van de PLG-",   # a blank line between
                                      "Bijeenkomst over de toets."]
    check_offsets(notes, log)
    cfg = seg_config.model_copy(update={"max_chars": 120})
    # the last space within 120 characters is the line break after "Jans-"
    answer = "ja " * 38 + "Jans-\nsen " + "en toen hebben we over de toetsdata gepraat " * 4
    text = f"I: Vertel eens.\nR: {answer.strip()}\n"
    segs = segment(text, seg_config, nl_pipeline, config=cfg)
    assert len(segs) > 1 and (segs["end"] - segs["start"]).max() <= 120
    assert segs["text"].str.contains("Jans-\nsen", regex=False).sum() == 1
    check_offsets(segs, text)


# ---------------------------------------------------------------- encodings and .docx
TEXT = ("I: Wat is het probleem?\n"
        "R: Het verzuim is hoog, zeker in de brugklas – echt één probleem.\n")


# Word's "Unicode text" is UTF-16 with a BOM; some transcription tools leave the BOM out
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16", "utf-16-le",
                                      "utf-16-be"])
def test_read_transcript_encodings(tmp_path, encoding, seg_config, nl_pipeline):
    path = tmp_path / "p1_interview_1.txt"
    path.write_bytes(TEXT.replace("\n", "\r\n").encode(encoding))
    text = read_transcript(path)
    assert text == TEXT  # BOM dropped, CRLF normalised, accents and dash decoded
    segs = segment(text, seg_config, nl_pipeline)
    assert segs["text"].tolist() == ["Het verzuim is hoog, zeker in de brugklas – echt één "
                                     "probleem."]
    check_offsets(segs, text)


def test_read_transcript_docx(tmp_path, seg_config, nl_pipeline):
    import docx

    document = docx.Document()
    for para in ["Interview met een sleutelfiguur", "I: Hoe deel je resultaten?",
                 "R: Via de nieuwsbrief en in de teamvergadering.", "En soms op een poster."]:
        document.add_paragraph(para)
    path = tmp_path / "p1_interview_1.docx"
    document.save(path)
    text = read_transcript(path)
    assert text.split("\n") == ["Interview met een sleutelfiguur", "I: Hoe deel je resultaten?",
                                "R: Via de nieuwsbrief en in de teamvergadering.",
                                "En soms op een poster."]
    segs = segment(text, seg_config, nl_pipeline, doc="transcripts/s1/p1_interview_1.docx")
    assert segs["text"].tolist() == ["Via de nieuwsbrief en in de teamvergadering.\n"
                                     "En soms op een poster."]
    check_offsets(segs, text)


def test_read_transcript_docx_keeps_tracked_insertions(tmp_path):
    """Words a transcriber added with track changes on are text (python-docx's paragraph
    text drops them); deleted words are not."""
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def tracked(kind: str, text: str):
        change, run, t = (OxmlElement(f"w:{kind}"), OxmlElement("w:r"),
                          OxmlElement("w:delText" if kind == "del" else "w:t"))
        change.set(qn("w:id"), "1")
        change.set(qn("w:author"), "transcriber")
        t.text = text
        run.append(t)
        change.append(run)
        return change

    document = docx.Document()
    document.add_paragraph("I: Wat bespreken jullie?")
    paragraph = document.add_paragraph("R: Wij bespreken ")
    paragraph._p.append(tracked("ins", "de toetsdata "))
    paragraph._p.append(tracked("del", "het rooster "))
    paragraph.add_run("met de sectie.")
    path = tmp_path / "p1_interview_1.docx"
    document.save(path)
    assert read_transcript(path).split("\n")[1] == "R: Wij bespreken de toetsdata met de sectie."


def test_read_transcript_docx_as_word_shows_it(tmp_path, seg_config, nl_pipeline):
    """Found by a researcher's real .docx files: a page break inside a paragraph glued the
    answer to the question ("gedaan?R: ..."), so it was never coded; words in a content
    control, a smart tag or a simple field were lost without a word, and a transcript
    inside one content control was called empty; hidden text (a typist's note) was coded."""
    import docx
    from docx.enum.text import WD_BREAK
    from docx.oxml import OxmlElement, parse_xml
    from docx.oxml.ns import nsdecls

    def wrapped(tag: str, inner: str, props: str = ""):
        return parse_xml(f"<w:{tag} {nsdecls('w')}>{props}{inner}</w:{tag}>")

    run = "<w:r><w:t xml:space='preserve'>{}</w:t></w:r>".format
    document = docx.Document()
    question = document.add_paragraph("I: En wat deed je toen?")
    question.add_run().add_break(WD_BREAK.PAGE)
    question.add_run("R: Eerst de cijfers opgevraagd.")
    answer = document.add_paragraph("R: Samen met ")
    answer._p.append(wrapped("sdt", f"<w:sdtContent>{run('de teamleider')}</w:sdtContent>",
                             "<w:sdtPr><w:alias w:val='naam'/></w:sdtPr>"))
    answer._p.append(wrapped("r", "<w:t xml:space='preserve'> in </w:t>"))
    answer._p.append(wrapped("smartTag", run("Deventer"), ""))
    answer._p.append(wrapped("r", "<w:t xml:space='preserve'>, op </w:t>"))
    answer._p.append(wrapped("fldSimple", run("1 september"), ""))
    hidden = answer.add_run(" [typist: naam checken]")
    hidden.font.hidden = True
    answer.add_run(".")
    answer.runs[-1].add_break(WD_BREAK.COLUMN)
    answer.add_run("Daarna de sectie.")
    block = OxmlElement("w:sdt")
    block.append(wrapped("sdtContent", "<w:p><w:r><w:t>I: Met wie nog meer?</w:t></w:r></w:p>"
                         "<w:p><w:r><w:t>R: Met de mentoren.</w:t></w:r></w:p>"))
    document.element.body.insert(len(document.element.body) - 1, block)
    path = tmp_path / "p1_interview_1.docx"
    document.save(path)
    text = read_transcript(path)
    assert text.split("\n") == [
        "I: En wat deed je toen?", "R: Eerst de cijfers opgevraagd.",
        "R: Samen met de teamleider in Deventer, op 1 september.", "Daarna de sectie.",
        "I: Met wie nog meer?", "R: Met de mentoren."]
    segs = segment(text, seg_config, nl_pipeline, doc="transcripts/s1/p1_interview_1.docx")
    assert segs["text"].tolist()[0] == "Eerst de cijfers opgevraagd."
    assert segs["context"].tolist()[0] == "En wat deed je toen?"
    check_offsets(segs, text)
    only = docx.Document()
    only.element.body.insert(0, wrapped("sdt", "<w:sdtContent><w:p><w:r><w:t>R: Alles in een "
                                               "sjabloon.</w:t></w:r></w:p></w:sdtContent>"))
    only.save(path)
    assert read_transcript(path) == "R: Alles in een sjabloon."


@pytest.mark.parametrize("what, raw, said", [
    ("password", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
     "a password-protected Word document or an old .doc"),
    ("odt", {"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": "<x/>"},
     "an OpenDocument file (.odt) under another name"),
    ("docm", {"[Content_Types].xml": "<Types><Override ContentType='application/vnd.ms-word"
              ".document.macroEnabled.main+xml'/></Types>", "word/document.xml": "<x/>"},
     "a macro-enabled Word document (.docm)"),
])
def test_a_docx_that_is_something_else_says_what(tmp_path, what, raw, said):
    """A password-protected .docx (common under ethics rules), an .odt or a .docm renamed
    to .docx were all 'damaged, or not a Word document'."""
    import io as _io
    import zipfile

    if isinstance(raw, dict):
        buffer = _io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as package:
            for name, content in raw.items():
                package.writestr(name, content)
        raw = buffer.getvalue()
    path = tmp_path / "p1_interview_1.docx"
    path.write_bytes(raw)
    with pytest.raises(InputError) as error:
        read_transcript(path)
    message = str(error.value)
    assert "p1_interview_1.docx" in message and said in message and "save it as .docx" in message


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_with_a_combining_accent(tmp_path, encoding):
    """Text in decomposed form (e + U+0300, whose low byte is 0) is still UTF-16 text."""
    import unicodedata

    text = unicodedata.normalize("NFD", TEXT.replace("één", "crèche en hè"))
    path = tmp_path / "p1_interview_1.txt"
    path.write_bytes(text.encode(encoding))
    assert read_transcript(path) == text


def test_read_transcript_docx_with_a_table(tmp_path, seg_config, nl_pipeline):
    """A transcript kept (partly) as a table, speaker | turn, is read in order, a row per
    line, so its turns are segmented like paragraphs (they used to be dropped, and a
    table-only .docx called empty); a merged cell counts once; a cell's second paragraph
    continues its speaker."""
    import docx

    document = docx.Document()
    document.add_paragraph("I: Hoe deel je resultaten?")
    table = document.add_table(rows=3, cols=2)
    for row, (who, said) in zip(table.rows, [("R:", "Via de nieuwsbrief."),
                                             ("I", "En verder?"),
                                             ("R", "In de sectie.\nEn op een poster.")],
                                strict=True):
        row.cells[0].text, row.cells[1].text = who, said
    merged = document.add_table(rows=1, cols=3)
    merged.cell(0, 0).merge(merged.cell(0, 1)).text = "R"
    merged.cell(0, 2).text = "Dat is alles."
    path = tmp_path / "p1_interview_1.docx"
    document.save(path)
    text = read_transcript(path)
    assert text.split("\n") == ["I: Hoe deel je resultaten?", "R: Via de nieuwsbrief.",
                                "I: En verder?", "R: In de sectie.", "En op een poster.",
                                "R: Dat is alles."]
    segs = segment(text, seg_config, nl_pipeline, doc="transcripts/s1/p1_interview_1.docx")
    assert segs["text"].tolist() == ["Via de nieuwsbrief.", "In de sectie.\nEn op een poster.",
                                     "Dat is alles."]
    check_offsets(segs, text)
    only_table = docx.Document()
    only_table.add_table(rows=1, cols=2).rows[0].cells[1].text = "Alleen een antwoord."
    only_table.save(path)
    assert read_transcript(path) == "Alleen een antwoord."
    # a transcription service's time | speaker | turn, and a table nested in a turn
    service = docx.Document()
    rows = service.add_table(rows=2, cols=3).rows
    for row, cells in zip(rows, [("00:01:10", "I", "Wat deel je?"),
                                 ("[00:01:15]", "R:", "De toetsanalyse.")], strict=True):
        for cell, said in zip(row.cells, cells, strict=True):
            cell.text = said
    rows[1].cells[2].add_table(rows=1, cols=1).rows[0].cells[0].text = "Per klas."
    service.save(path)
    text = read_transcript(path)
    assert text.split("\n") == ["00:01:10 I: Wat deel je?",
                                "[00:01:15] R: De toetsanalyse.", "Per klas."]
    segs = segment(text, seg_config, nl_pipeline, doc="transcripts/s1/p1_interview_1.docx")
    assert segs["text"].tolist() == ["De toetsanalyse.\nPer klas."]


def test_read_transcript_vtt_of_teams(shared_datadir, seg_config, nl_pipeline):
    """A WebVTT transcript (Teams): a line per speaker turn, the cues of one speaker in a row
    joined, the first cue's start as its time stamp; tags, cue settings and NOTE blocks are
    no text. The segments are the respondent's, with offsets into that text."""
    text = read_transcript(shared_datadir / "segment" / "interview_teams.vtt")
    assert text.split("\n") == [
        "[00:00:03] Marieke de Vries: Goedemorgen, fijn dat je tijd hebt. Wat is het probleem "
        "van jullie datateam?",
        "[00:00:09] Jan Bakker: Het verzuim op maandag. Dat zien we al jaren, en ik vertel het "
        "in de teamvergadering.",
        "[00:01:02] Marieke de Vries: Met wie nog meer?",
        "[00:01:04] Jan Bakker: Met de sectie."]
    segs = segment_document(text, doc="transcripts/s1/p1_interview_1.vtt", school_id="s1",
                            person_id="p1", source="interview", config=seg_config,
                            nlp=nl_pipeline, respondent_name="Jan Bakker")
    assert segs["text"].tolist() == [
        "Het verzuim op maandag. Dat zien we al jaren, en ik vertel het in de teamvergadering.",
        "Met de sectie."]
    assert segs["context"].tolist()[1] == "Met wie nog meer?"
    check_offsets(segs, text)


def read_vtt(tmp_path, cues: str) -> list[str]:
    """The lines of a .vtt transcript of ``cues`` (what follows the WEBVTT header)."""
    path = tmp_path / "p1_interview_1.vtt"
    path.write_text("WEBVTT\n\n" + cues, encoding="utf-8")
    return read_transcript(path).split("\n")


def test_read_transcript_vtt_of_zoom(tmp_path):
    """Zoom writes the speaker in the cue ("Jan: ..."), numbers its cues and has no voice."""
    assert read_vtt(tmp_path, "1\n00:00:01.000 --> 00:00:04.000\nMarieke: Wat deel je?\n\n"
                    "2\n00:00:04.500 --> 00:00:06.000\nJan: De toetsanalyse.\n\n"
                    "3\n00:00:06.000 --> 00:00:08.000\nJan: Met de sectie.\n\n"
                    "4\n00:00:08.000 --> 00:00:09.000\nDus, ik vind: dat werkt.\n") == [
        "[00:00:01] Marieke: Wat deel je?", "[00:00:04] Jan: De toetsanalyse. Met de sectie.",
        "[00:00:08] Dus, ik vind: dat werkt."]   # a sentence with a colon is no speaker


@pytest.mark.parametrize(("voice", "speaker"), [
    ("Vries, M. de (Marieke)", "Marieke de Vries"),   # surname first, the name called by
    ("Vries, Marieke de", "Marieke de Vries"),
    ("Marieke de Vries | Universiteit Utrecht", "Marieke de Vries"),   # an organisation
    ("Marieke de Vries (Gast)", "Marieke de Vries (Gast)"),
])
def test_vtt_display_names_become_speakers(tmp_path, voice, speaker, seg_config, nl_pipeline):
    """Teams display names a prefix could not hold made the interviewer's questions the
    respondent's, or nothing was coded; and a roster name written surname first was not
    pseudonymised."""
    lines = read_vtt(tmp_path, f"00:00:01.000 --> 00:00:02.000\n<v {voice}>Wat deel je?</v>\n\n"
                     "00:00:03.000 --> 00:00:04.000\n<v Bakker, Jan>De toetsanalyse.</v>\n\n"
                     f"00:00:05.000 --> 00:00:06.000\n<v {voice}>Met wie?</v>\n\n"
                     "00:00:07.000 --> 00:00:08.000\n<v Bakker, Jan>Met de sectie.</v>\n")
    assert lines[:2] == [f"[00:00:01] {speaker}: Wat deel je?",
                         "[00:00:03] Jan Bakker: De toetsanalyse."]
    text = "\n".join(lines)
    segs = segment_document(text, doc="transcripts/s1/p1_interview_1.vtt", school_id="s1",
                            person_id="p1", source="interview", config=seg_config,
                            nlp=nl_pipeline, respondent_name="Jan Bakker")
    assert segs["text"].tolist() == ["De toetsanalyse.", "Met de sectie."]
    assert segs["context"].tolist() == ["Wat deel je?", "Met wie?"]


def test_vtt_cue_of_two_voices_and_character_references(tmp_path):
    assert read_vtt(tmp_path, "00:00:01.000 --> 00:00:02.000\n<v Jan>Hoi.</v> <v.loud Piet>Dag "
                    "&amp; <b>tot</b> ziens.</v>\n\n00:00:03.000 --> 00:00:04.000\n"
                    "<v Jan>R&amp;D&nbsp;ja.</v>\n") == [
        "[00:00:01] Jan: Hoi.", "[00:00:01] Piet: Dag & tot ziens.", "[00:00:03] Jan: R&D ja."]


@pytest.mark.parametrize(("content", "line", "message"), [
    ("1\n00:00:01.000 --> 00:00:04.000\nJan: Hoi.\n", 1, "must start with the line WEBVTT"),
    # webvtt-py skips a cue whose timing it cannot read, without a word: refused, not dropped
    ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHoi.\n\n00:00:0x --> 00:00:05.000\nWeg?\n",
     6, "unreadable cue timing '00:00:0x --> 00:00:05.000'"),
    # webvtt-py reads a cue with '-->' in its text as empty: refused, not lost
    ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Jan>Van A --> B.</v>\n", 4,
     "'-->' in a cue's text"),
])
def test_read_transcript_vtt_refuses_what_it_cannot_read(tmp_path, content, line, message):
    path = tmp_path / "p1_interview_1.vtt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_transcript(path)
    assert e.value.line == line and message in str(e.value)


def docx_of_turns(path, turns, between: str) -> str:
    """A .docx of ``(label, said)`` paragraphs, the label in bold and ``between`` ("break":
    Shift+Enter, "tab") before the turn; its text as read."""
    import docx

    document = docx.Document()
    for label, said in turns:
        paragraph = document.add_paragraph()
        paragraph.add_run(label).bold = True
        getattr(paragraph.add_run(), f"add_{between}")()
        paragraph.add_run(said)
    document.save(path)
    return read_transcript(path)


def docx_of_tables(path, *tables) -> str:
    """A .docx of tables (each a list of rows of cell texts); its text as read."""
    import docx

    document = docx.Document()
    for rows in tables:
        table = document.add_table(rows=len(rows), cols=len(rows[0]))
        for row, cells in zip(table.rows, rows, strict=True):
            for cell, said in zip(row.cells, cells, strict=True):
                cell.text = said
    document.save(path)
    return read_transcript(path)


def test_docx_bold_label_with_a_line_break_after_it(tmp_path, seg_config, nl_pipeline):
    """A bold "R:" followed by a manual line break (Shift+Enter) is a label on its own line:
    the answer is the respondent's, not glued to the interviewer's question."""
    text = docx_of_turns(tmp_path / "p1_interview_1.docx",
                         [("I:", "Wat deel je?"), ("R:", "De toetsanalyse.")], "break")
    segs = segment(text, seg_config, nl_pipeline, doc="transcripts/s1/p1_interview_1.docx")
    assert segs["text"].tolist() == ["De toetsanalyse."]
    assert segs["context"].tolist() == ["Wat deel je?"]
    check_offsets(segs, text)


def test_docx_speaker_names_before_a_tab(tmp_path, seg_config, nl_pipeline):
    """A hanging indent: each speaker's name in bold, a tab, then the turn. No turn was
    recognised before, so nothing of the interview was coded."""
    text = docx_of_turns(tmp_path / "p1_interview_1.docx",
                         [("Anna", "Wat deel je met je collega's?"),
                          ("Marieke de Vries", "De toetsanalyse van groep 5."),
                          ("Anna", "En met wie?"),
                          ("Marieke de Vries", "Met de intern begeleider.")], "tab")
    segs = segment(text, seg_config, nl_pipeline, doc="transcripts/s1/p1_interview_1.docx",
                   respondent_name="Marieke de Vries")
    assert segs["text"].tolist() == ["De toetsanalyse van groep 5.", "Met de intern begeleider."]
    assert segs["context"].tolist() == ["Wat deel je met je collega's?", "En met wie?"]
    assert speaker_names(text, "interview", seg_config) == {"Anna", "Marieke de Vries"}
    check_offsets(segs, text)


def test_a_tab_or_a_number_inside_an_answer_is_no_speaker(seg_config):
    """Words before a tab, or a word with a colon after a number ("2 Groepen:"), stay the
    answer's however often they recur: a line number counts before a configured label only,
    and a name before a tab only where most turns are written so. "Havo" twice before a tab
    was a speaker, and then pseudonymised as a person in all the school's texts."""
    text = ("I: Wat bespreken jullie?\nR: Drie dingen:\nHavo\t18 procent bleef zitten\n"
            "Vwo\t9 procent.\n2 Groepen: maandag\n3 Groepen: dinsdag\nI: En dan?\n"
            "R: Een plan.\nHavo\tdaar beginnen we.\nVwo\tdaarna.\n")
    turns = parse_turns(text, "interview", seg_config)
    assert [t.role for t in turns] == ["interviewer", *["respondent"] * 5, "interviewer",
                                       *["respondent"] * 3]
    assert text[turns[4].start:turns[4].end] == "2 Groepen: maandag"
    assert speaker_names(text, "interview", seg_config) == set()
    assert speaker_notes(text, "interview", seg_config) == []
    # the same in a transcript whose labels are followed by tabs
    tabbed = text.replace("I: ", "I\t").replace("R: ", "R\t")
    turns = parse_turns(tabbed, "interview", seg_config)
    assert [t.role for t in turns] == ["interviewer", *["respondent"] * 5, "interviewer",
                                       *["respondent"] * 3]
    assert tabbed[turns[2].start:turns[2].end] == "Havo\t18 procent bleef zitten"
    assert speaker_names(tabbed, "interview", seg_config) == set()


def test_a_research_question_in_an_answer_stays_the_answers(seg_config):
    """Data teams write "Vraag:" and "Onbekend:" in their answers: no default labels."""
    text = ("I: Wat onderzoeken jullie?\nR: Uiteindelijk werd het dit:\nVraag: waarom verzuimen "
            "leerlingen vaker?\nBekend: het percentage.\nOnbekend: de oorzaak.\n")
    assert [t.role for t in parse_turns(text, "interview", seg_config)] == [
        "interviewer", *["respondent"] * 4]


def test_line_numbers_in_the_margin_stay_out_of_a_turns_start(seg_config, nl_pipeline):
    """A numbered transcript: each turn starts after its number, and a turn's next line
    (with its number) is the same segment; an empty numbered line is no turn."""
    text = ("12   I: Wat doe je?\n13   R: Nou,\n14   dat weet ik niet.\n15\n16   I: En?\n"
            "17   R: Ja.\n")
    segs = segment(text, seg_config, nl_pipeline)
    assert segs["text"].tolist() == ["Nou,\n14   dat weet ik niet.", "Ja."]
    assert segs["context"].tolist() == ["Wat doe je?", "En?"]
    check_offsets(segs, text)


def test_docx_headings_are_section_titles_not_answers(tmp_path, seg_config, nl_pipeline):
    """A topic heading between turns ("Thema 2: Kennisdeling") was glued onto the answer
    before it and coded with it. Word's headings read as Markdown ones, which are no turn;
    a heading in a table cell stays the cell's text, and a speaker's label formatted as a
    heading is still the speaker's."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = docx.Document()
    own = document.styles.add_style("Themakop", WD_STYLE_TYPE.PARAGRAPH)
    own.base_style = document.styles["Heading 2"]
    document.add_paragraph("Interview Marieke de Vries", style="Title")
    document.add_paragraph("I: Wat doe je in de PLG?")
    document.add_paragraph("R: Wij analyseren de toetsen.")
    document.add_paragraph("Thema 2: Kennisdeling", style="Heading 1")
    document.add_paragraph("I: Met wie deel je dat?")
    document.add_paragraph("R: Met het team.")
    document.add_paragraph("Afsluiting", style="Themakop")
    outline = document.add_paragraph("Bijlage")
    level = OxmlElement("w:outlineLvl")
    level.set(qn("w:val"), "0")
    outline._p.get_or_add_pPr().append(level)
    document.add_paragraph("R:", style="Heading 3")
    document.add_paragraph("Nog één ding.")
    broken = document.add_paragraph("Thema: Data", style="Heading 1")
    broken.add_run().add_break()
    broken.add_run("in de sectie")
    document.add_paragraph("Thema: Afsluiting", style="Heading 1")
    document.add_paragraph("", style="Heading 1")
    cell = document.add_table(rows=1, cols=2).rows[0].cells
    cell[0].text = "R"
    cell[1].paragraphs[0].text = "In een tabel."
    cell[1].paragraphs[0].style = document.styles["Heading 1"]
    path = tmp_path / "p1_interview_1.docx"
    document.save(path)
    text = read_transcript(path)
    assert text.split("\n") == [
        "# Interview Marieke de Vries", "I: Wat doe je in de PLG?", "R: Wij analyseren de toetsen.",
        "# Thema 2: Kennisdeling", "I: Met wie deel je dat?", "R: Met het team.", "## Afsluiting",
        "# Bijlage", "### R:", "Nog één ding.", "# Thema: Data", "# in de sectie",
        "# Thema: Afsluiting", "", "R: In een tabel."]
    segs = segment(text, seg_config, nl_pipeline, doc="transcripts/s1/p1_interview_1.docx")
    assert segs["text"].tolist() == ["Wij analyseren de toetsen.", "Met het team.",
                                     "Nog één ding.", "In een tabel."]
    check_offsets(segs, text)


def docx_of_formatted(path, paragraphs) -> Transcript:
    """A .docx of ``(format, text)`` paragraphs ("" plain, "bold", "italic", "underline",
    "blue", "highlight", "Vraag": a paragraph style in bold, or "Strong"/"Emphasis"/"Quote":
    Word's own styles), a "\\n" in a text being a Shift+Enter; the transcript as read, with
    its lines' formats."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_COLOR_INDEX
    from docx.shared import RGBColor

    document = docx.Document()
    question = document.styles.add_style("Vraag", WD_STYLE_TYPE.PARAGRAPH)
    question.base_style = document.styles["Normal"]
    question.font.bold = True
    for form, said in paragraphs:
        paragraph = document.add_paragraph(style=form if form in ("Vraag", "Quote") else None)
        for k, line in enumerate(said.split("\n")):
            if k:
                paragraph.add_run().add_break()   # Shift+Enter
            run = paragraph.add_run(line)
            if form in ("bold", "italic", "underline"):
                setattr(run, form, True)
            elif form == "blue":
                run.font.color.rgb = RGBColor(0x1F, 0x4E, 0x79)
            elif form == "highlight":
                run.font.highlight_color = WD_COLOR_INDEX.YELLOW
            elif form in ("Strong", "Emphasis"):
                run.style = document.styles[form]
    document.save(path)
    return load_transcript(path)


FORMATTED_INTERVIEW = [
    ("", "Interview Kees de Wit, 12 maart"),
    ("q", "Kun je vertellen wat jullie in het datateam doen?"),
    ("", "Wij analyseren de toetsresultaten van groep acht."),
    ("", "Daarna bespreken we die met het team."),
    ("q", "En hoe deel je dat met collega's?"),
    ("", "Ik maak een korte samenvatting en die stuur ik rond."),
    ("q", "Hm-hm."),
    ("", "En in de teamvergadering licht ik het toe."),
]


def by_format(transcript: Transcript, seg_config, nlp, name="Kees de Wit"):
    """Segments and notes of a transcript read with its lines' formats."""
    return (segment(transcript.text, seg_config, nlp, doc="transcripts/s1/p1_interview_1.docx",
                    respondent_name=name, formats=transcript.formats),
            speaker_notes(transcript.text, "interview", seg_config, name, transcript.formats))


@pytest.mark.parametrize("form,mark", [("bold", "**"), ("italic", "*"), ("Vraag", "**"),
                                       ("Strong", "**"), ("Emphasis", "*"), ("underline", "_"),
                                       ("blue", "~"), ("highlight", "~")])
def test_docx_questions_told_apart_by_their_format(tmp_path, seg_config, nl_pipeline, form,
                                                   mark):
    """A transcript typed without labels, its questions in bold or italic (by the run, a
    paragraph style or a character style), underlined, in colour or highlighted, gave no
    segment at all. The format of its lines
    now tells the speakers apart, the text staying as typed: the questions are the context,
    the paragraphs of an answer one segment, the title line before the first question none,
    a "Hm-hm." no question; a note says how the speakers were told apart."""
    transcript = docx_of_formatted(tmp_path / "p1_interview_1.docx",
                                   [(form if q else "", said) for q, said in FORMATTED_INTERVIEW])
    assert transcript.text.split("\n") == [said for _, said in FORMATTED_INTERVIEW]
    assert transcript.formats == tuple(mark if q else "" for q, _ in FORMATTED_INTERVIEW)
    segs, notes = by_format(transcript, seg_config, nl_pipeline)
    assert segs["text"].tolist() == [
        "Wij analyseren de toetsresultaten van groep acht.\n"
        "Daarna bespreken we die met het team.",
        "Ik maak een korte samenvatting en die stuur ik rond.",
        "En in de teamvergadering licht ik het toe."]
    assert segs["context"].tolist() == ["Kun je vertellen wat jullie in het datateam doen?",
                                        "En hoe deel je dat met collega's?",
                                        "En hoe deel je dat met collega's?"]
    check_offsets(segs, transcript.text)
    said = {"**": "in bold", "*": "in italic", "_": "underlined", "~": "in colour"}[mark]
    assert len(notes) == 1 and f"paragraphs {said} are " \
        "read as the interviewer's turns" in notes[0]
    assert segment(transcript.text, seg_config, nl_pipeline).empty   # a .txt has no format


def test_docx_all_in_one_colour_is_no_format_of_its_own(tmp_path, seg_config, nl_pipeline):
    """A document whose every run has one colour (dark grey, as Google Docs and pasted Teams
    transcripts give it) and bold questions: the colour is the text's, so the answers stay
    plain and the bold questions tell the speakers apart (the colour alone made every answer
    "coloured", and no respondent turn was found)."""
    import docx
    from docx.shared import RGBColor

    document = docx.Document()
    for q, said in FORMATTED_INTERVIEW:
        run = document.add_paragraph().add_run(said)
        run.font.color.rgb = RGBColor(0x22, 0x22, 0x22)
        run.bold = bool(q)
    document.save(tmp_path / "p1_interview_1.docx")
    transcript = load_transcript(tmp_path / "p1_interview_1.docx")
    assert transcript.formats == tuple("**" if q else "" for q, _ in FORMATTED_INTERVIEW)
    segs, notes = by_format(transcript, seg_config, nl_pipeline)
    assert len(segs) == 3 and "paragraphs in bold are read" in notes[0]


def test_docx_format_changes_nothing_where_labels_say_who_speaks(tmp_path, seg_config,
                                                                 nl_pipeline):
    """Where labels, time stamps or a table name the speakers, bold questions or bold lines
    read exactly as without their format (the format reading only takes a transcript that
    names no respondent twice)."""
    cases = {
        "labelled": [("bold", "I (AB): Wat doe je in de PLG?"),
                     ("", "R (KW): Wij analyseren de toetsen."),
                     ("", "Daarna bespreken we ze."),
                     ("bold", "12   I: Met wie deel je dat?"), ("", "R (KW): Met het team.")],
        "stamped": [("bold", "Interviewer"), ("", "0:03"), ("", "Wat doe je in de PLG?"),
                    ("bold", "Kees de Wit"), ("", "0:10"), ("", "Wij analyseren de toetsen."),
                    ("bold", "Interviewer"), ("", "0:40"), ("", "Met wie deel je dat?"),
                    ("bold", "Kees de Wit"), ("", "0:45"), ("", "Met het team.")],
    }
    for name, paragraphs in cases.items():
        transcript = docx_of_formatted(tmp_path / f"{name}.docx", paragraphs)
        with_format, _ = by_format(transcript, seg_config, nl_pipeline)
        plain = segment(transcript.text, seg_config, nl_pipeline,
                        respondent_name="Kees de Wit", doc="transcripts/s1/p1_interview_1.docx")
        assert len(plain) == 2, name
        pd.testing.assert_frame_equal(with_format, plain)


def test_docx_format_keeps_what_the_respondent_said_in_it(tmp_path, seg_config, nl_pipeline):
    """What a respondent says in bold or italic stays the respondent's: an italic quote
    (Word's Quote style) amid answers to bold questions (the questions' format is the one
    most emphasised sentences have), a quotation in bold alone amid an answer; plain
    questions and answers beside italic quotes are not read by their format (nothing, and
    the note, as before). A bold section title before a question is no turn, a follow-up
    question in italic beside bold ones asks too, and a bold closing or summary without "?"
    is still the interviewer's."""
    quotes = docx_of_formatted(tmp_path / "quotes.docx", [
        ("bold", "1. Samenwerking"),
        ("bold", "Wat doe je in de PLG?"), ("", "Wij analyseren de toetsen."),
        ("Quote", "Wij willen weten waar we staan, zei de directeur."),
        ("", "Daarna bespreken we ze."),
        ("italic", "Met iedereen?"), ("", "Ja."),
        ("bold", "2. Opbrengsten"),
        ("bold", "Met wie deel je dat?"), ("", "Met het team."),
        ("bold", "'Dat is toch niet te doen', zeggen ze dan."), ("", "Maar het went."),
        ("bold", "Dus jullie delen alles met het team."), ("", "Precies."),
        ("bold", "Dan wil ik je bedanken voor het gesprek."), ("", "Graag gedaan.")])
    segs, _ = by_format(quotes, seg_config, nl_pipeline)
    assert segs["text"].tolist() == [
        "Wij analyseren de toetsen.\nWij willen weten waar we staan, zei de directeur.\n"
        "Daarna bespreken we ze.", "Ja.",
        "Met het team.\n'Dat is toch niet te doen', zeggen ze dan.\nMaar het went.",
        "Precies.", "Graag gedaan."]
    assert segs["context"].tolist() == ["Wat doe je in de PLG?", "Met iedereen?",
                                        "Met wie deel je dat?",
                                        "Dus jullie delen alles met het team.",
                                        "Dan wil ik je bedanken voor het gesprek."]
    plain_questions = docx_of_formatted(tmp_path / "plain.docx", [
        ("", "Wat doe je in de PLG?"), ("", "Wij analyseren de toetsen."),
        ("italic", "'Wij willen weten waar we staan', zei de directeur."),
        ("", "Met wie deel je dat?"), ("", "Met het team van de bovenbouw."),
        ("italic", "'Dat is toch niet te doen', zeggen collega's dan.")])
    segs, notes = by_format(plain_questions, seg_config, nl_pipeline)
    assert segs.empty and "no respondent turn recognised" in notes[0]


def test_docx_format_questions_without_question_marks_and_long_ones(tmp_path, seg_config,
                                                                    nl_pipeline):
    """Where no paragraph ends in "?" the emphasised side asks, as is usual, however short the
    answers; and long bold questions with short answers: the questions ("?") still ask."""
    prompts = docx_of_formatted(tmp_path / "prompts.docx", [
        ("bold", "Vertel eens kort over je rol in het datateam van de school."),
        ("", "Ik ben de voorzitter."),
        ("bold", "Beschrijf hoe jullie de resultaten met het team delen."),
        ("", "Via een samenvatting.")])
    long_questions = docx_of_formatted(tmp_path / "long.docx", [
        ("bold", "Hoe vaak komen jullie als datateam ongeveer bij elkaar in een schooljaar?"),
        ("", "Zes keer."),
        ("bold", "Worden de analyses die jullie maken ook met het hele team besproken?"),
        ("", "Ja, meestal wel.")])
    assert by_format(prompts, seg_config, nl_pipeline)[0]["text"].tolist() == [
        "Ik ben de voorzitter.", "Via een samenvatting."]
    assert by_format(long_questions, seg_config, nl_pipeline)[0]["text"].tolist() == [
        "Zes keer.", "Ja, meestal wel."]


def test_a_labelled_answer_is_not_overruled_by_format(tmp_path, seg_config, nl_pipeline):
    """One labelled respondent turn that says something (an e-mail interview: "R:" once) is
    read by its labels, bold questions or not; a title block's "Respondent: Kees de Wit"
    alone is no answer, so there the format reads."""
    labelled = docx_of_formatted(tmp_path / "labelled.docx", [
        ("bold", "I: Vertel eens over je rol in het datateam, je mag uitgebreid vertellen."),
        ("", "R: Ik ben voorzitter."), ("", "We analyseren de toetsen."),
        ("bold", "I: Dank je wel voor je antwoord, dit was heel nuttig voor ons onderzoek.")])
    segs, notes = by_format(labelled, seg_config, nl_pipeline)
    assert segs["text"].tolist() == ["Ik ben voorzitter.\nWe analyseren de toetsen."]
    assert not any("no speaker labels" in note for note in notes)
    titled = docx_of_formatted(tmp_path / "titled.docx", [
        ("", "Interviewer: Anna de Boer"), ("", "Respondent: Kees de Wit"),
        ("bold", "Wat doe je in de PLG?"), ("", "Wij analyseren de toetsen."),
        ("bold", "Met wie deel je dat?"), ("", "Met het team.")])
    assert by_format(titled, seg_config, nl_pipeline)[0]["text"].tolist() == [
        "Wij analyseren de toetsen.", "Met het team."]


def test_docx_format_of_answers_and_of_lines(tmp_path, seg_config, nl_pipeline):
    """Answers in italic after plain questions: the italic side answers (the other asks), its
    first question the first answer's context; and a question in bold with its answer after a
    Shift+Enter in the same paragraph: the format is read per line."""
    answers = docx_of_formatted(tmp_path / "answers.docx", [
        ("", "Interview 3"), ("", "Wat doe je in de PLG?"),
        ("italic", "Wij analyseren de toetsen."), ("italic", "Daarna bespreken we ze."),
        ("", "Met wie deel je dat?"), ("italic", "Met het team.")])
    segs, notes = by_format(answers, seg_config, nl_pipeline)
    assert segs["text"].tolist() == ["Wij analyseren de toetsen.\nDaarna bespreken we ze.",
                                     "Met het team."]
    assert segs["context"].tolist() == ["Wat doe je in de PLG?", "Met wie deel je dat?"]
    assert "in italic are read as the respondent's turns" in notes[0]
    lines = docx_of_formatted(tmp_path / "lines.docx", [
        ("", "Interview 3"), ("", "Wat doe je in de PLG?\nWij analyseren de toetsen."),
        ("", "Met wie deel je dat?\nMet het team.")])
    assert lines.formats == ("", "", "", "", "")
    import docx

    document = docx.Document(tmp_path / "lines.docx")
    for paragraph in document.paragraphs[1:]:
        paragraph.runs[0].bold = True   # the question's line, not the answer after the break
    document.save(tmp_path / "lines.docx")
    lines = load_transcript(tmp_path / "lines.docx")
    assert lines.formats == ("", "**", "", "**", "")
    segs, _ = by_format(lines, seg_config, nl_pipeline)
    assert segs["text"].tolist() == ["Wij analyseren de toetsen.", "Met het team."]
    check_offsets(segs, lines.text)


def test_segment_command_reads_a_docx_whose_format_tells_the_speakers(
        tmp_path, shared_datadir, capsys, monkeypatch):
    """Through ``pipeline segment`` on a cohort: the .docx of bold questions gives its answers
    as segments, pseudonymised, and the command says how it told the speakers apart."""
    import shutil

    import pandas as pd
    from helpers import cli

    cohort = tmp_path / "cohort"
    shutil.copytree(shared_datadir / "tiny_cohort", cohort)
    doc = "transcripts/sch02/sch02-p02_interview_1.docx"
    docx_of_formatted(cohort / doc, [
        ("", "Interview Thijs Wagenaar"),
        ("bold", "Wat doe je in het datateam, Thijs?"),
        ("", "Ik analyseer met Thijs Wagenaar de toetsresultaten van de bovenbouw."),
        ("bold", "Met wie deel je dat?"), ("", "Met de mentoren en de sectie.")])
    code, out, err = cli(["segment", cohort, "--out", tmp_path / "segments.csv"], capsys,
                         monkeypatch)
    assert code == 0, err
    segs = pd.read_csv(tmp_path / "segments.csv", keep_default_na=False)
    mine = segs[segs["doc"] == doc]
    assert mine["context"].tolist()[1] == "Met wie deel je dat?"
    assert mine["text"].tolist()[1] == "Met de mentoren en de sectie."
    assert "Thijs" not in " ".join(mine["text"]) + " ".join(mine["context"])
    assert "sch02-p02_interview_1.docx" in err and "paragraphs in bold are read" in err


def test_speakers_named_on_a_line_of_their_own(tmp_path, seg_config, nl_pipeline):
    """A speaker's label or name alone on the line above the turn, without colon or time (a
    Word transcript's bold name above each turn) gave no segment. A configured label and the
    respondent's roster name now name the speakers there, and so does another name that takes
    turns with the respondent's line for line; a short line said twice ("Ja") is a word, and
    a title block that names each speaker once stays unread as before (with the note)."""
    transcript = docx_of_formatted(tmp_path / "p1_interview_1.docx", [
        ("bold", "Interviewer"), ("", "Wat doe je in de PLG?"),
        ("bold", "Kees de Wit"), ("", "We analyseren de toetsen."), ("", "Ja"),
        ("", "Dat werkt goed."),
        ("bold", "Interviewer"), ("", "En dan?"),
        ("bold", "Kees de Wit"), ("", "Dan delen we het."), ("", "Ja"),
        ("", "Met iedereen.")])
    segs, notes = by_format(transcript, seg_config, nl_pipeline)
    assert segs["text"].tolist() == ["We analyseren de toetsen.\nJa\nDat werkt goed.",
                                     "Dan delen we het.\nJa\nMet iedereen."]
    assert segs["context"].tolist() == ["Wat doe je in de PLG?", "En dan?"]
    check_offsets(segs, transcript.text)
    assert notes == []
    pd.testing.assert_frame_equal(segs, segment(transcript.text, seg_config, nl_pipeline,
                                                doc="transcripts/s1/p1_interview_1.docx",
                                                respondent_name="Kees de Wit"))   # a .txt too
    alternating = "Anna\nWat doe je?\nKees\nWe analyseren.\nAnna\nEn dan?\nKees\nDelen.\n"
    assert segment(alternating, seg_config, nl_pipeline, respondent_name="Kees de Wit")[
        "text"].tolist() == ["We analyseren.", "Delen."]
    titled = ("Interviewer\nAnna de Boer\nRespondent\nKees de Wit\nWat doe je?\n"
              "We analyseren de toetsen.\n")
    not_alternating = "Anna\nWat doe je?\nKees\nWe analyseren.\nKees\nDelen.\nAnna\nEn?\n"
    for other in (titled, not_alternating):
        assert segment(other, seg_config, nl_pipeline, respondent_name="Kees de Wit").empty
        assert "no respondent turn" in speaker_notes(other, "interview", seg_config,
                                                     "Kees de Wit")[0]


def test_markdown_headings_are_no_turn_or_note(seg_config, nl_pipeline):
    interview = "# Interview\nI: Wat deel je?\nR: De analyse.\n## Thema 2\nI: En?\nR: Plannen.\n"
    assert segment(interview, seg_config, nl_pipeline)["text"].tolist() == ["De analyse.",
                                                                             "Plannen."]
    log = "# Observatie PLG 12 maart\n10:00 Jan opent.\n## Deel 2\n10:30 #1 op de lijst.\n"
    notes = segment(log, seg_config, nl_pipeline, source="observation",
                    doc="transcripts/s1/p1_observation_1.txt")
    assert notes["text"].tolist() == ["10:00 Jan opent.", "10:30 #1 op de lijst."]


def test_empty_transcript_is_refused(tmp_path):
    path = tmp_path / "p1_interview_1.txt"
    path.write_text("  \n\n", encoding="utf-8")
    with pytest.raises(InputError, match="p1_interview_1.txt"):
        read_transcript(path)


# ---------------------------------------------------------------- stable ids
def test_ids_stable_and_independent_of_other_files(shared_datadir, seg_config, nl_pipeline):
    folder = shared_datadir / "segment"
    rows = [("interview_ir.txt", "interview"), ("interview_names.txt", "interview"),
            ("observation.txt", "observation")]
    table = pd.DataFrame([{"school_id": "s1", "person_id": "p1", "source": src, "n": 1,
                           "path": f"transcripts/s1/{name}",
                           "text": read_transcript(folder / name)} for name, src in rows])
    first = segment_transcripts(table, seg_config, nl_pipeline)
    again = segment_transcripts(table, seg_config, nl_pipeline)
    assert first["segment_id"].tolist() == again["segment_id"].tolist()
    assert first["segment_id"].is_unique
    alone = segment_transcripts(table.iloc[[1]], seg_config, nl_pipeline)
    reordered = segment_transcripts(table.iloc[[2, 1, 0]], seg_config, nl_pipeline)
    ids = set(first.loc[first["doc"] == "transcripts/s1/interview_names.txt", "segment_id"])
    assert set(alone["segment_id"]) == ids
    assert set(reordered["segment_id"]) == set(first["segment_id"])
    assert all(s.startswith("interview_names@") for s in alone["segment_id"])


def test_run_segments_same_with_two_processes(monkeypatch):
    """Transcripts are segmented in chunks over processes; the table is the same."""
    from pathlib import Path

    import pandas.testing as pdt

    from pipeline import run
    from pipeline.config import load_settings
    from pipeline.io import load_cohort
    from pipeline.run import run_segments

    monkeypatch.setattr(run, "TRANSCRIPTS_PER_JOB", 1)   # workers even for a tiny cohort
    cohort = load_cohort(Path(__file__).parent / "data" / "tiny_cohort")
    one = run_segments(cohort, load_settings(), jobs=1)
    two = run_segments(cohort, load_settings(), jobs=2)
    assert len(one) > 0 and len(cohort.transcripts) > 1
    pdt.assert_frame_equal(one, two)


def test_a_turn_is_one_segment_however_its_lines_are_broken(seg_config, nl_pipeline):
    """An answer typed with Shift+Enter after each sentence was three segments, each coded on
    its own (one of them empty), so a key figure's counts depended on the typist; a long turn
    is still split into sentence groups, and a line that is no turn keeps paragraphs apart."""
    said = ["We hebben de cijfers van alle klassen verzameld.",
            "Daarna hebben we ze in de sectie besproken.", "Dat werkt goed."]
    text = "I: Wat deden jullie?\nR: " + "\v".join(said) + "\n"
    segs = segment(text, seg_config, nl_pipeline)
    assert segs["text"].tolist() == ["\v".join(said)]
    check_offsets(segs, text)
    short = seg_config.model_copy(update={"max_chars": 60})
    parts = segment(text, seg_config, nl_pipeline, config=short)["text"].tolist()
    assert parts == [said[0], f"{said[1]}\v{said[2]}"]   # sentence groups of <= 60
    apart = "I: Wat deden jullie?\nR: " + said[0] + "\n[00:03:10]\n" + said[1] + "\n"
    assert segment(apart, seg_config, nl_pipeline)["text"].tolist() == said[:2]


def test_a_docx_table_without_a_header_row_is_read_by_its_columns_content(tmp_path):
    """Without a header row, a line-number column hid the speakers ("1: I: ...") and a remark
    column was glued onto the turn: the columns are told apart by what they hold."""
    text = docx_of_tables(
        tmp_path / "p1_interview_1.docx",
        [("1", "I", "Waar werkt jullie team aan?", ""),
         ("2", "R", "Aan formatief evalueren in de onderbouw.", "slecht verstaanbaar"),
         ("3", "I", "En verder?", ""), ("4", "R", "Aan feedback geven.", ""),
         ("5", "I", "Met wie?", "lacht")],
        [("00:02:10", "R", "Met de sectie wiskunde."), ("00:02:15", "I", "Oké, en verder?"),
         ("00:02:20", "R", "En met de schoolleiding.")])
    assert text.split("\n") == [
        "I: Waar werkt jullie team aan?", "R: Aan formatief evalueren in de onderbouw.",
        "I: En verder?", "R: Aan feedback geven.", "I: Met wie?",
        "00:02:10 R: Met de sectie wiskunde.", "00:02:15 I: Oké, en verder?",
        "00:02:20 R: En met de schoolleiding."]


def test_read_transcript_docx_content_controls_in_tables_placeholders_and_styles(tmp_path):
    """Rows in a repeating-section content control and cells in a cell-level one were lost
    without a word; an unfilled control's placeholder was read as the answer; text hidden by
    a character style (rather than directly) was read."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    def cell(said: str) -> str:
        return f"<w:tc><w:p><w:r><w:t xml:space='preserve'>{said}</w:t></w:r></w:p></w:tc>"

    document = docx.Document()
    note = document.styles.add_style("Typistnotitie", WD_STYLE_TYPE.CHARACTER)
    note.font.hidden = True
    table = parse_xml(
        f"<w:tbl {nsdecls('w')}><w:tr>{cell('I')}{cell('Hoe gaat het met de PLG?')}</w:tr>"
        f"<w:sdt><w:sdtContent><w:tr>{cell('R')}{cell('Goed, we analyseren samen.')}</w:tr>"
        "</w:sdtContent></w:sdt>"
        f"<w:tr>{cell('I')}<w:sdt><w:sdtContent>{cell('En de sectie?')}</w:sdtContent></w:sdt>"
        f"</w:tr><w:tr>{cell('R')}<w:sdt><w:sdtPr><w:showingPlcHdr/></w:sdtPr><w:sdtContent>"
        f"{cell('Klik of tik om tekst in te voeren.')}</w:sdtContent></w:sdt></w:tr></w:tbl>")
    document.element.body.insert(0, table)
    paragraph = document.add_paragraph("R: De sfeer werd beter.")
    paragraph.add_run(" [typist: naam checken]", style="Typistnotitie")
    path = tmp_path / "p1_interview_1.docx"
    document.save(path)
    assert read_transcript(path).split("\n") == [
        "I: Hoe gaat het met de PLG?", "R: Goed, we analyseren samen.", "I: En de sectie?", "R",
        "R: De sfeer werd beter."]


def test_a_docx_table_of_results_inside_an_answer_is_read_whole(tmp_path):
    """A table that is no transcript (grades, a plan) lost its columns when read as one: its
    text column holds no turns, so every cell is read, as before."""
    text = docx_of_tables(tmp_path / "p1_interview_1.docx",
                          [("Anouk", "5,4", "onvoldoende"), ("Bram", "7,1", "voldoende"),
                           ("Cas", "4,9", "onvoldoende"), ("Dewi", "6,8", "voldoende")],
                          [("2022", "havo 4", "18%"), ("2023", "havo 4", "12%")],
                          [("1", "Data verzamelen uit Magister", "Ruud"),
                           ("2", "Analyse van de toetsen", "Sanne"),
                           ("3", "Hypothese toetsen met de sectie", "Ruud")])
    assert text.split("\n") == [
        "Anouk: 5,4: onvoldoende", "Bram: 7,1: voldoende", "Cas: 4,9: onvoldoende",
        "Dewi: 6,8: voldoende", "2022: havo 4: 18%", "2023: havo 4: 12%",
        "1: Data verzamelen uit Magister: Ruud", "2: Analyse van de toetsen: Sanne",
        "3: Hypothese toetsen met de sectie: Ruud"]


def test_a_docx_table_with_a_header_row_reads_its_turn_columns_only(tmp_path, seg_config,
                                                                   nl_pipeline):
    """A remark column was glued onto the turn ("...onderbouw.: slecht verstaanbaar") and a
    line-number column hid every speaker ("1: I: ...", so nothing was coded): under a header
    row that names the columns, only time, speaker and text are read."""
    text = docx_of_tables(
        tmp_path / "p1_interview_1.docx",
        [("Nr", "Spreker", "Tekst", "Opmerking"), ("1", "I", "Waar werkt jullie team aan?", ""),
         ("2", "R", "Aan formatief evalueren in de onderbouw.", "slecht verstaanbaar")],
        [("Tijd", "Spreker:", "Tekst"), ("00:02:10", "R", "En aan feedback.")])
    assert text.split("\n") == ["I: Waar werkt jullie team aan?",
                                "R: Aan formatief evalueren in de onderbouw.",
                                "00:02:10 R: En aan feedback."]
    segs = segment(text, seg_config, nl_pipeline, doc="transcripts/s1/p1_interview_1.docx")
    assert segs["text"].tolist() == ["Aan formatief evalueren in de onderbouw.",
                                     "En aan feedback."]
