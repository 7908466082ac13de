"""Plans one language's outbound interpretation track on a clock: pure, no audio, no threads.

An interpreter that falls behind the speaker is worse than one that skips a sentence:
listeners hear answers to questions nobody has asked yet. So a growing backlog first
makes the voice speak faster, and past `max_lag` new clips are dropped. Captions are
never dropped; they travel on their own channel.
"""

from __future__ import annotations

from prometheus_client import Counter

DROPPED_CLIPS = Counter("interpres_dropped_speech_clips",
                        "Synthesized speech clips dropped as stale.")
DROPPED_SECONDS = Counter("interpres_dropped_speech_seconds",
                          "Seconds of synthesized speech dropped as stale.")


class SpeechQueue:
    """Plans one language's outbound interpretation track: when the queue falls behind,
    speak faster, then drop stale audio (captions are never dropped)."""

    def __init__(
        self, max_speed: float = 1.5, speedup_after: float = 1.0, max_lag: float = 6.0
    ) -> None:
        assert max_speed >= 1.0, max_speed
        assert 0.0 <= speedup_after < max_lag, (speedup_after, max_lag)
        self.max_speed = max_speed
        self.speedup_after = speedup_after
        self.max_lag = max_lag
        self._busy_until = float("-inf")  # when the last scheduled clip finishes
        self.dropped = 0
        self.dropped_seconds = 0.0

    def backlog(self, now: float) -> float:
        """Seconds of already scheduled speech still to play at `now`."""
        return max(0.0, self._busy_until - now)

    def speed_for(self, now: float) -> float:
        """Synthesis speed for a clip about to be made: 1.0 while the backlog is at most
        `speedup_after`, then rising linearly to `max_speed` at a backlog of `max_lag`."""
        excess = self.backlog(now) - self.speedup_after
        if excess <= 0.0:
            return 1.0
        fraction = min(1.0, excess / (self.max_lag - self.speedup_after))
        return 1.0 + (self.max_speed - 1.0) * fraction

    def schedule(self, now: float, duration: float) -> float | None:
        """Start time of a `duration`-second clip on the track, or None if it would start
        more than `max_lag` after `now` (then it is dropped and counted)."""
        assert duration >= 0.0, duration
        start = max(now, self._busy_until)
        if start - now > self.max_lag:
            self.dropped += 1
            self.dropped_seconds += duration
            DROPPED_CLIPS.inc()
            DROPPED_SECONDS.inc(duration)
            return None
        self._busy_until = start + duration
        return start
