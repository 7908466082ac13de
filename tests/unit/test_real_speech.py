"""bench.real_speech's reading of Asterisk's prompt texts and its composition of talks."""

import gzip
from pathlib import Path

import numpy as np

from bench.material import Utterance
from bench.real_speech import FILE_SECONDS, RATE, prompt_texts, talks


def test_prompt_texts_reads_name_colon_text_lines(tmp_path: Path) -> None:
    path = tmp_path / "core-sounds-fr.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("; Core Asterisk Sounds in French\n\nactivated: activé\n"
                     "agent-loginok: Vous êtes maintenant  en ligne.\n"
                     "digits/1: un\nempty:\nconf-now: Il est 10:30 maintenant.\n")
    assert prompt_texts(path) == {
        "activated": "activé.", "agent-loginok": "Vous êtes maintenant en ligne.",
        "digits/1": "un.", "conf-now": "Il est 10:30 maintenant."}


def test_talks_are_about_file_seconds_each_and_never_repeat_a_prompt() -> None:
    pool = [Utterance(np.zeros(int((3 + i % 7) * RATE), np.float32), "fr", f"p{i}", f"s{i}")
            for i in range(120)]
    made = talks(pool, 4, np.random.default_rng(0))
    assert len(made) == 4
    for talk in made:
        seconds = sum(len(u.audio) for u in talk) / RATE
        assert FILE_SECONDS < seconds <= FILE_SECONDS + 9
    used = [u.text for talk in made for u in talk]
    assert len(used) == len(set(used))
    # The same seed, the same talks; a small pool gives what it has.
    assert [u.text for u in talks(pool, 4, np.random.default_rng(0))[0]] == \
        [u.text for u in made[0]]
    assert sum(len(t) for t in talks(pool[:5], 4, np.random.default_rng(0))) == 5
