"""bench.translation --quick: the smoke test CI runs (the figures come from the full run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.translation import main

pytestmark = pytest.mark.slow


def test_quick_run_measures_every_engine(tiny_models: Path, tmp_path: Path) -> None:
    out = tmp_path / "translation.json"
    assert main(["--config", str(tiny_models), "--quick", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    engines = {row["engine"] for row in rows}
    assert "ctranslate2:opus-mt-en-fr" in engines
    assert any(e.startswith("ctranslate2:tiny-m2m100:") for e in engines)
    assert any(e.startswith("apertium:") for e in engines)
    for row in rows:
        assert row["calls"] > 0 and row["median_ms"] > 0 and row["p95_ms"] >= row["median_ms"]
