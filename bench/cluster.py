"""What running on a Ray cluster costs and how fast it recovers, on this machine.

    python -m bench.cluster [--passes 2] [--out bench/results/cluster.json]

Starts a local two-node cluster (bench/ray_local.py: a head and a second node, separate `ray
start`s) and measures:
- cluster start-up (both nodes alive) and deploying the recognition application;
- utterance end -> final source caption through the Serve deployment against in-process
  recognition: every shared clip through the real pipeline at real-time pace, the two kinds
  alternating clip by clip (same translation engines and voices, speech on);
- memory per node (every process of the node) with the recognition replica and one room-bot
  actor per node loaded;
- recognition after losing the node that holds its replica: seconds from the loss until a
  decode through the deployment succeeds again (on a spare third node).
Prints a table and writes JSON; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.clips import clips as shared_clips
from bench.pipeline import latencies, stream_clip
from bench.ray_local import local_cluster
from bot.asr.whisper import DecodeOptions
from bot.audio_io import read_audio
from bot.config import Config
from bot.pipeline.engines import Engines

ROOT = Path(__file__).resolve().parents[1]


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(ordered), "median": round(statistics.median(ordered), 3),
            "p95": round(p95, 3), "max": round(ordered[-1], 3)}


def say(message: str) -> None:
    print(f"bench.cluster: {message}", file=sys.stderr, flush=True)


async def compare(local: Engines, remote: Engines, clips: list, passes: int) -> dict:
    ends: dict[str, list[float]] = {"in_process": [], "serve": []}
    for n in range(passes):
        for i, (name, audio, lang) in enumerate(clips):
            # Alternate which goes first, so neither always meets a warmer machine.
            order = [("in_process", local), ("serve", remote)]
            if (n + i) % 2:
                order.reverse()
            for kind, engines in order:
                result = await stream_clip(engines, audio, lang, realtime=True)
                got = latencies(result)["end_to_final_source"]
                ends[kind] += got
                say(f"pass {n + 1} {name} {kind}: end -> final "
                    f"{', '.join(f'{v:.2f}' for v in got)} s")
    return {kind: summary(values) for kind, values in ends.items()}


async def recognition_after_loss(cluster, remote: Engines, audio) -> dict:
    """Lose the node that holds the recognition replica (the head has no CPUs for one);
    seconds until a decode through Serve succeeds again, on a spare node added before."""
    from bot.cluster.room_bots import ROOM_RESOURCE

    scheduler = remote.scheduler
    before = set(scheduler.traffic.replicas)  # type: ignore[attr-defined]
    cluster.add("spare", {ROOM_RESOURCE: 1})
    await asyncio.to_thread(cluster.wait_nodes, 3)
    cluster.nodes[1].lose()
    lost = time.monotonic()
    failures = 0
    while True:
        try:
            await scheduler.decode(remote.asr, audio, DecodeOptions(language="en"))
            break
        except Exception:  # noqa: BLE001 - the replica is gone: counted, tried again
            failures += 1
            await asyncio.sleep(0.2)
    return {"seconds": round(time.monotonic() - lost, 2), "failed_tries": failures,
            "replicas_before": sorted(before),
            "replicas_after": sorted(scheduler.traffic.replicas)}  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.cluster", description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cluster.json"))
    args = parser.parse_args(argv)

    import ray

    from bot.cluster.connect import join_cluster
    from bot.cluster.recognition import ServeRecognition
    from bot.cluster.room_bots import ROOM_RESOURCE, RoomBot
    from bot.janus.room import JanusOptions

    clips = [(c.path.name, read_audio(c.path), c.language) for c in shared_clips()]
    report: dict = {"clips": [name for name, _, _ in clips], "passes": args.passes}
    temp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    started = time.monotonic()
    # The head has no CPUs, as in the KubeRay manifest: the recognition replica goes to the
    # worker, whose loss the last measure is about.
    with local_cluster(temp, worker_resources={ROOM_RESOURCE: 1},
                       head_resources={ROOM_RESOURCE: 1}, head_cpus=0) as cluster:
        report["cluster_start_s"] = round(time.monotonic() - started, 1)
        say(f"two nodes up in {report['cluster_start_s']} s")
        config = replace(Config.from_env(), cluster={"address": cluster.address})
        report["deploy_s"] = round(join_cluster(config), 1)
        say(f"recognition deployed in {report['deploy_s']} s")
        rss_bare = {node.name: round(node.rss_mb()) for node in cluster.nodes}
        local = Engines.load(config, speech=True)

        async def run() -> None:
            scheduler, asr, interim = await ServeRecognition.connect()
            remote = Engines(asr=asr, router=local.router,  # type: ignore[arg-type]
                             voices=local.voices, workers=local.workers,
                             interim_asr=interim, scheduler=scheduler)  # type: ignore[arg-type]
            report["end_to_final_source_s"] = await compare(local, remote, clips, args.passes)
            # One room bot per node, loaded (translation engines and voices), not joined.
            bot = ray.remote(RoomBot)
            actors = [bot.options(num_cpus=0, resources={ROOM_RESOURCE: 1},
                                  scheduling_strategy="SPREAD").remote(
                config, JanusOptions(url="http://127.0.0.1:1/janus", room=1), 1, None)
                for _ in range(2)]
            placed = await asyncio.gather(*(a.status_now.remote() for a in actors))
            report["room_bots_on_head"] = [p["on_head"] for p in placed]
            report["rss_mb"] = {"bare": rss_bare,
                                "with_recognition_and_a_room_bot":
                                    {node.name: round(node.rss_mb()) for node in cluster.nodes}}
            say(f"memory per node: {report['rss_mb']}")
            report["recognition_after_node_loss"] = await recognition_after_loss(
                cluster, remote, clips[0][1])

        asyncio.run(run())
        local.close()
        ray.shutdown()
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    ends = report["end_to_final_source_s"]
    print(f"cluster start-up (2 nodes): {report['cluster_start_s']} s; recognition deployed "
          f"in {report['deploy_s']} s")
    for kind in ("in_process", "serve"):
        e = ends[kind]
        print(f"utterance end -> final source caption, {kind}: median {e.get('median')} s, "
              f"p95 {e.get('p95')} s (n={e['n']})")
    print(f"memory per node (MB): {report['rss_mb']}")
    loss = report["recognition_after_node_loss"]
    print(f"recognition back {loss['seconds']} s after losing the second node "
          f"({loss['failed_tries']} failed tries)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
