"""One-shot schedule options of a preset: cosine lr decay, parameter EMA, the JoJo colour weight."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from adapt_helpers import negative_reference

from engine.adaptation import adapt, presets
from engine.adaptation.presets import Preset

pytestmark = pytest.mark.usefixtures("one_thread")


def test_cosine_schedule_warms_up_then_decays_to_the_final_fraction():
    p = Preset("t", steps=110, batch=1, lr=0.01, warmup_steps=10, warmup_start_lr=1e-3, schedule="cosine",
               final_lr=0.1)
    assert p.lr_at(0) == pytest.approx(1e-3)
    assert p.lr_at(10) == pytest.approx(0.01)
    assert p.lr_at(60) == pytest.approx(0.001 + 0.009 * 0.5)
    assert p.lr_at(110) == pytest.approx(0.001)
    lrs = [p.lr_at(s) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))
    assert replace(p, schedule="constant").lr_at(100) == 0.01
    assert math.isclose(replace(p, final_lr=0.0).lr_at(110), 0.0, abs_tol=1e-12)


@pytest.fixture
def patched_preset(monkeypatch):
    def patch(**fields):
        base = presets.PRESETS["cpu-small-affine"]
        monkeypatch.setitem(presets.PRESETS, "cpu-small-affine", replace(base, **fields))
    return patch


def test_ema_result_is_the_running_average_not_the_last_state(tiny_generator, patched_preset):
    ref = negative_reference(tiny_generator)
    patched_preset(ema=0.0, plateau=None)
    last = adapt(tiny_generator, [ref], steps=6, batch=1, seed=0)
    patched_preset(ema=0.5, plateau=None)
    avg = adapt(tiny_generator, [ref], steps=6, batch=1, seed=0)
    k = next(iter(last.delta.deltas))
    a, b = last.delta.deltas[k], avg.delta.deltas[k]
    assert not torch.equal(a, b)
    assert float(b.norm()) < float(a.norm())  # the average lags behind the deltas growing from zero


def test_colour_weight_adds_a_mean_colour_term_and_changes_training(tiny_generator, patched_preset):
    ref = negative_reference(tiny_generator)
    patched_preset(colour_weight=1.0, plateau=None)
    plain = adapt(tiny_generator, [ref], steps=3, batch=1, seed=0)
    patched_preset(colour_weight=0.25, plateau=None)
    split = adapt(tiny_generator, [ref], steps=3, batch=1, seed=0)
    assert "colour" in split.history[-1] and "colour" not in plain.history[-1]
    k = next(iter(plain.delta.deltas))
    assert not torch.equal(plain.delta.deltas[k], split.delta.deltas[k])


def test_similarity_loss_is_zero_for_the_source_and_penalises_collapse():
    from engine.adaptation.losses import contrast_ratio, similarity_loss

    g = torch.Generator().manual_seed(0)
    src = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1
    assert float(similarity_loss(src, src)) == 0.0
    assert float(similarity_loss(src * 2, src)) == 0.0  # samples further apart are not penalised
    collapsed = src[:1].expand(4, -1, -1, -1)
    assert float(similarity_loss(collapsed, src)) > 0.1
    assert float(similarity_loss(collapsed, src, scale=0.0)) == 0.0
    assert contrast_ratio(src * 0.5, src) == pytest.approx(0.5, rel=1e-4)
    assert contrast_ratio(src * 3, src) == 1.0


def test_diversity_term_is_reported_when_weighted(tiny_generator, patched_preset):
    patched_preset(diversity=5.0, plateau=None)
    res = adapt(tiny_generator, [negative_reference(tiny_generator)], steps=2, batch=2, seed=0)
    assert "diversity" in res.history[-1]


def test_contrast_lr_raises_the_lr_for_a_flat_reference_only(tiny_generator, patched_preset):
    from engine.adaptation import Reference

    ref = negative_reference(tiny_generator)
    flat = Reference(ref.image * 0.05, ref.w_plus, "flat", "0" * 64)
    patched_preset(contrast_lr=2.0, plateau=None)
    base = presets.PRESETS["cpu-small-affine"].lr
    res = adapt(tiny_generator, [flat], steps=1, batch=1, seed=0)
    assert res.preset.lr == pytest.approx(base * 8.0)  # contrast clamped to 0.2 -> 25x, capped at 8x
    assert any("reference contrast" in n for n in res.notes)
    given = adapt(tiny_generator, [flat], steps=1, batch=1, seed=0, lr=1e-3)
    assert given.preset.lr == 1e-3 and not any("contrast" in n for n in given.notes)


def test_small_one_shot_defaults_stop_full_and_affinelight_on_the_plateau_but_run_affine_fixed():
    from engine.adaptation.presets import default_preset

    affine = default_preset("jojo", "affine", 64)
    assert affine.plateau is None and affine.steps == 100
    for param in ("full", "affinelight"):
        pre = default_preset("jojo", param, 64)
        assert pre.plateau is not None and pre.steps == 300, param
    assert default_preset("jojo", "full", 1024).plateau is None  # the reference configs' presets at full size
