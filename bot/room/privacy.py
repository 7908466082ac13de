"""What everyone who joins is told about the room's transcription, in both room kinds."""

from __future__ import annotations

from bot.store import TranscriptStore


def privacy_text(store: TranscriptStore | None) -> str:
    if store is None:
        kept = "Nothing is stored."
    elif store.in_memory:
        kept = "Captions are kept in this server's memory until it stops."
    elif store.retention_days:
        kept = f"Captions are stored on this server for {store.retention_days:g} days."
    else:
        kept = "Captions are stored on this server until its operator deletes them."
    return ("This room is transcribed and translated by Interpres. " + kept +
            " To opt out, turn off \u201cTranscribe my speech\u201d in Settings: "
            "the others still hear you.")
