"""Dutch citizen questions across UPL products, names, addresses and identifiers for the
simulator, plus the OCR damage a scanned letter suffers.

The products are UPL names (`Gemeente=X`) that routing knows; `department` is the owner in the
Groningen 2012 organisation (routing's data/organisation.json, read when writing this, not
imported). Weights say how often citizens ask about a product: burgerzaken and waste dominate a
municipal contact centre ('s-Hertogenbosch, Jaarverslag 2018: 19,353 passports, 10,555 ID cards
and 17,032 driving licences against 174,444 calls); the rest is our estimate.
"""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    name: str  # UPL name
    department: str
    weight: float
    ivr: str  # telephone menu choice (routing's ivr_lines)
    counter: str | None  # counter service line, when the product is a counter product
    questions: tuple[str, ...]  # plain questions; {placeholders} filled per contact
    social: tuple[str, ...] = ()  # how people put it on social media


PRODUCTS: tuple[Product, ...] = (
    Product("paspoort", "burgerzaken", 9, "paspoort-id", "paspoort-id", (
        "Mijn paspoort is verlopen en ik ga over {weken} weken op vakantie naar {land}. Hoe snel kan ik een nieuw paspoort krijgen?",
        "Wij gaan met het gezin op reis en mijn zoon heeft nog geen eigen paspoort. Moet hij zelf mee naar het stadhuis bij de aanvraag?",
        "Ik wil een afspraak maken om mijn paspoort te vernieuwen. Wat kost een paspoort en wat moet ik meenemen?",
        "Mijn paspoort is klaar volgens de sms. Kan iemand anders het voor mij ophalen?",
    ), ("paspoort verlopen en over {weken} weken naar {land}, lukt dat nog?", "hoe lang duurt t voordat mn paspoort klaar is??")),
    Product("identiteitskaart", "burgerzaken", 6, "paspoort-id", "paspoort-id", (
        "Ik ben mijn identiteitskaart verloren. Hoe vraag ik een nieuwe aan en wat kost dat?",
        "Kan ik met mijn ID-kaart naar {land} of heb ik een paspoort nodig?",
        "Mijn identiteitskaart verloopt volgende maand. Moet ik daarvoor een afspraak maken?",
    ), ("id kaart kwijt, wat nu?",)),
    Product("rijbewijs", "burgerzaken", 6, "burgerzaken", "rijbewijs", (
        "Mijn rijbewijs verloopt over twee maanden. Kan ik de verlenging online aanvragen of moet ik langskomen?",
        "Ik heb mijn rijbewijs verloren. Wat moet ik doen om een nieuw rijbewijs aan te vragen?",
        "Hoe lang duurt het voordat mijn nieuwe rijbewijs klaar is?",
    ), ("rijbewijs verlopen, kan ik nog rijden tot de nieuwe er is?",)),
    Product("verhuismelding", "burgerzaken", 7, "verhuizen", "verhuizen", (
        "Per {datum} verhuis ik naar de {straat} {huisnummer}. Hoe geef ik mijn nieuwe adres door?",
        "Wij zijn verhuisd binnen de gemeente. Moeten mijn kinderen apart worden ingeschreven op het nieuwe adres?",
        "Ik heb mijn verhuizing online doorgegeven maar nog geen bevestiging ontvangen. Is het goed gegaan?",
    ), ("verhuizing doorgeven kan dat hier?", "net verhuisd naar de {straat}, hoe schrijf ik me in?")),
    Product("brp-uittreksel", "burgerzaken", 3, "burgerzaken", "uittreksel", (
        "Voor mijn nieuwe werkgever heb ik een uittreksel uit de basisregistratie personen nodig. Hoe vraag ik dat aan?",
        "Ik heb een uittreksel BRP met adreshistorie nodig voor de woningcorporatie. Wat kost dat?",
    )),
    Product("geboorteaangifte", "burgerzaken", 2, "burgerzaken", "aangifte", (
        "Onze dochter is {datum} geboren. Binnen hoeveel dagen moeten we aangifte doen en wat moeten we meenemen?",
        "Kan mijn partner de geboorteaangifte alleen doen als wij niet getrouwd zijn?",
    )),
    Product("overlijdensaangifte", "burgerzaken", 1, "burgerzaken", None, (
        "Mijn vader is afgelopen week overleden. De uitvaartondernemer heeft de aangifte gedaan, maar ik heb een akte van overlijden nodig voor de bank.",
    )),
    Product("huwelijksaangifte", "burgerzaken", 1.5, "burgerzaken", "aangifte", (
        "Wij willen volgend jaar trouwen. Hoe doen wij de melding voorgenomen huwelijk en hoe ver van tevoren moet dat?",
        "Kunnen wij op {datum} trouwen in het stadhuis en wat kost een trouwambtenaar?",
    )),
    Product("onroerendezaakbelasting (ozb)", "belastingen", 4, "belastingen", None, (
        "Ik heb de aanslag gemeentelijke belastingen ontvangen. Waarom is de OZB dit jaar zo veel hoger dan vorig jaar?",
        "Wij hebben ons huis in {maand} verkocht. Krijgen we een deel van de onroerendezaakbelasting terug?",
    ), ("waarom is de ozb zo hoog dit jaar?",)),
    Product("woz-beschikking", "belastingen", 4, "woz", None, (
        "De WOZ-waarde van mijn woning aan de {straat} is veel te hoog vastgesteld. Hoe maak ik bezwaar tegen de WOZ-beschikking?",
        "Kunt u mij het taxatieverslag van de WOZ-waarde van mijn woning sturen?",
    )),
    Product("hondenbelasting", "belastingen", 1.5, "belastingen", None, (
        "Onze hond is in {maand} overleden. Hoe meld ik de hond af voor de hondenbelasting?",
        "Ik heb een aanslag hondenbelasting gekregen maar ik heb helemaal geen hond.",
    )),
    Product("belastingkwijtschelding", "belastingen", 2.5, "belastingen", None, (
        "Ik heb een bijstandsuitkering en kan de aanslag gemeentelijke belastingen niet betalen. Kan ik kwijtschelding aanvragen?",
        "Mijn verzoek om kwijtschelding is afgewezen. Hoe kan ik daartegen bezwaar maken?",
    )),
    Product("belastingbetalingsregeling", "belastingen", 1.5, "belastingen", None, (
        "Kan ik de aanslag gemeentelijke belastingen in termijnen betalen met automatische incasso?",
    )),
    Product("bijstand", "sozawe", 4, "werk-inkomen", None, (
        "Ik ben mijn baan kwijtgeraakt en mijn WW stopt volgende maand. Kan ik een bijstandsuitkering aanvragen?",
        "Mijn uitkering is deze maand niet op mijn rekening gestort. Wanneer wordt de bijstand betaald?",
        "Ik ga samenwonen. Wat betekent dat voor mijn bijstandsuitkering?",
    ), ("wanneer wordt de uitkering gestort deze maand?",)),
    Product("schuldhulpverlening", "sozawe", 2.5, "werk-inkomen", None, (
        "Ik heb schulden en kom er zelf niet meer uit. Kan de gemeente mij helpen met schuldhulpverlening?",
        "Hoe lang is de wachttijd voor een eerste gesprek bij de schuldhulpverlening?",
    )),
    Product("huishoudelijke hulp", "sozawe", 2, "zorg-wmo", None, (
        "Mijn moeder van {leeftijd} kan het huishouden niet meer alleen aan. Hoe vragen wij huishoudelijke hulp aan via de Wmo?",
    )),
    Product("wmo-voorziening", "sozawe", 2, "zorg-wmo", None, (
        "Ik heb sinds mijn heupoperatie moeite met lopen. Kom ik in aanmerking voor een scootmobiel via de Wmo?",
        "Wat is de eigen bijdrage voor een Wmo-voorziening?",
    )),
    Product("stadspas", "sozawe", 1.5, "werk-inkomen", None, (
        "Hoe vraag ik een Stadspas aan voor mij en mijn kinderen en welke kortingen geeft die?",
    )),
    Product("afvalinzameling grofvuil", "milieudienst", 5, "afval", None, (
        "Ik wil een oude bank en een matras laten ophalen. Hoe maak ik een afspraak voor het ophalen van grofvuil?",
        "Het grofvuil dat voor {datum} was afgesproken is niet opgehaald. Wanneer komen jullie alsnog?",
    ), ("grofvuil staat al 3 dagen buiten, wordt t nog opgehaald?",)),
    Product("huishoudelijk afvalinzameling", "milieudienst", 5, "afval", None, (
        "De grijze container in de {straat} is vandaag niet geleegd. Kunt u dat nog laten doen?",
        "Op welke dag wordt de groene container bij ons in de wijk geleegd nu de feestdagen eraan komen?",
    ), ("container weer niet geleegd in de {straat} 😡", "wanneer wordt de groene bak geleegd?")),
    Product("afvalcontainer", "milieudienst", 3, "afval", None, (
        "Onze minicontainer is gestolen. Hoe krijg ik een nieuwe container en wat kost dat?",
        "Ik wil graag een extra papiercontainer aanvragen voor ons gezin.",
    )),
    Product("ongediertebestrijding", "milieudienst", 1.5, "afval", None, (
        "In onze tuin aan de {straat} zitten ratten. Kan de gemeente daar iets aan doen?",
    ), ("ratten in de tuin, wie moet ik bellen?",)),
    Product("melding openbare ruimte (straatverlichting)", "stadsbeheer", 3, "openbare-ruimte", None, (
        "De lantaarnpaal voor nummer {huisnummer} in de {straat} brandt al een week niet. Het is er 's avonds erg donker.",
    ), ("lantaarnpaal kapot in de {straat}, al dagen donker",)),
    Product("melding openbare ruimte (algemeen)", "stadsbeheer", 3, "openbare-ruimte", None, (
        "Er ligt een grote losse stoeptegel voor de {straat} {huisnummer}. Mijn moeder is er bijna over gestruikeld.",
        "Er staat al twee weken een fietswrak tegen het hek bij de {straat}. Wie ruimt dat op?",
    ), ("losse stoeptegels bij de {straat}, gevaarlijk!!",)),
    Product("gladheidbestrijding", "stadsbeheer", 1, "openbare-ruimte", None, (
        "Het fietspad langs de {straat} is spiegelglad en er is nog niet gestrooid. Wanneer wordt daar gestrooid?",
    )),
    Product("parkeervergunning", "stadsbeheer", 3, "parkeren", None, (
        "Ik woon sinds kort in de {straat}. Hoe vraag ik een parkeervergunning voor bewoners aan en hoe lang is de wachtlijst?",
        "Ik heb een nieuwe auto met kenteken {kenteken}. Hoe zet ik mijn parkeervergunning over?",
    )),
    Product("omgevingsvergunning bouw", "roez", 3, "bouwen", None, (
        "Wij willen een dakkapel plaatsen aan de achterkant van ons huis. Hebben wij daarvoor een omgevingsvergunning nodig?",
        "Ik wil een schuur van 4 bij 3 meter in mijn achtertuin bouwen. Is dat vergunningvrij?",
    )),
    Product("evenementenvergunning", "roez", 1, "bouwen", None, (
        "Wij willen op {datum} een straatfeest organiseren in de {straat}. Welke vergunning hebben wij nodig?",
    )),
    Product("klacht", "kcc", 2, "overig", None, (
        "Ik heb drie keer gebeld over mijn aanvraag en ben nog steeds niet teruggebeld. Ik wil hierover een klacht indienen.",
        "De medewerker aan de balie was erg onvriendelijk tegen mijn vader. Hoe dien ik een klacht in?",
    )),
    Product("digid", "kcc", 2, "overig", None, (
        "Ik kan niet meer inloggen met mijn DigiD. Kan de gemeente mij helpen met een nieuwe activeringscode?",
    )),
    Product("gevonden of verloren voorwerp", "kcc", 1, "overig", None, (
        "Ik heb gisteren mijn portemonnee verloren in de bus naar het centrum. Is die bij de gemeente afgegeven?",
    )),
    Product("bezoekafspraak", "kcc", 1.5, "overig", None, (
        "Hoe laat is het stadhuis open op donderdag en kan ik zonder afspraak langskomen?",
    )),
)

FIRST_NAMES = ("Jan", "Anna", "Pieter", "Sanne", "Henk", "Fatima", "Mohamed", "Lisa", "Kees", "Ingrid", "Daan", "Emma",
               "Bram", "Femke", "Wim", "Noor", "Sven", "Annelies", "Ahmet", "Joke", "Luuk", "Marleen", "Thijs", "Yvonne")
LAST_NAMES = ("de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos",
              "Vos", "Peters", "Hendriks", "Dijkstra", "Postma", "Hoekstra", "Kramer", "van der Meer", "Yilmaz", "El Amrani")
STREETS = ("Herestraat", "Oosterstraat", "Paterswoldseweg", "Korreweg", "Zonnelaan", "Eikenlaan", "Vinkenstraat",
           "Helperzoom", "Diamantlaan", "Hoornsediep", "Peizerweg", "Damsterdiep", "Kerklaan", "Nieuwe Ebbingestraat")
COUNTRIES = ("Turkije", "Spanje", "Marokko", "Griekenland", "Thailand", "de Verenigde Staten", "Suriname", "Italië")
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december")
GREETINGS = ("Goedemorgen,", "Beste,", "Geachte heer/mevrouw,", "Hallo,", "Goedemiddag,")
CLOSINGS = ("Met vriendelijke groet,", "Alvast bedankt!", "Groeten,", "Hoogachtend,")
LETTER_OPENINGS = ("Geachte heer/mevrouw,", "Geacht college,", "Aan de gemeente Groningen,")
LETTER_CLOSINGS = ("Hoogachtend,", "Met vriendelijke groet,", "In afwachting van uw antwoord verblijf ik,")
SOCIAL_PLATFORMS = (("whatsapp", 0.6), ("facebook", 0.25), ("x", 0.15))


def pick_product(rng: random.Random, products: tuple[Product, ...] = PRODUCTS) -> Product:
    return rng.choices(products, weights=[p.weight for p in products])[0]


def name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def fill(template: str, rng: random.Random) -> str:
    letters = "BDFGHJKLNPRSTVXZ"
    return template.format(
        weken=rng.randint(2, 8), land=rng.choice(COUNTRIES), datum=f"{rng.randint(1, 28)} {rng.choice(MONTHS)}",
        straat=rng.choice(STREETS), huisnummer=rng.randint(1, 180), maand=rng.choice(MONTHS), leeftijd=rng.randint(72, 94),
        kenteken=f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randint(100, 999)}-{rng.choice(letters)}",
    )


def question(product: Product, channel: str, rng: random.Random, *, sender: str) -> tuple[str, str]:
    """A subject and a text as a citizen would write it on this channel."""
    if channel == "social" and product.social:
        return "", fill(rng.choice(product.social), rng)
    body = fill(rng.choice(product.questions), rng)
    subject = _subject(product)
    if channel == "social":
        return "", body[0].lower() + body[1:]
    if channel == "letter":
        text = f"{rng.choice(LETTER_OPENINGS)}\n\n{body}\n\n{rng.choice(LETTER_CLOSINGS)}\n{sender}\n{rng.choice(STREETS)} {rng.randint(1, 180)}, Groningen"
        return subject, text
    if channel == "email":
        return subject, f"{rng.choice(GREETINGS)}\n\n{body}\n\n{rng.choice(CLOSINGS)}\n{sender}"
    return subject, body  # web form: the form has its own fields around the message


def _subject(product: Product) -> str:
    short = product.name.split(" (")[0]
    return short[0].upper() + short[1:]


# --- identifiers ---------------------------------------------------------------------------------


def mobile_number(rng: random.Random) -> str:
    """A Dutch mobile number (06 + 8 digits), written as people write it."""
    digits = f"{rng.randint(10_000_000, 59_999_999)}"  # 06-1 .. 06-5: mobile ranges in use
    return rng.choice((f"06-{digits}", f"06 {digits[:4]} {digits[4:]}", f"+316{digits}"))


def bsn(rng: random.Random) -> str:
    """A BSN that passes the 11-proef (weights 9..2 and -1)."""
    while True:
        head = [rng.randint(0, 9) for _ in range(8)]
        if head[0] == 0:
            continue
        total = sum(d * w for d, w in zip(head, range(9, 1, -1), strict=True))
        last = total % 11
        if last <= 9:
            return "".join(map(str, head)) + str(last)


def email_address(person: str, rng: random.Random) -> str:
    first, *rest = person.lower().split()
    last = "".join(rest).replace(" ", "")
    return f"{first}.{last}{rng.randint(1, 99)}@{rng.choice(('example.nl', 'example.com', 'example.org'))}"


# --- OCR damage ------------------------------------------------------------------------------------

# Confusions seen in the seed letter's scan ("gebmik", "vemieuwd", "kurmen", "speerpxmt", "intemet").
_OCR = (("ru", "m"), ("m", "rn"), ("rn", "m"), ("w", "vv"), ("n", "u"), ("u", "ii"), ("l", "1"), ("i", "l"),
        ("e", "c"), ("o", "0"), ("h", "b"), ("ui", "iii"), ("er", "cr"))


def ocr_damage(text: str, rng: random.Random, *, rate: float = 0.06) -> str:
    """The text as a scanner's OCR might read it: character confusions and split words."""
    words = text.split(" ")
    damaged = []
    for word in words:
        if len(word) > 3 and rng.random() < rate * 3:
            for wrong, read in rng.sample(_OCR, len(_OCR)):
                if wrong in word:
                    at = word.find(wrong)
                    word = word[:at] + read + word[at + len(wrong):]
                    break
        if len(word) > 6 and rng.random() < rate:
            cut = rng.randint(2, len(word) - 2)
            word = word[:cut] + " " + word[cut:]
        damaged.append(word)
    return " ".join(damaged)
