"""Classification and kennisbank search: Dutch inflection, compounds, typing and OCR errors."""

import pytest

from kcc_routing.classify import default_classifier, without_identifiers
from kcc_routing.evaluate import evaluate, load_messages
from kcc_routing.knowledge import load_knowledge
from kcc_routing.organisation import Organisation, load_default_config
from kcc_routing.taxonomy import load_taxonomy
from kcc_routing.text import Vocabulary, canon, edit_distance, stem, terms


def top(text: str, n: int = 1) -> list[str]:
    return [c.product.name for c in default_classifier().rank(text, limit=n)]


def test_dutch_inflection_meets_the_base_form():
    assert stem("paspoorten") == stem("paspoort")
    assert stem("aanvragen") == stem("aanvraag")
    assert terms("Wij willen graag een uittreksel") == ["uittreksel"]


def test_ocr_confusions_are_undone_on_both_sides():
    assert canon("intemet") == canon("internet")
    assert canon("vemieuwd") == canon("vernieuwd")
    assert canon("gebmik") == canon("gebruik")
    assert edit_distance("kwijtscheiding", "kwijtschelding", 2) == 1
    known = stem(canon("kwijtschelding"))
    vocabulary = Vocabulary({known, "afval", "container"})
    assert vocabulary.match(known) == ((known, 1.0),)
    assert vocabulary.match(stem(canon("kwijtscheiding"))) == ((known, 0.8),)  # typo: fuzzy
    assert {t for t, _ in vocabulary.match("afvalcontainer")} == {"afval", "container"}


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("Mijn paspoort is verlopen, hoe vraag ik een nieuwe aan?", "paspoort"),
        ("Mijn paspoorten zijn verlopen", "paspoort"),  # plural
        ("Ik wil rnijn nieuwe adres doorgeven, ik ben verhuisd", "verhuismelding"),  # rn/m
        ("de huisvuilcontainer is weer niet geleegd", "huishoudelijk afvalinzameling"),  # compound
        ("Ik wi1 een bijstandsuitkerlng aanvragen", "bijstand"),  # OCR 1/l, i/l
        ("kwijtscheiding van de gemeentelijke belasting", "belastingkwijtschelding"),  # typo
        ("Er zit een wespennest onder het dak", "ongediertebestrijding"),
    ],
)
def test_typical_messages_classify_to_their_product(text, product):
    assert top(text, 3)[0] == product


def test_the_evaluation_set_reaches_its_bar():
    messages = load_messages()
    assert len(messages) >= 150
    assert {m["channel"] for m in messages} >= {"email", "web", "letter", "social"}
    taxonomy = load_taxonomy()
    assert all(taxonomy.by_uri(m["upl_uri"]) for m in messages)  # labels are real municipal UPL URIs
    result = evaluate(default_classifier(), messages)
    assert result.top3_accuracy >= 0.90
    assert result.top1_accuracy <= result.top3_accuracy


def test_an_empty_or_meaningless_text_recognises_nothing():
    assert default_classifier().rank("") == []
    assert default_classifier().rank("hallo daar, groetjes") == []


def test_every_municipal_product_has_exactly_one_owner():
    organisation = Organisation(load_default_config(), load_taxonomy())
    owned = [p.uri for d in organisation.departments for p in organisation.products_of(d)]
    assert len(owned) == len(set(owned)) == len(load_taxonomy()) == 450
    assert organisation.owner("http://standaarden.overheid.nl/owms/terms/paspoort").id == "burgerzaken"
    assert organisation.owner("http://standaarden.overheid.nl/owms/terms/hondenbelasting").id == "belastingen"
    assert organisation.owner("http://standaarden.overheid.nl/owms/terms/afvalinzameling_grofvuil").id == "milieudienst"


def test_phases_in_the_default_configuration():
    config = load_default_config()
    phase1 = {d.id for d in config.departments if d.phase == 1}
    assert phase1 == {"kcc", "burgerzaken", "belastingen"}
    assert all(str(d.joins_kcc_on) == "2012-07-01" for d in config.departments if d.phase == 1)
    later = [d.joins_kcc_on for d in config.departments if d.phase == 2]
    assert {"sozawe", "milieudienst", "roez"} <= {d.id for d in config.departments if d.phase == 2}
    assert all(str(day) > "2012-07-01" and str(day) <= "2013-12-31" for day in later)


def test_knowledge_base_has_a_hundred_items_and_forgives_typos():
    knowledge = load_knowledge()
    assert len(knowledge.items) >= 100
    assert {i.upl_uri for i in knowledge.items} <= {p.uri for p in load_taxonomy().products}
    clean = knowledge.search("grofvuil laten ophalen", limit=3)
    typo = knowledge.search("grofvuii laten ophaien", limit=3)
    assert clean[0].item.upl_name == "afvalinzameling grofvuil"
    assert typo[0].item.id == clean[0].item.id
    ocr = knowledge.search("paspoort vemieuwen", limit=3)
    assert ocr[0].item.upl_name == "paspoort"
    assert knowledge.search("qqqq") == []


def test_reply_templates_start_from_the_products_kennisbank_answers():
    from kcc_routing.knowledge import reply_templates

    knowledge = load_knowledge()
    paspoort = "http://standaarden.overheid.nl/owms/terms/paspoort"
    templates = reply_templates(knowledge, upl_uri=paspoort)
    items = [i for i in knowledge.items if i.upl_uri == paspoort]
    assert len(templates) == len(items) >= 2
    first = templates[0]
    assert first["template_id"] == f"reply-{items[0].id}" and items[0].answer in first["text"]
    assert first["text"].startswith("Beste {naam},") and "{referentie}" in first["text"] and "{ontvangen}" in first["text"]
    assert reply_templates(knowledge, upl_uri="http://standaarden.overheid.nl/owms/terms/onbekend") == []


def test_a_compound_written_apart_is_joined_again_but_a_word_and_a_suffix_are_not():
    lexical = default_classifier().lexical
    assert "uittreksel" in lexical.split_compounds("ik wil een uit treksel uit de basis registratie")
    assert "hondenbelasting" in lexical.split_compounds("een vraag over de hond en belasting")
    assert lexical.split_compounds("ik ben net vader van een dochter en ik wil haar aangeven") == set()
    best = max(lexical.scores("ja goedemiddag ik bel over mijn rij bewijs die is verlopen").items(), key=lambda kv: kv[1])
    assert lexical.taxonomy.by_uri(best[0]).name == "rijbewijs"


def test_english_is_left_to_the_encoder_and_its_function_words_are_no_terms():
    assert terms("Hello, I just moved to the Netherlands, how do I register at the municipality?") == ["moved", "register"]
    classifier = default_classifier()
    english = "Hello, I did not receive my voting pass for the municipal elections next week. What should I do?"
    assert classifier.words(english) == {}
    assert classifier.words("Ik heb mijn stempas niet ontvangen") != {}
    assert classifier.rank(english)[0].product.name in {"stempas", "kiezerspas"}


def test_a_reference_code_the_text_names_goes_wherever_it_is_repeated_and_other_words_stay():
    assert without_identifiers("Bezwaar Z2025-77: ik ben het niet eens met de aanslag. Ons kenmerk: Z2025-77.").split() == [
        "Bezwaar", ":", "ik", "ben", "het", "niet", "eens", "met", "de", "aanslag.", "Ons", "kenmerk:", "."
    ]
    assert "qzvhkramedbt" not in without_identifiers("Bijstand qzvhkramedbt Ik wil bijstand. Kenmerk qzvhkramedbt.")
    # Not a code: the word after "kenmerk" that goes on, or a word without a digit mid-sentence.
    for text in ("Wat is het kenmerk van een monument?", "Mijn dossiernummer weet ik niet meer"):
        assert without_identifiers(text) == text
