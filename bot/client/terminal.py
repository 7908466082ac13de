"""Live captions in a terminal: finals kept as lines, the caption being spoken redrawn in
place (committed words plain, the tail that may still change dimmed). Piped into a file or
another program, only finals and notices are written, one per line."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

from bot.client.messages import (
    CaptionEvent,
    Event,
    NoticeEvent,
    ParticipantsEvent,
    PhrasesEvent,
)

DIM, BOLD, RESET = "\x1b[2m", "\x1b[1m", "\x1b[0m"
CLEAR_LINE = "\r\x1b[K"


class CaptionPrinter:
    def __init__(self, out: TextIO = sys.stdout, live: bool | None = None) -> None:
        self.out = out
        self.live = out.isatty() if live is None else live
        self._drawn = False  # a live line is on screen
        self._current: CaptionEvent | None = None
        self._people: dict[str, str] = {}

    def show(self, event: Event) -> None:
        if isinstance(event, CaptionEvent):
            self.caption(event)
        elif isinstance(event, NoticeEvent):
            self.line(f"· {event.text}", dim=True)
        elif isinstance(event, ParticipantsEvent):
            people = {p.id: p.name for p in event.participants if not p.you}
            for pid in people.keys() - self._people.keys():
                self.line(f"· {people[pid]} joined", dim=True)
            for pid in self._people.keys() - people.keys():
                self.line(f"· {self._people[pid]} left", dim=True)
            self._people = people
        elif isinstance(event, PhrasesEvent) and event.phrases:
            terms = ", ".join(p.get("term", "") for p in event.phrases)
            self.line(f"· names and terms: {terms}", dim=True)

    def caption(self, event: CaptionEvent) -> None:
        if event.final:
            if self._current is not None and self._current.segment == event.segment:
                self._current = None
            if event.text:
                self.line(self._styled(event.speaker_name, event.text, ""))
            return
        if self.live:
            self._current = event
            self._redraw()

    def line(self, text: str, dim: bool = False) -> None:
        """A permanent line, above the live one."""
        if self.live:
            self.out.write(CLEAR_LINE + (f"{DIM}{text}{RESET}" if dim else text) + "\n")
            self._drawn = False
            self._redraw()
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def close(self) -> None:
        if self.live and self._drawn:
            self.out.write(CLEAR_LINE)
            self.out.flush()

    def _styled(self, name: str, committed: str, tail: str) -> str:
        speaker = f"{BOLD}{name}{RESET}: " if self.live else f"{name}: "
        return speaker + committed + (f"{DIM}{tail}{RESET}" if tail else "")

    def _redraw(self) -> None:
        event = self._current
        if event is None:
            if self._drawn:
                self.out.write(CLEAR_LINE)
                self._drawn = False
            self.out.flush()
            return
        width = shutil.get_terminal_size((100, 20)).columns - 1
        committed, tail = event.committed, event.tail
        room = max(10, width - len(event.speaker_name) - 2)
        # Keep the newest words: cut from the left, committed first.
        overflow = len(committed) + len(tail) - room
        if overflow > 0:
            cut = min(overflow + 1, len(committed))
            committed = "…" + committed[cut:] if cut else committed
            overflow = len(committed) + len(tail) - room
            if overflow > 0:
                tail = "…" + tail[overflow + 1:]
        self.out.write(CLEAR_LINE + self._styled(event.speaker_name, committed, tail))
        self._drawn = True
        self.out.flush()
