"""Translation engines under load: latency per caption and throughput, one caller vs many.

    python -m bench.translation [--config interpres.toml] [--seconds 5]
                                [--out bench/results/translation.json] [--quick]

For every CTranslate2 model the configuration declares (default: the tiny test-built ones,
built first into a temporary directory) and for Apertium, sentences are translated by 1, 4
and 8 threads at once for a few seconds each, as the engine pool and several rooms would
call them. Concurrent calls to one CTranslate2 model ride in shared batches; the figures
show what that buys. Prints a table and writes JSON; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from bot import config_file
from bot.mt.base import TextTranslator
from bot.mt.router import TranslationRouter

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = {
    "en": ["Hello world.", "Good morning.", "Thank you very much.", "The cat sleeps.",
           "Mr. Quilter is the apostle of the middle classes and we are glad to welcome his "
           "gospel."],
    "es": ["Hola a todos.", "Gracias por venir a la reunión.", "El gato duerme en la casa."],
    "fr": ["Bonjour le monde.", "Merci beaucoup.", "Le chat dort."],
    "de": ["Hallo Welt.", "Vielen Dank.", "Die Katze schläft."],
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load(translator: TextTranslator, threads: int, seconds: float) -> dict:
    texts = SENTENCES.get(translator.source, SENTENCES["en"])
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(offset: int) -> None:
        i = offset
        while time.perf_counter() < stop:
            started = time.perf_counter()
            translator.translate(texts[i % len(texts)])
            with lock:
                latencies.append(time.perf_counter() - started)
            i += 1

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    began = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - began
    return {"threads": threads, "calls": len(latencies),
            "per_second": round(len(latencies) / elapsed, 1),
            "median_ms": round(statistics.median(latencies) * 1000, 2),
            "p95_ms": round(percentile(latencies, 0.95) * 1000, 2)}


def chosen(router: TranslationRouter) -> list[TextTranslator]:
    """One pair per CTranslate2 model, and one Apertium pair to compare with."""
    picked: dict[str, TextTranslator] = {}
    for source, target in router.pairs():
        translator = router.translator(source, target)
        if translator is None or source not in SENTENCES:
            continue
        model = getattr(translator, "model", None)
        picked.setdefault(f"ctranslate2:{model.name}" if model else "apertium", translator)
    return list(picked.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.translation",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, help="interpres.toml (default: build the "
                        "tiny test models and use theirs)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" /
                        "translation.json")
    parser.add_argument("--quick", action="store_true", help="1 s per step: a smoke test")
    args = parser.parse_args(argv)
    seconds = 1.0 if args.quick else args.seconds
    with tempfile.TemporaryDirectory() as scratch:
        config_path = args.config
        if config_path is None:
            from bench.tiny_models import build_all

            print("building the tiny test models…", file=sys.stderr)
            config_path = build_all(Path(scratch), say=lambda m: print(m, file=sys.stderr))
        models = config_file.read(config_path).translation
        router = TranslationRouter.from_system(neural=models)
        try:
            router.warm_up()
            rows = []
            for translator in chosen(router):
                for threads in (1, 4, 8):
                    row = {"engine": translator.engine, **load(translator, threads, seconds)}
                    rows.append(row)
                    print(f"  {row['engine']:<40} {threads} thread(s): "
                          f"{row['per_second']:>8}/s  median {row['median_ms']} ms  "
                          f"p95 {row['p95_ms']} ms", file=sys.stderr)
                model = getattr(translator, "model", None)
                if model is not None:
                    rows[-1]["batches"] = model._batcher.batches
        finally:
            router.close()
    data = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "config": str(
        args.config or "tiny test models"), "seconds_per_step": seconds, "rows": rows}
    print(f"\n{'engine':<40} {'threads':>7} {'calls/s':>8} {'median':>9} {'p95':>9}")
    for row in rows:
        print(f"{row['engine']:<40} {row['threads']:>7} {row['per_second']:>8} "
              f"{row['median_ms']:>7} ms {row['p95_ms']:>6} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
