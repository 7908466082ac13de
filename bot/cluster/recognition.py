"""Recognition as a Ray Serve deployment, and the client pipelines use in its place.

Each replica holds the Whisper engines and one RecognitionScheduler (bot/asr/scheduler.py),
so requests that reach the same replica are ordered and batched exactly as in one process.
Serve places replicas by `num_cpus` / `num_gpus` and scales them on ongoing requests.

`ServeRecognition` is what a pipeline gets instead of the in-process scheduler: the same
`decode` / `plan` / `call` / `close`, over a deployment handle, so the pipeline does not know
which one it talks to. `RemoteWhisper` stands in for the engine object the pipeline passes
along (its name, whether it is multilingual, and which of the replica's engines it means).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ray import serve
from ray.exceptions import ActorUnavailableError, RayActorError

from bot.asr.load import AsrLoad, LoadPlan
from bot.asr.scheduler import Dropped, Kind
from bot.asr.whisper import DecodeOptions, Transcript

log = logging.getLogger(__name__)
APP = "interpres-asr"
DEPLOYMENT = "Recognition"
RETRIES = 2  # a decode whose replica is lost is sent again this many times


@dataclass(frozen=True)
class RemoteWhisper:
    """The pipeline's handle on one of the replica's engines ("main" or "interim")."""

    name: str
    multilingual: bool
    role: str = "main"


@dataclass(frozen=True)
class Reply:
    transcript: Transcript | None  # None: the replica's scheduler dropped the interim
    busy: float  # the replica's recognition lanes, share of the last seconds (AsrLoad)
    replica: str  # node id and process of the replica that served it


@serve.deployment(name=DEPLOYMENT, max_ongoing_requests=64, health_check_period_s=2,
                  health_check_timeout_s=10, graceful_shutdown_timeout_s=5)
class Recognition:
    def __init__(self, config: Any) -> None:
        """`config`: bot.config.Config; its [asr] settings say what to load."""
        import ray

        from bot.asr.scheduler import RecognitionScheduler
        from bot.pipeline.engines import load_whisper

        self.asr, self.interim = load_whisper(config)
        self.scheduler = RecognitionScheduler(lanes=self.asr.workers)
        self.replica = f"{ray.get_runtime_context().get_node_id()[:12]}/{os.getpid()}"

    def describe(self) -> dict[str, Any]:
        """What the pipelines' stand-ins need to know of the engines."""
        return {"name": self.asr.name, "multilingual": self.asr.multilingual,
                "interim": self.interim.name if self.interim else None}

    async def decode(self, role: str, audio: np.ndarray, options: DecodeOptions, kind: str,
                     speaker: str | None, due_in: float | None) -> Reply:
        engine = self.interim if role == "interim" and self.interim else self.asr
        # Clocks differ between machines: the deadline travels as "seconds from now".
        deadline = None if due_in is None else self.scheduler.clock() + due_in
        try:
            transcript: Transcript | None = await self.scheduler.decode(
                engine, audio, options, kind=kind, speaker=speaker,  # type: ignore[arg-type]
                deadline=deadline)
        except Dropped:
            transcript = None
        return Reply(transcript, self.scheduler.load.busy(time.perf_counter()), self.replica)

    def __del__(self) -> None:
        scheduler = getattr(self, "scheduler", None)
        if scheduler is not None:
            scheduler.close()


def deploy(config: Any, autoscaling: dict[str, Any] | None = None, num_cpus: float = 1,
           num_gpus: float = 0) -> serve.handle.DeploymentHandle:
    """Start (or update) the recognition application on the connected cluster and return
    its handle. `config`: bot.config.Config (its [asr] model, device, compute type)."""
    deployment = Recognition.options(
        ray_actor_options={"num_cpus": num_cpus, "num_gpus": num_gpus},
        autoscaling_config=autoscaling or {"min_replicas": 1, "max_replicas": 1})
    app = deployment.bind(config)
    return serve.run(app, name=APP, route_prefix=None)


def app_builder(args: dict[str, Any]) -> Any:
    """The recognition application for a Serve config file (KubeRay's RayService
    `import_path: bot.cluster.recognition:app_builder`): [asr] settings from the
    environment / INTERPRES_CONFIG, each overridable by `args` (model, interim_model, device,
    compute_type). Autoscaling and resources come from the config file's deployment entry."""
    from bot.config import Config

    settings = {"model": "asr_model", "interim_model": "asr_interim_model",
                "device": "asr_device", "compute_type": "asr_compute_type"}
    unknown = set(args) - set(settings)
    if unknown:
        raise ValueError(f"unknown recognition args: {', '.join(sorted(unknown))} (known: "
                         f"{', '.join(settings)})")
    config = Config.from_env()
    return Recognition.bind(replace(config, **{settings[key]: value
                                               for key, value in args.items()}))


def running_replicas() -> int:
    """Replicas of the recognition deployment running now (blocking: ask off the loop)."""
    application = serve.status().applications.get(APP)
    if application is None or DEPLOYMENT not in application.deployments:
        return 0
    states = application.deployments[DEPLOYMENT].replica_states
    return sum(count for state, count in states.items() if str(state).endswith("RUNNING"))


def handle() -> serve.handle.DeploymentHandle:
    return serve.get_deployment_handle(DEPLOYMENT, app_name=APP)


@dataclass
class Traffic:
    """What went through the deployment from this process: for status and tests."""

    served: int = 0
    dropped: int = 0
    replicas: set[str] = field(default_factory=set)


class ServeRecognition:
    """The recognition scheduler's interface, served by the deployment. Speaker ids are
    made unique per process (rooms on other machines have their own "p1")."""

    def __init__(self, deployment: serve.handle.DeploymentHandle) -> None:
        self.deployment = deployment
        self.namespace = uuid.uuid4().hex[:8]
        self.busy = 0.0
        self.traffic = Traffic()
        self._in_flight = 0

    @classmethod
    async def connect(cls) -> tuple[ServeRecognition, RemoteWhisper, RemoteWhisper | None]:
        deployment = handle()
        about = await deployment.describe.remote()
        main = RemoteWhisper(about["name"], about["multilingual"])
        interim = (RemoteWhisper(about["interim"], False, "interim")
                   if about["interim"] else None)
        return cls(deployment), main, interim

    async def decode(self, engine: RemoteWhisper, audio: np.ndarray, options: DecodeOptions,
                     kind: Kind = "final", speaker: str | None = None,
                     deadline: float | None = None) -> Transcript:
        due_in = None
        if deadline is not None:
            due_in = math.inf if math.isinf(deadline) else deadline - time.monotonic()
        self._in_flight += 1
        try:
            for attempt in range(RETRIES + 1):
                try:
                    reply: Reply = await self.deployment.decode.remote(
                        engine.role, audio, options, kind,
                        f"{self.namespace}/{speaker}" if speaker else None, due_in)
                    break
                except (RayActorError, ActorUnavailableError):
                    # The replica died with its node: Serve sends the retry to another one
                    # (or the one it starts instead).
                    if attempt == RETRIES:
                        raise
                    log.warning("recognition replica lost; retrying the %s decode", kind)
        finally:
            self._in_flight -= 1
        self.busy = reply.busy
        self.traffic.replicas.add(reply.replica)
        if reply.transcript is None:
            self.traffic.dropped += 1
            raise Dropped(f"{kind} decode of {speaker} dropped by replica {reply.replica}")
        self.traffic.served += 1
        return reply.transcript

    async def call(self, fn: Callable[[], Any]) -> Any:
        """Local work the in-process scheduler would run on its thread (warm-ups)."""
        return await asyncio.to_thread(fn)

    def plan(self, interval: float, beam: int) -> LoadPlan:
        """The interim schedule from how busy the replica that last answered was."""
        return AsrLoad.plan_for(self.busy, interval, beam)

    def queued(self) -> int:
        return self._in_flight

    def close(self) -> None:
        pass  # the deployment outlives this client
