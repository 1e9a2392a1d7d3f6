"""The load model of `make bench`: Poisson arrivals at the asked rate, and the cost curve's ratio."""

from __future__ import annotations

import random
import statistics

from bot.tooling.bench import CURVE_WINDOW, Curve, arrivals, mean_messages


def test_arrivals_come_at_the_asked_rate_at_random() -> None:
    times = arrivals(5.0, 400.0, random.Random(3))
    assert 1900 <= len(times) <= 2100  # 5 a second for 400 s
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert abs(statistics.mean(gaps) - 0.2) < 0.02
    assert 0.9 < statistics.stdev(gaps) / statistics.mean(gaps) < 1.1  # exponential gaps: as spread as they are long
    assert all(0 <= t < 400 for t in times) and times == sorted(times)


def test_the_open_loop_rate_counts_the_messages_of_a_conversation() -> None:
    assert mean_messages("starter") == 4.0
    assert 4.0 < mean_messages("frivilligbotten") < 9.0  # questions and some complete sign-ups


def test_the_cost_curve_compares_the_end_of_a_conversation_with_its_start() -> None:
    flat = Curve("flat", [0.05] * 300, 0)
    growing = Curve("growing", [0.05 + 0.001 * n for n in range(300)], 0)
    assert flat.growth == 1.0 and flat.medians() == [50.0] * (300 // CURVE_WINDOW)
    assert 5.5 < growing.growth < 6.0  # about 340 ms against 60 ms
    assert "message 300 ÷ message 10: 1.00×" in flat.line()
