"""The listener-latency benchmark's smoke test: the CLI a developer runs, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_writes_the_report_and_a_plot(tmp_path):
    out = tmp_path / "latency.json"
    done = subprocess.run([sys.executable, "-m", "bench.latency", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert {"machine", "date", "mode", "clips", "listeners", "utterances", "latency_s",
            "by_listener", "erasures", "interpretation_audio_matched", "runtime_s",
            "records"} <= set(report)
    assert report["listeners"] == ["en", "fr"]
    assert set(report["latency_s"]) == {
        "onset_to_first_caption", "onset_to_first_source_interim", "end_to_final_source",
        "end_to_final_translated", "end_to_audio", "committed_word_lag"}
    for measure in report["latency_s"].values():
        assert {"n", "median", "p90", "p95"} <= set(measure)
    # The Spanish clip reaches both listeners as captions and as speech.
    assert report["latency_s"]["end_to_final_translated"]["n"] >= 2
    assert report["latency_s"]["end_to_audio"]["n"] >= 1
    assert "source" in report["erasures"]
    png = out.with_suffix(".png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
