"""The rule coder (pipeline/coding/rules.py): codebook patterns matched on lemmas."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.coding.assign import code_segments, rule_coder
from pipeline.coding.rules import RuleCoder, inflections, present_stems, separable
from pipeline.nlp import lemmatiser


@pytest.fixture(scope="module")
def rules(codebook, nl_pipeline):
    return RuleCoder(codebook, nl_pipeline)


@pytest.mark.parametrize(("text", "label", "word"), [
    ("Er zijn veel zittenblijvers in havo 4.", "focus", "zittenblijvers"),
    ("De vragenlijsten zijn klaar.", "approach", "vragenlijsten"),
    ("Ik schrijf stukjes in de nieuwsbrieven.", "knowledge_management", "nieuwsbrieven"),
    ("We gaven twee workshops.", "capacity_building.workshop", "workshops"),
])
def test_inflected_form_matches_pattern_lemma(rules, text, label, word):
    # the pattern is the base form; the text has an inflected form with the same lemma
    assert word not in {p.lower() for c in rules.codebook.codes for p in c.patterns}
    scores, evidence = rules.score([text])
    assert scores.loc[0, label] >= rules.threshold
    assert word in evidence[0][label]


def test_participles_the_lemma_table_lacks(rules):
    """"gegeven" (of geven) is not the data of the pattern "gegevens" (whose lemma the table
    gives as "gegeven"): "gegevens*" matches the word's forms only; "gevraagd", which the
    table lacks, is a pattern of exchange of its own (a new team's trial of the rule coder)."""
    scores, evidence = rules.score(["Ik heb een training gegeven.",
                                    "We verzamelen gegevens en doen een gegevensanalyse.",
                                    "Ik heb collega's gevraagd wat zij ervan vonden."])
    assert "approach" not in evidence[0]
    assert evidence[1]["approach"] == ["verzamelen", "gegevens", "gegevensanalyse"]
    assert evidence[2]["exchange"] == ["gevraagd"]
    assert scores.loc[2, "exchange.input"] >= rules.threshold


def test_lemmas_come_from_the_shared_lemmatiser():
    assert lemmatiser().lemma("zittenblijvers") == "zittenblijver"
    assert lemmatiser().lemma("Workshops") == "workshop"


def test_scores_grow_with_distinct_matches_and_evidence_spans(rules):
    scores, evidence = rules.score(["We gaven een workshop op de studiedag.",
                                    "Het weer is mooi vandaag.",
                                    "Op de studiedag, de studiedag!"])
    assert list(scores.columns) == rules.labels
    assert scores.loc[0, "capacity_building"] == pytest.approx(0.75)  # 2 distinct matches
    assert evidence[0]["capacity_building"] == ["workshop", "studiedag"]
    assert scores.loc[1].sum() == 0 and evidence[1] == {}
    assert evidence[2]["capacity_building"] == ["studiedag"]  # one distinct span
    assert scores.loc[2, "capacity_building"] == pytest.approx(0.5)


def test_rule_coder_through_code_segments(rules, codebook):
    segments = pd.DataFrame({"id": ["x", "y"], "text": ["Ik heb de hypothesen uitgelegd op "
                                                        "de studiedag.", "Niets."]})
    coded = code_segments(segments, rule_coder(rules), codebook)
    assert coded.loc[0, "knowledge_types"] == "approach"
    assert "capacity_building" in coded.loc[0, "activities"].split(";")
    assert "approach: hypothesen" in coded.loc[0, "evidence"]
    assert coded.loc[1, ["knowledge_types", "activities", "evidence"]].tolist() == ["", "", ""]
    assert coded["coder"].eq("rules").all()


def _coder(codebook, nlp, patterns: list[str]) -> RuleCoder:
    """A rule coder whose only patterns are ``patterns``, under the code ``focus``."""
    families = [f.model_copy(update={"codes": [
        c.model_copy(update={"patterns": patterns if c.id == "focus" else [], "subtypes": []})
        for c in f.codes]}) for f in codebook.families]
    return RuleCoder(codebook.model_copy(update={"families": families}), nlp)


@pytest.mark.parametrize(("word", "form"), [
    ("datateam", "datateams"), ("thema", "thema's"), ("ronde", "ronden"),
    ("idee", "ideeën"),                                        # plurals -s, -'s, -n, -ën
    ("les", "lessen"), ("verslag", "verslagen"),               # short vowel: either spelling
    ("jaar", "jaren"), ("brief", "brieven"), ("huis", "huizen"), ("kaas", "kazen"),
    ("gemiddeld", "gemiddelde"), ("groot", "grote"),           # adjective -e
    ("klassengesprek", "klassengesprekje"), ("stoel", "stoeltje"),
    ("leerlingenpanel", "leerlingenpanelletje"), ("probleem", "probleempje"),
    ("koning", "koninkje"), ("thema", "themaatje"), ("workshop", "workshopjes"),
])
def test_inflections_follow_dutch_spelling(word, form):
    assert form in inflections(word)
    assert word not in inflections(word)


@pytest.mark.parametrize(("text", "label", "word"), [
    # words the lookup table does not know: the demo transcripts' most frequent misses
    ("Dat heb ik echt van de datateams meegekregen.", "approach", "datateams"),
    ("Het gemiddelde ging omhoog.", "outcomes", "gemiddelde"),
    ("We maakten observatieformulieren.", "approach", "observatieformulieren"),
    ("De verslagen staan op het intranet.", "knowledge_management", "verslagen"),
    ("We bespraken de lesontwerpen.", "approach", "lesontwerpen"),
    ("Welke onderwerpen kiezen we?", "focus", "onderwerpen"),
])
def test_shipped_patterns_match_inflections_the_table_lacks(rules, text, label, word):
    assert lemmatiser().lemma(word) == word               # unknown to the table, or its own
    scores, evidence = rules.score([text])
    assert scores.loc[0, label] >= rules.threshold
    assert word in evidence[0][label]


def test_a_new_codes_patterns_match_plurals_and_diminutives(codebook, nl_pipeline):
    coder = _coder(codebook, nl_pipeline, ["leerlingenpanel", "klassengesprek"])
    texts = ["Leerlingenpanels waren nuttig.", "De klassengesprekken gingen goed.",
             "Het klassengesprekje ging goed.", "Een leerlingenpanelletje.", "Een panel."]
    scores, evidence = coder.score(texts)
    assert [e.get("focus") for e in evidence] == [
        ["leerlingenpanels"], ["klassengesprekken"], ["klassengesprekje"],
        ["leerlingenpanelletje"], None]


def test_forms_the_table_gives_to_another_word_are_left_out(codebook, nl_pipeline):
    # "panelen" is the plural of "paneel" in the lookup table; "panels" is unknown to it
    assert lemmatiser().lemma("panelen") == "paneel"
    assert "panelen" in inflections("panel")
    _, evidence = _coder(codebook, nl_pipeline, ["panel"]).score(["De panelen.", "De panels."])
    assert evidence == [{}, {"focus": ["panels"]}]


def test_a_form_that_is_a_lemma_of_its_own_matches_only_as_written(codebook, nl_pipeline):
    # "stappen" (also the verb 'to step') is added as a form of "stap", but the verb's own
    # inflections ("stapte") are not
    assert lemmatiser().lemma("stapte") == "stappen"
    _, evidence = _coder(codebook, nl_pipeline, ["stap"]).score(["De stappen.", "Hij stapte."])
    assert evidence == [{"focus": ["stappen"]}, {}]


def test_trailing_wildcard_matches_words_starting_with_it(codebook, nl_pipeline):
    coder = _coder(codebook, nl_pipeline, ["leerling*", "mening van ouder*"])
    texts = ["Leerlingen en een leerlingenpanel.", "Een medeleerling.",
             "De mening van ouders telt.", "De mening van de ouders.", "Het leerling* woord."]
    scores, evidence = coder.score(texts)
    assert [e.get("focus") for e in evidence] == [
        ["leerlingen", "leerlingenpanel"], None, ["mening van ouders"], None, ["leerling"]]
    assert scores.loc[0, "focus"] == pytest.approx(0.75)


def test_a_one_letter_pattern_has_no_inflections_and_still_matches(codebook, nl_pipeline):
    """``x`` (an abbreviation) crashed the coder: the spelling rules read the letters before
    the last one."""
    assert inflections("x") == set()
    _, evidence = _coder(codebook, nl_pipeline, ["x"]).score(["Stap x van het plan."])
    assert evidence == [{"focus": ["x"]}]


@pytest.mark.parametrize(("text", "label", "words"), [
    # split by a main clause: the verb, its particle at the end of the clause
    ("Het levert ons als sectie heel veel op.", "benefits", ["levert … op"]),
    ("Wat levert het op de lange termijn op?", "benefits", ["levert … op"]),  # "op de": no
    ("Peter schuift aan", "exchange.invitation", ["schuift aan"]),
    # the particle before "te"
    ("We proberen ze uit te nodigen.", "exchange.invitation", ["uit te nodigen"]),
    # "dat" starts a clause after the particle; it is no article
    ("Bram legt uit dat niemand iets zegt.", "exchange.support", ["legt uit"]),
    # present forms the lemma table lacks ("leg") or gives to a noun ("werk" is no "werken")
    ("Dat leg ik ze elk jaar opnieuw uit.", "exchange.support", ["leg … uit"]),
    ("Ze werkt nu met iedereen samen.", "benefits", ["werkt … samen"]),
    # the particle before a preposition or a question word still ends the clause
    ("Wat levert dat nou op voor de leerlingen?", "benefits", ["levert … op"]),
    ("Ik leg het dan uit hoe het werkt", "exchange.support", ["leg … uit"]),
    # an R-word's preposition comes first ("daar ... bij"), the particle after it
    ("Ik sluit me daar helemaal bij aan", "exchange.invitation", ["sluit … aan"]),
    # one verb is one piece of evidence however far it is split
    ("Het levert veel op en het levert ook echt op", "benefits", ["levert … op"]),
])
def test_a_separable_verb_matches_when_a_clause_splits_it(rules, text, label, words):
    # the shipped codebook's patterns: opleveren, aanschuiven, uitnodigen, uitleggen ...
    scores, evidence = rules.score([text])
    assert evidence[0][label] == words
    assert scores.loc[0, label] >= rules.threshold


@pytest.mark.parametrize(("text", "label"), [
    ("We leveren op de studiedag de cijfers.", "benefits"),   # "op" before an article
    ("Dat levert op termijn cijfers.", "benefits"),          # or before any other word
    ("We leveren op dat moment de cijfers aan.", "benefits"),   # "dat" before a noun
    ("Het leidt op die manier tot ruzie.", "capacity_building.training"),
    ("Het levert veel, en dat ligt op tafel.", "benefits"),  # the particle in the next clause
    ("Het levert veel en we zetten het op", "benefits"),     # (also without a comma)
    ("Het heeft de school veel geleverd op dat moment.", "benefits"),  # a participle
    ("We steunen ze onder meer met lesmateriaal.", "exchange.support"),  # not separable
    ("Wat doen we daar dan mee", "exchange.invitation"),      # daar ... mee: 'with that'
    ("We hebben tijd nodig om de plannen uit te werken", "exchange.invitation"),  # another's
    ("Mijn kijk op lesgeven neem ik mee", "exchange.invitation"),   # "kijk" is a noun here
    ("Het werk doen we samen met de sectie.", "benefits"),   # and "werk"
    ("In Leiden ging de zon vroeg op.", "capacity_building.training"),  # a name, no "leiden"
])
def test_a_verb_and_a_later_preposition_are_no_separable_verb(rules, text, label):
    _, evidence = rules.score([text])
    assert label not in evidence[0]


def test_which_pattern_words_are_separable_verbs():
    # particles that always split; "in" only for a verb the table has as "ingevuld", so the
    # loan word "informeren" and the inseparable "ondersteunen" stay whole
    assert separable("opleveren") == ("op", "leveren")
    assert separable("samenwerken") == ("samen", "werken")
    assert separable("invullen") == ("in", "vullen")
    assert separable("informeren") is None
    assert separable("ondersteunen") is None
    assert separable("overleggen") is None   # 'to confer' ("overlegd"), beside "overgelegd"
    assert separable("meegaan") == ("mee", "gaan")     # a verb in -aan
    assert present_stems("gaan") == {"ga"} and present_stems("leggen") == {"leg"}
    assert present_stems("vragen") == {"vraag"} and present_stems("leveren") == {"lever"}
    assert separable("uitkomst") is None  # no verb


def test_a_new_codes_separable_verb_matches_split(codebook, nl_pipeline):
    coder = _coder(codebook, nl_pipeline, ["invullen", "terugkoppelen"])
    texts = ["We vullen de vragenlijst samen in.", "Ik koppel het terug aan het team.",
             "Ze hebben het ingevuld."]
    _, evidence = coder.score(texts)
    assert [e.get("focus") for e in evidence] == [
        ["vullen … in"], ["koppel … terug"], ["ingevuld"]]


@pytest.mark.parametrize(("text", "label", "words"), [
    # the present the lemma table lacks: the -t form, the first person with its pronoun
    ("Ze vertelt het in de teamvergadering.", "knowledge_management.oral",
     ["vertelt", "teamvergadering"]),
    ("Ik help collega's met hun analyses.", "exchange.support", ["ik help"]),
    ("Soms deel ik de uitkomsten.", "knowledge_management", ["deel ik"]),
])
def test_a_verb_pattern_matches_the_present_the_table_lacks(rules, text, label, words):
    assert [lemmatiser().lemma(w) for w in ("vertelt", "help", "deel")] == [
        "vertelt", "help", "deel"]   # the gaps: each form is its own lemma
    _, evidence = rules.score([text])
    assert evidence[0][label] == words


@pytest.mark.parametrize("text", [
    "Een deel van de leerlingen blijft zitten.",   # "deel" without a pronoun: a noun
    "Ik ga met je mee.",                          # "met" is no present of meten
])
def test_a_verbs_stem_alone_is_no_verb(rules, text):
    _, evidence = rules.score([text])
    assert not any(w in ("deel", "met", "met je", "ik met") for ws in evidence[0].values()
                   for w in ws)


@pytest.mark.parametrize(("text", "word", "verb"), [
    # an infinitive after an article or possessive is a plural noun: the questions, the parts
    ("We hebben de vragen samen gelezen.", "vragen", False),
    ("Onze vragen waren te breed.", "vragen", False),
    ("De delen van de toets kloppen niet.", "delen", False),
    # after an object pronoun, or made a noun with "het", it is still the verb's
    ("Ik ga haar vragen of ze meedoet.", "vragen", True),
    ("Het vragen om hulp is lastig.", "vragen", True),
    ("Zij delen de uitkomsten.", "delen", True),
    ("Deze helpen ons echt.", "helpen", True),        # a pronoun, the verb's subject
])
def test_an_infinitive_after_an_article_is_a_noun(rules, text, word, verb):
    """The lemma table gives "vragen" (the questions) the lemma of the verb "vragen" (to
    ask): "de vragen lazen" matched exchange.input. An infinitive right after an article or
    possessive is a plural noun in Dutch (the verb's own noun takes "het")."""
    _, evidence = rules.score([text])
    assert (word in {w for ws in evidence[0].values() for w in ws}) is verb
