"""Ten minutes each of non-speech through the real pipeline (automatic language, translated
and spoken): at most one caption per condition, and never a known outro phrase."""

from __future__ import annotations

import pytest

from bot.asr.guards import is_outro
from bot.events import Caption
from tests.conftest import run_pipeline
from tests.noise import CONDITIONS

pytestmark = pytest.mark.slow
MINUTES = 10


@pytest.mark.parametrize("condition", list(CONDITIONS))
def test_ten_minutes_of_non_speech_give_at_most_one_caption(engines, condition):
    audio = CONDITIONS[condition](MINUTES * 60)
    events = run_pipeline(engines, audio, targets=("es",), speech=True, chunk=0.5)
    finals = [e for e in events if isinstance(e, Caption) and e.final and e.text
              and e.lang == e.source_lang]
    print(f"{condition}: {len(finals)} final caption(s) in {MINUTES} min: "
          f"{[c.text for c in finals]}")
    assert len(finals) <= 1, [c.text for c in finals]
    for caption in finals:
        assert not is_outro(caption.text, caption.lang, 0.0), caption.text
