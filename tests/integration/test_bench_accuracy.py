"""`python -m bench.accuracy` as an engineer meets it: the command, its exit status, its JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.accuracy import Row, room_languages
from bench.clips import AUDIO_DIR
from bench.metrics import Score, score
from bot.languages import UnknownLanguage

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = AUDIO_DIR / "manifest.tsv"
HEADER = "file\tlanguage\treference_transcript\n"


def bench(*args: str | Path, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.accuracy", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def is_rate(value: object) -> bool:
    return isinstance(value, int | float) and 0.0 <= value <= 1.5


def check_rates(item: dict) -> None:
    assert item["reference_units"] > 0
    for side in ("streaming", "offline"):
        assert isinstance(item[side]["errors"], int)
        assert is_rate(item[side]["rate"]), item
    assert item["difference"] == pytest.approx(
        item["streaming"]["rate"] - item["offline"]["rate"], abs=1e-3)


def test_scores_follow_whisper_normalisation_words_or_characters() -> None:
    assert score("Ask not, Mr. Smith: twenty!", "ask not mister smith 20", "en") == Score(0, 5)
    assert score("Las arenas, son blancas.", "las arenas son blancas son", "es") == Score(1, 4)
    assert score("广州市房地产", "广州市房产", "zh") == Score(1, 6)  # CER: one deletion
    assert score("hola", "", "es").rate == 1.0
    assert score("a b", "x y z w", "fr").rate == 2.0  # insertions push past 1


def test_quick_run_scores_streaming_and_offline_per_clip_language_and_total(
        tmp_path: Path) -> None:
    out = tmp_path / "accuracy.json"
    # With the lead the server is set to run with (here not the default).
    done = bench("--manifest", MANIFEST, "--quick", "--out", out,
                 env={"INTERPRES_LEAD_SECONDS": "5"})
    assert done.returncode == 0, done.stderr
    assert "finals hear 5 s of lead" in done.stderr
    data = json.loads(out.read_text())
    clips = data["clips"]
    assert [c["language"] for c in clips] == ["en", "es"]
    for clip in clips:
        assert clip["file"] in done.stdout
        assert clip["metric"] == "WER"
        assert isinstance(clip["detected"], list)
        assert clip["language_id_correct"] == (clip["detected"] == [clip["language"]])
        assert clip["reference"] and isinstance(clip["offline_text"], str)
        assert isinstance(clip["streaming_text"], str)
        check_rates(clip)
    assert set(data["languages"]) == {"en", "es"}
    for group in [*data["languages"].values(), *data["totals"].values()]:
        check_rates(group)
    # The total's reference has several sentences: its difference has an interval around it.
    low, high = data["totals"]["WER"]["difference_95"]
    assert low <= data["totals"]["WER"]["difference"] <= high
    assert "95 % interval" in done.stdout
    assert set(data["totals"]) == {"WER"}
    assert data["totals"]["WER"]["clips"] == 2
    assert 0.0 <= data["language_id"]["accuracy"] <= 1.0
    assert data["model"]["asr"] and data["notes"] and data["quick"] is True
    assert data["model"]["lead_seconds"] == 5
    # Detection among the manifest's languages, as in a room of those speakers.
    manifest_languages = {line.split("\t")[1] for line in
                          MANIFEST.read_text(encoding="utf-8").splitlines()[1:] if line}
    assert set(data["room"]) == manifest_languages and len(data["room"]) > 2
    assert f"(room: {','.join(data['room'])})" in done.stdout


def test_the_room_is_the_manifests_languages_unless_named() -> None:
    silence = np.zeros(1600, np.float32)
    rows = [Row("a.wav", "fr", "x", silence), Row("b.wav", "en", "y", silence),
            Row("c.wav", "fr", "z", silence)]
    assert room_languages("", rows) == ("fr", "en")
    assert room_languages("de, es", rows) == ("de", "es")
    assert room_languages("all", rows) == room_languages(" ALL ", rows) == ()
    with pytest.raises(UnknownLanguage):
        room_languages("xx", rows)


def first_clip_row() -> list[str]:
    header, row = MANIFEST.read_text(encoding="utf-8").splitlines()[:2]
    values = dict(zip(header.split("\t"), row.split("\t"), strict=True))
    return [str(AUDIO_DIR / values["file"]), values["language"],
            values["reference_transcript"]]


@pytest.mark.parametrize(("header", "row", "problem"), [
    ("file\tlanguage\n", lambda f, lang, ref: [f, lang], "reference_transcript"),
    (HEADER, lambda f, lang, ref: [f + ".missing.wav", lang, ref], "not found"),
    (HEADER, lambda f, lang, ref: [f, "xx", ref], "unknown language code 'xx'"),
    (HEADER, lambda f, lang, ref: [f, lang, " "], "empty reference_transcript"),
    (HEADER, lambda f, lang, ref: [f, lang], "2 fields, the header has 3"),
], ids=["missing-column", "missing-file", "bad-language", "empty-reference", "short-row"])
def test_a_malformed_manifest_exits_2_naming_the_problem(tmp_path: Path, header: str, row,
                                                        problem: str) -> None:
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text(header + "\t".join(row(*first_clip_row())) + "\n", encoding="utf-8")
    done = bench("--manifest", manifest, "--quick", "--out", tmp_path / "out.json")
    assert done.returncode == 2, done.stderr
    assert problem in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.json").exists()


def test_a_realtime_run_feeds_each_clip_at_the_pace_it_was_spoken(tmp_path: Path) -> None:
    out = tmp_path / "accuracy.json"
    done = bench("--manifest", MANIFEST, "--quick", "--realtime", "--room", "all",
                 "--out", out)
    assert done.returncode == 0, done.stderr
    assert "at real-time pace" in done.stderr and "pace: realtime" in done.stdout
    data = json.loads(out.read_text())
    assert data["method"]["pace"] == "realtime" and data["room"] == []
    # Live feeding cannot be faster than the audio itself.
    audio = sum(clip["audio_seconds"] for clip in data["clips"])
    assert sum(clip["streaming_seconds"] for clip in data["clips"]) >= audio
    for clip in data["clips"]:
        check_rates(clip)
        assert clip["detected"] == [clip["language"]]
        assert clip["streaming"]["rate"] <= 0.2, clip  # clean speech, read live as well
