"""The lead: the end of a speaker's last utterance, which their next final decode hears first.

Finals were decoded one utterance at a time, with the previous text only as the decoder's
prompt; an offline decode hears the whole talk. Hearing the last few seconds before (and
reading on from their words, forced) brings the final decodes close to the offline decode's
accuracy (see whisper.Lead and the README's accuracy section for the figures). It about
doubles a final decode's time.
"""

from __future__ import annotations

import numpy as np

from bot.asr.whisper import FRAMES_PER_SECOND, MAX_FRAMES, SAMPLE_RATE, Lead, Transcript
from bot.events import Word
from bot.languages import CHARACTER_SCRIPTS

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


def usable(lead: Lead | None, language: str | None, utterance_samples: int,
           margin_frames: int) -> Lead | None:
    """The lead, if the final is decoded in its language and the two fit Whisper's 30 s
    window (with the encoder's margin); else None."""
    if lead is None or language != lead.language:
        return None
    room = (MAX_FRAMES - margin_frames) * (SAMPLE_RATE // FRAMES_PER_SECOND)
    return lead if lead.samples + utterance_samples <= room else None


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
