"""Subtitle files (WebVTT, SRT) from the caption stream of one language.

Only final captions become cues: interims are revisions a viewer of a file never needs.
Lines follow the common broadcast limits (42 characters, two lines per cue) so the files read
well in players; a longer caption becomes several cues that share its time by length.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

from bot.events import Caption

LINE_CHARS = 42
LINES_PER_CUE = 2
MIN_CUE_MS = 500


@dataclass(frozen=True)
class _Cue:
    start_ms: int
    end_ms: int
    lines: tuple[str, ...]
    speaker: str


def final_captions(captions: Iterable[Caption], lang: str) -> list[Caption]:
    """The final revision of each segment in `lang`, ordered by start time."""
    finals: dict[str, Caption] = {}
    for caption in captions:
        if caption.lang != lang or not caption.final:
            continue
        kept = finals.get(caption.segment)
        if kept is None or caption.rev > kept.rev:
            finals[caption.segment] = caption
    return sorted(finals.values(), key=lambda c: (c.t0, c.t1, c.segment))


def to_webvtt(captions: Iterable[Caption], lang: str) -> str:
    blocks = ["WEBVTT\n\n"]
    for cue in _cues(captions, lang, speaker_in_text=False):
        voice = f"<v {_escape(cue.speaker)}>" if cue.speaker else ""
        text = "\n".join(_escape(line) for line in cue.lines)
        blocks.append(f"{_vtt_time(cue.start_ms)} --> {_vtt_time(cue.end_ms)}\n{voice}{text}\n\n")
    return "".join(blocks)


def to_srt(captions: Iterable[Caption], lang: str) -> str:
    blocks = []
    for number, cue in enumerate(_cues(captions, lang, speaker_in_text=True), start=1):
        times = f"{_srt_time(cue.start_ms)} --> {_srt_time(cue.end_ms)}"
        blocks.append(f"{number}\n{times}\n" + "\n".join(cue.lines) + "\n\n")
    return "".join(blocks)


def _cues(captions: Iterable[Caption], lang: str, speaker_in_text: bool) -> list[_Cue]:
    cues: list[_Cue] = []
    for caption in final_captions(captions, lang):
        # Collapsing whitespace also removes blank lines, which would end a cue early.
        text = " ".join(caption.text.split())
        if not text:
            continue
        speaker = " ".join(caption.speaker.name.split())
        if speaker_in_text and speaker:
            text = f"{speaker}: {text}"
        cues.extend(_split(caption, text, speaker))
    return _fix_timing(cues)


def _split(caption: Caption, text: str, speaker: str) -> list[_Cue]:
    lines = textwrap.wrap(text, LINE_CHARS, break_on_hyphens=False)
    groups = [tuple(lines[i : i + LINES_PER_CUE]) for i in range(0, len(lines), LINES_PER_CUE)]
    start_ms = _ms(caption.t0)
    span_ms = _ms(caption.t1) - start_ms
    if span_ms <= 0:
        # No usable end time: let each cue have the minimum rather than stacking them.
        span_ms = MIN_CUE_MS * len(groups)
    total_chars = sum(len(line) for line in lines)
    cues, chars_before = [], 0
    for group in groups:
        chars_after = chars_before + sum(len(line) for line in group)
        cues.append(_Cue(
            start_ms=start_ms + span_ms * chars_before // total_chars,
            end_ms=start_ms + span_ms * chars_after // total_chars,
            lines=group, speaker=speaker,
        ))
        chars_before = chars_after
    return cues


def _fix_timing(cues: list[_Cue]) -> list[_Cue]:
    """Give each cue at least MIN_CUE_MS, unless that would run into the next cue's start.

    Cues that truly overlap (two people speaking at once) keep their own times: players show
    both. Whatever happens, a cue ends after it starts.
    """
    cues = sorted(cues, key=lambda cue: cue.start_ms)  # stable: a caption's cues keep order
    fixed: list[_Cue] = []
    next_start: int | None = None  # the nearest start strictly after this cue's start
    for index in reversed(range(len(cues))):
        cue = cues[index]
        if index + 1 < len(cues) and cues[index + 1].start_ms > cue.start_ms:
            next_start = cues[index + 1].start_ms
        extended = cue.start_ms + MIN_CUE_MS
        if next_start is not None:
            extended = min(extended, next_start)
        end_ms = max(cue.end_ms, extended, cue.start_ms + 1)
        fixed.append(_Cue(cue.start_ms, end_ms, cue.lines, cue.speaker))
    return fixed[::-1]


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _clock(ms: int, separator: str) -> str:
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    seconds, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{ms:03d}"


def _vtt_time(ms: int) -> str:
    return _clock(ms, ".")


def _srt_time(ms: int) -> str:
    return _clock(ms, ",")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
