"""Directions: StyleDomain import, our format, application in S, DomMod, masks, sparsify, bad input."""

from __future__ import annotations

import pickle

import pytest
import torch
from conftest import TINY, make_generator
from safetensors.torch import save_file
from test_directions_helpers import conv_in_channels, conv_positions, literal_synthesize, styledomain_file

from engine.domains import DirectionTerm, build_edit, load_direction, mask_vector, save_direction, sparsify
from engine.domains.blend import mix_style_latents
from engine.domains.direction import check_fits
from engine.errors import FileProblem, UserError
from engine.generator import GeneratorConfig
from engine.stylespace import style_layout

N_BLOCKS = 3  # TINY: 8, 16, 32 px above the 4 px block
OTHER = GeneratorConfig(size=32, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8, 32: 8})


@pytest.fixture
def gen():
    return make_generator()


def _styles(gen, batch=2, seed=1):
    z = torch.randn(batch, TINY.style_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return gen.styles(gen.truncate(gen.mapping(z), 0.8))


def test_import_reads_every_head_including_the_last(tmp_path):
    heads = styledomain_file(tmp_path / "d.pt", TINY.channels, seed=4)
    d = load_direction(tmp_path / "d.pt")
    assert d.kind == "s_delta" and len(heads) == 7 and d.values.shape == (sum(
        lay.channels for lay in style_layout(TINY)),)
    flat = d.values
    pos = 0
    for idx in range(len(style_layout(TINY))):
        width = style_layout(TINY)[idx].channels  # widths only; offsets counted here
        chunk = flat[pos : pos + width]
        if idx in conv_positions(N_BLOCKS):
            k = conv_positions(N_BLOCKS).index(idx)
            assert torch.equal(chunk, heads[k]), f"head conv_{k}"
        else:
            assert torch.count_nonzero(chunk) == 0  # toRGB untouched
        pos += width
    assert torch.count_nonzero(heads[-1]) > 0  # the last head (dropped by the reference notebook) is used


@pytest.mark.parametrize("alpha", [0.7, -0.35])
def test_applied_styles_and_image_match_s_plus_alpha_d(tmp_path, gen, alpha):
    heads = styledomain_file(tmp_path / "d.pt", TINY.channels, seed=2)
    d = load_direction(tmp_path / "d.pt")
    styles = _styles(gen)
    edit = build_edit([DirectionTerm(d, 1.0)], style_layout(TINY), strength=alpha)
    got = edit.styles(styles)
    expected = [s.clone() for s in styles]
    for k, idx in enumerate(conv_positions(N_BLOCKS)):
        expected[idx] = expected[idx] + alpha * heads[k]
    for a, b in zip(got, expected, strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=0)
    with torch.no_grad():
        img = edit.synthesize(gen, styles)
    sd = gen.state_dict()
    for b in range(2 if alpha > 0 else 1):
        ref = literal_synthesize(sd, [s[b] for s in expected], N_BLOCKS)
        assert torch.allclose(img[b].double(), ref, atol=1e-4), float((img[b].double() - ref).abs().max())
    plain = gen.synthesize(styles)
    assert (img - plain).abs().max() > 1e-2  # the direction does something


def test_dommod_matches_literal_per_sample_weight_scaling(tmp_path, gen):
    heads = styledomain_file(tmp_path / "m.pt", TINY.channels, kind="cin_mult", seed=5, scale=0.4)
    d = load_direction(tmp_path / "m.pt")
    assert d.kind == "cin_mult"
    styles = _styles(gen, seed=3)
    for strength in (1.0, 0.5):
        edit = build_edit([DirectionTerm(d, 1.0)], style_layout(TINY), strength=strength)
        # DomMod leaves S itself alone
        assert all(torch.equal(a, b) for a, b in zip(edit.styles(styles), styles, strict=True))
        with torch.no_grad():
            img = edit.synthesize(gen, styles)
        mults = {idx: 1 + strength * heads[k] for k, idx in enumerate(conv_positions(N_BLOCKS))}
        for b in range(2 if strength == 1.0 else 1):
            ref = literal_synthesize(gen.state_dict(), [s[b] for s in styles], N_BLOCKS, mults)
            assert torch.allclose(img[b].double(), ref, atol=1e-4), float((img[b].double() - ref).abs().max())
    with torch.no_grad():  # the activation-scaling ("fast") convolution path agrees too
        fast = build_edit([DirectionTerm(d)], style_layout(TINY)).synthesize(gen, styles, impl="fast")
    mults = {idx: 1 + heads[k] for k, idx in enumerate(conv_positions(N_BLOCKS))}
    ref = literal_synthesize(gen.state_dict(), [s[1] for s in styles], N_BLOCKS, mults)
    assert torch.allclose(fast[1].double(), ref, atol=1e-4)
    # hooks are gone afterwards
    assert torch.equal(gen.synthesize(styles), gen.synthesize(styles))
    assert all(not m._forward_pre_hooks for m in gen.modules())


def test_dommod_is_not_a_style_edit(tmp_path, gen):
    """Scaling after demodulation differs from scaling s (which demodulation would undo in part)."""
    heads = styledomain_file(tmp_path / "m.pt", TINY.channels, kind="cin_mult", seed=5, scale=0.4)
    d = load_direction(tmp_path / "m.pt")
    styles = _styles(gen, batch=1)
    with torch.no_grad():
        img = build_edit([DirectionTerm(d)], style_layout(TINY)).synthesize(gen, styles)
        scaled = [s.clone() for s in styles]
        for k, idx in enumerate(conv_positions(N_BLOCKS)):
            scaled[idx] = scaled[idx] * (1 + heads[k])
        assert (gen.synthesize(scaled) - img).abs().max() > 1e-3


def test_blend_two_directions_with_weights_and_masks(tmp_path, gen):
    h1 = styledomain_file(tmp_path / "a.pt", TINY.channels, seed=1)
    h2 = styledomain_file(tmp_path / "b.pt", TINY.channels, seed=2)
    d1, d2 = load_direction(tmp_path / "a.pt"), load_direction(tmp_path / "b.pt")
    styles = _styles(gen)
    terms = [DirectionTerm(d1, 0.6), DirectionTerm(d2, -0.3, layers="middle")]
    got = build_edit(terms, style_layout(TINY), strength=0.8).styles(styles)
    res = [4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32]  # resolution of each StyleSpace index, by hand
    expected = [s.clone() for s in styles]
    for k, idx in enumerate(conv_positions(N_BLOCKS)):
        expected[idx] = expected[idx] + 0.8 * 0.6 * h1[k]
        if 16 <= res[idx] <= 32:
            expected[idx] = expected[idx] + 0.8 * -0.3 * h2[k]
    for a, b in zip(got, expected, strict=True):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("spec,indices", [
    ("coarse", {0, 1, 2, 3, 4}), ("middle", {5, 6, 7, 8, 9, 10}), ("all", set(range(11))),
    ("2-5", {2, 3, 4, 5}), ("7", {7}), ("16px-32px", {5, 6, 7, 8, 9, 10}), ("8-16px", {2, 3, 4, 5, 6, 7}),
    ("coarse, 9-10", {0, 1, 2, 3, 4, 9, 10}), ("32px", {8, 9, 10}),
])
def test_layer_selections(spec, indices):
    layout = style_layout(TINY)
    mask = mask_vector(spec, layout)
    for lay in layout:
        chunk = mask[lay.offset : lay.offset + lay.channels]
        assert bool(chunk.all()) == (lay.index in indices) and bool(chunk.any()) == (lay.index in indices), spec


@pytest.mark.parametrize("spec", ["fine", "12", "3-1", "bogus", "4-x"])
def test_bad_layer_selections(spec):
    with pytest.raises(UserError):
        mask_vector(spec, style_layout(TINY))


def test_sparsify_keeps_global_top_fraction(tmp_path):
    styledomain_file(tmp_path / "d.pt", TINY.channels, seed=7)
    d = load_direction(tmp_path / "d.pt")
    sparse, kept = sparsify(d, 0.2)
    conv = torch.cat([d.values[lay.offset : lay.offset + lay.channels] for lay in d.layout if lay.kind == "conv"])
    n = conv.numel()
    n_keep = n - int(n * 0.8)
    assert kept == pytest.approx(n_keep / n)
    new = sparse.values
    assert int(new.ne(0).sum()) == n_keep
    threshold = conv.abs().sort(descending=True).values[n_keep - 1]
    nz = new.ne(0)
    assert torch.equal(new[nz], d.values[nz])  # survivors unchanged
    assert bool((d.values[nz].abs() >= threshold).all())
    assert bool((d.values[~nz].abs() <= threshold).all())
    layer_counts = [int(new[lay.offset : lay.offset + lay.channels].ne(0).sum()) for lay in d.layout]
    assert len({c for c in layer_counts if c}) > 1  # global, not per layer
    with pytest.raises(UserError):
        sparsify(d, 0.0)


def test_native_format_round_trip_keeps_metadata_and_style_latents(tmp_path):
    lat = torch.randn(1, 3, TINY.style_dim)
    styledomain_file(tmp_path / "mtg.pt", TINY.channels, seed=3, style_latents=lat)
    d = load_direction(tmp_path / "mtg.pt")
    assert torch.equal(d.style_latents, lat) and d.extra["da_type"] == "im2im"
    d.license, d.source, d.thumbnail_png = "CC-BY-4.0", "unit test", b"\x89PNG\r\n\x1a\nfake"
    save_direction(d, tmp_path / "mtg.safetensors")
    back = load_direction(tmp_path / "mtg.safetensors")
    assert torch.equal(back.values, d.values) and torch.equal(back.style_latents, lat)
    assert (back.name, back.kind, back.license, back.source) == ("mtg", "s_delta", "CC-BY-4.0", "unit test")
    assert back.thumbnail_png == d.thumbnail_png and back.fingerprint == d.fingerprint
    assert not list(tmp_path.glob(".*partial"))


def test_style_latent_mix_replaces_last_rows(tmp_path):
    lat = torch.randn(1, 3, TINY.style_dim)
    styledomain_file(tmp_path / "mtg.pt", TINY.channels, style_latents=lat)
    d = load_direction(tmp_path / "mtg.pt")
    w = torch.randn(2, TINY.num_ws, TINY.style_dim)
    out = mix_style_latents(w, d, 0.75)
    assert torch.equal(out[:, :-3], w[:, :-3])
    assert torch.allclose(out[:, -3:], 0.75 * lat + 0.25 * w[:, -3:])


def test_transfer_to_same_layout_and_refusal_for_another(tmp_path):
    styledomain_file(tmp_path / "d.pt", TINY.channels)
    d = load_direction(tmp_path / "d.pt")
    other_gen = make_generator(seed=9)  # a "fine-tune": same layer table, other weights
    styles = _styles(other_gen)
    edit = build_edit([DirectionTerm(d)], style_layout(other_gen.config))
    assert edit.synthesize(other_gen, styles).shape == (2, 3, 32, 32)
    with pytest.raises(UserError) as err:
        check_fits(d, style_layout(OTHER), tmp_path / "d.pt")
    msg = str(err.value)
    assert "conv1_resolution_16" in msg and "12" in msg and "8" in msg
    with pytest.raises(UserError, match="layers"):
        check_fits(d, style_layout(GeneratorConfig(size=64, style_dim=16, n_mlp=2,
                                                   channels={4: 16, 8: 16, 16: 12, 32: 8, 64: 8})))


def _raw_dict(channels, kind="s_delta"):
    heads = {f"heads.conv_{k}.params_in": torch.zeros(1, c) if kind == "s_delta" else torch.zeros(1, 1, c, 1, 1)
             for k, c in enumerate(conv_in_channels(channels))}
    return {"model_type": "parametrization", "patch_key": kind, "state_dict": heads}


@pytest.mark.parametrize("mutate,needle", [
    (lambda o: o["state_dict"]["heads.conv_3.params_in"].__setitem__((0, 2), float("nan")), "NaN/Inf"),
    (lambda o: o["state_dict"]["heads.conv_6.params_in"].__setitem__((0, 0), float("inf")), "NaN/Inf"),
    (lambda o: o["state_dict"].__setitem__("heads.conv_1.params_in", torch.zeros(1, 16, dtype=torch.int64)), "dtype"),
    (lambda o: o["state_dict"].__setitem__("heads.conv_2.params_in", torch.zeros(1, 1, 16, 1, 1)), "shape"),
    (lambda o: o["state_dict"].__setitem__("heads.conv_2.params_in", torch.zeros(1, 15)), "channels"),
    (lambda o: o["state_dict"].pop("heads.conv_4.params_in"), "conv_4"),
    (lambda o: o.__setitem__("patch_key", "s_mod"), "patch_key"),
    (lambda o: o.__setitem__("model_type", "original"), "model_type"),
    (lambda o: o["state_dict"].__setitem__("bogus", torch.zeros(1)), "unexpected"),
])
def test_bad_styledomain_files(tmp_path, mutate, needle):
    obj = _raw_dict(TINY.channels)
    mutate(obj)
    torch.save(obj, tmp_path / "bad.pt")
    with pytest.raises(FileProblem, match=needle) as err:
        load_direction(tmp_path / "bad.pt")
    assert str(tmp_path / "bad.pt") in str(err.value)


def test_refuses_to_unpickle_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"model_type": "parametrization", "x": Evil()}, f)
    with pytest.raises(FileProblem, match="refused|not a readable"):
        load_direction(tmp_path / "evil.pt")


def test_bad_native_files(tmp_path):
    styledomain_file(tmp_path / "d.pt", TINY.channels)
    save_direction(load_direction(tmp_path / "d.pt"), tmp_path / "good.safetensors")
    from safetensors import safe_open

    with safe_open(str(tmp_path / "good.safetensors"), framework="pt") as f:
        meta, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    bad = dict(tensors)
    bad["layer.conv1_resolution_8"] = bad["layer.conv1_resolution_8"].clone()
    bad["layer.conv1_resolution_8"][3] = float("nan")
    save_file(bad, str(tmp_path / "nan.safetensors"), metadata=meta)
    with pytest.raises(FileProblem, match="NaN"):
        load_direction(tmp_path / "nan.safetensors")
    save_file(tensors, str(tmp_path / "v9.safetensors"), metadata={**meta, "format_version": "9"})
    with pytest.raises(FileProblem, match="version 9"):
        load_direction(tmp_path / "v9.safetensors")
    bad = dict(tensors)
    bad["layer.conv1_resolution_8"] = torch.zeros(7)
    save_file(bad, str(tmp_path / "shape.safetensors"), metadata=meta)
    with pytest.raises(FileProblem, match="shape"):
        load_direction(tmp_path / "shape.safetensors")
    (tmp_path / "trunc.safetensors").write_bytes((tmp_path / "good.safetensors").read_bytes()[:100])
    with pytest.raises(FileProblem):
        load_direction(tmp_path / "trunc.safetensors")
    (tmp_path / "text.safetensors").write_text("hello")
    with pytest.raises(FileProblem):
        load_direction(tmp_path / "text.safetensors")


def test_direction_covering_torgb(tmp_path, gen):
    from engine.domains import Direction

    layout = style_layout(TINY)
    total = sum(lay.channels for lay in layout)
    values = torch.randn(total, generator=torch.Generator().manual_seed(0)) * 0.3
    d = Direction(layout, values, name="full", covers_torgb=True)
    save_direction(d, tmp_path / "full.safetensors")
    back = load_direction(tmp_path / "full.safetensors")
    assert back.covers_torgb and torch.equal(back.values, values)
    styles = _styles(gen)
    got = build_edit([DirectionTerm(back)], layout, 0.5).styles(styles)
    pos = 0
    for s, g in zip(styles, got, strict=True):  # every layer, toRGB included, moves by 0.5 * d
        width = s.shape[1]
        assert torch.allclose(g, s + 0.5 * values[pos : pos + width], atol=1e-6)
        pos += width
    with pytest.raises(UserError, match="toRGB"):
        Direction(layout, values, covers_torgb=False)
    with pytest.raises(UserError, match="conv layers only"):
        Direction(layout, values, kind="cin_mult", covers_torgb=True)


def test_ffhq_1024_styledomain_file_layout(tmp_path):
    """The released shape table (conv_0..9: 512, 10-11: 256, 12-13: 128, 14-15: 64, 16: 32) fits config-f."""
    widths = [512] * 10 + [256] * 2 + [128] * 2 + [64] * 2 + [32]
    g = torch.Generator().manual_seed(0)
    heads = {f"heads.conv_{k}.params_in": torch.randn(1, c, generator=g) for k, c in enumerate(widths)}
    torch.save({"model_type": "parametrization", "patch_key": "s_delta", "state_dict": heads,
                "sg2_params": {"img_size": 1024, "channel_multiplier": 2}, "da_type": "td"}, tmp_path / "joker.pt")
    d = load_direction(tmp_path / "joker.pt")
    ffhq = style_layout(GeneratorConfig())
    check_fits(d, ffhq)
    assert int(d.covered_mask().sum()) == 6048 and d.values.numel() == 9088
    conv_s_indices = [0, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 23, 24]  # conv layers; toRGB skipped
    for k, idx in enumerate(conv_s_indices):
        lay = ffhq[idx]
        assert torch.equal(d.values[lay.offset : lay.offset + lay.channels], heads[f"heads.conv_{k}.params_in"][0])
    torch.save({"model_type": "parametrization", "patch_key": "s_delta", "state_dict": heads,
                "sg2_params": {"img_size": 512}}, tmp_path / "liar.pt")
    with pytest.raises(FileProblem, match="512 px"):
        load_direction(tmp_path / "liar.pt")
