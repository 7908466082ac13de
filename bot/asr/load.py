"""How busy the recognition thread is, and the interim schedule that follows from it.

One recognition thread (the scheduler's) serves every speaker. When it is busy most of the
time, interim decodes (nice to have) crowd out finals (must have): the first rung of the
load-shedding ladder is fewer and cheaper interims. This keeps a sliding window of decode
durations and turns the busy share into an interim schedule. Pure: times are passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class InterimPlan:
    interval: float  # seconds of new audio between interim decodes
    beam: int


class AsrLoad:
    def __init__(self, window: float = 4.0) -> None:
        self.window = window
        self._decodes: deque[tuple[float, float]] = deque()  # (finished at, seconds)

    def record(self, finished_at: float, seconds: float) -> None:
        self._decodes.append((finished_at, seconds))
        self._forget(finished_at)

    def busy(self, now: float) -> float:
        """Share of the last `window` seconds the ASR thread spent decoding (0..1)."""
        self._forget(now)
        return min(1.0, sum(seconds for _, seconds in self._decodes) / self.window)

    def plan(self, now: float, interval: float, beam: int) -> InterimPlan:
        """The interim schedule for a recognizer whose unloaded choice is (interval, beam)."""
        return self.plan_for(self.busy(now), interval, beam)

    @staticmethod
    def plan_for(busy: float, interval: float, beam: int) -> InterimPlan:
        """The load-shedding ladder's interim rungs, for a thread `busy` (0..1)."""
        # One speaker keeps the thread ~50 % busy: that is the normal schedule.
        if busy < 0.65:
            return InterimPlan(interval, beam)
        if busy < 0.85:
            return InterimPlan(interval * 1.5, 1)
        return InterimPlan(interval * 2.5, 1)

    def _forget(self, now: float) -> None:
        while self._decodes and self._decodes[0][0] < now - self.window:
            self._decodes.popleft()
