"""The pivot router over hand-written pairs: which path it picks and what it says."""

from __future__ import annotations

import pytest

from bot.mt.router import NoRoute, Route, TranslationRouter


class Tagger:
    """A pair that marks the text with its own name, so a chain shows its order."""

    def __init__(self, source: str, target: str) -> None:
        self.engine = f"fake:{source}-{target}"
        self.source = source
        self.target = target
        self.closed = False

    def translate(self, text: str) -> str:
        return f"{text}>{self.target}"

    def close(self) -> None:
        self.closed = True


def router(*pairs: str, **options: object) -> TranslationRouter:
    return TranslationRouter([Tagger(*pair.split("-")) for pair in pairs], **options)  # type: ignore[arg-type]


# The shape of the installed Apertium pairs.
APERTIUM = ("es-en", "en-es", "fr-es", "es-fr", "es-pt", "pt-es", "es-it", "it-es",
            "en-ca", "ca-en")


def test_same_language_is_noop() -> None:
    route = router(*APERTIUM).route("es", "es")
    assert route == Route("es", "es", ())
    assert route.engine == "noop"
    assert router().translate(route, "hola") == "hola"


def test_direct_pair() -> None:
    route = router(*APERTIUM).route("es", "en")
    assert route.hops == ("fake:es-en",)
    assert not route.via_speech
    assert route.engine == "fake:es-en"


def test_pivot_via_spanish() -> None:
    r = router(*APERTIUM)
    route = r.route("fr", "en")
    assert route.hops == ("fake:fr-es", "fake:es-en")
    assert route.engine == "fake:fr-es>fake:es-en"
    assert r.translate(route, "bonjour") == "bonjour>es>en"


def test_pivot_via_english() -> None:
    route = router(*APERTIUM).route("ca", "es")
    assert route.hops == ("fake:ca-en", "fake:en-es")


def test_english_preferred_over_spanish_on_equal_length() -> None:
    route = router("fr-es", "es-de", "fr-en", "en-de", "fr-it", "it-de").route("fr", "de")
    assert route.hops == ("fake:fr-en", "fake:en-de")
    route = router("fr-es", "es-de", "fr-it", "it-de").route("fr", "de")
    assert route.hops == ("fake:fr-es", "fake:es-de")


def test_shorter_path_beats_pivot() -> None:
    route = router("fr-it", "it-de", "fr-en", "en-es", "es-de").route("fr", "de")
    assert route.hops == ("fake:fr-it", "fake:it-de")


def test_three_hops_at_most() -> None:
    chain = ("ca-fr", "fr-it", "it-pt", "pt-nl")
    assert router(*chain).route("ca", "pt").engine == "fake:ca-fr>fake:fr-it>fake:it-pt"
    with pytest.raises(NoRoute):
        router(*chain, speech_to_english=False).route("ca", "nl")
    assert len(router(*chain, max_hops=4).route("ca", "nl").hops) == 4


def test_speech_to_english_when_no_text_path() -> None:
    route = router(*APERTIUM).route("de", "en")
    assert route == Route("de", "en", (), via_speech=True)
    assert route.engine == "whisper:translate"


def test_speech_to_english_then_text() -> None:
    r = router(*APERTIUM)
    route = r.route("de", "es")
    assert route.via_speech
    assert route.hops == ("fake:en-es",)
    assert route.engine == "whisper:translate>fake:en-es"
    # The caller hands over Whisper's English; the router does the rest.
    assert r.translate(route, "good morning") == "good morning>es"
    assert r.route("de", "pt").engine == "whisper:translate>fake:en-es>fake:es-pt"


def test_text_path_preferred_over_speech() -> None:
    route = router(*APERTIUM).route("it", "en")
    assert route.hops == ("fake:it-es", "fake:es-en")
    assert not route.via_speech


def test_no_route_lists_what_is_reachable() -> None:
    r = router("en-es", "es-pt")
    with pytest.raises(NoRoute) as raised:
        r.route("de", "fr")
    assert str(raised.value) == "no translation path from de to fr; reachable from de: en, es, pt"


def test_no_speech_route_when_disabled() -> None:
    r = router(*APERTIUM, speech_to_english=False)
    with pytest.raises(NoRoute, match="reachable from de: nothing"):
        r.route("de", "en")
    assert r.reachable("de") == []


def test_unknown_source_cannot_go_via_speech() -> None:
    with pytest.raises(NoRoute):
        router(*APERTIUM).route("xx", "en")


def test_reachable_and_pairs() -> None:
    r = router(*APERTIUM)
    assert r.reachable("fr") == ["ca", "en", "es", "it", "pt"]
    assert r.reachable("de") == ["ca", "en", "es", "fr", "it", "pt"]
    assert ("es", "en") in r.pairs()
    assert len(r.pairs()) == len(APERTIUM)


def test_close_closes_every_translator() -> None:
    translators = [Tagger("es", "en"), Tagger("en", "es")]
    TranslationRouter(translators).close()
    assert all(t.closed for t in translators)
