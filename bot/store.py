"""Final captions per room and language, kept for export (WebVTT, SRT, JSON, TXT).

SQLite from the standard library: a file in WAL mode when retention is on, memory when it is
off (nothing reaches the disk). One row per final caption per language; a re-sent final with
the same segment replaces the row. Writes are tiny and come at caption rates, so the asyncio
loop may call this directly; a lock makes it safe from worker threads too.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from bot.events import Caption, Speaker
from bot.subtitles import to_srt, to_webvtt

FORMATS = ("vtt", "srt", "json", "txt")
SECONDS_PER_DAY = 86_400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS captions (
    room TEXT NOT NULL,
    segment TEXT NOT NULL,
    lang TEXT NOT NULL,
    source_lang TEXT NOT NULL,
    speaker_id TEXT NOT NULL,
    speaker_name TEXT NOT NULL,
    t0 REAL NOT NULL,
    t1 REAL NOT NULL,
    text TEXT NOT NULL,
    engine TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (room, segment, lang)
);
CREATE INDEX IF NOT EXISTS captions_room_lang_t0 ON captions (room, lang, t0);
CREATE INDEX IF NOT EXISTS captions_created_at ON captions (created_at);
CREATE TABLE IF NOT EXISTS phrases (
    room TEXT PRIMARY KEY,
    phrases TEXT NOT NULL,  -- the room's phrase list as JSON, as the API takes it
    updated_at REAL NOT NULL
);
"""

_COLUMNS = "segment, lang, source_lang, speaker_id, speaker_name, t0, t1, text, engine"


class TranscriptStore:
    """Final captions per room and language. SQLite (stdlib sqlite3, WAL) on disk, or in memory.

    `path` None or ":memory:" keeps everything in memory. `retention_days` None keeps rows
    until `delete_room`; otherwise `purge` removes rows older than that. `clock` gives the
    `created_at` of new rows (tests pass a fake one).
    """

    def __init__(self, path: str | Path | None, retention_days: float | None = None,
                 *, clock: Callable[[], float] = time.time) -> None:
        assert retention_days is None or retention_days > 0, "retention_days must be positive"
        self.retention_days = retention_days
        self._clock = clock
        self._lock = threading.Lock()
        target = ":memory:"
        if path is not None and str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            target = str(path)
        self.in_memory = target == ":memory:"
        self._db = sqlite3.connect(target, check_same_thread=False, timeout=5.0)
        if not self.in_memory:
            self._db.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL loses at most the last commits on power loss, never consistency.
            self._db.execute("PRAGMA synchronous=NORMAL")
        with self._db:
            self._db.executescript(_SCHEMA)

    def add(self, room: str, caption: Caption) -> None:
        """Store a final caption; interims and empty finals are ignored."""
        if not caption.final or not caption.text.strip():
            return
        row = (room, caption.segment, caption.lang, caption.source_lang, caption.speaker.id,
               caption.speaker.name, caption.t0, caption.t1, caption.text, caption.engine,
               self._clock())
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO captions (room, " + _COLUMNS + ", created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (room, segment, lang) DO UPDATE SET"
                " source_lang = excluded.source_lang, speaker_id = excluded.speaker_id,"
                " speaker_name = excluded.speaker_name, t0 = excluded.t0, t1 = excluded.t1,"
                " text = excluded.text, engine = excluded.engine,"
                " created_at = excluded.created_at",
                row,
            )

    def captions(self, room: str, lang: str) -> list[Caption]:
        """The room's final captions in `lang`, ordered by start time."""
        with self._lock:
            rows = self._db.execute(
                "SELECT " + _COLUMNS + " FROM captions WHERE room = ? AND lang = ?"
                " ORDER BY t0, t1, segment",
                (room, lang),
            ).fetchall()
        return [
            Caption(segment=segment, rev=1, final=True, speaker=Speaker(speaker_id, speaker_name),
                    source_lang=source_lang, lang=row_lang, text=text, committed=text,
                    t0=t0, t1=t1, engine=engine)
            for (segment, row_lang, source_lang, speaker_id, speaker_name, t0, t1, text, engine)
            in rows
        ]

    def languages(self, room: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT lang FROM captions WHERE room = ? ORDER BY lang", (room,),
            ).fetchall()
        return [lang for (lang,) in rows]

    def set_phrases(self, room: str, phrases: list[dict[str, str]]) -> None:
        """Keep a room's phrase list (replacing the one before)."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO phrases (room, phrases, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (room) DO UPDATE SET phrases = excluded.phrases,"
                " updated_at = excluded.updated_at",
                (room, json.dumps(phrases, ensure_ascii=False), self._clock()))

    def phrases(self, room: str) -> list[dict[str, str]] | None:
        """The room's phrase list as stored, or None when it never had one of its own."""
        with self._lock:
            row = self._db.execute("SELECT phrases FROM phrases WHERE room = ?",
                                   (room,)).fetchone()
        return json.loads(row[0]) if row else None

    def export(self, room: str, lang: str, fmt: str,
               rewrite: Callable[[str], str] | None = None) -> tuple[str, str]:
        """(media type, body) of the room's transcript in `lang` as vtt, srt, json or txt;
        `rewrite` changes each caption's text (a reader's profanity setting)."""
        if fmt not in FORMATS:
            raise ValueError("format must be one of " + ", ".join(FORMATS))
        captions = self.captions(room, lang)
        if rewrite is not None:
            captions = [replace(c, text=rewrite(c.text), committed=rewrite(c.committed))
                        for c in captions]
        if fmt == "vtt":
            return "text/vtt; charset=utf-8", to_webvtt(captions, lang)
        if fmt == "srt":
            return "application/x-subrip; charset=utf-8", to_srt(captions, lang)
        if fmt == "json":
            body = json.dumps([c.to_wire() for c in captions], ensure_ascii=False)
            return "application/json", body
        return "text/plain; charset=utf-8", "".join(_text_line(c) for c in captions)

    def delete_room(self, room: str) -> int:
        """Delete every caption of the room; returns how many rows went."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM phrases WHERE room = ?", (room,))
            return self._db.execute("DELETE FROM captions WHERE room = ?", (room,)).rowcount

    def purge(self, now: float | None = None) -> int:
        """Delete captions stored more than `retention_days` ago; returns how many went."""
        if self.retention_days is None:
            return 0
        now = self._clock() if now is None else now
        cutoff = now - self.retention_days * SECONDS_PER_DAY
        with self._lock, self._db:
            return self._db.execute(
                "DELETE FROM captions WHERE created_at < ?", (cutoff,)).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> TranscriptStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _text_line(caption: Caption) -> str:
    minutes, seconds = divmod(max(0, int(caption.t0)), 60)
    hours, minutes = divmod(minutes, 60)
    speaker = " ".join(caption.speaker.name.split())
    text = " ".join(caption.text.split())
    prefix = f"{speaker}: " if speaker else ""
    return f"[{hours:02d}:{minutes:02d}:{seconds:02d}] {prefix}{text}\n"
