"""Joining the configured Ray cluster from `interpres serve`: connect, deploy recognition."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)


def autoscaling(settings: dict[str, Any]) -> dict[str, Any]:
    """Serve's autoscaling config for the recognition deployment, from [cluster]."""
    low = int(settings.get("asr_min_replicas", 1))
    return {"min_replicas": low, "initial_replicas": low,
            "max_replicas": max(low, int(settings.get("asr_max_replicas", low))),
            "target_ongoing_requests": float(settings.get("asr_target_requests", 2)),
            # Speech comes in bursts of seconds: react within seconds, give back slowly.
            "upscale_delay_s": 3.0, "downscale_delay_s": 60.0, "metrics_interval_s": 1.0,
            "look_back_period_s": 5.0}


def join_cluster(config: Any) -> float:
    """Connect to config.cluster["address"] and deploy (or update) the recognition
    application, and the translation one when [[translation]] models are configured;
    returns the seconds it took. Blocking: run it off the event loop."""
    import ray

    from bot.cluster.recognition import deploy

    settings = config.cluster
    started = time.monotonic()
    if not ray.is_initialized():
        ray.init(address=settings["address"], namespace="interpres", log_to_driver=False,
                 logging_level=logging.WARNING)
    if settings.get("deploy_recognition", True):
        deploy(config, autoscaling(settings), num_cpus=float(settings.get("asr_num_cpus", 1)),
               num_gpus=float(settings.get("asr_num_gpus", 0)))
        if config.translation_models:
            from bot.cluster import translation

            translation.deploy(config, num_cpus=float(settings.get("mt_num_cpus", 1)),
                               num_gpus=float(settings.get("mt_num_gpus", 0)),
                               replicas=int(settings.get("mt_replicas", 1)))
    else:
        wait_for_recognition()
    took = time.monotonic() - started
    log.info("cluster: connected to %s, recognition deployed in %.1f s", settings["address"],
             took)
    return took


def wait_for_recognition(timeout: float = 300.0) -> None:
    """deploy_recognition = false: someone else (a KubeRay RayService) deploys it; wait
    until it runs."""
    from bot.cluster.recognition import APP, running_replicas

    deadline = time.monotonic() + timeout
    while running_replicas() == 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no replica of the Serve application {APP} is running after "
                               f"{timeout:.0f} s (deploy_recognition = false expects a "
                               "RayService or `serve deploy` to deploy it)")
        time.sleep(2)


def leave_cluster(deployed: bool = True) -> None:
    """Remove the recognition application (when this server deployed it) and disconnect;
    room actors die with the driver."""
    import ray
    from ray import serve

    from bot.cluster import recognition, translation

    try:
        if deployed:
            for app in (recognition.APP, translation.APP):
                if app in serve.status().applications:
                    serve.delete(app)
    except Exception:  # noqa: BLE001 - the cluster may be gone already
        log.debug("cluster: removing the applications failed", exc_info=True)
    ray.shutdown()
