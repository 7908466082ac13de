"""`GET /metrics`: the exposition format, the gauges and counters a scraper meets, and the
capacity bench that reads them."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.metrics import Counters, Family, LoopLag, ProcessStats, exposition, families, parse
from bot.server import create_app
from tests.conftest import loopback_config
from tests.rtc_client import Client
from tests.server_runner import running_server

ROOT = Path(__file__).resolve().parents[2]
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
SAMPLE = re.compile(rf"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{{{LABEL}(,{LABEL})*\}})? "
                    r"(NaN|[+-]Inf|[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?)$")


def check_exposition(text: str) -> None:
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$", line), line
        else:
            assert SAMPLE.match(line), line


def test_exposition_of_hand_written_families():
    text = exposition([
        Family("a_total", "counter", "Things.\nCounted \\ here.", (({}, 3),)),
        Family("b", "gauge", "Per stage.",
               (({"stage": 'x"y'}, 0.25), ({"stage": "z\\"}, float("nan")))),
    ])
    assert text == (
        "# HELP a_total Things.\\nCounted \\\\ here.\n"
        "# TYPE a_total counter\n"
        "a_total 3\n"
        "# HELP b Per stage.\n"
        "# TYPE b gauge\n"
        'b{stage="x\\"y"} 0.25\n'
        'b{stage="z\\\\"} NaN\n')
    check_exposition(text)


def test_families_sum_counters_and_label_quantiles():
    total = Counters(stage_seconds={"asr_final": 1.5}, stage_calls={"asr_final": 2},
                     dropped_caption_messages=1)
    total.add(Counters(stage_seconds={"asr_final": 0.5, "mt": 0.1}, stage_calls={"mt": 1},
                       dropped_speech_clips=4))
    text = exposition(families(2, 5, {0.5: 0.001, 0.99: 0.02}, ProcessStats(1.25, 4096), total))
    check_exposition(text)
    samples = parse(text)
    assert samples['interpres_stage_seconds_total{stage="asr_final"}'] == 2.0
    assert samples['interpres_stage_calls_total{stage="mt"}'] == 1
    assert samples["interpres_dropped_speech_clips_total"] == 4
    assert samples["interpres_dropped_caption_messages_total"] == 1
    assert samples['interpres_event_loop_lag_seconds{quantile="0.99"}'] == 0.02
    assert samples["interpres_participants"] == 5
    assert samples["process_resident_memory_bytes"] == 4096


def test_loop_lag_forgets_samples_past_its_window():
    lag = LoopLag(window=60.0)
    for second in range(100):
        lag.record(float(second), 1.0 if second < 50 else 0.0)
    assert len(lag.samples) == 61
    assert lag.quantiles() == {0.5: 0.0, 0.99: 1.0}
    assert all(v != v for v in LoopLag().quantiles().values())  # NaN with no samples


def test_process_stats_of_this_process():
    stats = ProcessStats.read()
    assert stats.cpu_seconds > 0 and stats.resident_bytes > 10 * 2**20


def scrape(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        return response.read().decode()


async def until(url: str, predicate, timeout: float) -> dict[str, float]:
    """Scrape until `predicate` holds of the samples, or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        samples = parse(await asyncio.to_thread(scrape, url))
        if predicate(samples) or time.monotonic() > deadline:
            return samples
        await asyncio.sleep(0.2)


@pytest.mark.slow
def test_metrics_follow_a_participant_joining_and_leaving(engines):
    async def main() -> None:
        async with running_server(create_app(loopback_config(), engines=engines)) as url:
            await asyncio.sleep(0.3)  # a few loop-lag ticks
            text = await asyncio.to_thread(scrape, url)
            check_exposition(text)
            samples = parse(text)
            assert samples["interpres_participants"] == 0
            assert samples["interpres_rooms"] == 0
            lag = samples['interpres_event_loop_lag_seconds{quantile="0.99"}']
            assert 0 <= lag < 1
            assert samples["process_resident_memory_bytes"] > 0

            bob = Client(url, "metrics", "Bob", "en", "en")
            await bob.join()
            joined = await until(url, lambda s: s["interpres_sent_caption_messages_total"] > 0, 15)
            assert joined["interpres_participants"] == 1
            assert joined["interpres_rooms"] == 1
            await bob.close()
            left = await until(url, lambda s: s["interpres_participants"] == 0, 15)
            assert left["interpres_participants"] == 0
            assert left["interpres_rooms"] == 0
            # The participant is gone; what their pipeline counted is kept.
            sent = left["interpres_sent_caption_messages_total"]
            assert sent >= joined["interpres_sent_caption_messages_total"]
            assert any(k.startswith("interpres_stage_calls_total") for k in left)
            check_exposition(await asyncio.to_thread(scrape, url))

    asyncio.run(main())


@pytest.mark.slow
def test_capacity_bench_quick(tmp_path):
    out = tmp_path / "capacity.json"
    done = subprocess.run([sys.executable, "-m", "bench.capacity", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["config"]["listeners"] == 2 and len(report["steps"]) == 1
    step = report["steps"][0]
    assert step["speakers"] == 1 and step["finals"] > 0
    assert step["final_latency_s"]["p95"] is not None
    assert step["server_cpu_percent"] > 0 and step["server_rss_mb"] > 0
    assert step["event_loop_lag_p99_s"] is not None
    assert "capacity" in done.stderr and "client" in report["note"]


@pytest.mark.slow
def test_capacity_soak_mode_quick(tmp_path):
    out = tmp_path / "soak.json"
    done = subprocess.run([sys.executable, "-m", "bench.capacity", "--soak-minutes", "0.75",
                           "--warmup-minutes", "0.25", "--listeners", "2", "--max-speakers", "1",
                           "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert len(report["samples"]) >= 4 and all(s["rss_mb"] > 0 for s in report["samples"])
    assert report["rss_mb"]["slope_mb_per_min_after_warmup"] is not None
    assert report["final_latency_s"]["finals"] > 0
    assert "slope after warm-up" in done.stderr
