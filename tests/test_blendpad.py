"""Blend pad maths: partition of unity, anchor exactness, bilinear corners, smoothness."""

from __future__ import annotations

import math
import random

import pytest

from engine.domains.blendpad import BlendPad, bilinear_weights, inverse_distance_weights


def _random_points(n, seed):
    rng = random.Random(seed)
    return [(rng.uniform(-1, 2), rng.uniform(-1, 2)) for _ in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_partition_of_unity_and_non_negative(n):
    pad = BlendPad(_random_points(n, n), mode="idw")
    for puck in _random_points(50, 100 + n):
        w = pad.weights(puck)
        assert len(w) == n
        assert sum(w) == pytest.approx(1.0, abs=1e-12)
        assert all(x >= 0 for x in w)


@pytest.mark.parametrize("n", [2, 3, 6])
def test_anchor_exactness_and_continuity(n):
    anchors = _random_points(n, 7 * n)
    pad = BlendPad(anchors)
    for i, a in enumerate(anchors):
        w = pad.weights(a)
        assert w[i] == 1.0 and all(x == 0.0 for j, x in enumerate(w) if j != i)
        near = pad.weights((a[0] + 1e-7, a[1] - 1e-7))
        assert near[i] > 1 - 1e-6  # continuous at the anchor


def test_idw_matches_shepard_formula():
    anchors = [(0.0, 0.0), (2.0, 0.0), (0.0, 3.0)]
    puck = (0.5, 0.7)
    inv = [1 / ((puck[0] - x) ** 2 + (puck[1] - y) ** 2) for x, y in anchors]
    assert inverse_distance_weights(anchors, puck) == pytest.approx([v / sum(inv) for v in inv], rel=1e-12)
    # tiny distances do not overflow
    w = inverse_distance_weights(anchors, (1e-300, 0.0))
    assert w[0] == pytest.approx(1.0) and sum(w) == pytest.approx(1.0)


def test_bilinear_corners_centre_and_formula():
    assert bilinear_weights(0, 0) == [1, 0, 0, 0]
    assert bilinear_weights(1, 0) == [0, 1, 0, 0]
    assert bilinear_weights(0, 1) == [0, 0, 1, 0]
    assert bilinear_weights(1, 1) == [0, 0, 0, 1]
    assert bilinear_weights(0.5, 0.5) == [0.25] * 4
    u, v = 0.3, 0.8
    assert bilinear_weights(u, v) == pytest.approx([0.7 * 0.2, 0.3 * 0.2, 0.7 * 0.8, 0.3 * 0.8])
    assert bilinear_weights(-3, 7) == [0, 0, 1, 0]  # clamped to the square


def test_pad_uses_bilinear_for_rectangle_in_any_anchor_order():
    anchors = [(10.0, 20.0), (0.0, 0.0), (10.0, 0.0), (0.0, 20.0)]  # BR, TL, TR, BL
    pad = BlendPad(anchors)
    assert pad.uses_bilinear
    for i, a in enumerate(anchors):
        w = pad.weights(a)
        assert w[i] == 1.0 and sum(w) == 1.0
    w = pad.weights((2.5, 15.0))  # u = 0.25, v = 0.75
    expected = {1: 0.75 * 0.25, 2: 0.25 * 0.25, 3: 0.75 * 0.75, 0: 0.25 * 0.75}
    assert w == pytest.approx([expected[i] for i in range(4)])
    # along an edge only the edge's two anchors mix, linearly
    w = pad.weights((4.0, 0.0))
    assert w == pytest.approx([0, 0.6, 0.4, 0])


def test_modes_and_bad_input():
    square = [(0, 0), (1, 0), (0, 1), (1, 1)]
    assert not BlendPad(square, mode="idw").uses_bilinear
    idw_w = BlendPad(square, mode="idw").weights((0.5, 0.5))
    assert idw_w == pytest.approx([0.25] * 4)
    assert BlendPad(square, mode="idw").weights((0.2, 0.1)) != pytest.approx(BlendPad(square).weights((0.2, 0.1)))
    with pytest.raises(ValueError):
        BlendPad([(0, 0), (1, 0), (0, 1), (2, 2)], mode="bilinear")
    with pytest.raises(ValueError):
        BlendPad([])
    with pytest.raises(ValueError):
        BlendPad([(0, math.nan)])
    with pytest.raises(ValueError):
        BlendPad(square).weights((math.inf, 0))


def test_weights_vary_smoothly():
    pad = BlendPad(_random_points(5, 3))
    prev = pad.weights((0.0, 0.0))
    for i in range(1, 200):
        cur = pad.weights((i * 1e-4, i * 5e-5))
        assert max(abs(a - b) for a, b in zip(cur, prev, strict=True)) < 1e-2
        prev = cur
