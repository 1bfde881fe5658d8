"""StyleSpace layer table and the w -> s -> image path."""

from __future__ import annotations

import torch
from conftest import TINY

from engine.generator import GeneratorConfig, default_channels
from engine.stylespace import (
    conv_layers,
    flatten_styles,
    layout_fingerprint,
    style_layout,
    total_channels,
    unflatten_styles,
)


def test_ffhq_1024_config_f_layout():
    layers = style_layout(GeneratorConfig())
    assert len(layers) == 26
    assert total_channels(layers) == 9088
    assert total_channels(layers, "conv") == 6048
    assert total_channels(layers, "torgb") == 3040
    # StyleCLIP's conv indices and the StyleDomain head numbering.
    assert [lay.index for lay in conv_layers(layers)] == [0, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 23, 24]
    assert [lay.conv_index for lay in conv_layers(layers)] == list(range(17))
    by_module = {lay.module: lay for lay in layers}
    conv8 = by_module["convs.8"]
    assert (conv8.channels, conv8.w_index, conv8.resolution) == (512, 9, 128)
    assert (by_module["convs.9"].channels, by_module["to_rgbs.4"].channels) == (256, 256)
    assert (by_module["to_rgbs.7"].channels, by_module["to_rgbs.7"].w_index) == (32, 17)
    assert (by_module["convs.15"].channels, by_module["convs.15"].w_index) == (32, 16)
    assert layers[1].name == "toRGB_resolution_4" and layers[2].name == "conv0_resolution_8"
    assert layers[-1].offset + layers[-1].channels == 9088


def test_layouts_at_other_sizes_and_fingerprints():
    l256 = style_layout(GeneratorConfig(size=256, channels=default_channels(256)))
    l512 = style_layout(GeneratorConfig(size=512, channels=default_channels(512)))
    assert (len(l256), len(l512)) == (20, 23)
    assert max(lay.w_index for lay in l256) + 1 == 14
    fp = layout_fingerprint(style_layout(GeneratorConfig()))
    assert fp == layout_fingerprint(style_layout(GeneratorConfig()))
    assert fp != layout_fingerprint(l512)
    e_cfg = GeneratorConfig(channels=default_channels(1024, channel_multiplier=1))
    assert layout_fingerprint(style_layout(e_cfg)) != fp


def test_styles_are_affine_outputs_in_layout_order(tiny_generator):
    layers = style_layout(TINY)
    w_plus = torch.randn(2, TINY.num_ws, TINY.style_dim)
    styles = tiny_generator.styles(w_plus)
    assert [s.shape[1] for s in styles] == [lay.channels for lay in layers]
    mods = dict(tiny_generator.named_modules())
    for lay, s in zip(layers, styles, strict=True):
        mod = mods[lay.module].conv.modulation
        expected = w_plus[:, lay.w_index] @ (mod.weight * mod.weight_gain).t() + mod.bias
        assert torch.allclose(s, expected, atol=1e-5)


def test_flat_vector_round_trip_and_direct_edit(tiny_generator):
    layers = style_layout(TINY)
    w_plus = tiny_generator.truncate(tiny_generator.mapping(torch.randn(1, TINY.style_dim)))
    styles = tiny_generator.styles(w_plus)
    flat = flatten_styles(styles)
    assert flat.shape == (1, total_channels(layers))
    back = unflatten_styles(flat, layers)
    assert all(torch.equal(a, b) for a, b in zip(styles, back, strict=True))
    with torch.no_grad():
        base = tiny_generator.synthesize(styles)
        edited = flat.clone()
        edited[0, layers[5].offset + 2] += 5.0  # one channel of one conv layer
        changed = tiny_generator.synthesize(unflatten_styles(edited, layers))
    assert (changed - base).abs().max() > 1e-3
    assert torch.equal(tiny_generator.synthesize(back), base)
