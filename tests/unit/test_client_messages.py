"""The client's side of the protocol: typed events, the terminal printer, invitation links."""

from __future__ import annotations

import io

import pytest

from bot.client import (
    ActivityEvent,
    CaptionEvent,
    NoticeEvent,
    ParticipantsEvent,
    PhrasesEvent,
    PongEvent,
    SpeechEvent,
    Unknown,
    parse,
)
from bot.client.listen import target
from bot.client.terminal import DIM, CaptionPrinter

CAPTION = {"type": "caption", "v": 1, "segment": "p3-17", "rev": 4, "final": False,
           "speaker": {"id": "p3", "name": "Ana"}, "source_lang": "es", "lang": "fr",
           "text": "Les sables sont blancs", "committed": "Les sables", "t0": 12.3,
           "t1": 15.02, "engine": "apertium:es-fr"}


def test_every_server_message_has_its_type():
    caption = parse(CAPTION)
    assert isinstance(caption, CaptionEvent) and caption.tail == " sont blancs"
    assert (caption.speaker_name, caption.lang, caption.rev) == ("Ana", "fr", 4)
    people = parse({"type": "participants", "participants": [
        {"id": "p1", "name": "Ana", "speak": "es", "listen": "fr", "you": True},
        {"id": "p2", "name": "Bob", "speak": "auto", "listen": "en", "listen_only": True,
         "transcribed": False}, "junk"]})
    assert isinstance(people, ParticipantsEvent) and len(people.participants) == 2
    assert people.participants[0].you and not people.participants[1].transcribed
    assert parse({"type": "activity", "id": "p1", "speaking": True}) == ActivityEvent("p1", True)
    assert parse({"type": "speech", "lang": "fr", "state": "start"}) == SpeechEvent("fr", True)
    assert parse({"type": "phrases", "phrases": [{"term": "K"}]}) == PhrasesEvent(({"term": "K"},))
    assert parse({"type": "notice", "level": "warning", "code": "x", "text": "t"}) == \
        NoticeEvent("warning", "x", "t")
    assert parse({"type": "pong", "t": 5}) == PongEvent(5)
    assert parse({"type": "heartbeat"}) is None  # answered by the client itself


@pytest.mark.parametrize("message", [{"type": "stats"}, {"type": "caption"}, [1, 2], "x",
                                     {"type": "activity"}])
def test_what_it_does_not_know_comes_back_as_unknown(message):
    assert isinstance(parse(message), Unknown)


def test_a_terminal_redraws_the_live_line_and_keeps_finals():
    out = io.StringIO()
    printer = CaptionPrinter(out, live=True)
    printer.show(parse(CAPTION))
    printer.show(parse(dict(CAPTION, rev=5, final=True, text="Les sables sont blancs.",
                            committed="Les sables sont blancs.")))
    printer.close()
    screen = out.getvalue()
    assert f"Les sables{DIM} sont blancs" in screen  # the tail dimmed
    assert screen.count("Les sables sont blancs.") == 1 and "\r\x1b[K" in screen


def test_a_pipe_gets_finals_only_as_plain_lines():
    out = io.StringIO()
    printer = CaptionPrinter(out, live=False)
    printer.show(parse(CAPTION))
    printer.show(parse(dict(CAPTION, final=True, text="Les sables.", committed="Les sables.")))
    assert out.getvalue() == "Ana: Les sables.\n"


def test_invitation_links_give_room_and_token():
    where = target("https://meet.example.org/?room=standup#token=abc.def", None, None)
    assert (where.base_url, where.room, where.token) == ("https://meet.example.org", "standup",
                                                         "abc.def")
    assert target("http://127.0.0.1:8000", "team", "t").room == "team"
    with pytest.raises(ValueError, match="which room"):
        target("http://127.0.0.1:8000", None, None)
    with pytest.raises(ValueError, match="not an http"):
        target("ftp://x", "a", None)
