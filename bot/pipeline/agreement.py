"""The LocalAgreement policy: commit what two consecutive hypotheses agree on.

Units are words for spaced scripts and characters for Chinese, Japanese, Korean, Thai...
Comparison ignores case and punctuation (a decode that adds a comma after a word must not
block its commit), but the committed text is taken from the newer hypothesis. Later interim
decodes are forced to start with what is committed; only the final, which hears the whole
utterance, may correct a committed word (`corrected`).
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from dataclasses import dataclass, field

from bot.languages import CHARACTER_SCRIPTS


def split_units(text: str, lang: str) -> list[str]:
    if lang in CHARACTER_SCRIPTS:
        return [ch for ch in text if not ch.isspace()]
    return text.split()


def join_units(units: list[str], lang: str) -> str:
    return ("" if lang in CHARACTER_SCRIPTS else " ").join(units)


def comparable(unit: str) -> str:
    """Case and punctuation folded, so 'Americans,' agrees with 'americans'."""
    kept = [ch for ch in unit.casefold() if not unicodedata.category(ch).startswith("P")]
    return "".join(kept)


# In character scripts one unit is one character, and homophones trade places between
# decodes ("果州市", "古州市", "果州市" for 广州市): one differing character, with at
# least this many agreeing after it, does not stop the agreement (the newer decode's
# character is committed, and the final may still correct it).
CHARACTER_SLACK_RUN = 3


def agreed_prefix(previous: list[str], current: list[str], slack: bool = False) -> int:
    """Number of leading units on which the two hypotheses agree; with `slack`, one
    differing unit followed by CHARACTER_SLACK_RUN agreeing ones counts as agreed."""
    agreed, missed_at = 0, None
    for i, (a, b) in enumerate(zip(previous, current, strict=False)):
        if comparable(a) != comparable(b):
            if not slack or missed_at is not None:
                break
            missed_at = i
        elif missed_at is None or i - missed_at >= CHARACTER_SLACK_RUN:
            agreed = i + 1
    return agreed


@dataclass
class Agreement:
    """Per-utterance state of the policy.

    `update` takes each new interim hypothesis (which starts with the committed units, since
    decodes are forced to) and returns the committed units so far.
    """

    lang: str
    # Hypotheses that must agree before the FIRST commit of an utterance (later words need
    # two). The opening words are decoded with the least right context ("la harina son"
    # twice, then "las arenas son" once more audio came); a third vote cost 0.2 s of
    # committed-word lag at the median and 0.6 s at p95 in bench.latency, and the final,
    # which hears the whole utterance, corrects an opening word it is sure of.
    first_votes: int = 2
    committed: list[str] = field(default_factory=list)
    _previous: list[str] = field(default_factory=list)
    _earlier: list[list[str]] = field(default_factory=list)

    @classmethod
    def with_votes(cls, lang: str, earlier: list[str]) -> Agreement:
        """An agreement that has already heard `earlier` hypotheses (interims decoded in
        `lang` before the utterance's language was settled): they vote as if they had come
        after, so the first commit need not wait for new decodes."""
        agreement = cls(lang)
        for hypothesis in earlier:
            agreement.update(hypothesis)
        return agreement

    def update(self, hypothesis: str) -> list[str]:
        units = split_units(hypothesis, self.lang)
        n = len(self.committed)
        if [comparable(u) for u in units[:n]] != [comparable(u) for u in self.committed]:
            # The decoder did not keep the forced prefix (it can, after a language switch):
            # keep what is committed and compare only the tails.
            units = self.committed + units[n:]
        slack = self.lang in CHARACTER_SCRIPTS
        agreed = agreed_prefix(self._previous[n:], units[n:], slack)
        if n == 0:
            voters = self._earlier[-(self.first_votes - 2):] if self.first_votes > 2 else []
            if len(voters) < self.first_votes - 2:
                agreed = 0
            for earlier in voters:
                agreed = min(agreed, agreed_prefix(earlier, units, slack))
            self._earlier.append(self._previous)
        # Hold back the very last unit even when it agrees: at the edge of the audio a word may
        # still be cut ("American" then "Americans").
        agreed = min(agreed, max(0, len(units) - n - 1))
        self.committed = self.committed + units[n:n + agreed]
        self._previous = units
        return self.committed

    @property
    def committed_text(self) -> str:
        return join_units(self.committed, self.lang)

    def final_text(self, hypothesis: str) -> str:
        """The text to show for a new hypothesis, guaranteed to start with the committed text.

        The hypothesis may disagree inside the committed part (the final decode runs free,
        with a wider beam); its units are aligned to the committed ones and only what comes
        after the committed end is taken from it.
        """
        units = split_units(hypothesis, self.lang)
        n = len(self.committed)
        if n == 0:
            return join_units(units, self.lang)
        end = aligned_end(self.committed, units)
        text = join_units(self.committed + units[end:], self.lang)
        last, replacement = self.committed[-1], units[end - 1] if end else ""
        if (len(replacement) > len(last) and replacement.startswith(last)
                and replacement[len(last)] in "-'’"):
            # The committed word was the first part of a compound ("Sowohl" then
            # "Sowohl-Sprechenden"): extending it keeps the committed text a prefix, where
            # taking the final's next word would lose "-Sprechenden".
            committed = join_units(self.committed, self.lang)
            rest = join_units(units[end:], self.lang)
            text = committed + replacement[len(last):] + (
                ("" if self.lang in CHARACTER_SCRIPTS else " ") + rest if rest else "")
        return text


def aligned_end(committed: list[str], units: list[str]) -> int:
    """Index in `units` that corresponds to the end of `committed`."""
    a = [comparable(u) for u in committed]
    b = [comparable(u) for u in units]
    n = len(a)
    if b[:n] == a:
        return n
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    end = 0
    for block in matcher.get_matching_blocks():
        if block.size == 0 or block.a >= n:
            continue
        # Map the committed end through the last block that starts inside it.
        end = block.b + (n - block.a) if block.a + block.size >= n else block.b + block.size
        if block.a + block.size < n:
            # Units after this block and before the committed end were substituted.
            end += n - (block.a + block.size)
    return min(max(end, 0), len(units))


def unit_probabilities(units: list[str], words: list[tuple[str, float]]
                       ) -> list[float] | None:
    """Each unit's probability, from the final decode's aligned words (the least of the
    words it overlaps); None when the words do not spell the units (a phrase-list rewrite or
    a trimmed repetition changed them). Matched by characters, not by count: alignment
    splits some units in two ("20" ".000", "Sowohl" "-Sprechenden")."""
    per_char: list[float] = []
    for text, p in words:
        per_char += [p] * len("".join(text.split()))
    if "".join(units) != "".join("".join(text.split()) for text, _ in words):
        return None
    probs, at = [], 0
    for unit in units:
        probs.append(min(per_char[at:at + len(unit)], default=1.0))
        at += len(unit)
    return probs


def corrected(committed: list[str], units: list[str], probs: list[float],
              min_prob: float) -> list[str]:
    """The final's units, except where it leaves out committed words, or replaces them with
    words less probable than `min_prob`.

    The final hears the whole utterance with a wider beam, so where it reads a committed
    word differently ("kürzer klären" -> "kurz erklären") and every word it puts there has
    at least `min_prob` (the recognizer passes 0: always), its reading wins. Committed
    words the final leaves out are kept: a final that drops words the listener already read
    is worse than its own interims. Words the final hears that interims never committed are
    always kept: between committed words they take nothing from a reader, and dropping them
    lost a half sentence once the alignment anchored on one chance match ("Die Harben
    bestehend" committed, the final's "Wir haben bisher ... befragt, die meisten" matched
    only at "die"). Where they agree, the committed spelling stays ("Americans" against
    "Americans,").
    """
    a = [comparable(u) for u in committed]
    b = [comparable(u) for u in units]
    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if i1 >= len(a):  # past the committed end: the final's own tail
            out += units[j1:j2]
        elif op in ("equal", "delete"):  # the committed spelling stays ("Americans" not
            out += committed[i1:i2]      # "Americans,"): nothing a reader saw moves
        elif op == "insert" or min(probs[j1:j2]) >= min_prob:
            out += units[j1:j2]
        elif i2 == len(a) and op == "replace":
            # The committed end falls inside this span: keep the committed units, then the
            # final's units beyond as many as were committed.
            out += committed[i1:i2] + units[j1 + (i2 - i1):j2]
        else:
            out += committed[i1:i2]
    return out


def copies_context(units: list[str], context: str, lang: str, committed: list[str],
                   span: int = 5) -> bool:
    """Whether a decode opens by repeating the previous-text prompt (Whisper sometimes
    continues its prompt: the last sentence said comes out again before the new one),
    beyond what interims already committed."""
    head = [comparable(u) for u in units[:span]]
    if len(head) < span or [comparable(u) for u in committed[:span]] == head:
        return False
    said = [comparable(u) for u in split_units(context, lang)]
    return any(said[i:i + span] == head for i in range(len(said) - span + 1))


# A decode is a copy of its prompt when at least this share of its units, and this many,
# come in order from one stretch of the prompt not much longer than the decode itself.
COPY_SHARE = 0.8
COPY_UNITS = 5  # words; twice as many characters in character scripts


def repeats_context(units: list[str], context: str, lang: str) -> bool:
    """Whether a decode is mostly a copy of its previous-text prompt instead of what was
    said: on speech it can hardly read, Whisper writes its prompt out again ("Gut, dann
    sehen wir uns nächste Woche" came out as the sentence before last, "Das Gute für das
    Nächste ist noch nicht benötigt"), and that copy then goes into the next prompt, so
    every later utterance of the speaker read the same. A whole earlier sentence said
    again is rarer; decoded again without the prompt, it reads the same."""
    mine = [comparable(u) for u in units]
    mine = [u for u in mine if u]
    least = COPY_UNITS * (2 if lang in CHARACTER_SCRIPTS else 1)
    if len(mine) < least or not context:
        return False
    said = [u for u in (comparable(u) for u in split_units(context, lang)) if u]
    need = max(least, math.ceil(COPY_SHARE * len(mine)))
    # Runs on the event loop for every interim: most decodes share too few units with the
    # prompt to be a copy, and need no alignment at all.
    known = set(said)
    if sum(u in known for u in mine) < need:
        return False
    width = len(mine) + len(mine) // 2 + 2
    for start in range(max(1, len(said) - need + 1)):
        window = said[start:start + width]
        matcher = difflib.SequenceMatcher(None, window, mine, autojunk=False)
        if sum(block.size for block in matcher.get_matching_blocks()) >= need:
            return True
    return False


def without_edge(shown: str, committed: str, lang: str) -> str:
    """An interim's text without its last uncommitted unit, unless nothing would be left.

    That unit ends where the decoded audio ends, mid-word as often as not ("gran ome" then
    "grano medio", "blanques" then "blanquecinas"): showing it made most of the characters
    listeners saw erased again. It shows one interim later, whole.
    """
    if not shown.startswith(committed):
        return shown
    tail = split_units(shown[len(committed):], lang)
    if len(tail) < 2 and not (committed and tail):
        return shown
    kept = join_units(tail[:-1], lang)
    if not kept:
        return committed
    joiner = "" if lang in CHARACTER_SCRIPTS or not committed else " "
    return committed + joiner + kept
