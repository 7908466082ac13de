"""Language codes as people and files spell them, mapped to the one code used inside."""

import pytest

from bot.languages import UnknownLanguage, normalize, parse_list


@pytest.mark.parametrize(("spelled", "code"), [
    ("es", "es"), ("ES", "es"), ("spa", "es"), ("es-ES", "es"), ("es_ES", "es"),
    ("Spanish", "es"), (" french ", "fr"), ("German", "de"), ("Haitian Creole", "ht"),
    ("pt-BR", "pt"), ("zh-TW", "zh"), ("cmn", "zh"), ("iw", "he"), ("jv", "jw"),
    ("nb", "no"), ("fil", "tl"),
])
def test_spellings_map_to_one_code(spelled: str, code: str) -> None:
    assert normalize(spelled) == code


@pytest.mark.parametrize("spelled", ["xx", "", "Klingon", "english-ish"])
def test_unknown_spellings_say_what_to_use(spelled: str) -> None:
    with pytest.raises(UnknownLanguage, match="ISO 639-1"):
        normalize(spelled)


def test_a_list_keeps_order_and_drops_repeats() -> None:
    assert parse_list("French, es,fr , English") == ["fr", "es", "en"]
