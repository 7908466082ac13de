"""Ten-minute non-speech conditions for hallucination tests, generated (seeded), 16 kHz."""

from __future__ import annotations

import numpy as np

RATE = 16000


def db(level: float) -> float:
    return 10 ** (level / 20)


def digital_silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def pink_noise(seconds: float, rms_dbfs: float = -40.0, seed: int = 1) -> np.ndarray:
    """1/f noise (white noise shaped in the frequency domain), at an RMS level."""
    n = int(seconds * RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).normal(0, 1, n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, n)
    return (noise / np.sqrt(np.mean(noise ** 2)) * db(rms_dbfs)).astype(np.float32)


def keyboard_clicks(seconds: float, seed: int = 2) -> np.ndarray:
    """Typing: 3-8 clicks a second, each a 4-12 ms burst of filtered noise decaying fast,
    peaks around -20 dBFS, over a -60 dBFS room floor."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    out = rng.normal(0, db(-60), n)
    t = 0.0
    while t < seconds:
        t += rng.uniform(0.12, 0.33)
        start = int(t * RATE)
        length = int(rng.uniform(0.004, 0.012) * RATE)
        if start + length >= n:
            break
        burst = rng.normal(0, 1, length) * np.exp(-np.arange(length) / (length / 5))
        burst = np.convolve(burst, [1, -0.6], mode="same")  # brighter, like a keycap
        out[start:start + length] += burst / np.abs(burst).max() * db(rng.uniform(-26, -16))
    return np.clip(out, -1, 1).astype(np.float32)


def music_tones(seconds: float, seed: int = 3) -> np.ndarray:
    """Melody and chords: notes of 0.2-0.8 s from a pentatonic scale, three harmonics, an
    attack-decay envelope, sometimes three notes at once, around -20 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    out = np.zeros(n)
    scale = 220 * 2 ** (np.array([0, 2, 4, 7, 9, 12, 14, 16, 19, 21]) / 12)
    t = 0.0
    while t < seconds:
        length = rng.uniform(0.2, 0.8)
        start, count = int(t * RATE), int(length * RATE)
        if start + count >= n:
            break
        times = np.arange(count) / RATE
        envelope = np.minimum(1, times / 0.02) * np.exp(-times / (length * 0.7))
        for freq in rng.choice(scale, size=rng.choice([1, 1, 3]), replace=False):
            for harmonic, weight in ((1, 1.0), (2, 0.4), (3, 0.2)):
                out[start:start + count] += (weight * envelope
                                             * np.sin(2 * np.pi * freq * harmonic * times))
        t += length
    return (out / np.sqrt(np.mean(out ** 2)) * db(-20)).astype(np.float32)


CONDITIONS = {"digital silence": digital_silence, "pink noise -40 dBFS": pink_noise,
              "keyboard clicks": keyboard_clicks, "music-like tones": music_tones}
