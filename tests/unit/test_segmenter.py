"""The segmenter over hand-written (probability, loudness) windows of 32 ms."""

from __future__ import annotations

from collections.abc import Sequence

from bot.pipeline.segmenter import WINDOW_SECONDS, Boundary, Segmenter, SegmenterOptions

VOICE = (0.9, -20.0)
SILENCE = (0.05, -60.0)
QUIET_VOICE = (0.9, -60.0)  # confident VAD but under the loudness floor
UNSURE = (0.4, -30.0)  # between neg_threshold and threshold

# Default options in windows: hangover 12, long_hangover 31, pre_roll 8, min_speech 9,
# soft_max 375, split_pause 5, hard_max 625.


def feed(segmenter: Segmenter, windows: Sequence[tuple[float, float]]
         ) -> list[tuple[int, Boundary]]:
    """(index of the window that produced it, boundary) for every boundary."""
    out = []
    for probability, loudness in windows:
        index = segmenter.index
        out += [(index, b) for b in segmenter.push(probability, loudness)]
    return out


def kinds(events: list[tuple[int, Boundary]]) -> list[str]:
    return [b.kind for _, b in events]


def test_window_is_32_ms() -> None:
    assert WINDOW_SECONDS == 0.032


def test_silence_alone_opens_nothing() -> None:
    segmenter = Segmenter()
    assert feed(segmenter, [SILENCE] * 200) == []
    assert not segmenter.in_speech
    assert segmenter.flush() == []
    assert segmenter.close_now() == []


def test_start_needs_start_windows_consecutive_voiced_windows() -> None:
    segmenter = Segmenter()
    # Two voiced windows, a gap, two again: never three in a row.
    assert feed(segmenter, [VOICE, VOICE, SILENCE, VOICE, VOICE, UNSURE]) == []
    events = feed(segmenter, [VOICE, VOICE, VOICE])
    # Reported on the third voiced window; pre-roll reaches back to the stream start.
    assert events == [(8, Boundary("start", 0))]
    assert segmenter.in_speech


def test_start_with_custom_start_windows() -> None:
    segmenter = Segmenter(SegmenterOptions(start_windows=5, pre_roll=0.0))
    assert feed(segmenter, [VOICE] * 4) == []
    assert feed(segmenter, [VOICE]) == [(4, Boundary("start", 0))]


def test_pre_roll_reaches_back_before_the_first_voiced_window() -> None:
    segmenter = Segmenter()
    events = feed(segmenter, [SILENCE] * 20 + [VOICE] * 3)
    # First voiced window 20, pre-roll 0.25 s = 8 windows.
    assert events == [(22, Boundary("start", 12))]


def test_pre_roll_is_clamped_at_the_stream_start() -> None:
    segmenter = Segmenter()
    events = feed(segmenter, [SILENCE] * 3 + [VOICE] * 3)
    assert events == [(5, Boundary("start", 0))]


def test_loudness_floor_blocks_quiet_speech() -> None:
    segmenter = Segmenter()
    assert feed(segmenter, [QUIET_VOICE] * 100) == []
    assert not segmenter.in_speech
    # The same probability above the floor opens.
    assert kinds(feed(segmenter, [VOICE] * 3)) == ["start"]


def test_loudness_floor_is_an_option() -> None:
    segmenter = Segmenter(SegmenterOptions(loudness_floor_db=-70.0))
    assert kinds(feed(segmenter, [QUIET_VOICE] * 3)) == ["start"]


def test_quiet_windows_count_as_silence_inside_speech() -> None:
    segmenter = Segmenter()
    events = feed(segmenter, [VOICE] * 50 + [QUIET_VOICE] * 40)
    assert kinds(events) == ["start", "pause", "end"]


def test_pause_then_end_after_silence() -> None:
    segmenter = Segmenter(SegmenterOptions(long_hangover=1.0))
    events = feed(segmenter, [VOICE] * 50 + [SILENCE] * 40)
    # Last voiced window 49; speech_end pads by pre_roll // 2 = 4 windows.
    assert events == [
        (2, Boundary("start", 0)),
        (49 + 12, Boundary("pause", 54)),
        (49 + 31, Boundary("end", 54, "silence")),
    ]
    assert not segmenter.in_speech


def test_short_silence_reports_nothing() -> None:
    segmenter = Segmenter()
    events = feed(segmenter, [VOICE] * 50 + [SILENCE] * 11 + [VOICE] * 10)
    assert kinds(events) == ["start"]
    assert segmenter.in_speech


def test_resume_when_speech_comes_back_after_a_pause() -> None:
    segmenter = Segmenter(SegmenterOptions(long_hangover=1.0))
    events = feed(segmenter, [SILENCE] * 20 + [VOICE] * 50 + [SILENCE] * 15 + [VOICE] * 30
                  + [SILENCE] * 40)
    assert events == [
        (22, Boundary("start", 12)),
        (69 + 12, Boundary("pause", 74)),
        (85, Boundary("resume", 85)),
        (114 + 12, Boundary("pause", 119)),
        (114 + 31, Boundary("end", 119, "silence")),
    ]


def test_resume_after_a_pause_even_across_an_unsure_window() -> None:
    # An in-between window resets the silence count; the speech after it still resumes.
    segmenter = Segmenter()
    events = feed(segmenter, [VOICE] * 50 + [SILENCE] * 15 + [UNSURE] + [VOICE] * 10
                  + [SILENCE] * 40)
    assert kinds(events) == ["start", "pause", "resume", "pause", "end"]
    assert events[2] == (66, Boundary("resume", 66))


def test_unsure_windows_keep_an_utterance_open() -> None:
    segmenter = Segmenter()
    events = feed(segmenter, [VOICE] * 20 + [UNSURE] * 100)
    assert kinds(events) == ["start"]
    assert segmenter.in_speech


def test_close_now_ends_at_the_last_speech() -> None:
    segmenter = Segmenter()
    events = feed(segmenter, [VOICE] * 50 + [SILENCE] * 12)
    assert kinds(events) == ["start", "pause"]
    assert segmenter.close_now() == [Boundary("end", 54, "pause")]
    assert not segmenter.in_speech
    assert segmenter.close_now() == []
    # Silence goes on: nothing more is reported, and speech opens a new utterance.
    assert feed(segmenter, [SILENCE] * 40) == []
    assert kinds(feed(segmenter, [VOICE] * 3)) == ["start"]


def test_speech_end_never_passes_the_windows_seen() -> None:
    segmenter = Segmenter()
    feed(segmenter, [VOICE] * 10)
    assert segmenter.speech_end == 10  # last voiced 9 + 1 + 4 = 14, clamped to 10
    assert segmenter.close_now() == [Boundary("end", 10, "pause")]


def test_too_little_speech_is_dropped() -> None:
    segmenter = Segmenter()
    events = feed(segmenter, [VOICE] * 5 + [SILENCE] * 40)
    assert kinds(events) == ["start", "pause", "drop"]
    assert events[-1][1] == Boundary("drop", 9, "silence")


def test_min_speech_counts_voiced_windows_only() -> None:
    # 9 voiced windows (0.288 s) is exactly min_speech after rounding: kept.
    segmenter = Segmenter()
    assert kinds(feed(segmenter, [VOICE] * 9 + [SILENCE] * 40))[-1] == "end"
    # 8 voiced windows spread with unsure windows in between: still dropped.
    segmenter = Segmenter()
    windows = [VOICE] * 3 + [UNSURE, VOICE] * 5 + [SILENCE] * 40
    assert kinds(feed(segmenter, windows))[-1] == "drop"


def test_close_now_and_flush_drop_short_speech() -> None:
    segmenter = Segmenter()
    feed(segmenter, [VOICE] * 4)
    assert [b.kind for b in segmenter.close_now()] == ["drop"]
    segmenter = Segmenter()
    feed(segmenter, [VOICE] * 4)
    assert segmenter.flush() == [Boundary("drop", 4, "flush")]


def test_flush_ends_at_the_current_window() -> None:
    segmenter = Segmenter()
    feed(segmenter, [VOICE] * 40 + [SILENCE] * 5)
    assert segmenter.flush() == [Boundary("end", 45, "flush")]
    assert not segmenter.in_speech
    assert segmenter.flush() == []


def test_soft_max_splits_at_the_first_pause_after_it() -> None:
    segmenter = Segmenter()
    # A pause of 10 windows before soft_max (375) does not split...
    events = feed(segmenter, [VOICE] * 200 + [SILENCE] * 10 + [VOICE] * 190)
    assert kinds(events) == ["start"]
    # ...the first pause of split_pause (5) windows after it does.
    events = feed(segmenter, [SILENCE] * 5)
    assert events == [(404, Boundary("end", 405, "split"))]
    assert not segmenter.in_speech
    # The next words open a new utterance.
    events = feed(segmenter, [VOICE] * 20)
    assert kinds(events) == ["start"]


def test_soft_max_split_needs_split_pause() -> None:
    segmenter = Segmenter()
    events = feed(segmenter, [VOICE] * 400 + ([SILENCE] * 4 + [VOICE] * 3) * 10)
    assert kinds(events) == ["start"]


def test_hard_max_splits_at_the_quietest_window_and_continues() -> None:
    segmenter = Segmenter()
    windows = [VOICE] * 700
    windows[500] = (0.6, -30.0)
    events = feed(segmenter, windows)
    # length reaches hard_max (625 windows) at window 624.
    assert events == [
        (2, Boundary("start", 0)),
        (624, Boundary("end", 501, "max")),
        (624, Boundary("start", 501)),
    ]
    assert segmenter.in_speech
    assert segmenter.start == 501
    # The continuation keeps the speech after the cut: a flush right away is an end.
    assert [b.kind for b in segmenter.flush()] == ["end"]


def test_hard_max_picks_the_lowest_probability() -> None:
    segmenter = Segmenter()
    windows = [VOICE] * 700
    windows[300] = (0.2, -30.0)  # quieter, but outside the last 4 s before hard_max
    windows[540] = (0.55, -30.0)
    windows[600] = (0.65, -30.0)
    events = feed(segmenter, windows)
    assert [(b.kind, b.window, b.reason) for _, b in events][1:] == [
        ("end", 541, "max"), ("start", 541, "")]


def test_hard_max_keeps_splitting_a_long_monologue() -> None:
    segmenter = Segmenter()
    events = feed(segmenter, [VOICE] * 3000)
    ends = [b for _, b in events if b.kind == "end"]
    starts = [b for _, b in events if b.kind == "start"]
    assert len(ends) >= 4
    assert all(b.reason == "max" for b in ends)
    assert len(starts) == len(ends) + 1
    # Every cut reopens where it ended, and no piece is longer than hard_max.
    for end, start in zip(ends, starts[1:], strict=True):
        assert start.window == end.window
    bounds = [s.window for s in starts] + [segmenter.index]
    assert all(0 < b - a <= 625 for a, b in zip(bounds, bounds[1:], strict=False))


def test_custom_hangovers() -> None:
    options = SegmenterOptions(hangover=0.2, long_hangover=0.5, pre_roll=0.0)
    segmenter = Segmenter(options)
    events = feed(segmenter, [VOICE] * 20 + [SILENCE] * 20)
    # hangover round(6.25) = 6 windows, long_hangover round(15.6) = 16, no pad.
    assert events == [
        (2, Boundary("start", 0)),
        (19 + 6, Boundary("pause", 20)),
        (19 + 16, Boundary("end", 20, "silence")),
    ]


def test_long_hangover_not_shorter_than_hangover() -> None:
    segmenter = Segmenter(SegmenterOptions(hangover=1.0, long_hangover=0.2))
    events = feed(segmenter, [VOICE] * 20 + [SILENCE] * 40)
    # long_hangover is raised to hangover: the end comes, with no separate pause.
    assert kinds(events) == ["start", "end"]
    assert events[-1][0] == 19 + 31


def test_two_utterances_in_a_row() -> None:
    segmenter = Segmenter()
    events = feed(segmenter, ([VOICE] * 30 + [SILENCE] * 40) * 2)
    assert kinds(events) == ["start", "pause", "end", "start", "pause", "end"]
    second_start = events[3][1].window
    first_end = events[2][1].window
    assert second_start >= first_end
    assert second_start == 70 - 8
