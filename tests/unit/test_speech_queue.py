from __future__ import annotations

import pytest

from bot.pipeline.speech_queue import SpeechQueue


def test_idle_queue_starts_now_at_normal_speed() -> None:
    queue = SpeechQueue()
    assert queue.speed_for(100.0) == 1.0
    assert queue.schedule(100.0, 2.0) == 100.0
    assert queue.backlog(100.0) == 2.0


def test_back_to_back_items_queue_behind_each_other() -> None:
    queue = SpeechQueue()
    assert queue.schedule(0.0, 2.0) == 0.0
    assert queue.schedule(0.5, 1.5) == 2.0
    assert queue.schedule(1.0, 1.0) == 3.5
    assert queue.backlog(1.0) == pytest.approx(3.5)


def test_item_after_a_gap_starts_when_it_arrives() -> None:
    queue = SpeechQueue()
    queue.schedule(0.0, 1.0)
    assert queue.schedule(5.0, 1.0) == 5.0


def test_backlog_raises_speed_monotonically_up_to_max_speed() -> None:
    queue = SpeechQueue(max_speed=1.5, speedup_after=1.0, max_lag=6.0)
    queue.schedule(0.0, 10.0)  # backlog 10 s at t=0, shrinking as time passes
    # Walk time forward so the backlog goes 10 s -> 0 s; speed must not rise as it shrinks.
    speeds = [queue.speed_for(t / 2) for t in range(21)]
    assert speeds[0] == 1.5  # backlog beyond max_lag: capped
    assert speeds[8] == 1.5  # backlog exactly max_lag
    assert all(a >= b for a, b in zip(speeds, speeds[1:], strict=False))
    assert queue.speed_for(6.5) == pytest.approx(1.25)  # halfway between 1 s and 6 s
    assert speeds[-1] == 1.0
    assert max(speeds) == 1.5


def test_speed_stays_normal_within_speedup_after() -> None:
    queue = SpeechQueue(speedup_after=1.0)
    queue.schedule(0.0, 1.0)
    assert queue.speed_for(0.0) == 1.0


def test_items_beyond_max_lag_are_dropped_and_counted() -> None:
    queue = SpeechQueue(max_lag=6.0)
    assert queue.schedule(0.0, 4.0) == 0.0
    assert queue.schedule(0.0, 2.0) == 4.0
    assert queue.schedule(0.0, 3.0) == 6.0  # starts exactly max_lag from now: kept
    assert queue.schedule(0.0, 2.5) is None  # would start 9 s from now
    assert queue.schedule(1.0, 1.5) is None  # would start 8 s from now
    assert queue.dropped == 2
    assert queue.dropped_seconds == pytest.approx(4.0)
    # A dropped clip takes no time on the track.
    assert queue.backlog(0.0) == pytest.approx(9.0)


def test_after_the_track_drains_speed_returns_to_normal() -> None:
    queue = SpeechQueue()
    for _ in range(5):
        queue.schedule(0.0, 2.0)
    assert queue.dropped == 1  # starts at 0, 2, 4, 6 are kept; 8 is too late
    assert queue.speed_for(0.0) == 1.5
    assert queue.speed_for(7.0) == 1.0
    assert queue.backlog(8.0) == 0.0
    assert queue.schedule(9.0, 1.0) == 9.0
    assert queue.speed_for(9.0) == 1.0
