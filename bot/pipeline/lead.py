"""The lead: the end of what a speaker said before, which their next final decode hears first.

Finals were decoded one utterance at a time, with the previous text only as the decoder's
prompt; an offline decode hears the whole talk. Hearing the last seconds before (up to 12 s
of the speaker's last utterances, reading on from their words, forced) brings the final
decodes close to the offline decode's accuracy (see whisper.Lead and the README's accuracy
section for the figures). It costs decode time: with 12 s of lead a final decode takes
about 3.5 times as long as without (0.78 against 0.21 s, one thread; see whisper.Lead).
"""

from __future__ import annotations

import numpy as np

from bot.asr.whisper import (
    FRAMES_PER_SECOND,
    LEAD_GAP_SAMPLES,
    MAX_FRAMES,
    SAMPLE_RATE,
    Lead,
    Transcript,
)
from bot.events import Word
from bot.languages import CHARACTER_SCRIPTS
from bot.pipeline.agreement import join_units

# Audio kept before a word where the lead starts: the word's onset is not cut.
ONSET = 0.1


def next_lead(transcript: Transcript, audio: np.ndarray, seconds: float
              ) -> tuple[Lead | None, str]:
    """The last whole words of an utterance's final that fit in `seconds`, with their audio
    (copied: the utterance's buffer is reused), and the words before them (the decoder's
    prompt should end there, or it would read the lead's words twice). No lead without
    word times or words."""
    words = transcript.words
    joiner = "" if transcript.language in CHARACTER_SCRIPTS else " "
    if seconds <= 0 or not words:
        return None, transcript.text.strip()
    end = len(audio) / SAMPLE_RATE
    first = next((i for i, w in enumerate(words) if end - w.start <= seconds), len(words))
    before, text = _split_at(transcript.text, words, first, joiner)
    if not text:
        return None, before
    start = max(0.0, words[first].start - ONSET)
    if first:  # not into the word before
        start = max(start, words[first - 1].end)
    lead = Lead(np.array(audio[int(start * SAMPLE_RATE):], np.float32), text,
                transcript.language)
    return lead, before


def chained(leads: list[Lead], language: str | None, utterance_samples: int,
            margin_frames: int, newest_only: bool = False) -> tuple[Lead | None, str]:
    """The speaker's last utterances' leads (oldest first) as one lead, the pause between
    two cut to the lead's gap: as many of the newest as fit Whisper's window with the
    utterance (only the newest with `newest_only`, under load). Returns it with the text of
    those left out, which belongs at the end of the decoder's prompt. None where the newest
    does not fit or is in another language.

    One utterance's lead is a sentence or two; an offline decode hears up to 30 s. On the
    material cut at its own sentence boundaries (es, fr, de, it, pt), leads of up to 6, 12
    and 20 s of the speaker's last utterances gave 35.6, 33.0 and 29.3 % WER."""
    room = (MAX_FRAMES - margin_frames) * (SAMPLE_RATE // FRAMES_PER_SECOND)
    kept: list[Lead] = []
    total = utterance_samples
    for lead in reversed(leads[-1:] if newest_only else leads):
        total += lead.samples  # each lead's samples count the gap after it
        if lead.language != language or total > room:
            break
        kept.insert(0, lead)
    if not kept:
        return None, ""
    left_out = join_units([lead.text for lead in leads[:len(leads) - len(kept)]],
                          kept[0].language)
    return _joined_leads(kept), left_out


def within(leads: list[Lead], seconds: float) -> tuple[list[Lead], list[Lead]]:
    """(the newest leads whose audio, with a gap between two, lasts at most `seconds`; the
    older ones). The newest is always kept."""
    kept, total = leads[-1:], leads[-1].samples if leads else 0
    for lead in reversed(leads[:-1]):
        total += lead.samples
        if total > seconds * SAMPLE_RATE:
            break
        kept.insert(0, lead)
    return kept, leads[:len(leads) - len(kept)]


def _joined_leads(leads: list[Lead]) -> Lead:
    if len(leads) == 1:
        return leads[0]
    gap = np.zeros(LEAD_GAP_SAMPLES, np.float32)
    audio = np.concatenate([part for lead in leads for part in (lead.audio, gap)][:-1])
    return Lead(audio, join_units([lead.text for lead in leads], leads[0].language),
                leads[0].language)


def _split_at(text: str, words: tuple[Word, ...], first: int, joiner: str
              ) -> tuple[str, str]:
    """The decoded text split where `words[first]` begins. Taken from the text, not by
    joining words: alignment splits some words ("3" ".100" for "3.100"), and a lead forced
    as "3 .100" is not what the model read, which misled the next decode."""
    bare = ["".join(w.text.split()) for w in words]
    if "".join(bare) != "".join(text.split()):  # words and text disagree: join the words
        return (joiner.join(w.text for w in words[:first]).strip(),
                joiner.join(w.text for w in words[first:]).strip())
    want, seen = sum(map(len, bare[:first])), 0
    for at, ch in enumerate(text):
        if seen == want:
            return text[:at].strip(), text[at:].strip()
        seen += not ch.isspace()
    return text.strip(), ""
