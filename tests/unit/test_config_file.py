"""interpres.toml: what it declares, how the environment overrides it, and its error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config
from bot.config_file import ConfigError, CoquiVoiceModel, TranslationModel, read
from bot.models.embedded import ModelUnavailable, resolve_asr_model

FULL = """
models_dir = "models"

[asr]
model = "small"
device = "cuda"
compute_type = "float16"

[[translation]]
path = "opus-mt-en-fr"
beam_size = 4

[[translation]]
path = "/abs/nllb-200-distilled-600M"
layout = "nllb"
languages = ["en", "FR", "deu", "en"]
device = "cuda"
compute_type = "int8_float16"

[voices]
piper_dir = "~/voices"

[[voices.coqui]]
path = "vits-fr"
lang = "fr-FR"

[[voices.coqui]]
path = "xtts"
languages = ["en", "es"]
speaker_wav = "ana.wav"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "interpres.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_full_file(tmp_path: Path) -> None:
    settings = read(write(tmp_path, FULL))
    models = tmp_path.resolve() / "models"
    assert settings.models_dir == models
    assert settings.asr == {"model": "small", "device": "cuda", "compute_type": "float16"}
    assert settings.translation == (
        TranslationModel(path=models / "opus-mt-en-fr", beam_size=4),
        TranslationModel(path=Path("/abs/nllb-200-distilled-600M"), layout="nllb",
                         languages=("en", "fr", "de"), device="cuda",
                         compute_type="int8_float16"),
    )
    assert settings.piper_dir == Path("~/voices").expanduser()
    assert settings.coqui == (
        CoquiVoiceModel(path=models / "vits-fr", lang="fr"),
        CoquiVoiceModel(path=models / "xtts", languages=("en", "es"),
                        speaker_wav=models / "ana.wav"),
    )


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("INTERPRES_CONFIG", str(write(tmp_path, FULL)))
    for name in ("INTERPRES_ASR_MODEL", "INTERPRES_ASR_DEVICE", "INTERPRES_ASR_COMPUTE_TYPE",
                 "INTERPRES_VOICES_DIR", "INTERPRES_MODELS_DIR"):
        monkeypatch.delenv(name, raising=False)
    config = Config.from_env()
    assert (config.asr_model, config.asr_device, config.asr_compute_type) == (
        "small", "cuda", "float16")
    assert config.config_file == tmp_path / "interpres.toml"
    assert config.model_root == tmp_path.resolve() / "models"
    assert len(config.translation_models) == 2 and len(config.coqui_voices) == 2
    monkeypatch.setenv("INTERPRES_ASR_MODEL", "base")
    monkeypatch.setenv("INTERPRES_ASR_DEVICE", "cpu")
    monkeypatch.setenv("INTERPRES_VOICES_DIR", "/elsewhere")
    monkeypatch.setenv("INTERPRES_MODELS_DIR", "/models")
    config = Config.from_env()
    assert (config.asr_model, config.asr_device, config.asr_compute_type) == (
        "base", "cpu", "float16")
    assert config.voices_dir == "/elsewhere"
    assert config.model_root == Path("/models")


def test_no_file_is_the_embedded_default(monkeypatch) -> None:
    monkeypatch.delenv("INTERPRES_CONFIG", raising=False)
    monkeypatch.delenv("INTERPRES_ASR_MODEL", raising=False)
    config = Config.from_env()
    assert config.config_file is None
    assert config.asr_model == "base"
    assert config.translation_models == () and config.coqui_voices == ()
    assert config.model_root == config.home / "models"


@pytest.mark.parametrize(("text", "message"), [
    ("[asr]\nmodle = 'small'\n", r"\[asr\] modle is not a known setting here; known: "
                                 "allowed, compute_type, device, interim_copy, interim_model, "
                                 "lanes, lead_seconds, model, threads"),
    ("[asr]\nlead_seconds = 45\n", r"\[asr\] lead_seconds is 45; use seconds from 0 \(no lead\) "
                                     "to 30"),
    ("[asr]\nlead_seconds = '12'\n", r"\[asr\] lead_seconds is '12'; use seconds"),
    ("[asr]\ninterim_copy = 'no'\n", r"\[asr\] interim_copy must be true or false"),
    ("[asr]\nlanes = 0\n", r"\[asr\] lanes is 0; use a whole number from 1"),
    ("[asr]\nthreads = '2'\n", r"\[asr\] threads is '2'; use a whole number from 1"),
    ("colour = 1\n", "colour is not a known setting"),
    ("[asr]\ndevice = 'gpu'\n", r"\[asr\] device is 'gpu'; use one of cpu, cuda, auto"),
    ("[[translation]]\nlayout = 'marian'\n", r"\[translation #1\] path is missing"),
    ("[[translation]]\npath = 'x'\n[[translation]]\npath = 'y'\nlayout = 'opus'\n",
     r"\[translation #2\] layout is 'opus'; use one of marian, m2m100, nllb"),
    ("[[translation]]\npath = 'x'\nbeam_size = 0\n", "beam_size is 0; use a whole number"),
    ("[[translation]]\npath = 'x'\nsource = 'klingon'\n",
     "source is not a language Interpres knows"),
    ("[[translation]]\npath = 'x'\nlanguages = 'en,fr'\n", "must be a list of language codes"),
    ("[[voices.coqui]]\npath = 'v'\n", r"\[voices.coqui #1\] lang is missing"),
    ("[voices]\npiper_dir = 3\n", "piper_dir must be a string"),
    ("translation = 'x'\n", "must be a list of tables"),
    ("[asr\n", "not valid TOML"),
])
def test_mistakes_name_file_table_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        read(path)
    assert str(path) in str(caught.value)


def test_missing_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("INTERPRES_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="nope.toml does not exist"):
        Config.from_env()


def fake_whisper(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "model.bin").write_bytes(b"")
    (directory / "config.json").write_text("{}")
    return directory


def test_asr_model_names_resolve_in_the_models_directory(tmp_path: Path) -> None:
    small = fake_whisper(tmp_path / "faster-whisper-small")
    mine = fake_whisper(tmp_path / "my-model")
    assert resolve_asr_model("small", models_dir=tmp_path) == small
    assert resolve_asr_model("my-model", models_dir=tmp_path) == mine
    assert resolve_asr_model(str(mine), models_dir=tmp_path / "elsewhere") == mine
    with pytest.raises(ModelUnavailable) as caught:
        resolve_asr_model("large-v3", models_dir=tmp_path)
    message = str(caught.value)
    # It names every place it looked, and how to get the model.
    for looked in ("large-v3", "faster-whisper-large-v3", "whisper-large-v3"):
        assert str(tmp_path / looked) in message
    assert "interpres models pull large-v3" in message


def test_janus_table(tmp_path: Path) -> None:
    settings = read(write(tmp_path, '[janus]\nurl = "http://janus:8088/janus"\nroom = 1234\n'
                                    'pin = "4321"\nto = ["EN", "fra"]\n'))
    assert settings.janus == {"url": "http://janus:8088/janus", "room": 1234, "pin": "4321",
                              "to": ("en", "fr")}
    with pytest.raises(ConfigError, match=r"\[janus\] room is 'x'; use the room's number"):
        read(write(tmp_path, '[janus]\nroom = "x"\n'))


def test_allowed_languages_from_the_file_and_the_environment(tmp_path, monkeypatch) -> None:
    from bot.config import Config
    from bot.config_file import ConfigError

    path = tmp_path / "interpres.toml"
    path.write_text('[asr]\nallowed = ["en", "es", "fra"]\n')
    monkeypatch.setenv("INTERPRES_CONFIG", str(path))
    monkeypatch.delenv("INTERPRES_ALLOWED_LANGUAGES", raising=False)
    assert Config.from_env().asr_allowed == ("en", "es", "fr")
    monkeypatch.setenv("INTERPRES_ALLOWED_LANGUAGES", "de, zh")
    assert Config.from_env().asr_allowed == ("de", "zh")
    monkeypatch.setenv("INTERPRES_ALLOWED_LANGUAGES", "de,klingon")
    with pytest.raises(ConfigError, match="INTERPRES_ALLOWED_LANGUAGES"):
        Config.from_env()
    monkeypatch.delenv("INTERPRES_ALLOWED_LANGUAGES")
    path.write_text('[asr]\nallowed = "en"\n')
    with pytest.raises(ConfigError, match="allowed"):
        Config.from_env()


def test_phrases_table_is_read_and_checked(tmp_path: Path):
    from bot.phrases import Phrase

    path = tmp_path / "interpres.toml"
    path.write_text('[[phrases]]\nterm = "Interpres"\nsay = "in ter press"\nfr = "Interprès"\n\n'
                    '[[phrases]]\nterm = "Karvonix"\n')
    assert read(path).phrases == (Phrase("Interpres", {"fr": "Interprès"}, "in ter press"),
                                  Phrase("Karvonix"))
    path.write_text('[[phrases]]\nterm = "Karvonix"\nklingon = "x"\n')
    with pytest.raises(ConfigError, match=r"\[\[phrases\]\] phrase 1: 'klingon'"):
        read(path)


def test_janus_table_takes_the_public_url_and_leave_after(tmp_path: Path, monkeypatch):
    path = tmp_path / "interpres.toml"
    path.write_text('[janus]\nurl = "http://127.0.0.1:8088/janus"\n'
                    'public_url = "https://meet.example.org/janus-api"\nleave_after = 60\n')
    monkeypatch.setenv("INTERPRES_CONFIG", str(path))
    janus = Config.from_env().janus
    assert janus["public_url"] == "https://meet.example.org/janus-api"
    assert janus["leave_after"] == 60.0
    monkeypatch.setenv("INTERPRES_JANUS_PUBLIC_URL", "https://other.example.org/j")
    assert Config.from_env().janus["public_url"] == "https://other.example.org/j"
    path.write_text('[janus]\nleave_after = "soon"\n')
    with pytest.raises(ConfigError, match="leave_after"):
        read(path)


def test_recognition_lanes_from_the_file_the_environment_and_the_cores(tmp_path, monkeypatch):
    path = write(tmp_path, "[asr]\nlanes = 3\nthreads = 2\n")
    monkeypatch.setenv("INTERPRES_CONFIG", str(path))
    for variable in ("INTERPRES_ASR_LANES", "INTERPRES_ASR_THREADS", "INTERPRES_ASR_DEVICE"):
        monkeypatch.delenv(variable, raising=False)
    assert Config.from_env().recognition_lanes() == (3, 2)
    monkeypatch.setenv("INTERPRES_ASR_LANES", "1")
    assert Config.from_env().recognition_lanes() == (1, 2)
    monkeypatch.setenv("INTERPRES_ASR_LANES", "none")
    with pytest.raises(ConfigError, match="INTERPRES_ASR_LANES is 'none'; use a whole number"):
        Config.from_env()
    monkeypatch.delenv("INTERPRES_ASR_LANES")
    # Not set: two one-thread lanes on two cores, the cores shared between two lanes on
    # more, one lane on a GPU (or a single core).
    path.write_text("")
    for cores, device, expected in [(2, "cpu", (2, 1)), (8, "cpu", (2, 4)), (1, "cpu", (1, 1)),
                                    (8, "cuda", (1, 8))]:
        monkeypatch.setattr("os.sched_getaffinity", lambda _, n=cores: set(range(n)))
        monkeypatch.setenv("INTERPRES_ASR_DEVICE", device)
        assert Config.from_env().recognition_lanes() == expected


def test_the_interim_copy_is_off_unless_the_file_or_the_environment_turn_it_on(tmp_path,
                                                                               monkeypatch):
    monkeypatch.delenv("INTERPRES_ASR_INTERIM_COPY", raising=False)
    path = write(tmp_path, "")
    monkeypatch.setenv("INTERPRES_CONFIG", str(path))
    assert not Config.from_env().asr_interim_copy
    path.write_text("[asr]\ninterim_copy = true\n")
    assert Config.from_env().asr_interim_copy
    monkeypatch.setenv("INTERPRES_ASR_INTERIM_COPY", "off")
    assert not Config.from_env().asr_interim_copy
    monkeypatch.setenv("INTERPRES_ASR_INTERIM_COPY", "maybe")
    with pytest.raises(ConfigError, match="INTERPRES_ASR_INTERIM_COPY is 'maybe'; use on or off"):
        Config.from_env()


def test_the_lead_is_12_s_unless_the_file_or_the_environment_say_otherwise(tmp_path,
                                                                          monkeypatch):
    monkeypatch.delenv("INTERPRES_LEAD_SECONDS", raising=False)
    path = write(tmp_path, "")
    monkeypatch.setenv("INTERPRES_CONFIG", str(path))
    assert Config.from_env().asr_lead_seconds == 12.0
    path.write_text("[asr]\nlead_seconds = 20\n")
    assert Config.from_env().asr_lead_seconds == 20.0
    path.write_text("[asr]\nlead_seconds = 0\n")
    assert Config.from_env().asr_lead_seconds == 0.0
    monkeypatch.setenv("INTERPRES_LEAD_SECONDS", "6.5")
    assert Config.from_env().asr_lead_seconds == 6.5
    for wrong in ("-1", "31", "twelve", "nan"):
        monkeypatch.setenv("INTERPRES_LEAD_SECONDS", wrong)
        with pytest.raises(ConfigError, match=f"INTERPRES_LEAD_SECONDS is '{wrong}'; use "
                                              r"seconds from 0 \(no lead\) to 30"):
            Config.from_env()
