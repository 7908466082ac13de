"""How busy the recognition lanes are, and the load-shedding plan that follows from it.

The recognition scheduler's lanes serve every speaker. When they are busy most of the
time, interim decodes (nice to have) crowd out finals (must have): the first rung of the
load-shedding ladder is fewer and cheaper interims (and a lead of the last utterance only),
the last finals without the lead. This
keeps a sliding window of decode durations and turns the busy share into a plan. Pure: times
are passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadPlan:
    interval: float  # seconds of new audio between interim decodes
    beam: int  # of interim decodes
    # Finals hear the speaker's previous words first (whisper.Lead): about twice a final's
    # decode time, shed last; first only the earlier utterances' part of it (`chain`).
    lead: bool = True
    chain: bool = True


class AsrLoad:
    def __init__(self, window: float = 4.0, lanes: int = 1) -> None:
        self.window = window
        self.lanes = lanes
        self._decodes: deque[tuple[float, float]] = deque()  # (finished at, seconds)

    def record(self, finished_at: float, seconds: float) -> None:
        self._decodes.append((finished_at, seconds))
        self._forget(finished_at)

    def busy(self, now: float) -> float:
        """Decode seconds per second over the last `window` seconds, per lane counted
        (0..1)."""
        self._forget(now)
        return min(1.0, sum(seconds for _, seconds in self._decodes)
                   / (self.window * self.lanes))

    def plan(self, now: float, interval: float, beam: int) -> LoadPlan:
        """The schedule for a recognizer whose unloaded interim choice is (interval, beam)."""
        return self.plan_for(self.busy(now), interval, beam)

    @staticmethod
    def plan_for(busy: float, interval: float, beam: int) -> LoadPlan:
        """The load-shedding ladder's rungs before any audio is dropped, for lanes `busy`
        (0..1): interims further apart and greedy with finals that hear only the last
        utterance before, then finals without the lead."""
        # One speaker keeps one lane ~40 % busy: that is the normal schedule.
        if busy < 0.65:
            return LoadPlan(interval, beam)
        if busy < 0.75:
            return LoadPlan(interval * 1.5, 1, chain=False)
        # Three speakers on two cores: finals with a lead (0.8 s of decoding each, two
        # lanes at once) came 2.3 s p95 after the speech, against 2.0 s due (bench.capacity).
        return LoadPlan(interval * 2.5, 1, lead=False, chain=False)

    def _forget(self, now: float) -> None:
        while self._decodes and self._decodes[0][0] < now - self.window:
            self._decodes.popleft()
