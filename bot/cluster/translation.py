"""CTranslate2 translation as a Ray Serve deployment, for the room bots of a cluster.

The configured models ([[translation]] in interpres.toml) load once per replica, on a node
with the resources given (a GPU, typically), instead of once in every room bot. Concurrent
requests that reach a replica share CTranslate2 batches (each model's own batcher). A room
bot's router gets one `RemotePair` per pair the deployment serves, with the engine name a
local CTranslate2Pair has, in the same order of preference, before its Apertium pairs.
The model directories must be at the same paths on every node that can hold a replica.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ray import serve

from bot.mt.base import TranslationError

APP = "interpres-mt"
DEPLOYMENT = "Translation"
TIMEOUT = 30.0  # seconds a caption waits for its translation before it is dropped


@serve.deployment(name=DEPLOYMENT, max_ongoing_requests=256, health_check_period_s=2,
                  graceful_shutdown_timeout_s=5)
class Translation:
    def __init__(self, specs: tuple) -> None:
        from bot.mt.ctranslate2 import models_from

        # Per pair, a model made for it (Marian) before a multilingual one, as locally.
        self.models = sorted(models_from(specs), key=lambda model: model.multilingual)
        self.by_name = {model.name: model for model in self.models}
        for model in self.models:
            model.warm_up()

    def pairs(self) -> list[tuple[str, str, str, bool]]:
        """(model, source, target, multilingual) in order of preference."""
        return [(model.name, source, target, model.multilingual)
                for model in self.models for source, target in model.pairs()]

    async def translate(self, model: str, text: str, source: str, target: str) -> str:
        # In a thread: concurrent requests then meet in the model's batcher.
        return await asyncio.to_thread(self.by_name[model].translate, text, source, target)


def deploy(config: Any, num_cpus: float = 1, num_gpus: float = 0,
           replicas: int = 1) -> None:
    app = Translation.options(ray_actor_options={"num_cpus": num_cpus, "num_gpus": num_gpus},
                              num_replicas=replicas).bind(tuple(config.translation_models))
    serve.run(app, name=APP, route_prefix=None)


class RemotePair:
    """One pair of the deployment behind the TextTranslator interface (called from the
    bot's worker threads, so it may block on the answer)."""

    def __init__(self, handle: Any, model: str, source: str, target: str,
                 multilingual: bool) -> None:
        self.handle = handle
        self.model = model
        self.source = source
        self.target = target
        self.engine = (f"ctranslate2:{model}:{source}-{target}" if multilingual
                       else f"ctranslate2:{model}")

    def translate(self, text: str) -> str:
        if not text.strip():
            return ""
        try:
            return self.handle.translate.remote(self.model, text, self.source,
                                                self.target).result(timeout_s=TIMEOUT)
        except Exception as error:  # noqa: BLE001 - the caption is dropped, not the bot
            cause = getattr(error, "cause", None) or error
            raise TranslationError(f"{self.engine}: {cause}") from None

    def warm_up(self) -> None:
        self.translate("Hello.")

    def close(self) -> None:
        pass  # the deployment's models stay loaded for every room

    def __repr__(self) -> str:
        return f"RemotePair({self.engine!r})"


async def remote_pairs() -> list[RemotePair]:
    """The deployment's pairs, or none when no translation is deployed."""
    application = (await asyncio.to_thread(serve.status)).applications.get(APP)
    if application is None:
        return []
    handle = serve.get_deployment_handle(DEPLOYMENT, app_name=APP)
    return [RemotePair(handle, *row) for row in await handle.pairs.remote()]
