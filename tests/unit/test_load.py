from bot.asr.load import AsrLoad, LoadPlan


def test_idle_thread_keeps_the_unloaded_schedule() -> None:
    load = AsrLoad(window=4.0)
    assert load.busy(10.0) == 0.0
    assert load.plan(10.0, 0.6, 2) == LoadPlan(0.6, 2)


def test_busy_lanes_space_and_cheapen_interims_then_finals() -> None:
    load = AsrLoad(window=4.0)
    for i in range(10):
        load.record(10.0 + i * 0.4, 0.28)  # 2.8 s of decoding in 4 s
    assert abs(load.busy(13.6) - 0.7) < 1e-9
    assert load.plan(13.6, 0.6, 2) == LoadPlan(0.6 * 1.5, 1, chain=False)
    for i in range(10):
        load.record(13.6 + i * 0.2, 0.2)
    assert load.busy(15.6) > 0.85
    assert load.plan(15.6, 0.6, 2) == LoadPlan(0.6 * 2.5, 1, lead=False, chain=False)


def test_old_decodes_are_forgotten() -> None:
    load = AsrLoad(window=4.0)
    load.record(1.0, 3.9)
    assert load.busy(2.0) > 0.9
    assert load.busy(6.0) == 0.0
    assert load.plan(6.0, 0.6, 2) == LoadPlan(0.6, 2)


def test_busy_counts_decode_seconds_per_lane() -> None:
    load = AsrLoad(window=4.0, lanes=2)
    load.record(10.0, 2.0)
    load.record(10.0, 2.0)  # two lanes decoding for 2 s each
    assert abs(load.busy(10.0) - 0.5) < 1e-9
