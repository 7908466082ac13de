"""bench/material.py --quick: a manifest bench.accuracy accepts and utterance spans that fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.accuracy import read_manifest
from bench.material import RATE, build_material


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    out = tmp_path_factory.mktemp("material")
    lines: list[str] = []
    manifest = build_material(out, quick=True, seed=0, progress=lines.append)
    return manifest, lines


def test_manifest_is_what_the_accuracy_bench_reads(material):
    manifest, lines = material
    rows = read_manifest(manifest)
    assert [(r.file, r.language) for r in rows] == [
        ("en_conversation.wav", "en"), ("es_conversation.wav", "es")]
    assert len(lines) == len(rows)  # one progress line per file
    for row in rows:
        spans = json.loads((manifest.parent / row.file.replace(
            ".wav", ".utterances.json")).read_text(encoding="utf-8"))
        # The file's reference is its utterances' texts, in order.
        assert row.reference == " ".join(s["text"] for s in spans)
        assert {s["lang"] for s in spans} == {row.language}
        assert any(s["source"].startswith("human:") for s in spans)
    assert 25 < len(rows[0].audio) / RATE < 45


def test_utterances_are_ordered_inside_the_file_and_louder_than_the_pauses(material):
    manifest, _ = material
    for row in read_manifest(manifest):
        spans = json.loads((manifest.parent / row.file.replace(
            ".wav", ".utterances.json")).read_text(encoding="utf-8"))
        duration = len(row.audio) / RATE
        ends = [0.0]
        for span in spans:
            assert ends[-1] <= span["start"] < span["end"] <= duration, (row.file, span)
            ends.append(span["end"])
        inside = np.zeros(len(row.audio), bool)
        for span in spans:
            inside[round(span["start"] * RATE):round(span["end"] * RATE)] = True
        pauses = np.sqrt(np.mean(row.audio[~inside] ** 2))
        for span in spans:  # each one, so no span points at a pause
            speech = row.audio[round(span["start"] * RATE):round(span["end"] * RATE)]
            assert np.sqrt(np.mean(speech ** 2)) > 10 * pauses + 0.01, (row.file, span)


def test_the_same_seed_gives_the_same_audio(material, tmp_path):
    manifest, _ = material
    again = build_material(tmp_path, quick=True, seed=0, progress=lambda line: None)
    for name in ("en_conversation", "es_conversation"):
        for suffix in (".wav", ".utterances.json"):
            assert (again.parent / f"{name}{suffix}").read_bytes() == (
                manifest.parent / f"{name}{suffix}").read_bytes()
