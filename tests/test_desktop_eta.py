"""Durations as the studio's progress labels write them."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from desktop.widgets.eta import EtaEstimator, format_duration  # noqa: E402


@pytest.mark.parametrize(("seconds", "text"), [(0.0, "<1 s"), (0.3, "<1 s"), (0.6, "1 s"), (42.2, "42 s"),
                                               (185, "3 min 05 s"), (7620, "2 h 07 min")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_eta_text_from_fractions():
    now = [100.0]
    eta = EtaEstimator(clock=lambda: now[0])
    assert eta.text() == "estimating…"
    now[0] += 10
    eta.update(0.25)
    assert eta.text() == "about 30 s left"
    now[0] += 0.2
    eta.update(1.0)
    assert eta.text() == "done in 10 s"
