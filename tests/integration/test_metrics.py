"""`GET /metrics`: the exposition format, the gauges and counters a scraper meets, and the
capacity bench that reads them."""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.clips import AUDIO_DIR
from bot.metrics import LoopLag, ProcessStats, histogram_quantile, parse
from bot.server import create_app
from tests.conftest import loopback_config
from tests.rtc_client import Client, ClipTrack, final_caption, voice
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


def test_histogram_quantile_reads_the_buckets_of_chosen_children():
    text = exposition_of({"en": [0.3, 0.6, 0.7, 1.8], "fr": [2.5, 2.6]})
    samples = parse(text)
    assert histogram_quantile(samples, "t_latency_seconds", 0.5, 'lang="en"') == 1.0
    assert histogram_quantile(samples, "t_latency_seconds", 0.95, 'lang="en"') == 2.0
    assert histogram_quantile(samples, "t_latency_seconds", 0.95, 'lang="fr"') == 4.0
    assert histogram_quantile(samples, "t_latency_seconds", 0.5) == 1.0  # 3 of all 6
    assert histogram_quantile(samples, "t_latency_seconds", 0.99) == 4.0
    assert math.isnan(histogram_quantile(samples, "t_latency_seconds", 0.5, 'lang="de"'))


def exposition_of(values: dict[str, list[float]]) -> str:
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    registry = CollectorRegistry()
    histogram = Histogram("t_latency_seconds", "Test.", ["lang"], buckets=(0.5, 1, 2, 4),
                          registry=registry)
    for lang, observed in values.items():
        for value in observed:
            histogram.labels(lang).observe(value)
    text = generate_latest(registry).decode()
    check_exposition(text)
    return text


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

            # Counters are process-wide (earlier tests' messages count too): compare.
            sent_before = samples["interpres_sent_caption_messages_total"]
            bob = Client(url, "metrics", "Bob", "en", "en")
            await bob.join()
            joined = await until(url, lambda s: s["interpres_participants"] == 1 and s[
                "interpres_sent_caption_messages_total"] > sent_before, 15)
            assert joined["interpres_participants"] == 1
            assert joined["interpres_rooms"] == 1
            await bob.close()
            left = await until(url, lambda s: s["interpres_participants"] == 0, 15)
            assert left["interpres_participants"] == 0
            assert left["interpres_rooms"] == 0
            # The participant is gone; what their pipeline counted is kept.
            sent = left["interpres_sent_caption_messages_total"]
            assert sent >= joined["interpres_sent_caption_messages_total"]
            assert any(k.startswith("interpres_stage_seconds_count") for k in left)
            check_exposition(await asyncio.to_thread(scrape, url))

    asyncio.run(main())


DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "interpres.json"


def counts(samples: dict[str, float], name: str, match: str = "") -> float:
    return sum(v for k, v in samples.items() if k.startswith(f"{name}_count") and match in k)


@pytest.mark.slow
def test_a_sentence_fills_the_latency_histograms_the_dashboard_graphs(engines):
    """Ana speaks Spanish, Bob listens in English, Carl in French: the scrape after her
    sentence has one more final-caption latency per caption language, interpretation audio
    latencies, recognition queue waits and batches; and every metric the Grafana dashboard
    queries is one the server exposes."""
    async def main() -> tuple[dict, dict, str]:
        app = create_app(loopback_config(), engines=engines)
        async with running_server(app) as url:
            before = parse(await asyncio.to_thread(scrape, url))
            ana = Client(url, "m", "Ana", "es", "es", mic=ClipTrack(voice("es_leopard"), 1.0))
            bob = Client(url, "m", "Bob", "en", "en")
            carl = Client(url, "m", "Carl", "en", "fr")
            for client in (bob, carl, ana):
                await client.join()
            await bob.wait_for(final_caption("en"), timeout=40)
            await carl.wait_for(final_caption("fr"), timeout=10)
            after = await until(url, lambda s: counts(
                s, "interpres_interpretation_audio_latency_seconds", 'lang="fr"') > counts(
                before, "interpres_interpretation_audio_latency_seconds", 'lang="fr"'), 15)
            for client in (ana, bob, carl):
                await client.close()
            return before, after, await asyncio.to_thread(scrape, url)

    before, after, text = asyncio.run(main())
    for name, match in [("interpres_final_caption_latency_seconds", 'lang="es"'),
                        ("interpres_final_caption_latency_seconds", 'lang="en"'),
                        ("interpres_final_caption_latency_seconds", 'lang="fr"'),
                        ("interpres_interpretation_audio_latency_seconds", 'lang="en"'),
                        ("interpres_interpretation_audio_latency_seconds", 'lang="fr"'),
                        ("interpres_asr_queue_wait_seconds", 'kind="final"'),
                        ("interpres_asr_queue_wait_seconds", 'kind="interim"'),
                        ("interpres_asr_batch_size", ""),
                        ("interpres_stage_seconds", 'stage="asr_final"')]:
        assert counts(after, name, match) > counts(before, name, match), (name, match)
    # A caption's latency is seconds, not the speaker's whole timeline.
    assert histogram_quantile(after, "interpres_final_caption_latency_seconds", 0.5,
                              'lang="es"') <= 10
    # What a query may name: every sample name of every family exposed, children or not
    # yet (a counter with labels has none until its first increment).
    exposed = set()
    for family in text_string_to_metric_families(text):
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        exposed |= {family.name + s for s in suffixes.get(family.type, [""])}
    queried = set()
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            queried |= set(re.findall(r"\b(?:interpres|process)_[a-z0-9_]+", target["expr"]))
    assert len(queried) >= 15
    assert queried <= exposed, sorted(queried - exposed)


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
    decodes = step["decode_s"]["final"]
    assert decodes["count"] >= 1 and 0 < decodes["mean"] < 10
    assert 0 < step["asr_busy_percent"] < 100
    assert "capacity" in done.stderr and "client" in report["note"]


@pytest.mark.slow
def test_capacity_soak_mode_quick(tmp_path):
    # The speaker says what a manifest lists (--speech), here one shared clip by its path.
    clip = AUDIO_DIR / "en_whisper_jfk.wav"
    manifest = tmp_path / "speech.tsv"
    manifest.write_text("file\tlanguage\treference_transcript\n"
                        f"{clip}\ten\tAnd so my fellow Americans\n")
    out = tmp_path / "soak.json"
    done = subprocess.run([sys.executable, "-m", "bench.capacity", "--soak-minutes", "0.75",
                           "--warmup-minutes", "0.25", "--listeners", "2", "--max-speakers", "1",
                           "--speech", str(manifest), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["config"]["clips"] == [str(clip)]
    assert len(report["samples"]) >= 4 and all(s["rss_mb"] > 0 for s in report["samples"])
    assert report["rss_mb"]["slope_mb_per_min_after_warmup"] is not None
    assert report["final_latency_s"]["finals"] > 0
    assert "slope after warm-up" in done.stderr


def test_capacity_bench_says_which_speech_file_it_cannot_use(tmp_path):
    manifest = tmp_path / "speech.tsv"
    manifest.write_text("file\tlanguage\treference_transcript\nmissing.wav\ten\thello\n")
    done = subprocess.run([sys.executable, "-m", "bench.capacity", "--speech", str(manifest)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"line 2 (missing.wav): audio file not found: {tmp_path / 'missing.wav'}" \
        in done.stderr
