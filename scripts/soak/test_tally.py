"""Unit tests of the soak verdict (run: venv-py1/bin/python -m pytest scripts/soak)."""

from tally import (HUNG_UP, LOST, OK, REFUSED, SERVER_ERROR, THROTTLED, WRONG, MemorySample,
                   Outcome, split, verdict)


def outcome(kind="good:short", at=1.0, latency=0.2, result=OK, status=200):
    return Outcome(kind, at, latency, result, status)


def flat_memory(seconds=100, mib=200.0):
    return [MemorySample(t, mib) for t in range(0, seconds, 5)]


def judge(outcomes, memory, warm_up=30, growth=32):
    intervals = split(outcomes, memory, 50, 100)
    return verdict(outcomes, memory, warm_up, growth, intervals, ["short"])


def test_deliberate_answers_pass():
    outs = [outcome(), outcome(result=THROTTLED, status=429), outcome("bad:x", result=REFUSED,
            status=400), outcome("hang-up:upload", result=HUNG_UP, status=None)]
    v = judge(outs, flat_memory())
    assert v.passed, v.failures


def test_each_failure_kind_fails_the_run_and_is_named():
    for result, status in ((LOST, None), (SERVER_ERROR, 500), (WRONG, 200)):
        v = judge([outcome(), outcome(at=60, result=result, status=status)], flat_memory())
        assert not v.passed
        assert v.failures[0].startswith(f"1 {result}: good:short at 60.0 s")


def test_a_run_with_no_transcript_fails():
    v = judge([outcome(result=THROTTLED, status=429)], flat_memory())
    assert v.failures == ["no request was transcribed"]


def test_memory_may_rise_in_the_warm_up_but_not_past_its_bound_after():
    rising_early = [MemorySample(0, 100), MemorySample(20, 240), MemorySample(60, 250)]
    assert judge([outcome()], rising_early).passed
    growing = [MemorySample(0, 100), MemorySample(20, 200), MemorySample(90, 233)]
    v = judge([outcome()], growing)
    assert not v.passed and "233 MiB" in v.failures[0] and "200 + 32" in v.failures[0]
    assert (v.warm_rss_mib, v.steady_rss_mib) == (200, 233)


def test_too_few_memory_samples_is_no_pass():
    assert not judge([outcome()], [MemorySample(0, 100)]).passed


def test_intervals_and_latency_drift():
    outs = [outcome(at=1, latency=0.2), outcome(at=2, latency=0.4),
            outcome(at=70, latency=0.6), outcome(at=99.9, latency=0.6)]
    intervals = split(outs, flat_memory(), 50, 100)
    assert [len(i.outcomes) for i in intervals] == [2, 2]
    v = verdict(outs, flat_memory(), 30, 32, intervals, ["short"])
    assert abs(v.latency_drift["short"] - 0.6 / 0.3) < 1e-9
