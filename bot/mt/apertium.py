"""Apertium pairs behind one long-running, null-flushed pipeline per pair."""

from __future__ import annotations

import os
import re
import select
import shlex
import subprocess
import threading
import time
from pathlib import Path

from prometheus_client import Counter

from bot.languages import UnknownLanguage, normalize
from bot.mt.base import TranslationError

MODES_DIR = Path("/usr/share/apertium/modes")

# Characters with a meaning in Apertium's stream format; plain text must escape them.
_RESERVED = re.compile(r"([\[\]^$/\\@<>{}])")
# One pass over the output: an escape gives its character back, a bare "[]" superblank
# (the one we append to every request) disappears.
_UNSTREAM = re.compile(r"\\(.)|\[\]", re.DOTALL)
_LINE_BREAKS = re.compile(r"[\x00\r\n]")


def installed_pairs(modes_dir: Path | None = None) -> dict[tuple[str, str], str]:
    """(source, target) in ISO 639-1 -> the plain mode name, e.g. ("es", "en") -> "spa-eng"."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted((modes_dir or MODES_DIR).glob("*.mode")):
        plain, _, variant = path.stem.partition("_")
        codes = plain.split("-")
        if len(codes) != 2:  # e.g. "eco-fr-es": not a pair we know how to name
            continue
        try:
            pair = (normalize(codes[0]), normalize(codes[1]))
        except UnknownLanguage:
            continue
        # A variant ("spa-eng_US", "es-pt_BR") only stands in until the plain mode is seen.
        if pair not in found or not variant:
            found[pair] = path.stem
    return found


def pipeline_commands(mode_file: Path) -> list[list[str]]:
    """The stages of a .mode file as argv lists, each told to flush on NUL (-z).

    `$1` is the generator's option: -n drops the '*'/'#' marks on unknown words, as
    `apertium -u` does. `$2` (the tagger's ambiguity option) stays unset.
    """
    lexer = shlex.shlex(mode_file.read_text(), posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    stages: list[list[str]] = [[]]
    for token in lexer:
        if token == "|":
            stages.append([])
        elif token == "$1":
            stages[-1].append("-n")
        elif token != "$2":
            stages[-1].append(token)
    # Insert -z right after the program name: every Apertium tool takes it there.
    return [[argv[0], "-z", *argv[1:]] for argv in stages if argv]


# Pipelines restarted after a stage died, by engine, for /metrics (process-wide, as the
# processes are).
RESTARTS = Counter("interpres_engine_restarts",
                   "Engine processes restarted after they died.", ["engine"])


class ApertiumTranslator:
    """One Apertium pair. Its pipeline starts on first use and serves every later text.

    Each request is the escaped text, a closing "[]" blank and a NUL: every stage flushes
    on the NUL, and the blank lets the stages that look one character ahead (the
    analyser on a final '.', `lt-proc -b` after a final word) finish the last word.
    """

    def __init__(self, mode: str, source: str, target: str, timeout: float = 10.0,
                 modes_dir: Path | None = None) -> None:
        self.engine = f"apertium:{mode}"
        self.source = source
        self.target = target
        self._mode_file = (modes_dir or MODES_DIR) / f"{mode}.mode"
        self._timeout = timeout
        self._lock = threading.Lock()
        self._stages: list[subprocess.Popen[bytes]] = []

    @property
    def pids(self) -> tuple[int, ...]:
        """The pipeline's process ids, first stage first; empty until the first text."""
        return tuple(stage.pid for stage in self._stages)

    def translate(self, text: str) -> str:
        line = " ".join(_LINE_BREAKS.sub(" ", text).split())
        if not line:
            return ""
        request = _RESERVED.sub(r"\\\1", line).encode() + b"[]\0"
        with self._lock:
            for attempt in (1, 2):
                try:
                    if not self._running():
                        if self._stages or attempt == 2:
                            RESTARTS.labels(self.engine).inc()
                        self._start()
                    reply = self._exchange(request)
                    # A stage that dies makes the ones after it flush a NUL at EOF: such
                    # an answer is partial or empty, never the translation.
                    if not reply.strip() or not self._running():
                        raise TranslationError("the pipeline broke mid-answer")
                    break
                except (OSError, TranslationError) as error:
                    self._stop()
                    if attempt == 2:
                        raise TranslationError(f"{self.engine}: {error}") from error
        return " ".join(_UNSTREAM.sub(lambda m: m.group(1) or "", reply).split())

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _running(self) -> bool:
        return bool(self._stages) and all(stage.poll() is None for stage in self._stages)

    def _start(self) -> None:
        commands = pipeline_commands(self._mode_file)
        upstream: int | None = subprocess.PIPE
        for argv in commands:
            stage = subprocess.Popen(
                argv, stdin=upstream, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
            if self._stages:
                # Only the next stage may hold the read end, so a dead stage gives EOF.
                self._stages[-1].stdout.close()  # type: ignore[union-attr]
            self._stages.append(stage)
            upstream = stage.stdout  # type: ignore[assignment]
        os.set_blocking(self._stages[0].stdin.fileno(), False)  # type: ignore[union-attr]

    def _exchange(self, request: bytes) -> str:
        """Write the request and read up to its NUL, both at once so long texts cannot
        deadlock on full pipes."""
        writer = self._stages[0].stdin.fileno()  # type: ignore[union-attr]
        reader = self._stages[-1].stdout.fileno()  # type: ignore[union-attr]
        deadline = time.monotonic() + self._timeout
        pending, received = memoryview(request), bytearray()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TranslationError(f"no answer within {self._timeout:g} s")
            readable, writable, _ = select.select(
                [reader], [writer] if pending else [], [], left
            )
            if writable:
                pending = pending[os.write(writer, pending):]
            if readable:
                chunk = os.read(reader, 65536)
                if not chunk:
                    raise TranslationError("the pipeline ended")
                received += chunk
                if b"\0" in received:
                    return received[: received.index(b"\0")].decode(errors="replace")

    def _stop(self) -> None:
        for stage in self._stages:
            if stage.poll() is None:
                stage.kill()
            stage.wait()
            for pipe in (stage.stdin, stage.stdout):
                if pipe is not None:
                    pipe.close()
        self._stages = []
