"""The tone-map term: the global tones of references with little colour taught to random faces (JoJo, paired)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from adapt_helpers import negative_reference

from engine.adaptation import Reference, adapt, presets, render_adapted
from engine.adaptation.losses import ToneMap, chroma, default_coarse_rows, luma, pyramid_l1_grad, sample_w

pytestmark = pytest.mark.usefixtures("one_thread")


def _colour_images(seed: int, n: int = 2, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    smooth = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=size, mode="bilinear")
    return smooth * 1.8 - 0.9


def test_tone_map_starts_as_the_identity_and_chroma_is_zero_for_grey():
    x = _colour_images(0)
    assert torch.allclose(ToneMap()(x), x, atol=1e-5)
    grey = luma(x).expand(-1, 3, -1, -1)
    assert chroma(grey) < 1e-6 < chroma(x)


def test_fitted_tone_map_carries_a_grey_tone_curve_over_to_other_images():
    def medium(x):  # cream paper and dark ink: a monotone curve of the luminance, no colour
        y = luma(x)
        return torch.cat([0.8 * y + 0.1, 0.75 * y + 0.05, 0.6 * y - 0.05], 1)

    train, test = _colour_images(1), _colour_images(2)
    tm = ToneMap.fit(train, medium(train))
    err = (tm(test) - medium(test)).abs().mean()
    assert float(err) < 0.1 * float((test - medium(test)).abs().mean())
    assert abs(float(tm.sat)) < 0.1
    assert not any(p.requires_grad for p in tm.parameters())


@pytest.fixture
def tone_preset(monkeypatch):
    def patch(**fields):
        base = presets.PRESETS["cpu-small-affine"]
        monkeypatch.setitem(presets.PRESETS, "cpu-small-affine", replace(base, plateau=None, **fields))
    return patch


def _grey(ref: Reference) -> Reference:
    return replace(ref, image=luma(ref.image).expand(-1, 3, -1, -1).contiguous(), name="grey")


def test_monochrome_reference_gets_the_tone_term_and_a_coloured_one_does_not(tiny_generator, tone_preset):
    tone_preset(tone_map=2.0, contrast_lr=0.0)
    ref = negative_reference(tiny_generator)
    grey = adapt(tiny_generator, [_grey(ref)], steps=2, batch=2, seed=0)
    assert "tone" in grey.history[-1]
    assert any("tone map of the reference" in n and "weight 2.00" in n for n in grey.notes)
    coloured = adapt(tiny_generator, [ref], steps=2, batch=2, seed=0)
    assert "tone" not in coloured.history[-1] and not any("tone map" in n for n in coloured.notes)
    tone_preset(tone_map=0.0, contrast_lr=0.0)
    off = adapt(tiny_generator, [_grey(ref)], steps=2, batch=2, seed=0)
    assert "tone" not in off.history[-1]


def test_tone_weight_is_divided_by_the_contrast_lr_factor(tiny_generator, tone_preset):
    tone_preset(tone_map=2.0, contrast_lr=2.0)
    ref = _grey(negative_reference(tiny_generator))
    flat = replace(ref, image=ref.image * 0.05)
    res = adapt(tiny_generator, [flat], steps=1, batch=1, seed=0)
    assert any("lr 0.002 x 8.00" in n for n in res.notes)
    assert any("weight 0.25" in n for n in res.notes)


def test_tone_term_pulls_unseen_samples_to_the_reference_tones(tiny_generator, tone_preset):
    """Samples that are not in training end up closer (the term's own measure) to the tone map of their own
    unadapted render with the term than without it, and the term falls during training."""
    ref = _grey(negative_reference(tiny_generator))
    w = ref.w_plus[None].repeat(8, 1, 1)  # fresh samples of the training distribution: new fine rows
    coarse = default_coarse_rows(tiny_generator)
    w[:, coarse:] = sample_w(tiny_generator, 8, torch.Generator().manual_seed(99))[:, coarse:]
    with torch.no_grad():
        rec = render_adapted(tiny_generator, ref.w_plus[None])
        toned = ToneMap.fit(rec, ref.image)(render_adapted(tiny_generator, w))

    def distance(delta) -> float:
        with torch.no_grad():
            img = render_adapted(tiny_generator, w, delta)
        k = max(1, img.shape[-1] // 16)
        return float(sum(pyramid_l1_grad(F.avg_pool2d(img, k), F.avg_pool2d(toned, k))))

    tone_preset(tone_map=4.0, contrast_lr=0.0, mixed_weight=0.0)  # the tone term alone
    res = adapt(tiny_generator, [ref], steps=30, batch=2, seed=0, lr=0.01, jojo_anchor=0.0)
    tone = [h["tone"] for h in res.history]
    assert res.history[-1]["pixel"] == res.history[-1]["grad"] == 0.0 and "rec" not in res.history[-1]
    assert distance(res.delta) < 0.8 * distance(None)
    assert sum(tone[-5:]) < 0.8 * sum(tone[:5])


def _pairs(gen, n: int = 3) -> tuple[list[Reference], list[Reference]]:
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        w_plus = gen.mapping(torch.randn(n, gen.config.style_dim, generator=g)).unsqueeze(1).repeat(1, gen.num_ws, 1)
        img = gen.synthesize(gen.styles(w_plus), "const").clamp(-1, 1)
    sources = [Reference(img[i : i + 1], w_plus[i], f"s{i}") for i in range(n)]
    inked = 0.9 - 1.6 * luma(img).clamp(-1, 1).abs()  # a monochrome medium of each source
    targets = [Reference(inked[i : i + 1].expand(-1, 3, -1, -1).contiguous(), w_plus[i], f"t{i}") for i in range(n)]
    return sources, targets


def test_paired_targets_with_little_colour_add_pseudo_pairs_of_random_faces(tiny_generator, monkeypatch):
    """Paired (tone_chroma 1): grey targets get the term, targets more colourful than the model's faces do not."""
    base = presets.PRESETS["cpu-small-paired-affine"]
    monkeypatch.setitem(presets.PRESETS, "cpu-small-paired-affine", replace(base, source_views=()))
    sources, targets = _pairs(tiny_generator)
    res = adapt(tiny_generator, targets, sources=sources, loss="paired", steps=20, batch=2, lr=0.02, invert_steps=0)
    assert any("tone map of the targets" in n and "weight 1.00" in n for n in res.notes)
    tone = [h["tone"] for h in res.history]
    assert sum(tone[-4:]) < sum(tone[:4])
    vivid = [replace(s, image=(luma(s.image) + 3 * (s.image - luma(s.image))).clamp(-1, 1), name="v") for s in sources]
    coloured = adapt(tiny_generator, vivid, sources=sources, loss="paired", steps=2, batch=2, invert_steps=0)
    assert "tone" not in coloured.history[-1] and not any("tone map" in n for n in coloured.notes)


def test_the_tone_term_keeps_runs_deterministic(tiny_generator, tone_preset):
    tone_preset(tone_map=2.0, contrast_lr=0.0)
    ref = _grey(negative_reference(tiny_generator))
    a, b = (adapt(tiny_generator, [ref], steps=3, batch=2, seed=7) for _ in range(2))
    assert "tone" in a.history[-1]
    for name, d in a.delta.deltas.items():
        assert torch.equal(d, b.delta.deltas[name]), name
    c = adapt(tiny_generator, [ref], steps=3, batch=2, seed=8)
    assert any(not torch.equal(d, c.delta.deltas[n]) for n, d in a.delta.deltas.items())


def test_tone_map_offset_carries_the_pairs_mean_change_in_place_over_to_other_images():
    """A medium that darkens the left half of every aligned image (a lit side) on top of a tone curve: the offset
    learns the place-bound part from the training pairs, the curves alone cannot."""
    shade = torch.zeros(1, 1, 16, 16)
    shade[..., :8] = -0.4

    def medium(x):
        return (0.7 * luma(x) + 0.1 + shade).expand(-1, 3, -1, -1)

    train, test = _colour_images(1, n=4), _colour_images(2, n=4)
    plain = ToneMap.fit(train, medium(train))
    placed = ToneMap.fit(train, medium(train), offset=True)
    assert float(plain.offset.abs().max()) == 0.0 and placed.offset.shape == (1, 3, 16, 16)
    assert not placed.offset.requires_grad
    err_plain = float((plain(test) - medium(test)).abs().mean())
    err_placed = float((placed(test) - medium(test)).abs().mean())
    assert err_placed < 0.5 * err_plain
    assert float(placed.offset[..., :8].mean()) < float(placed.offset[..., 8:].mean()) - 0.2


def test_paired_tone_offset_is_noted_and_one_shot_never_uses_it(tiny_generator, monkeypatch):
    base = presets.PRESETS["cpu-small-paired-affine"]
    assert base.tone_offset  # the default for pairs
    monkeypatch.setitem(presets.PRESETS, "cpu-small-paired-affine", replace(base, source_views=()))
    sources, targets = _pairs(tiny_generator)
    on = adapt(tiny_generator, targets, sources=sources, loss="paired", steps=2, batch=2, invert_steps=0)
    assert any("targets plus their mean residual image" in n for n in on.notes)
    monkeypatch.setitem(presets.PRESETS, "cpu-small-paired-affine", replace(base, source_views=(), tone_offset=False))
    off = adapt(tiny_generator, targets, sources=sources, loss="paired", steps=2, batch=2, invert_steps=0)
    assert any("tone map of the targets" in n for n in off.notes)
    assert not any("mean residual" in n for n in off.notes)
    assert on.history[0]["pixel"] == off.history[0]["pixel"]  # same pairs, same first step
    assert on.history[0]["tone"] != off.history[0]["tone"]  # ... but another teacher for the random faces
    one = presets.PRESETS["cpu-small-affine"]
    monkeypatch.setitem(presets.PRESETS, "cpu-small-affine", replace(one, tone_offset=True, contrast_lr=0.0))
    grey = adapt(tiny_generator, [_grey(negative_reference(tiny_generator))], steps=2, batch=2, seed=0)
    assert any("tone map of the reference" in n for n in grey.notes)
    assert not any("mean residual" in n for n in grey.notes)


def test_one_stylespace_direction_from_grey_pairs_gets_the_same_teacher(tiny_generator):
    sources, targets = _pairs(tiny_generator)
    res = adapt(tiny_generator, targets, sources=sources, loss="paired", param="stylespace", steps=2, batch=2,
                invert_steps=0)
    assert res.direction is not None and "tone" in res.history[-1]
    assert any("targets plus their mean residual image" in n for n in res.notes)
