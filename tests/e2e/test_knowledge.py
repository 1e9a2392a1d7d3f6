"""The bot answers what the source documents say, asked the way citizens ask, over REST."""

from __future__ import annotations

import re
import uuid

import pytest

from stack import Stack, texts

FORBIDDEN = re.compile(r"\butter_|\baction_|\{[a-z_]+\}|\bNone\b|\bnull\b|Traceback")


def ask(bot: Stack, *messages: str) -> str:
    sender = f"kb-{uuid.uuid4().hex[:10]}"
    answer = ""
    for message in messages:
        answer = texts(bot.say(sender, message))
    assert not FORBIDDEN.search(answer), answer
    return answer


def assert_facts(answer: str, *patterns: str) -> None:
    for pattern in patterns:
        assert re.search(pattern, answer, re.I | re.S), f"/{pattern}/ not in:\n{answer}"


OPPORTUNITIES = [
    ("hvad kan jeg hjælpe med som frivillig", ["vejviser", "patientstøtte|samtalepartner"]),
    ("hvad går en vejviser ud på", ["vej", "hospital"]),
    ("kan jeg være samtalepartner på Hammel Neurocenter", ["Hammel"]),
    ("findes der frivillige på hospice i skive", ["Hospicelimfjord|Limfjord", "Skive"]),
    ("hospice søholm", ["Viby"]),
    ("frivillig på hospice djursland", ["Rønde|Djursland"]),
    ("hvad er en måltidsvært", ["måltidsvært", "hospice"]),
    ("patient- og pårørendecaféen i viborg", ["café|cafe", "Viborg", "Frivilliges Hus"]),
    ("hvad laver en ambassadør for en af os", ["psykisk", "stigma|tabu|åbenhed|fordomme"]),
    ("hvad er en hjerteløber", ["hjertestop", "app"]),
    ("hvad gør 112 hjælperne", ["hjertestop", "hjertestarter|ambulance"]),
    ("hvad laver vågetjenesten", ["døende|livets sidste"]),
    ("er der noget med børn", ["Ungdommens Røde Kors", "børn"]),
    ("kan man være frivillig i akutmodtagelsen", ["akutmodtagelse", "venter"]),
    ("kan man hjælpe folk med videokonsultationer", ["video|E-hospital"]),
    ("hvad er navigator hos kræftens bekæmpelse", ["Navigator", "kræft"]),
    ("hvad er hjerteforeningens patientstøtteordning", ["Hjerteforening", "erfaring"]),
    ("rådgivning af kræftpatienter på hospitalerne", ["Kræftens Bekæmpelse", "kræftpatient|pårørende"]),
    ("frivillig i specialsektoren i nordjylland", ["Specialsektor", "handicap|psykisk"]),
    ("har regionshospital horsens sit eget frivilligkorps", ["Horsens", "frivilligkorps|frivillighedskorps"]),
    ("kan man være frivillig ved tall ship race", ["Tall Ship Race|cykelløb|events"]),
    ("røde kors i region sjælland", ["Røde Kors", "Sjælland"]),
]


@pytest.mark.parametrize(("question", "facts"), OPPORTUNITIES, ids=[q for q, _ in OPPORTUNITIES])
def test_opportunities(bot: Stack, question: str, facts: list[str]) -> None:
    assert_facts(ask(bot, question), *facts)


def test_a_region_without_documents_gets_honest_signposting(bot: Stack) -> None:
    assert_facts(ask(bot, "kan jeg være frivillig i Odense?"), "frise\\.dk|frivilligjob", "dækker ikke")


STRATEGY = [
    ("hvilke pejlemærker har strategien", ["ønske|behov", "attraktiv", "ansvarsfordeling|rammer", "netværk|erfaringsudveksling"]),
    ("hvornår vedtog regionsrådet strategien for frivillige", ["30\\. marts 2016"]),
    ("hvad er principperne fra 2013", ["2013", "Principper og gode råd|MED"]),
    ("skal de frivillige have forskellig baggrund", ["mangfoldig"]),
    ("hvad siger strategien om en frivilligcafé i forhallen", ["frivilligcafé|informationsstand"]),
]


@pytest.mark.parametrize(("question", "facts"), STRATEGY, ids=[q for q, _ in STRATEGY])
def test_strategy(bot: Stack, question: str, facts: list[str]) -> None:
    assert_facts(ask(bot, question), *facts)


def test_one_pejlemaerke_by_number_and_the_last_after_the_list(bot: Stack) -> None:
    assert_facts(ask(bot, "hvad handler pejlemærke nummer 2 om"), "attraktiv")
    assert_facts(ask(bot, "fortæl om de fire pejlemærker", "fortæl mere om det sidste"), "netværk|erfaringsudveksling")
    assert_facts(ask(bot, "hvad er de 4 pejlemaerker", "forklar det tredje"), "ansvar|rammer")


CONFIDENTIALITY = [
    ("skal man holde tæt med det man hører som frivillig", ["tavshedspligt"]),
    ("må jeg fortælle min familie om patienterne", ["tavshedspligt", "videre|fortælle|dele|oplysninger"]),
    ("skal man skrive under på noget om tavshedspligt i region sjælland", ["erklæring", "personfølsomme"]),
    ("bestemmer patienten selv om de vil have besøg af en frivillig", ["patient|pårørende", "bestemmer|selv|nej"]),
]


@pytest.mark.parametrize(("question", "facts"), CONFIDENTIALITY, ids=[q for q, _ in CONFIDENTIALITY])
def test_confidentiality(bot: Stack, question: str, facts: list[str]) -> None:
    assert_facts(ask(bot, question), *facts)


PRACTICAL = [
    ("bliver man betalt for at være frivillig", ["ulønnet|ikke løn|uden løn|ingen løn"]),
    ("tager de frivillige arbejdet fra de ansatte", ["supplement"]),
    ("skal frivillige være neutrale politisk", ["apolitisk|upartisk"]),
    ("er man dækket af en forsikring", ["forsikring"]),
    ("får jeg oplæring før jeg starter", ["oplæring|introduktion|kursus|kurser|temadage"]),
    ("hvad kræves der af mig som frivillig", ["hygiejne|kvalitet|tavshedspligt"]),
    ("kan jeg sige nej til en opgave", ["nej|takke nej|afslå"]),
    ("kan jeg selv vælge hvad jeg vil lave", ["interesse"]),
    ("hvad hvis jeg oplever noget svært", ["supervision|sparring|svære situationer"]),
]


@pytest.mark.parametrize(("question", "facts"), PRACTICAL, ids=[q for q, _ in PRACTICAL])
def test_practical(bot: Stack, question: str, facts: list[str]) -> None:
    assert_facts(ask(bot, question), *facts)


OTHER_DOCUMENTS = [
    ("hvor mange frivillige har region sjaelland", ["450"]),
    ("hvad er de tre fokusområder i region sjællands frivilligpolitik", ["teknolog|digital", "lokal|relationer", "attraktivt|let"]),
    ("hvornår er noget en frivillig indsats ifølge region sjælland", ["ulønnet", "familie", "supplement"]),
    ("hvem er frivillighedskoordinatorerne", ["koordinator"]),
    ("hvilke organisationer samarbejder region sjælland med", ["Røde Kors", "Ældre Sagen|Kræftens Bekæmpelse"]),
    ("hvad sker der med region sjælland i 2027", ["Østdanmark", "2027"]),
    ("hvad er specialsektorens vision", ["inklusion|medborgerskab"]),
    ("hvad er de ni principper i specialsektoren", ["borgeren i centrum|supplement"]),
    ("specialsektorens værdier", ["professionalisme", "ordentlighed", "lydhørhed"]),
    ("hvordan kontakter jeg specialsektoren", ["97 ?64 ?80 ?60"]),
    ("hvad anbefalede udvalget om civilsamfundet", ["samskabelse"]),
]


@pytest.mark.parametrize(("question", "facts"), OTHER_DOCUMENTS, ids=[q for q, _ in OTHER_DOCUMENTS])
def test_other_documents(bot: Stack, question: str, facts: list[str]) -> None:
    assert_facts(ask(bot, question), *facts)


SIGNPOSTING = [
    ("hvor finder jeg et frivilligcenter", ["65", "frise\\.dk"]),
    ("hvad er center for frivilligt socialt arbejde", ["1992", "frivillighed\\.dk"]),
    ("hvor kan jeg finde frivilligjob på nettet", ["frivilligjob\\.dk"]),
    ("hvem er kontaktpersonen i midtjylland", ["Anders", "andkri@rm\\.dk|51 ?27 ?07 ?40"]),
]


@pytest.mark.parametrize(("question", "facts"), SIGNPOSTING, ids=[q for q, _ in SIGNPOSTING])
def test_signposting(bot: Stack, question: str, facts: list[str]) -> None:
    assert_facts(ask(bot, question), *facts)


def test_patients_and_relatives(bot: Stack) -> None:
    assert_facts(ask(bot, "min mor er indlagt, kan hun få en frivillig til at besøge sig"), "frivillig", "personale|afdeling|selv|bestemmer")
    assert_facts(ask(bot, "skal man have en henvisning for at få hjælp af en frivillig"), "henvis", "112")


SAFETY = [
    ("hjælp han har ondt i brystet", ["112"]),
    ("det brænder i min lejlighed", ["112"]),
    ("jeg har lyst til at tage mit eget liv", ["70 ?201 ?201", "112"]),
    ("hvor mange panodiler må jeg tage", ["læge|lægevagt|1813"]),
]


@pytest.mark.parametrize(("question", "facts"), SAFETY, ids=[q for q, _ in SAFETY])
def test_safety(bot: Stack, question: str, facts: list[str]) -> None:
    assert_facts(ask(bot, question), *facts)


def test_conversation_basics(bot: Stack) -> None:
    sender = f"basics-{uuid.uuid4().hex[:8]}"
    greeting = bot.say(sender, "goddag")
    assert re.search("frivillig", texts(greeting), re.I) and len(greeting[0].get("buttons") or []) >= 3
    assert_facts(ask(bot, "hjælp"), "frivillig", "tavshedspligt|pejlemærke")
    assert_facts(ask(bot, "tusind tak"), "selv tak")
    assert_facts(ask(bot, "farvel"), "farvel")
    assert_facts(ask(bot, "taler jeg med en computer"), "chatbot")
    assert_facts(ask(bot, "Hi, I would like to volunteer"), "Danish")


def test_two_stage_fallback(bot: Stack) -> None:
    sender = f"fallback-{uuid.uuid4().hex[:8]}"
    first = bot.say(sender, "xkcd blorp fnord")
    assert re.search("forstod|mente du", texts(first), re.I)
    assert len([b for r in first for b in r.get("buttons") or []]) >= 2
    second = texts(bot.say(sender, "zzkx qwpp vvb"))
    assert re.search("koordinator", second, re.I)


def test_a_role_then_sign_up_keeps_the_role(bot: Stack) -> None:
    sender = f"ctx-{uuid.uuid4().hex[:8]}"
    bot.say(sender, "hvad laver en vejviser")
    answer = texts(bot.say(sender, "hvordan bliver jeg det"))
    assert re.search("Røde Kors|melde dig", answer) and "Vil du skrive dig op?" in answer and not re.search("hvad hedder du", answer, re.I)
    form = texts(bot.say(sender, "ja tak"))
    assert re.search("Vejviser", form) and re.search("hvad hedder du", form, re.I)
