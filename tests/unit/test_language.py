"""The per-speaker language tracker over hand-written probability sequences."""

from __future__ import annotations

from bot.pipeline.language import LanguageTracker

CLEAR_EN = {"en": 0.9, "es": 0.06, "pt": 0.04}
CLEAR_ES = {"es": 0.9, "en": 0.06, "pt": 0.04}
NOISY_ES = {"es": 0.55, "pt": 0.45}


def settled(lang_probs: dict[str, float], times: int = 5, **options: object) -> LanguageTracker:
    tracker = LanguageTracker(**options)  # type: ignore[arg-type]
    for _ in range(times):
        tracker.observe(lang_probs)
    return tracker


def utterances_until_switch(tracker: LanguageTracker, probs: dict[str, float], target: str,
                            weight: float = 1.0, limit: int = 50) -> int:
    for count in range(1, limit + 1):
        if tracker.observe(probs, weight) == target:
            return count
    raise AssertionError(f"never switched to {target} in {limit} utterances")


def test_fixed_language_always_wins() -> None:
    tracker = LanguageTracker(fixed="de")
    assert tracker.current == "de"
    assert tracker.forced == "de"
    for _ in range(10):
        assert tracker.observe({"en": 0.99}) == "de"
    assert tracker.observe({}) == "de"
    assert tracker.current == "de"


def test_automatic_forces_nothing() -> None:
    tracker = LanguageTracker()
    assert tracker.forced is None
    assert tracker.current is None


def test_first_observation_sets_current_even_when_unsure() -> None:
    tracker = LanguageTracker()
    assert tracker.observe({"fr": 0.4, "en": 0.35, "es": 0.25}) == "fr"
    assert tracker.current == "fr"


def test_agreeing_observations_keep_the_language() -> None:
    tracker = settled(CLEAR_EN)
    assert tracker.current == "en"
    assert tracker.observe({"en": 0.6, "es": 0.4}) == "en"


def test_one_noisy_utterance_does_not_flip() -> None:
    tracker = settled(CLEAR_EN, times=4)
    assert tracker.observe(NOISY_ES) == "en"
    assert tracker.current == "en"
    # Nor does a fairly confident but single one.
    assert tracker.observe({"es": 0.85, "en": 0.15}) == "en"


def test_noisy_utterances_alternating_do_not_flip() -> None:
    tracker = settled(CLEAR_EN, times=4)
    for _ in range(10):
        assert tracker.observe(NOISY_ES) == "en"
        assert tracker.observe(CLEAR_EN) == "en"
    assert tracker.current == "en"


def test_sustained_new_language_flips_after_a_few_utterances() -> None:
    tracker = settled(CLEAR_EN, times=6)
    count = utterances_until_switch(tracker, CLEAR_ES, "es")
    assert 2 <= count <= 4
    assert tracker.current == "es"
    # And it stays.
    assert tracker.observe(CLEAR_ES) == "es"


def test_a_near_certain_full_weight_utterance_flips_at_once() -> None:
    tracker = settled(CLEAR_EN, times=10)
    assert tracker.observe({"es": 0.98, "en": 0.02}) == "es"
    assert tracker.current == "es"


def test_certainty_threshold_is_inclusive() -> None:
    tracker = settled(CLEAR_EN, times=10)
    assert tracker.observe({"es": 0.97, "en": 0.03}) == "es"


def test_just_below_certain_does_not_flip_at_once() -> None:
    tracker = settled(CLEAR_EN, times=10)
    assert tracker.observe({"es": 0.96, "en": 0.04}) == "en"


def test_a_near_certain_short_utterance_does_not_flip_at_once() -> None:
    tracker = settled(CLEAR_EN, times=10)
    assert tracker.observe({"es": 0.99, "en": 0.01}, weight=0.4) == "en"
    tracker = settled(CLEAR_EN, times=10)
    assert tracker.observe({"es": 0.99, "en": 0.01}, weight=0.5) == "es"


def test_low_weight_counts_less() -> None:
    heavy = settled(CLEAR_EN, times=6)
    light = settled(CLEAR_EN, times=6)
    heavy_count = utterances_until_switch(heavy, CLEAR_ES, "es", weight=1.0)
    light_count = utterances_until_switch(light, CLEAR_ES, "es", weight=0.2)
    assert light_count > heavy_count


def test_zero_weight_changes_no_score() -> None:
    tracker = settled(CLEAR_EN, times=6)
    for _ in range(20):
        assert tracker.observe(CLEAR_ES, weight=0.0) == "en"


def test_allowed_set_filters_the_candidates() -> None:
    tracker = LanguageTracker(allowed=("en", "es"))
    assert tracker.observe({"pt": 0.7, "es": 0.2, "en": 0.1}) == "es"
    # A near certain language outside the set can never be chosen.
    for _ in range(10):
        assert tracker.observe({"pt": 0.99, "es": 0.006, "en": 0.004}) in {"en", "es"}
    assert tracker.current in {"en", "es"}


def test_allowed_set_with_no_candidate_keeps_current() -> None:
    tracker = LanguageTracker(allowed=("en", "es"))
    tracker.observe({"es": 0.9, "en": 0.1})
    assert tracker.observe({"pt": 1.0}) == "es"


def test_no_evidence_falls_back() -> None:
    assert LanguageTracker().observe({}) == "en"
    assert LanguageTracker(allowed=("fr", "de")).observe({"pt": 1.0}) == "fr"
    assert LanguageTracker().current is None


def test_no_memory_switches_on_the_next_clear_lead() -> None:
    tracker = settled(CLEAR_EN, times=10, smoothing=0.0)
    assert tracker.observe(CLEAR_ES) == "es"


def test_wider_margin_switches_later() -> None:
    narrow = settled(CLEAR_EN, times=6, margin=0.1)
    wide = settled(CLEAR_EN, times=6, margin=0.6)
    assert utterances_until_switch(wide, CLEAR_ES, "es") > utterances_until_switch(
        narrow, CLEAR_ES, "es")


def test_switches_to_the_score_leader_not_to_a_noisy_best() -> None:
    tracker = settled(CLEAR_EN, times=6)
    assert tracker.observe(CLEAR_ES) == "en"
    # Portuguese is this utterance's best, but it does not lead the running scores, and
    # Spanish does not yet lead English by the margin.
    assert tracker.observe({"pt": 0.5, "es": 0.45, "en": 0.05}) == "en"
    # One more Spanish utterance: Spanish leads by the margin.
    assert tracker.observe(CLEAR_ES) == "es"


def test_short_or_digit_only_utterances_say_too_little_to_tell() -> None:
    from bot.asr.whisper import Transcript
    from bot.pipeline.recognizer import too_little_to_tell

    def t(text: str, lang: str = "en", duration: float = 2.0) -> Transcript:
        return Transcript(text=text, language=lang, duration=duration)

    assert too_little_to_tell(t("4 5 6 7."))
    assert too_little_to_tell(t("4567"))
    assert too_little_to_tell(t("四五六七", "zh"))
    assert too_little_to_tell(t("Thank you."))
    assert too_little_to_tell(t("...", duration=3.0))
    assert too_little_to_tell(t("Yes I agree with that", duration=0.8))
    assert not too_little_to_tell(t("Next slide, please."))
    assert not too_little_to_tell(t("Room 4 is free", duration=1.5))
    assert too_little_to_tell(t("广州市", "zh"))
    assert not too_little_to_tell(t("广州市房地产中介", "zh"))
