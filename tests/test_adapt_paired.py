"""Few-shot paired adaptation: each source's extra latents (preset ``source_views``) train towards its target."""

from __future__ import annotations

import torch
from torch import nn

from engine.adaptation import Reference, adapt
from engine.adaptation.api import _make_loss, _source_views
from engine.adaptation.losses import PixelLoss
from engine.adaptation.params import make_param
from engine.adaptation.presets import default_preset
from engine.inversion.base import LatentEncoder


class _MeanEncoder(LatentEncoder):
    """A stand-in encoder: W+ = a fixed latent plus the image's mean pixel (different images, different W+)."""

    kind = "test"

    def __init__(self, gen) -> None:
        super().__init__()
        self.input_size, self.num_ws, self.w_dim = gen.config.size, gen.num_ws, gen.config.style_dim
        self.base = nn.Parameter(gen.w_avg.detach().clone().expand(gen.num_ws, -1).clone())

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.unsqueeze(0) + x.mean(dim=(1, 2, 3)).view(-1, 1, 1)


def _pairs(gen, n: int = 3) -> tuple[list[Reference], list[Reference]]:
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        w = gen.mapping(torch.randn(n, gen.config.style_dim, generator=g))
        w_plus = w.unsqueeze(1).repeat(1, gen.num_ws, 1)
        img = gen.synthesize(gen.styles(w_plus), "const").clamp(-1, 1)
    sources = [Reference(img[i : i + 1], w_plus[i], f"s{i}") for i in range(n)]
    targets = [Reference((-img[i : i + 1]).clamp(-1, 1), w_plus[i], f"t{i}") for i in range(n)]
    return sources, targets


def test_small_model_paired_default_adds_the_encoder_and_three_short_inversion_views(tiny_generator):
    pre = default_preset("paired", "affine", tiny_generator.config.size)
    assert pre.name == "cpu-small-paired-affine" and pre.source_views == (0, 5, 10, 25) and pre.schedule == "cosine"


def test_source_views_are_the_encoder_latents_in_source_order(tiny_generator):
    gen = tiny_generator
    sources, _ = _pairs(gen)
    enc = _MeanEncoder(gen)
    views = _source_views(sources, gen, enc, (0,), None)
    assert [v.name for v in views] == [s.name for s in sources]
    for s, v in zip(sources, views, strict=True):
        expected = enc.encode(s.image)[0]
        assert torch.allclose(v.w_plus, expected, atol=1e-6)
        assert not torch.allclose(v.w_plus, s.w_plus)  # a second latent, not a copy
        assert v.image is s.image
    # no encoder: the "view" would be w_avg for every source, so none is added
    assert _source_views(sources, gen, False, (0,), None) == []


def test_paired_loss_pairs_every_view_with_its_own_target(tiny_generator):
    gen = tiny_generator
    sources, targets = _pairs(gen)
    views = _source_views(sources, gen, _MeanEncoder(gen), (0,), None)
    p = make_param("affine", gen)
    pre = default_preset("paired", "affine", gen.config.size)
    loss = _make_loss("paired", gen, p, targets, sources + views, None, [], torch.Generator().manual_seed(0), pre,
                      PixelLoss(), 1.0, None)
    assert loss.w.shape[0] == 2 * len(sources) == loss.targets.shape[0]
    for i, t in enumerate(targets):
        assert torch.equal(loss.targets[i], t.image[0]) and torch.equal(loss.targets[i + len(sources)], t.image[0])
        assert torch.equal(loss.w[i + len(sources)], views[i].w_plus)


def test_paired_adapt_with_an_encoder_trains_on_every_view_and_learns(tiny_generator):
    gen = tiny_generator
    sources, targets = _pairs(gen)
    res = adapt(gen, targets, sources=sources, loss="paired", encoder=_MeanEncoder(gen), steps=30, batch=6,
                lr=0.02, invert_steps=0)
    assert res.preset.source_views == (0, 5, 10, 25)
    assert res.final_losses["total"] < 0.9 * res.history[0]["total"]


def test_bias_lr_speeds_up_only_the_affine_biases(tiny_generator, monkeypatch):
    from dataclasses import replace

    from engine.adaptation import presets
    from engine.adaptation.api import _param_groups

    p = make_param("affine", tiny_generator)
    assert len(_param_groups(p, 1.0)) == 1
    rest, bias = _param_groups(p, 10.0)
    assert bias["lr_scale"] == 10.0 and rest["lr_scale"] == 1.0
    assert len(bias["params"]) == len(rest["params"]) == len(p.trainable()) // 2
    assert len(_param_groups(make_param("affinelight", tiny_generator), 10.0)) == 1  # no affine biases trained

    gen = tiny_generator
    sources, targets = _pairs(gen)
    base = presets.PRESETS["cpu-small-paired-affine"]
    runs = {}
    for k in (1.0, 10.0):
        monkeypatch.setitem(presets.PRESETS, "cpu-small-paired-affine", replace(base, bias_lr=k, source_views=()))
        runs[k] = adapt(gen, targets, sources=sources, loss="paired", steps=1, batch=3, invert_steps=0).delta.deltas
    for name, d1 in runs[1.0].items():
        d10 = runs[10.0][name]
        if name.endswith("modulation.bias"):
            assert torch.allclose(d10, 10 * d1, rtol=1e-3, atol=1e-9), name
        else:
            assert torch.equal(d10, d1), name
