"""e4e: published checkpoint layout, architecture inference, exactness against a literal forward."""

from __future__ import annotations

import math
import pickle

import pytest
import torch
import torch.nn.functional as F
from conftest import TINY, make_generator

from engine.checkpoints.errors import ModelFileError
from engine.errors import UserError
from engine.inversion import check_encoder_fits, load_e4e, load_encoder
from engine.inversion.e4e import Encoder4Editing, infer_architecture

pytestmark = pytest.mark.usefixtures("one_thread")


SMALL = {"units": (1, 2, 2, 1), "widths": (16, 32, 48, 64), "style_dim": TINY.style_dim, "input_size": 32}


def randomize_encoder(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial BN statistics, affine terms and biases, so every term of the forward matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.3 if p.ndim == 1 else 1.0 / math.sqrt(p[0].numel())))
            if "prelu" in name or (p.ndim == 1 and name.endswith("weight")):
                p.add_(1.0)
        for name, b in net.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
    return net.eval()


def write_published(path, net: Encoder4Editing, decoder=None, latent_avg=None, opts=None) -> None:
    sd = {f"encoder.{k}": v for k, v in net.state_dict().items()}
    if decoder is not None:
        sd.update({f"decoder.{k}": v for k, v in decoder.state_dict().items()})
    ckpt = {"state_dict": sd, "opts": opts or {"encoder_type": "Encoder4Editing", "stylegan_size": 32,
                                                "start_from_latent_avg": True, "lpips_lambda": 0.8}}
    if latent_avg is not None:
        ckpt["latent_avg"] = latent_avg
    torch.save(ckpt, path)


# ---- an independent, literal forward written from the e4e description --------------------------------
def _bn(x, sd, p):
    return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                        False, 0.0, 1e-5)


def _unit(x, sd, p, stride):
    r = _bn(x, sd, p + ".res_layer.0")
    r = F.conv2d(r, sd[p + ".res_layer.1.weight"], padding=1)
    r = F.prelu(r, sd[p + ".res_layer.2.weight"])
    r = F.conv2d(r, sd[p + ".res_layer.3.weight"], stride=stride, padding=1)
    r = _bn(r, sd, p + ".res_layer.4")
    g = F.adaptive_avg_pool2d(r, 1)
    g = F.relu(F.conv2d(g, sd[p + ".res_layer.5.fc1.weight"]))
    g = torch.sigmoid(F.conv2d(g, sd[p + ".res_layer.5.fc2.weight"]))
    r = r * g
    if p + ".shortcut_layer.0.weight" in sd:
        s = _bn(F.conv2d(x, sd[p + ".shortcut_layer.0.weight"], stride=stride), sd, p + ".shortcut_layer.1")
    else:
        s = x[:, :, ::stride, ::stride]
    return r + s


def _head(x, sd, p):
    k = 0
    while f"{p}.convs.{k}.weight" in sd:
        x = F.leaky_relu(F.conv2d(x, sd[f"{p}.convs.{k}.weight"], sd[f"{p}.convs.{k}.bias"], stride=2, padding=1),
                         0.01)
        k += 2
    w = sd[p + ".linear.weight"]
    return x.flatten(1) @ (w / math.sqrt(w.shape[1])).t() + sd[p + ".linear.bias"]


def literal_e4e(sd, x, units, n_styles, latent_avg):
    x = F.prelu(_bn(F.conv2d(x, sd["input_layer.0.weight"], padding=1), sd, "input_layer.1"),
                sd["input_layer.2.weight"])
    taps, i = [], 0
    for n in units:
        for k in range(n):
            x = _unit(x, sd, f"body.{i}", 2 if k == 0 else 1)
            i += 1
        taps.append(x)
    c1, c2, c3 = taps[1], taps[2], taps[3]
    up = lambda a, b: F.interpolate(a, size=b.shape[-2:], mode="bilinear", align_corners=True) + b  # noqa: E731
    p2 = up(c3, F.conv2d(c2, sd["latlayer1.weight"], sd["latlayer1.bias"]))
    p1 = up(p2, F.conv2d(c1, sd["latlayer2.weight"], sd["latlayer2.bias"]))
    w0 = _head(c3, sd, "styles.0")
    rows = [w0]
    for j in range(1, n_styles):
        feats = c3 if j < 3 else p2 if j < 7 else p1
        rows.append(w0 + _head(feats, sd, f"styles.{j}"))
    return torch.stack(rows, 1) + latent_avg


# ---- tests -------------------------------------------------------------------------------------------
def test_published_layout_loads_and_matches_literal_forward(tmp_path):
    net = randomize_encoder(Encoder4Editing(style_count=TINY.num_ws, **SMALL))
    gen = make_generator()
    latent_avg = gen.w_avg.repeat(TINY.num_ws, 1)
    path = tmp_path / "e4e_small.pt"
    write_published(path, net, gen, latent_avg)
    enc, decoder, avg = load_e4e(path)
    assert (enc.num_ws, enc.w_dim, enc.input_size) == (TINY.num_ws, TINY.style_dim, 32)
    assert avg.shape == (TINY.num_ws, TINY.style_dim)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        got = enc.encode(x)
        want = literal_e4e(net.state_dict(), x, SMALL["units"], TINY.num_ws, latent_avg)
    assert got.shape == (2, TINY.num_ws, TINY.style_dim)
    assert (got - want).abs().max() < 1e-4
    # progressive deltas: rows differ, and all of them move with the input
    assert (got[:, 1:] - got[:, :1]).abs().max() > 1e-3
    # the decoder part is a working generator equal to the one saved
    with torch.no_grad():
        wp = got[:1]
        a = decoder.synthesize(decoder.styles(wp), "const")
        b = gen.synthesize(gen.styles(wp), "const")
    assert torch.allclose(a, b)


def test_encode_resizes_any_input_size(tmp_path):
    net = randomize_encoder(Encoder4Editing(style_count=TINY.num_ws, **SMALL))
    path = tmp_path / "e.pt"
    write_published(path, net, latent_avg=torch.zeros(TINY.num_ws, TINY.style_dim))
    enc = load_encoder(path)
    with torch.no_grad():
        out = enc.encode(torch.zeros(1, 3, 64, 64))
    assert out.shape == (1, TINY.num_ws, TINY.style_dim)


@pytest.mark.parametrize("count", [14, 16, 18])
def test_style_count_inferred_from_file(tmp_path, count):
    net = randomize_encoder(Encoder4Editing(style_count=count, **SMALL))
    path = tmp_path / f"e4e_{count}.pt"
    write_published(path, net, latent_avg=torch.randn(count, TINY.style_dim))
    enc, decoder, avg = load_e4e(path)
    assert enc.num_ws == count and decoder is None and avg.shape == (count, TINY.style_dim)


def test_latent_avg_optional_and_single_row(tmp_path):
    net = randomize_encoder(Encoder4Editing(style_count=TINY.num_ws, **SMALL))
    gen = make_generator()
    path = tmp_path / "noavg.pt"
    write_published(path, net, gen)  # no latent_avg: e4e falls back to the decoder's mean latent
    enc, _, avg = load_e4e(path)
    assert torch.allclose(avg[0], gen.compute_w_avg(), atol=1e-6)  # mean of the mapping over 4096 z
    single = tmp_path / "single.pt"
    write_published(single, net, latent_avg=gen.w_avg.clone())  # [512]-style single row
    assert load_e4e(single)[2].shape == (TINY.num_ws, TINY.style_dim)
    none = tmp_path / "none.pt"
    write_published(none, net)
    with pytest.raises(ModelFileError, match="no latent_avg"):
        load_e4e(none)


def test_mismatched_rows_is_a_clear_error(tmp_path):
    net = randomize_encoder(Encoder4Editing(style_count=14, **SMALL))
    path = tmp_path / "e4e_256.pt"
    write_published(path, net, latent_avg=torch.randn(14, TINY.style_dim))
    enc = load_encoder(path)
    with pytest.raises(UserError, match=r"14 rows .* takes 8 rows"):
        check_encoder_fits(enc, make_generator())


def test_full_size_irse50_has_the_published_names():
    net = Encoder4Editing()  # IR-SE50, 18 styles, 512
    sd = net.state_dict()
    assert len(sd) == 621
    assert sum(p.numel() for p in net.parameters()) == 267_136_704
    for key in ["input_layer.0.weight", "input_layer.1.num_batches_tracked", "input_layer.2.weight",
                "body.0.res_layer.5.fc1.weight", "body.23.res_layer.5.fc2.weight", "body.3.shortcut_layer.0.weight",
                "body.21.shortcut_layer.1.running_var", "styles.0.convs.6.weight", "styles.17.convs.10.bias",
                "styles.17.linear.weight", "latlayer1.weight", "latlayer2.bias"]:
        assert key in sd, key
    assert "body.7.shortcut_layer.0.weight" in sd and "body.0.shortcut_layer.0.weight" not in sd
    arch = infer_architecture(sd)
    assert arch == {"style_count": 18, "units": (3, 4, 14, 3), "widths": (64, 128, 256, 512), "style_dim": 512,
                    "input_size": 256}


def test_refusals(tmp_path):
    bad = tmp_path / "restyle.pt"
    net = Encoder4Editing(style_count=TINY.num_ws, **SMALL)
    sd = {f"encoder.{k}": v for k, v in net.state_dict().items()}
    sd["encoder.input_layer.0.weight"] = torch.zeros(16, 6, 3, 3)
    torch.save({"state_dict": sd, "opts": {}, "latent_avg": torch.zeros(8, 16)}, bad)
    with pytest.raises(ModelFileError, match="6-channel input"):
        load_e4e(bad)
    notckpt = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(3)}, notckpt)
    with pytest.raises(ModelFileError, match="not an e4e checkpoint"):
        load_e4e(notckpt)
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump({"state_dict": {"encoder.x": print}}, f)  # a global the safe loader must refuse
    with pytest.raises(ModelFileError):
        load_e4e(evil)
    psp = tmp_path / "psp.pt"
    write_published(psp, randomize_encoder(net), latent_avg=torch.zeros(8, 16),
                    opts={"encoder_type": "GradualStyleEncoder", "start_from_latent_avg": True})
    enc = load_encoder(psp)
    assert enc.net.progressive is False
    odd = tmp_path / "odd.pt"
    write_published(odd, net, latent_avg=torch.zeros(8, 16), opts={"encoder_type": "ResNetBackboneEncoder"})
    with pytest.raises(ModelFileError, match="not supported"):
        load_e4e(odd)
