"""bench.batching --quick: the smoke test CI runs (the figures come from the full run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.batching import main

pytestmark = pytest.mark.slow


def test_quick_run_times_every_stage_per_batch(tmp_path: Path) -> None:
    out = tmp_path / "batching.json"
    assert main(["--quick", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [row["batch"] for row in report["rows"]] == [1, 2]
    for row in report["rows"]:
        assert row["window_frames"] % 100 == 0  # whole-second windows, as the engine's
        for stage in ("encoder", "decoder_greedy", "decoder_beam5"):
            figures = row[stage]
            assert 0 < figures["median_s"] <= figures["p95_s"]
            assert figures["per_item_s"] == pytest.approx(figures["median_s"] / row["batch"],
                                                          abs=1e-3)
