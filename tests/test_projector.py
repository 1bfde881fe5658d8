"""Projector: schedule, loss decreases on a known target, modes, cancellation, previews; losses."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import make_generator

from engine.inversion.losses import (
    LPIPSVGG,
    DiscriminatorFeatureLoss,
    DiscriminatorFeatures,
    PyramidLoss,
    default_loss,
    lpips_heads_path,
)
from engine.inversion.projector import ProjectionSettings, learning_rate, noise_regularisation, project
from engine.jobs import CancelToken, Progress

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def gen():
    return make_generator()


@pytest.fixture(scope="module")
def known(gen):
    """A target rendered from a known latent (truncated, so it is reachable)."""
    with torch.no_grad():
        z = torch.randn(1, gen.config.style_dim, generator=torch.Generator().manual_seed(11))
        w = gen.truncate(gen.mapping(z), 0.8)
        return w[0], gen.synthesize(gen.styles(w), "const")


def image_mse(gen, w_plus, target):
    with torch.no_grad():
        return float(F.mse_loss(gen.synthesize(gen.styles(w_plus.unsqueeze(0)), "const"), target))


def test_learning_rate_schedule():
    s = ProjectionSettings(steps=100, lr=0.1)
    assert learning_rate(0.0, s) == 0.0
    assert learning_rate(0.5, s) == pytest.approx(0.1)
    assert learning_rate(1.0, s) == pytest.approx(0.0, abs=1e-12)
    assert learning_rate(0.025, s) == pytest.approx(0.05)  # half-way up the 5 % ramp
    down = [learning_rate(t, s) for t in (0.76, 0.8, 0.9, 0.99)]
    assert down == sorted(down, reverse=True) and down[0] < 0.1
    assert learning_rate(0.875, s) == pytest.approx(0.05)  # cosine: half-way down the last 25 %


@pytest.mark.parametrize("mode", ["w", "w+", "noise"])
def test_projection_reduces_reconstruction_error(gen, known, mode):
    _, target = known
    start = gen.w_avg.expand(gen.num_ws, -1).clone()
    before = image_mse(gen, start, target)
    res = project(gen, target, start, ProjectionSettings(steps=30, mode=mode, lr=0.1), PyramidLoss())
    assert res.steps_done == 30 and not res.cancelled
    assert res.w_plus.shape == (gen.num_ws, gen.config.style_dim)
    after = image_mse(gen, res.w_plus, target) if mode != "noise" else None
    assert res.losses[-1] < 0.6 * res.losses[0]
    if mode == "w":
        rows = res.w_plus - start
        assert torch.allclose(rows, rows[:1].expand_as(rows), atol=1e-6)  # one shared W offset
    if mode == "noise":
        assert res.noise is not None and len(res.noise) == gen.config.num_noise
        for n in res.noise:
            assert abs(float(n.mean())) < 1e-4 and float(n.square().mean()) == pytest.approx(1.0, abs=1e-3)
        with torch.no_grad():
            img = gen.synthesize(gen.styles(res.w_plus.unsqueeze(0)), noise=res.noise)
        after = float(F.mse_loss(img, target))
    assert after < 0.5 * before


def test_lower_resolution_optimisation_uses_early_exit(gen, known):
    _, target = known
    res = project(gen, target, None, ProjectionSettings(steps=20, resolution=16))
    assert res.losses[-1] < res.losses[0]


def test_cancellation_stops_between_steps(gen, known):
    _, target = known
    cancel = CancelToken()
    seen = []

    def progress(p: Progress):
        seen.append((p.job, p.step, p.total, p.preview is not None, set(p.values)))
        if p.step == 3:
            cancel.cancel()

    res = project(gen, target, None, ProjectionSettings(steps=50, preview_every=2), progress=progress,
                  cancel=cancel)
    assert res.cancelled and res.steps_done == 3 and len(res.losses) == 3
    assert seen == [("project", 1, 50, False, {"loss"}), ("project", 2, 50, True, {"loss"}),
                    ("project", 3, 50, False, {"loss"})]
    done = CancelToken()
    done.cancel()
    already = project(gen, target, None, ProjectionSettings(steps=5), cancel=done)
    assert already.cancelled and already.steps_done == 0
    assert torch.allclose(already.w_plus, gen.w_avg.expand(gen.num_ws, -1))


def test_noise_regulariser_penalises_correlated_noise():
    g = torch.Generator().manual_seed(0)
    white = [torch.randn(1, 1, 32, 32, generator=g)]
    smooth = [F.interpolate(torch.randn(1, 1, 8, 8, generator=g), size=32, mode="bilinear")]
    smooth = [(s - s.mean()) / s.std() for s in smooth]
    assert float(noise_regularisation(smooth)) > 20 * float(noise_regularisation(white))


def test_pyramid_loss_is_zero_only_for_equal_images():
    a = torch.rand(1, 3, 32, 32) * 2 - 1
    assert float(PyramidLoss()(a, a)) == 0.0
    b = a + 0.1
    # three levels (32, 16, 8), each 0.1 (L1) + 0.01 (L2)
    assert float(PyramidLoss()(a, b)) == pytest.approx(3 * 0.11, rel=1e-4)


def test_lpips_matches_the_lpips_package_on_the_same_weights():
    lpips = pytest.importorskip("lpips")
    ref = lpips.LPIPS(net="vgg", pnet_rand=True, verbose=False)  # random VGG trunk, shipped v0.1 heads
    vgg = {}
    for k, v in ref.state_dict().items():
        if k.startswith("net.slice"):
            _, _, idx, name = k.split(".")
            vgg[f"{idx}.{name}"] = v
    heads = torch.load(lpips_heads_path(), map_location="cpu", weights_only=True)
    mine = LPIPSVGG(vgg, heads)
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 48, 48, generator=g) * 2 - 1, torch.rand(2, 3, 48, 48, generator=g) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(mine.distance(a, b), ref(a, b).flatten(), atol=1e-5)
    assert float(mine(a, a)) == 0.0


def test_vgg16_file_gives_lpips_and_bad_files_are_refused(tmp_path):
    from engine.checkpoints.errors import ModelFileError
    from engine.inversion.losses import _vgg16_features

    if lpips_heads_path() is None:
        pytest.skip("lpips package not installed")
    torch.manual_seed(0)
    sd = {f"features.{k}": v for k, v in _vgg16_features().state_dict().items()}
    sd["classifier.0.weight"] = torch.zeros(2, 2)
    good = tmp_path / "vgg16.pth"
    torch.save(sd, good)
    assert isinstance(default_loss(None, good), LPIPSVGG)
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(ModelFileError, match="not a torchvision VGG16"):
        default_loss(None, bad)


# ---- rosinality discriminator features --------------------------------------------------------------
def rosinality_d_state(size=16, ch=8, seed=0):
    """Random tensors under rosinality ``Discriminator`` names (convs.* trunk only)."""
    g = torch.Generator().manual_seed(seed)
    k = torch.tensor([1.0, 3, 3, 1])
    kernel = torch.outer(k, k) / 64
    sd = {"convs.0.0.weight": torch.randn(ch, 3, 1, 1, generator=g), "convs.0.1.bias": torch.randn(ch, generator=g)}
    for i in range(1, int(math.log2(size)) - 1):
        sd.update({
            f"convs.{i}.conv1.0.weight": torch.randn(ch, ch, 3, 3, generator=g),
            f"convs.{i}.conv1.1.bias": torch.randn(ch, generator=g) * 0.1,
            f"convs.{i}.conv2.0.kernel": kernel, f"convs.{i}.conv2.1.weight": torch.randn(ch, ch, 3, 3, generator=g),
            f"convs.{i}.conv2.2.bias": torch.randn(ch, generator=g) * 0.1,
            f"convs.{i}.skip.0.kernel": kernel, f"convs.{i}.skip.1.weight": torch.randn(ch, ch, 1, 1, generator=g),
        })
    sd["final_conv.0.weight"] = torch.randn(ch, ch + 1, 3, 3, generator=g)
    return sd


def literal_d_block(x, sd, i):
    """ResBlock written out: blur (pad 2 / 1) then stride-2 conv, lrelu*sqrt2 with bias, (out + skip)/sqrt2."""
    def lrelu(t, b):
        return F.leaky_relu(t + b.view(1, -1, 1, 1), 0.2) * math.sqrt(2)

    def blur(t, pad):
        kern = sd[f"convs.{i}.conv2.0.kernel"].view(1, 1, 4, 4).repeat(t.shape[1], 1, 1, 1)
        return F.conv2d(F.pad(t, [pad] * 4), kern, groups=t.shape[1])

    w1, w2, ws = sd[f"convs.{i}.conv1.0.weight"], sd[f"convs.{i}.conv2.1.weight"], sd[f"convs.{i}.skip.1.weight"]
    out = lrelu(F.conv2d(x, w1 / math.sqrt(w1[0].numel()), padding=1), sd[f"convs.{i}.conv1.1.bias"])
    out = lrelu(F.conv2d(blur(out, 2), w2 / math.sqrt(w2[0].numel()), stride=2), sd[f"convs.{i}.conv2.2.bias"])
    skip = F.conv2d(blur(x, 1), ws / math.sqrt(ws[0].numel()), stride=2)
    return (out + skip) / math.sqrt(2)


def test_discriminator_features_match_a_literal_resblock():
    sd = rosinality_d_state()
    d = DiscriminatorFeatures(sd)
    assert d.size == 16
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    w0 = sd["convs.0.0.weight"]
    h = F.leaky_relu(F.conv2d(x, w0 / math.sqrt(3)) + sd["convs.0.1.bias"].view(1, -1, 1, 1), 0.2) * math.sqrt(2)
    want = literal_d_block(h, sd, 1)
    feats = d(x)
    assert len(feats) == 2 and feats[0].shape == (2, 8, 8, 8)
    assert torch.allclose(feats[0], want, atol=1e-5)
    assert torch.allclose(feats[1], literal_d_block(want, sd, 2), atol=1e-5)


def test_default_loss_uses_discriminator_when_present(gen, known):
    loss = default_loss(rosinality_d_state(size=32), None)
    assert isinstance(loss, DiscriminatorFeatureLoss)
    assert isinstance(default_loss({"not": torch.zeros(1)}, None), PyramidLoss)
    _, target = known
    res = project(gen, target, None, ProjectionSettings(steps=15), loss)
    assert res.losses[-1] < res.losses[0]


def test_bench_rows(gen):
    from conftest import TINY

    from engine.bench.inversion import bench_e4e, bench_projector_step
    from engine.inversion.e4e import Encoder4Editing

    cpu = torch.device("cpu")
    row = bench_projector_step(gen, cpu, resolution=16, warmup=1, repeats=2)
    assert row["task"] == "projector_step" and row["resolution"] == 16 and row["ms_per_image"] > 0
    net = Encoder4Editing(style_count=TINY.num_ws, units=(1, 1, 1, 1), widths=(16, 32, 48, 64),
                          style_dim=TINY.style_dim, input_size=32)
    row = bench_e4e(cpu, batch=2, warmup=0, repeats=1, net=net)
    assert row == {**row, "task": "e4e", "resolution": 32, "batch": 2} and row["ms_per_image"] > 0


def test_projection_never_returns_worse_than_its_start(gen, known):
    w, target = known
    res = project(gen, target, w.clone(), ProjectionSettings(steps=3, lr=0.5))  # exact start, wild steps
    assert res.kept_start and torch.equal(res.w_plus, w)
