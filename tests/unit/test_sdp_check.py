"""The SDP validator under Hypothesis: any text, and real offers edited at random, either
pass or raise SdpError with a message, never anything else; the real offer passes."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.rtc.sdp_check import SdpError, check_offer
from tests.sdp_mutations import CHROMIUM_OFFER, JUNK_LINES, corpus

LINES = CHROMIUM_OFFER.replace("\r\n", "\n").rstrip("\n").split("\n")
BOUNDED = settings(max_examples=400, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow])


def outcome(sdp) -> str:
    try:
        check_offer(sdp)
    except SdpError as problem:
        assert str(problem)
        return "refused"
    return "passed"


def test_a_real_chromium_offer_passes():
    assert outcome(CHROMIUM_OFFER) == "passed"
    assert outcome(CHROMIUM_OFFER.replace("\r\n", "\n")) == "passed"


@BOUNDED
@given(st.text())
def test_any_text_is_refused_cleanly(text):
    outcome(text)


@BOUNDED
@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text())))
def test_non_strings_are_refused(value):
    assert outcome(value) == "refused"


edits = st.lists(st.tuples(
    st.sampled_from(["drop", "insert", "replace", "duplicate"]),
    st.integers(0, len(LINES) + 5),
    st.one_of(st.sampled_from(JUNK_LINES + LINES), st.text(max_size=200))), max_size=6)


@BOUNDED
@given(edits)
def test_edited_offers_pass_or_are_refused_cleanly(changes):
    lines = list(LINES)
    for kind, index, text in changes:
        i = index % (len(lines) or 1)
        if kind == "drop" and lines:
            del lines[i]
        elif kind == "insert":
            lines.insert(i, text)
        elif kind == "replace" and lines:
            lines[i] = text
        elif kind == "duplicate" and lines:
            lines.insert(i, lines[i])
    outcome("\r\n".join(lines) + "\r\n")


@pytest.mark.parametrize("name, sdp", corpus(), ids=[name for name, _ in corpus()])
def test_corpus_of_past_failures(name, sdp):
    outcome(sdp)  # each once broke the server further down; here: no crash either way
