import numpy as np
import pytest

from bot.timeline import render_timeline


def flat(n: int, value: int = 1) -> np.ndarray:
    return np.full(n, value, dtype=np.int16)


def test_clips_land_at_exact_sample_offsets():
    clip = np.arange(1, 101, dtype=np.int16)
    track = render_timeline([(0.5, clip), (1.25, -clip)], duration=2.0, sample_rate=1000)
    assert track.dtype == np.int16
    assert len(track) == 2000
    np.testing.assert_array_equal(track[500:600], clip)
    np.testing.assert_array_equal(track[1250:1350], -clip)
    silent = np.ones(2000, dtype=bool)
    silent[500:600] = silent[1250:1350] = False
    assert not track[silent].any()


def test_overlaps_are_summed_then_clipped():
    track = render_timeline(
        [(0.0, flat(10, 30000)), (0.005, flat(10, 30000)), (0.008, flat(10, -30000))],
        duration=0.02, sample_rate=1000,
    )
    assert list(track[:5]) == [30000] * 5
    # 30000 + 30000 clips; adding -30000 afterwards must still see the int32 sum 30000.
    assert list(track[5:8]) == [32767] * 3
    assert list(track[8:10]) == [30000] * 2
    assert list(track[10:15]) == [0] * 5
    assert list(track[15:18]) == [-30000] * 3


def test_negative_clip_to_int16_min():
    track = render_timeline([(0, flat(4, -20000)), (0, flat(4, -20000))], 0.004, 1000)
    assert list(track) == [-32768] * 4


def test_track_extends_for_a_clip_ending_after_duration():
    track = render_timeline([(1.9, flat(300, 7))], duration=2.0, sample_rate=1000)
    assert len(track) == 2200
    assert (track[1900:] == 7).all()


def test_negative_start_clamps_to_zero_and_empty_input_is_silence():
    track = render_timeline([(-0.3, flat(100, 5))], duration=1.0, sample_rate=1000)
    assert (track[:100] == 5).all() and not track[100:].any()
    silence = render_timeline(iter([]), duration=1.5)
    assert len(silence) == 72000 and silence.dtype == np.int16 and not silence.any()


def test_mixing_across_block_boundaries(monkeypatch):
    # Small blocks so clips straddle several of them; the result must not depend on blocks.
    import bot.timeline

    rng = np.random.default_rng(7)
    clips = [(float(s), rng.integers(-20000, 20000, 700).astype(np.int16))
             for s in (0.0, 0.35, 0.9, 1.0)]
    whole = render_timeline(clips, 2.0, 1000)
    monkeypatch.setattr(bot.timeline, "_BLOCK_SAMPLES", 256)
    blocked = render_timeline(clips, 2.0, 1000)
    expected = np.zeros(2000, dtype=np.int32)
    for start, samples in clips:
        expected[round(start * 1000) : round(start * 1000) + 700] += samples
    np.testing.assert_array_equal(blocked, np.clip(expected, -32768, 32767))
    np.testing.assert_array_equal(whole, blocked)


def test_rejects_float_clips():
    with pytest.raises(AssertionError):
        render_timeline([(0.0, np.zeros(10, dtype=np.float32))], 1.0)
