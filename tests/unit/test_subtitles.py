import re

from bot.events import Caption, Speaker
from bot.subtitles import final_captions, to_srt, to_webvtt

ANA = Speaker("p1", "Ana")
BEN = Speaker("p2", "Ben")


def caption(segment, rev, final, lang, text, t0, t1, speaker=ANA, source_lang="es"):
    return Caption(segment=segment, rev=rev, final=final, speaker=speaker,
                   source_lang=source_lang, lang=lang, text=text, committed="",
                   t0=t0, t1=t1, engine="test")


def meeting():
    """Two segments, interims and finals, in Spanish (source) and English, out of order."""
    return [
        caption("p2-1", 0, False, "es", "y tú", 4.0, 4.5, speaker=BEN),
        caption("p1-1", 0, False, "es", "hola", 1.23, 1.8),
        caption("p1-1", 0, False, "en", "hello", 1.23, 1.8),
        caption("p2-1", 1, True, "es", "¿y tú qué tal?", 4.0, 6.0, speaker=BEN),
        caption("p2-1", 1, True, "en", "and how are you?", 4.0, 6.0, speaker=BEN),
        caption("p1-1", 1, False, "es", "hola a", 1.23, 2.5),
        caption("p1-1", 2, True, "es", "hola a todos", 1.23, 3.0),
        caption("p1-1", 2, True, "en", "hello everyone", 1.23, 3.0),
    ]


def cue_blocks(text):
    return [block for block in text.strip("\n").split("\n\n") if block]


def test_final_captions_keeps_finals_of_one_language_in_time_order():
    finals = final_captions(meeting(), "en")
    assert [(c.segment, c.text) for c in finals] == [
        ("p1-1", "hello everyone"), ("p2-1", "and how are you?")]
    assert [c.text for c in final_captions(meeting(), "es")] == [
        "hola a todos", "¿y tú qué tal?"]
    assert final_captions(meeting(), "fr") == []


def test_final_captions_prefers_the_latest_final_revision():
    captions = [caption("s", 3, True, "en", "late", 0, 1),
                caption("s", 2, True, "en", "early", 0, 1)]
    assert [c.text for c in final_captions(captions, "en")] == ["late"]


def test_webvtt_cues_with_voice_tags():
    assert to_webvtt(meeting(), "en") == (
        "WEBVTT\n\n"
        "00:00:01.230 --> 00:00:03.000\n<v Ana>hello everyone\n\n"
        "00:00:04.000 --> 00:00:06.000\n<v Ben>and how are you?\n\n"
    )


def test_srt_numbered_cues_with_speaker_prefix():
    assert to_srt(meeting(), "es") == (
        "1\n00:00:01,230 --> 00:00:03,000\nAna: hola a todos\n\n"
        "2\n00:00:04,000 --> 00:00:06,000\nBen: ¿y tú qué tal?\n\n"
    )


def test_empty_input_gives_header_only_vtt_and_empty_srt():
    assert to_webvtt([], "en") == "WEBVTT\n\n"
    assert to_srt([], "en") == ""
    only_interims = [c for c in meeting() if not c.final]
    assert to_webvtt(only_interims, "en") == "WEBVTT\n\n"
    assert to_srt(only_interims, "en") == ""


def test_times_past_an_hour():
    late = [caption("x", 0, True, "en", "still here", 3723.456, 3725.0789)]
    assert "01:02:03.456 --> 01:02:05.079" in to_webvtt(late, "en")
    assert "01:02:03,456 --> 01:02:05,079" in to_srt(late, "en")


def test_webvtt_escapes_markup_but_srt_keeps_text():
    tricky = [caption("x", 0, True, "en", "a<b & c>d --> e", 0, 2,
                      speaker=Speaker("p9", "<Eve & co>"))]
    vtt = to_webvtt(tricky, "en")
    assert "<v &lt;Eve &amp; co&gt;>a&lt;b &amp; c&gt;d --&gt; e\n" in vtt
    assert vtt.count("-->") == 1
    assert "<Eve & co>: a<b & c>d --> e" in to_srt(tricky, "en")


def test_long_caption_is_wrapped_and_split_with_proportional_times():
    words = ("the committee agreed that the new schedule will start next monday and that "
             "every team will send its first report before the end of the month")
    assert len(words) > 84
    vtt = to_webvtt([caption("x", 0, True, "en", words, 10.0, 20.0, speaker=BEN)], "en")
    blocks = cue_blocks(vtt)[1:]
    assert len(blocks) == 2
    times, texts = [], []
    for block in blocks:
        timing, *lines = block.split("\n")
        assert 1 <= len(lines) <= 2
        lines[0] = lines[0].removeprefix("<v Ben>")
        assert all(len(line) <= 42 for line in lines)
        texts.extend(lines)
        start, end = re.fullmatch(r"(\S+) --> (\S+)", timing).groups()
        times.append((start, end))
    assert texts == [
        "the committee agreed that the new schedule",  # 42 characters
        "will start next monday and that every team",  # 42
        "will send its first report before the end",  # 41
        "of the month",  # 12
    ]
    # The first cue holds 84 of the 137 characters, so it gets 84/137 of the 10 seconds.
    assert times == [("00:00:10.000", "00:00:16.131"), ("00:00:16.131", "00:00:20.000")]


def test_srt_speaker_prefix_counts_towards_line_length():
    text = "word " * 40
    srt = to_srt([caption("x", 0, True, "en", text, 0, 8, speaker=ANA)], "en")
    blocks = cue_blocks(srt)
    assert len(blocks) == 3
    assert [b.split("\n")[0] for b in blocks] == ["1", "2", "3"]
    lines = [line for b in blocks for line in b.split("\n")[2:]]
    assert all(len(line) <= 42 for line in lines)
    assert lines[0].startswith("Ana: word")
    assert sum("Ana:" in line for line in lines) == 1


def test_short_cues_get_half_a_second_but_never_reach_the_next_cue():
    captions = [
        caption("a", 0, True, "en", "one", 1.0, 1.1),
        caption("b", 0, True, "en", "two", 1.3, 1.35),
        caption("c", 0, True, "en", "three", 5.0, 5.0),
    ]
    vtt = to_webvtt(captions, "en")
    assert "00:00:01.000 --> 00:00:01.300\n" in vtt
    assert "00:00:01.300 --> 00:00:01.800\n" in vtt
    assert "00:00:05.000 --> 00:00:05.500\n" in vtt


def test_overlapping_speakers_keep_their_own_times_and_order():
    captions = [
        caption("b", 0, True, "en", "second", 2.0, 4.0, speaker=BEN),
        caption("a", 0, True, "en", "first", 1.0, 3.0),
    ]
    blocks = cue_blocks(to_srt(captions, "en"))
    assert blocks[0] == "1\n00:00:01,000 --> 00:00:03,000\nAna: first"
    assert blocks[1] == "2\n00:00:02,000 --> 00:00:04,000\nBen: second"


def test_whitespace_is_normalised_and_empty_finals_are_skipped():
    captions = [
        caption("a", 0, True, "en", "  line one\n\nline two ", 0, 1),
        caption("b", 0, True, "en", "   ", 2, 3),
    ]
    assert to_srt(captions, "en") == "1\n00:00:00,000 --> 00:00:01,000\nAna: line one line two\n\n"
