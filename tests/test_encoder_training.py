"""Small per-generator encoder: training beats w_avg, file round trip, discovery, train-encoder CLI."""

from __future__ import annotations

import pytest
import torch
from conftest import make_generator

from engine.checkpoints import load_generator, save_native
from engine.checkpoints.errors import ModelFileError
from engine.cli.main import main
from engine.errors import UserError
from engine.inversion import check_encoder_fits, find_default_encoder, load_encoder
from engine.inversion.encoder_training import (
    EncoderTrainingSettings,
    evaluate_encoder,
    sample_w_plus,
    train_encoder,
)
from engine.inversion.small_encoder import SmallEncoder, SmallEncoderConfig, save_encoder
from engine.jobs import CancelToken, Progress
from engine.stylespace import layout_fingerprint, style_layout

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def gen():
    return make_generator()


def small_cfg(gen) -> SmallEncoderConfig:
    return SmallEncoderConfig(input_size=32, num_ws=gen.num_ws, w_dim=gen.config.style_dim, base_width=8,
                              max_width=32, hidden=64)


@pytest.fixture(scope="module")
def trained(gen):
    return train_encoder(gen, small_cfg(gen), EncoderTrainingSettings(steps=60, batch=8, lr=3e-3))


def test_untrained_encoder_returns_w_avg(gen):
    enc = SmallEncoder(small_cfg(gen), gen.w_avg, torch.ones(gen.config.style_dim))
    out = enc.encode(torch.rand(2, 3, 32, 32))
    assert torch.allclose(out, gen.w_avg.expand(2, gen.num_ws, -1))


def test_trained_encoder_beats_w_avg_on_held_out_samples(gen, trained):
    enc, summary = trained
    assert summary["steps_done"] == 60
    q = evaluate_encoder(gen, enc, n=16)  # other seed than training
    assert q["mse"] < 0.6 * q["mse_w_avg"]
    assert q["psnr"] > q["psnr_w_avg"] + 2


def test_style_mixing_samples(gen):
    rng = torch.Generator().manual_seed(0)
    wp = sample_w_plus(gen, 64, rng, psi_min=0.6, mix_prob=1.0)
    changes = (wp[:, 1:] - wp[:, :-1]).abs().amax(-1) > 0  # where the row changes
    assert bool(changes.any(1).all())  # every sample is mixed once
    assert int(changes.sum(1).max()) == 1
    plain = sample_w_plus(gen, 8, rng, mix_prob=0.0)
    assert torch.equal(plain, plain[:, :1].expand_as(plain))


def test_training_honours_time_limit_and_cancel(gen):
    _, summary = train_encoder(gen, small_cfg(gen), EncoderTrainingSettings(steps=1000, batch=2, time_limit=0.0))
    assert summary["steps_done"] == 0
    calls, token = [], CancelToken()

    def progress(p: Progress) -> None:
        calls.append((p.job, p.step, p.total, set(p.values)))
        if p.step == 2:
            token.cancel()

    _, summary = train_encoder(gen, small_cfg(gen), EncoderTrainingSettings(steps=1000, batch=2),
                               progress=progress, cancel=token)
    assert summary["steps_done"] == 2 and summary["cancelled"]
    assert calls == [("train-encoder", i, 1000, {"loss", "latent", "image"}) for i in (1, 2)]


def test_file_round_trip_and_checks(tmp_path, gen, trained):
    enc, _ = trained
    fp = layout_fingerprint(style_layout(gen.config))
    path = tmp_path / "enc.safetensors"
    save_encoder(enc, path, generator_fingerprint=fp, generator_sha256="abc", generator_name="tiny")
    loaded = load_encoder(path)
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(loaded.encode(x), enc.encode(x), atol=2e-2)  # float16 weights by default
    assert loaded.meta["weights_dtype"] == "float16" and loaded.w_avg.dtype == torch.float32
    assert torch.equal(loaded.w_avg, enc.w_avg)
    exact = tmp_path / "exact.safetensors"
    save_encoder(enc, exact, generator_fingerprint=fp, generator_sha256="abc", half=False)
    assert torch.allclose(load_encoder(exact).encode(x), enc.encode(x))
    assert loaded.meta["generator_fingerprint"] == fp
    assert check_encoder_fits(loaded, gen, "abc") == []
    notes = check_encoder_fits(loaded, gen, "other-sha")
    assert notes and "another model file" in notes[0]
    wrong = tmp_path / "wrong.safetensors"
    save_encoder(enc, wrong, generator_fingerprint="0123456789abcdef", generator_sha256="abc")
    with pytest.raises(UserError, match="different layer layout"):
        check_encoder_fits(load_encoder(wrong), gen)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(ModelFileError):
        load_encoder(junk)


def test_default_encoder_found_beside_the_model(tmp_path, gen, trained):
    model = tmp_path / "tiny.safetensors"
    save_native(gen, model)
    loaded = load_generator(model)
    assert find_default_encoder(gen, loaded.sha256, model) is None
    enc, _ = trained
    fp = layout_fingerprint(style_layout(gen.config))
    save_encoder(enc, tmp_path / "tiny-encoder.safetensors", generator_fingerprint=fp,
                 generator_sha256=loaded.sha256)
    assert find_default_encoder(gen, loaded.sha256, model) == tmp_path / "tiny-encoder.safetensors"


def test_train_encoder_cli(tmp_path, gen, capsys):
    model = tmp_path / "tiny.safetensors"
    save_native(gen, model)
    out = tmp_path / "enc.safetensors"
    code = main(["train-encoder", str(model), "-o", str(out), "--steps", "3", "--size", "32", "--batch", "2",
                 "--width", "8", "--device", "cpu"])
    assert code == 0 and out.is_file()
    enc = load_encoder(out)
    assert (enc.num_ws, enc.w_dim, enc.input_size) == (gen.num_ws, gen.config.style_dim, 32)
    assert enc.meta["generator_sha256"] == load_generator(model).sha256
    assert "held-out PSNR" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["-o", "{tmp}/enc.pt"], "must end in .safetensors"),
    (["-o", "{tmp}/enc.safetensors", "--steps", "0"], "--steps must be >= 1"),
    (["-o", "{tmp}/enc.safetensors", "--size", "48"], "power of two"),
    (["-o", "{tmp}/missing/enc.safetensors"], "does not exist"),
])
def test_train_encoder_cli_refusals(tmp_path, gen, capsys, argv, message):
    model = tmp_path / "tiny.safetensors"
    save_native(gen, model)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(["train-encoder", str(model), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.safetensors"]


def test_pool_training_beats_w_avg(gen):
    settings = EncoderTrainingSettings(steps=80, batch=8, lr=3e-3, pool=128, image_every=2)
    enc, summary = train_encoder(gen, small_cfg(gen), settings)
    assert summary["steps_done"] == 80
    q = evaluate_encoder(gen, enc, n=16)
    assert q["mse"] < 0.7 * q["mse_w_avg"]


def test_shipped_demo_encoder_reconstructs_demo_renders():
    from engine.inversion import invert_image
    from engine.inversion.metrics import psnr
    from engine.pipeline.seeds import w_plus_from_seed
    from engine.resources import resources_dir

    models = resources_dir() / "models"
    model, enc_path = models / "demo-faces-64.safetensors", models / "demo-faces-64-encoder.safetensors"
    if not (model.is_file() and enc_path.is_file()):
        pytest.skip("demo model or its encoder not shipped in this checkout")
    loaded = load_generator(model)
    gen = loaded.generator
    assert find_default_encoder(gen, loaded.sha256, model) == enc_path
    enc = load_encoder(enc_path)
    check_encoder_fits(enc, gen, loaded.sha256)  # same layout (a note, not an error, if the model was retrained)
    with torch.no_grad():
        wp = torch.cat([w_plus_from_seed(gen, s, 0.7) for s in (901, 902, 903, 904)])
        target = gen.synthesize(gen.styles(wp), "const")
        rec = gen.synthesize(gen.styles(enc.encode(target)), "const")
        avg = gen.synthesize(gen.styles(gen.w_avg.expand_as(wp)), "const")
    assert psnr(rec, target) > psnr(avg, target) + 6
    res = invert_image(target[:1], loaded, None, steps=50)  # shipped encoder found, then refined
    assert res.encoder == enc_path.name and res.psnr > psnr(rec[:1], target[:1]) + 1
