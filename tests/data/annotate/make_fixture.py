"""Generator of the cohort/ fixture next to this file (run once; the output is committed).

Four sentences per code; the gold labels follow from the sentences picked.
"""
import pathlib
import random

root = pathlib.Path(__file__).resolve().parent / "cohort"
random.seed(7)
S = {
 "focus": ["Ons probleem is dat veel leerlingen in havo 4 blijven zitten.",
           "We werken hieraan omdat de examenresultaten voor wiskunde achterblijven.",
           "Het thema van ons datateam is het verzuim in de onderbouw.",
           "Ik vroeg collega's wat volgens hen de oorzaak van het zittenblijven is."],
 "outcomes": ["Het bleek dat de hypothese over huiswerk niet klopte.",
              "Tijdens de observatie zagen we dat leerlingen elkaar nauwelijks vragen stelden.",
              "De conclusie was dat de planning van toetsen het probleem niet verklaart.",
              "We ontdekten dat vooral jongens in de tweede klas uitvallen."],
 "approach": ["Eerst stellen we een hypothese op, dan verzamelen we data om die te toetsen.",
              "We hebben een observatieformulier gemaakt voor de onderzoeksles.",
              "In de cyclus analyseren we de gegevens uit de vragenlijst.",
              "De werkwijze van lesson study is dat we samen een lesontwerp maken."],
 "benefits": ["Het levert echt op dat we beter samenwerken als sectie.",
              "Ik bereid mijn lessen nu anders voor, ik kijk meer naar wat leerlingen denken.",
              "Het helpt ons om beslissingen beter te onderbouwen.",
              "De meerwaarde is dat we meer inzicht krijgen in het leren van leerlingen."],
 "organisational": ["We krijgen veertig taakuren per jaar voor het datateam.",
                    "De bijeenkomsten staan om de week op dinsdag in het rooster.",
                    "Het lastige is de planning, er is te weinig tijd.",
                    "We vergaderen in het lokaal naast de docentenkamer."],
 "knowledge_management": ["In de teamvergadering heb ik verteld wat we gevonden hebben.",
                          "Ik schrijf elke maand een stukje in de nieuwsbrief over het datateam.",
                          "We hebben een poster gemaakt die in de gang hangt.",
                          "Ik heb de resultaten gemaild aan alle collega's."],
 "exchange": ["Op het whiteboard in de docentenkamer vroegen we collega's naar mogelijke oorzaken.",
              "Ik heb Sanne geholpen met het invullen van het observatieformulier.",
              "Ik heb de sectie uitgenodigd om bij de onderzoeksles te komen kijken.",
              "Collega's vragen mij vaak om feedback op hun vragenlijst."],
 "capacity_building": ["Op de studiedag heb ik een workshop gegeven met een mini-datateam.",
                       "Ik coach nu twee nieuwe collega's die een eigen team starten.",
                       "We organiseren een training voor docenten over werken met data.",
                       "Er is een scholing voor teamleiders over lesson study."],
 "none": ["Ik werk hier al twaalf jaar als docent Nederlands.",
          "Dat weet ik eigenlijk niet precies.",
          "Ja, dat klopt wel.",
          "Mijn vader was ook leraar."],
}
Q = ["Waar werkt jullie PLG aan?", "Hoe deel je dat met collega's?", "Wat levert het op?",
     "Hoe is het georganiseerd?", "Kun je een voorbeeld geven?", "Wat vonden jullie?",
     "Hoe betrek je collega's?", "Wat heb je verder nog gedaan?"]
staff = [("s1-p1","s1","Sanne de Vries","teacher","g1","data_team"),
         ("s1-p2","s1","Karel Jansen","leader","g1","data_team"),
         ("s1-p3","s1","Mila Bakker","teacher","",""),
         ("s1-p4","s1","Joost Smit","teacher","",""),
         ("s2-p1","s2","Fleur van Dijk","teacher","h1","lesson_study"),
         ("s2-p2","s2","Bram Visser","leader","h1","lesson_study"),
         ("s2-p3","s2","Noor Mulder","teacher","",""),
         ("s2-p4","s2","Daan Bos","support","","")]
(root / "transcripts").mkdir(parents=True, exist_ok=True)
(root / "labels").mkdir(exist_ok=True)
(root / "cohort.yaml").write_text(
    'name: annotate-fixture\nlanguage: nl\nsurvey_question: "Met wie praat je over de PLG?"\n'
    "tie_strength:\n  min: 1\n  max: 5\n")
lines = ["person_id,school_id,name,role,years_in_education,years_at_school,plg_id,plg_type,"
         "responded"]
for p, s, n, r, g, t in staff:
    lines.append(f"{p},{s},{n},{r},{random.randint(2, 25)},{random.randint(1, 12)},{g},{t},true")
(root / "staff.csv").write_text("\n".join(lines) + "\n")
noms = ["school_id,ego,alter,strength"]
for s in ("s1", "s2"):
    ids = [p for p, ss, *_ in staff if ss == s]
    for a in ids:
        for b in ids:
            if a != b and random.random() < 0.6:
                noms.append(f"{s},{a},{b},{random.randint(1, 5)}")
(root / "nominations.csv").write_text("\n".join(noms) + "\n")
codes = [c for c in S if c != "none"]
# the sub-type of each of the four sentences of an activity code
SUBS = {"knowledge_management": ["oral", "written", "product", "written"],
        "exchange": ["input", "support", "invitation", "input"],
        "capacity_building": ["workshop", "coaching", "training", "training"]}
ALL = codes + ["knowledge_management.oral", "knowledge_management.written",
               "knowledge_management.product", "exchange.input", "exchange.invitation",
               "exchange.support", "capacity_building.workshop", "capacity_building.training",
               "capacity_building.coaching"]
gold = ["segment_id,code,value,annotator,time"]


def label(stem, text, start, picked, do):
    seg = f"{stem}@{start}-{start + len(text)}"
    if not do:
        return
    on = set()
    for c, i in picked:
        if c == "none":
            continue
        on.add(c)
        if c in SUBS:
            on.add(f"{c}.{SUBS[c][i]}")
    for c in ALL:
        gold.append(f"{seg},{c},{int(c in on)},gold,2024-01-15T10:00:00Z")


for p, s, n, *_ in staff[:3] + staff[4:7]:
    d = root / "transcripts" / s
    d.mkdir(exist_ok=True)
    do = not p.endswith("p3")  # the p3 interviews stay unlabelled
    paras = [f"Interview met {n}, {s}."]
    for q in Q:
        paras.append("I: " + q)
        k = random.choice([1, 1, 2, 2, 3])
        picks = random.sample(codes + ["none"], k)
        idx = [random.randrange(4) for c in picks]
        sents = [S[c][i] for c, i in zip(picks, idx, strict=True)]
        if random.random() < 0.2:
            sents.append(f"Dat zei {staff[random.randrange(8)][2].split()[0]} ook.")
        body = " ".join(sents)
        start = len("\n\n".join(paras)) + 2 + 3
        paras.append("R: " + body)
        label(f"{p}_interview_1", body, start, list(zip(picks, idx, strict=True)), do)
    (d / f"{p}_interview_1.txt").write_text("\n\n".join(paras) + "\n")
    if p.endswith("p1"):
        notes, pos = [], 0
        for _ in range(4):
            pk = [(c, random.randrange(4)) for c in random.sample(codes, 2)]
            body = " ".join(S[c][i] for c, i in pk)
            label(f"{p}_observation_1", body, pos, pk, do)
            notes.append(body)
            pos += len(body) + 1
        (d / f"{p}_observation_1.txt").write_text("\n".join(notes) + "\n")
(root / "labels" / "gold.csv").write_text("\n".join(gold) + "\n")
