"""The engines a pipeline needs, loaded once and shared by every speaker and room."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.asr.scheduler import RecognitionScheduler
from bot.asr.whisper import WhisperEngine
from bot.config import Config
from bot.models.embedded import resolve_asr_model
from bot.mt.router import TranslationRouter
from bot.tts.voices import VoiceRegistry
from bot.workers import Workers

log = logging.getLogger(__name__)
# Niceness of the CTranslate2 threads that decode interims (WhisperEngine background_nice).
INTERIM_NICE = 10


@dataclass
class Engines:
    asr: WhisperEngine
    router: TranslationRouter
    voices: VoiceRegistry | None
    workers: Workers
    # Optional faster model for interim decodes of English speech (e.g. tiny.en).
    interim_asr: WhisperEngine | None = None
    # Every Whisper decode of the process goes through it (bot/asr/scheduler.py).
    scheduler: RecognitionScheduler = field(default_factory=RecognitionScheduler)

    @classmethod
    def load(cls, config: Config, speech: bool = True,
             progress: Callable[[str], None] | None = None) -> Engines:
        say = progress or (lambda message: None)
        asr, interim = load_whisper(config, say)
        router, voices = load_translation_and_voices(config, speech, say)
        return cls(asr=asr, router=router, voices=voices, workers=Workers(),
                   interim_asr=interim, scheduler=RecognitionScheduler(lanes=asr.workers))

    def close(self) -> None:
        self.scheduler.close()
        self.router.close()
        self.workers.close()


def load_whisper(config: Config, say: Callable[[str], None] = lambda message: None
                 ) -> tuple[WhisperEngine, WhisperEngine | None]:
    """The [asr] model, warmed up, and the interim model when one is configured (a
    process's engines, or a cluster's recognition replica), with a CTranslate2 worker for
    each recognition lane (the scheduler takes its lanes from `asr.workers`)."""
    model_dir = resolve_asr_model(config.asr_model, models_dir=config.model_root)
    lanes, threads = config.recognition_lanes()
    say(f"loading Whisper {config.asr_model} ({config.asr_device}, {config.asr_compute_type}, "
        f"{lanes} decode(s) at once, {threads} thread(s) each; finals hear "
        f"{config.asr_lead_seconds:g} s of lead)")
    # With lanes on a CPU, interims decode on a copy whose threads yield to the finals'.
    background = INTERIM_NICE if (lanes > 1 and config.asr_device == "cpu"
                                  and config.asr_interim_copy) else None
    asr = WhisperEngine(model_dir, device=config.asr_device,
                        compute_type=config.asr_compute_type, name=config.asr_model,
                        cpu_threads=threads, workers=lanes, background_nice=background)
    asr.warm_up()
    interim = None
    if config.asr_interim_model and config.asr_interim_model != config.asr_model:
        say(f"loading Whisper {config.asr_interim_model} for English interims")
        interim = WhisperEngine(resolve_asr_model(config.asr_interim_model,
                                                  models_dir=config.model_root),
                                device=config.asr_device, compute_type=config.asr_compute_type,
                                name=config.asr_interim_model, cpu_threads=threads,
                                workers=lanes)
        interim.warm_up()
    return asr, interim


def load_translation_and_voices(config: Config, speech: bool, say: Callable[[str], None],
                                warm: bool = True
                                ) -> tuple[TranslationRouter, VoiceRegistry | None]:
    """What a pipeline needs besides recognition (a cluster's room bots load only this).
    `warm=False` leaves starting the translation engines to the caller."""
    if config.translation_models:
        say(f"loading {len(config.translation_models)} CTranslate2 translation model(s)")
    router = TranslationRouter.from_system(neural=config.translation_models)
    if warm:
        say("starting translation engines")
        router.warm_up()
    voices = None
    if speech:
        say("loading voices")
        voices = VoiceRegistry.from_system(config.voices_dir or None, coqui=config.coqui_voices)
    return router, voices
