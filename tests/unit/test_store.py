import json
import re
import sqlite3
import threading

import pytest

from bot.events import Caption, Speaker
from bot.store import TranscriptStore

ANA = Speaker("p1", "Ana")
BEN = Speaker("p2", "Ben")
DAY = 86_400.0


def caption(segment, final, lang, text, t0, t1, speaker=ANA, rev=1, source_lang="es"):
    return Caption(segment=segment, rev=rev, final=final, speaker=speaker,
                   source_lang=source_lang, lang=lang, text=text, committed="",
                   t0=t0, t1=t1, engine="test")


class FakeClock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def fill(store):
    """Room "alpha": finals out of order in es and en, plus interims; room "beta": one final."""
    store.add("alpha", caption("p2-1", False, "es", "y tú", 4.0, 4.5, speaker=BEN, rev=0))
    store.add("alpha", caption("p2-1", True, "es", "¿y tú qué tal?", 4.0, 6.0, speaker=BEN))
    store.add("alpha", caption("p2-1", True, "en", "and how are you?", 4.0, 6.0, speaker=BEN))
    store.add("alpha", caption("p1-1", False, "es", "hola", 1.23, 1.8, rev=0))
    store.add("alpha", caption("p1-1", True, "es", "hola a todos", 1.23, 3.0))
    store.add("alpha", caption("p1-1", True, "en", "hello everyone", 1.23, 3.0))
    store.add("alpha", caption("p1-2", True, "en", "   ", 7.0, 8.0))  # empty final: ignored
    store.add("beta", caption("p9-1", True, "fr", "bonjour", 3723.4, 3725.0))


@pytest.fixture
def store(tmp_path):
    with TranscriptStore(tmp_path / "data" / "transcripts.db") as opened:
        yield opened


def test_finals_are_kept_per_room_and_language_in_time_order(store):
    fill(store)
    assert [(c.segment, c.text) for c in store.captions("alpha", "es")] == [
        ("p1-1", "hola a todos"), ("p2-1", "¿y tú qué tal?")]
    assert [c.text for c in store.captions("alpha", "en")] == [
        "hello everyone", "and how are you?"]
    assert [c.text for c in store.captions("beta", "fr")] == ["bonjour"]
    assert store.captions("alpha", "fr") == []
    assert store.captions("nowhere", "es") == []
    assert store.languages("alpha") == ["en", "es"]
    assert store.languages("beta") == ["fr"]


def test_captions_come_back_as_final_captions(store):
    fill(store)
    first = store.captions("alpha", "en")[0]
    assert first == Caption(segment="p1-1", rev=1, final=True, speaker=ANA, source_lang="es",
                            lang="en", text="hello everyone", committed="hello everyone",
                            t0=1.23, t1=3.0, engine="test")


def test_a_resent_final_replaces_the_row(store):
    fill(store)
    store.add("alpha", caption("p1-1", True, "en", "hello, everybody", 1.2, 3.1, rev=3))
    english = store.captions("alpha", "en")
    assert [(c.segment, c.text, c.t0) for c in english] == [
        ("p1-1", "hello, everybody", 1.2), ("p2-1", "and how are you?", 4.0)]
    assert [c.text for c in store.captions("alpha", "es")][0] == "hola a todos"


def test_export_vtt(store):
    fill(store)
    media_type, body = store.export("alpha", "en", "vtt")
    assert media_type == "text/vtt; charset=utf-8"
    assert body.startswith("WEBVTT\n\n")
    assert "00:00:01.230 --> 00:00:03.000\n<v Ana>hello everyone" in body
    assert len(re.findall(r"^\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}$", body, re.M)) == 2


def test_export_srt(store):
    fill(store)
    media_type, body = store.export("alpha", "es", "srt")
    assert media_type == "application/x-subrip; charset=utf-8"
    blocks = body.strip("\n").split("\n\n")
    assert [block.splitlines()[0] for block in blocks] == ["1", "2"]
    assert blocks[0].splitlines()[1:] == ["00:00:01,230 --> 00:00:03,000", "Ana: hola a todos"]


def test_export_json(store):
    fill(store)
    media_type, body = store.export("alpha", "es", "json")
    assert media_type == "application/json"
    messages = json.loads(body)
    assert [m["text"] for m in messages] == ["hola a todos", "¿y tú qué tal?"]
    assert messages[1] == {
        "type": "caption", "v": 1, "segment": "p2-1", "rev": 1, "final": True,
        "speaker": {"id": "p2", "name": "Ben"}, "source_lang": "es", "lang": "es",
        "text": "¿y tú qué tal?", "committed": "¿y tú qué tal?", "t0": 4.0, "t1": 6.0,
        "engine": "test"}


def test_export_txt(store):
    fill(store)
    media_type, body = store.export("alpha", "en", "txt")
    assert media_type == "text/plain; charset=utf-8"
    assert body.splitlines() == [
        "[00:00:01] Ana: hello everyone", "[00:00:04] Ben: and how are you?"]
    assert store.export("beta", "fr", "txt")[1] == "[01:02:03] Ana: bonjour\n"


def test_export_of_nothing_is_empty_but_valid(store):
    assert store.export("nowhere", "en", "vtt")[1] == "WEBVTT\n\n"
    assert json.loads(store.export("nowhere", "en", "json")[1]) == []
    assert store.export("nowhere", "en", "txt")[1] == ""


def test_unknown_format_is_an_error(store):
    with pytest.raises(ValueError, match="format must be one of vtt, srt, json, txt"):
        store.export("alpha", "en", "docx")


def test_captions_survive_reopening_the_file(tmp_path):
    path = tmp_path / "transcripts.db"
    with TranscriptStore(path) as first:
        fill(first)
    with TranscriptStore(str(path)) as second:
        assert [c.text for c in second.captions("alpha", "en")] == [
            "hello everyone", "and how are you?"]
        assert second.languages("beta") == ["fr"]


def test_the_file_is_in_wal_mode(tmp_path):
    path = tmp_path / "transcripts.db"
    with TranscriptStore(path) as store:
        fill(store)
        other = sqlite3.connect(path)
        try:
            assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        finally:
            other.close()


@pytest.mark.parametrize("path", [None, ":memory:"])
def test_memory_mode_writes_nothing(tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    with TranscriptStore(path) as store:
        assert store.in_memory
        fill(store)
        assert [c.text for c in store.captions("beta", "fr")] == ["bonjour"]
    assert list(tmp_path.iterdir()) == []


def test_purge_removes_only_rows_older_than_retention(tmp_path):
    clock = FakeClock()
    with TranscriptStore(tmp_path / "t.db", retention_days=7, clock=clock) as store:
        store.add("alpha", caption("old-1", True, "en", "old words", 1.0, 2.0))
        store.add("beta", caption("old-2", True, "en", "old too", 1.0, 2.0))
        clock.now += 3 * DAY
        store.add("alpha", caption("new-1", True, "en", "new words", 5.0, 6.0))
        clock.now += 5 * DAY  # the first two are 8 days old, the last one 5
        assert store.purge() == 2
        assert [c.segment for c in store.captions("alpha", "en")] == ["new-1"]
        assert store.languages("beta") == []
        assert store.purge() == 0
        assert store.purge(now=clock.now + 3 * DAY) == 1


def test_purge_without_retention_keeps_everything(store):
    fill(store)
    assert store.purge(now=1e12) == 0
    assert len(store.captions("alpha", "en")) == 2


def test_concurrent_adds_from_threads_all_land(store):
    per_thread = 50
    start = threading.Barrier(4)
    errors = []

    def writer(number):
        try:
            start.wait()
            for index in range(per_thread):
                store.add("alpha", caption(f"t{number}-{index}", True, "en", f"words {index}",
                                           index + number / 10, index + 1.0))
        except Exception as error:  # surfaced below: a thread's exception would be lost
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = store.captions("alpha", "en")
    assert len(stored) == 4 * per_thread
    assert [c.t0 for c in stored] == sorted(c.t0 for c in stored)


def test_delete_room(store):
    fill(store)
    assert store.delete_room("alpha") == 4
    assert store.languages("alpha") == []
    assert store.captions("alpha", "en") == []
    assert [c.text for c in store.captions("beta", "fr")] == ["bonjour"]
    assert store.delete_room("alpha") == 0


def test_room_names_are_parameters_not_sql(store):
    room = "x'; DROP TABLE captions; --"
    store.add(room, caption("p1-1", True, "en", "hi", 0.0, 1.0))
    assert [c.text for c in store.captions(room, "en")] == ["hi"]
    assert store.delete_room(room) == 1


def test_a_rooms_phrase_list_is_kept_beside_its_captions(tmp_path):
    path = tmp_path / "t.sqlite3"
    with TranscriptStore(path) as first:
        assert first.phrases("team") is None
        first.set_phrases("team", [{"term": "Karvonix", "fr": "Karvonix SA"}])
        first.set_phrases("team", [{"term": "Interprès"}])
    with TranscriptStore(path) as again:
        assert again.phrases("team") == [{"term": "Interprès"}]
        assert again.phrases("other") is None
        again.delete_room("team")
        assert again.phrases("team") is None


def test_export_can_rewrite_for_a_reader(store):
    store.add("r", caption("p1-1", True, "en", "Oh shit.", 0, 1))
    _, body = store.export("r", "en", "txt", rewrite=lambda text: text.replace("shit", "s***"))
    assert "s***" in body and "shit" not in body
    assert "shit" in store.export("r", "en", "txt")[1]
