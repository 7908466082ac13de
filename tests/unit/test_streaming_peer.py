"""bench.streaming_peer's real-time feeding of whisper_streaming, on a fake clock and a fake
processor: what it is given when, and the commit times it records."""

from __future__ import annotations

import numpy as np

from bench.streaming_peer import RATE, stream_peer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0  # not 0: times must be taken relative to the stream's start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


class FakeOnline:
    """OnlineASRProcessor's surface: each decode takes `cost` seconds of the clock and
    commits the next scripted words; finish() leaves `tail` unconfirmed."""

    def __init__(self, clock: FakeClock, cost: float, script: list[list[tuple]],
                 tail: list[tuple]) -> None:
        self.clock, self.cost, self.script, self.tail = clock, cost, script, tail
        self.commited: list[tuple] = []
        self.fed: list[tuple[float, int]] = []  # (clock - start, samples) per insert
        self.transcript_buffer = self
        self.finished = False

    def insert_audio_chunk(self, audio: np.ndarray) -> None:
        self.fed.append((round(self.clock.now - 100.0, 3), len(audio)))

    def process_iter(self) -> None:
        self.clock.now += self.cost
        self.commited += self.script.pop(0) if self.script else []

    def complete(self) -> list[tuple]:
        return self.tail

    def finish(self) -> None:
        self.finished = True


def test_waits_for_a_minimum_chunk_and_feeds_the_end_early():
    clock = FakeClock()
    script = [[(0.0, 0.4, " Ask")], [(0.5, 0.9, " not"), (1.0, 1.6, " what")], []]
    online = FakeOnline(clock, 0.3, script, tail=[(3.0, 3.4, " you.")])
    words, busy = stream_peer(online, np.zeros(int(3.5 * RATE), np.float32), 1.0,
                              clock=clock, sleep=clock.sleep)
    # Decodes at 1, 2 and 3 s with a second each, then the last half second as soon as
    # the file ends, not a full chunk later.
    assert online.fed == [(1.0, RATE), (2.0, RATE), (3.0, RATE), (3.5, RATE // 2)]
    assert [(w.text, round(w.at, 3), w.tail) for w in words] == [
        (" Ask", 1.3, False), (" not", 2.3, False), (" what", 2.3, False),
        (" you.", 3.8, True)]
    assert [round(w.lag, 3) for w in words] == [0.9, 1.4, 0.7, 0.4]
    assert online.finished
    assert round(busy, 3) == 1.2  # four decodes of 0.3 s; finish() costs nothing here


def test_a_slow_decode_gets_everything_that_arrived_meanwhile():
    clock = FakeClock()
    online = FakeOnline(clock, 2.5, [], tail=[])
    words, busy = stream_peer(online, np.zeros(6 * RATE, np.float32), 1.0,
                              clock=clock, sleep=clock.sleep)
    # 1 s in, a decode till 3.5 s: 2.5 s of audio waiting, decoded at once; then till 6 s.
    assert online.fed == [(1.0, RATE), (3.5, int(2.5 * RATE)), (6.0, int(2.5 * RATE))]
    assert words == []
    assert round(busy, 3) == 7.5
