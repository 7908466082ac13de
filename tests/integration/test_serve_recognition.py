"""Recognition through the Ray Serve deployment, on a real one-node Ray cluster: the same
transcripts as in-process, a bad request fails only its caller, a superseded interim is
dropped across the process boundary, and decodes carry their replica."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from bench.ray_local import local_cluster
from bot.asr.scheduler import Dropped
from bot.asr.whisper import DecodeOptions, Transcript
from bot.config_file import read
from tests.integration.test_scheduler import cut, requests

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def serve_recognition():
    import ray

    from bot.cluster.connect import join_cluster
    from bot.config import Config

    with local_cluster(Path(tempfile.mkdtemp()), None, {}) as cluster:
        try:
            join_cluster(replace(Config.from_env(), cluster={"address": cluster.address}))
            yield cluster
        finally:
            ray.shutdown()


def test_serve_gives_the_in_process_transcripts(serve_recognition, engines) -> None:
    from bot.cluster.recognition import ServeRecognition

    items = requests(5)

    async def main() -> list[Transcript]:
        remote, asr, _ = await ServeRecognition.connect()
        assert asr.name == engines.asr.name and asr.multilingual
        got = await asyncio.gather(*(remote.decode(asr, audio, options)
                                     for audio, options in items))
        assert remote.traffic.served == len(items) and len(remote.traffic.replicas) == 1
        return list(got)

    remote = asyncio.run(main())
    local = [engines.asr.transcribe(audio, options) for audio, options in items]
    for theirs, ours in zip(remote, local, strict=True):
        assert (theirs.text, theirs.language) == (ours.text, ours.language)


def test_a_bad_request_fails_only_its_caller(serve_recognition) -> None:
    from bot.cluster.recognition import ServeRecognition

    audio = cut(0)
    good = DecodeOptions(language="en")

    async def main() -> list:
        remote, asr, _ = await ServeRecognition.connect()
        return await asyncio.gather(*(remote.decode(asr, audio, options) for options in
                                      (good, replace(good, language="xx"), good)),
                                    return_exceptions=True)

    first, bad, third = asyncio.run(main())
    assert isinstance(first, Transcript) and isinstance(third, Transcript)
    assert isinstance(bad, Exception) and not isinstance(bad, Dropped)
    assert "xx" in str(bad)


def test_a_superseded_interim_is_dropped_through_serve(serve_recognition) -> None:
    from bot.cluster.recognition import ServeRecognition

    audio = cut(0, 8.0)

    async def main() -> list:
        remote, asr, _ = await ServeRecognition.connect()
        # A final holds the replica's finals lane and another speaker's long interim its
        # interims' lane (with one lane, both wait on the same); the speaker's first
        # interim waits, and its second interim supersedes it there.
        slow = DecodeOptions(beam_size=5, word_timestamps=True)
        final = asyncio.ensure_future(remote.decode(asr, audio, slow))
        other = asyncio.ensure_future(remote.decode(asr, audio, slow, kind="interim",
                                                    speaker="t"))
        await asyncio.sleep(0.1)
        first = asyncio.ensure_future(remote.decode(asr, audio, DecodeOptions(),
                                                    kind="interim", speaker="s"))
        await asyncio.sleep(0.1)
        second = asyncio.ensure_future(remote.decode(asr, audio, DecodeOptions(),
                                                     kind="interim", speaker="s"))
        return await asyncio.gather(final, other, first, second, return_exceptions=True)

    final, other, first, second = asyncio.run(main())
    assert isinstance(final, Transcript) and isinstance(other, Transcript)
    assert isinstance(first, Dropped), first
    assert isinstance(second, Transcript)


def test_translation_through_serve(serve_recognition, tiny_models) -> None:
    """The configured CTranslate2 models as the translation deployment: a room bot's router
    puts its pairs first, answers equal the local model's, a bad request fails alone."""
    from bench.tiny_models import EN_FR
    from bot.cluster import translation
    from bot.config import Config
    from bot.mt.base import TranslationError
    from bot.mt.router import TranslationRouter

    config = replace(Config.from_env(), translation_models=read(tiny_models).translation)
    translation.deploy(config)
    pairs = asyncio.run(translation.remote_pairs())
    router = TranslationRouter.from_system(translators=pairs)
    try:
        assert router.route("en", "fr").engine == "ctranslate2:opus-mt-en-fr"
        assert router.route("fr", "en").engine == "ctranslate2:tiny-m2m100:fr-en"
        for english, french in EN_FR:
            assert router.translate(router.route("en", "fr"), english) == french
        bad = translation.RemotePair(pairs[0].handle, "no-such-model", "en", "fr", False)
        with pytest.raises(TranslationError, match="no-such-model"):
            bad.translate("Hello.")
        assert router.translate(router.route("en", "fr"), EN_FR[0][0]) == EN_FR[0][1]
    finally:
        router.close()
