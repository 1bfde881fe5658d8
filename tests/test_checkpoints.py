"""rosinality .pt and our .safetensors: loading, architecture inference, and every bad input."""

from __future__ import annotations

import argparse
import json
import os

import pytest
import torch
from conftest import TINY, make_generator
from safetensors import safe_open

from engine.checkpoints import ModelFileError, load_generator, save_native
from engine.checkpoints.rosinality import infer_config
from engine.generator import Generator, GeneratorConfig, default_channels


def _meta_state_dict(cfg: GeneratorConfig) -> dict:
    with torch.device("meta"):
        return Generator(cfg).state_dict()


@pytest.mark.parametrize(
    "cfg",
    [
        GeneratorConfig(),  # FFHQ 1024 config-f
        GeneratorConfig(size=1024, channels=default_channels(1024, 1)),  # channel_multiplier 1
        GeneratorConfig(size=512, channels=default_channels(512)),
        GeneratorConfig(size=256, style_dim=512, n_mlp=8, channels=default_channels(256)),
        GeneratorConfig(size=256, style_dim=256, n_mlp=4, channels={4: 384, 8: 384, 16: 256, 32: 128, 64: 96,
                                                                    128: 64, 256: 48}),
    ],
    ids=["config-f-1024", "cm1-1024", "512", "256", "custom-widths"],
)
def test_architecture_is_inferred_from_shapes(cfg):
    assert infer_config(_meta_state_dict(cfg)) == cfg


def test_config_f_parameter_count():
    with torch.device("meta"):
        gen = Generator(GeneratorConfig())
    assert sum(p.numel() for p in gen.parameters()) == 30_370_060
    assert len(gen.state_dict()) == 171


def test_rosinality_checkpoint_loads_exactly(rosinality_pt, tiny_generator):
    loaded = load_generator(rosinality_pt)
    assert loaded.source_format == "rosinality"
    assert loaded.generator.config == TINY
    assert torch.equal(loaded.generator.w_avg, tiny_generator.w_avg)
    z = torch.randn(2, TINY.style_dim)
    with torch.no_grad():
        assert torch.equal(loaded.generator(z, psi=0.7), tiny_generator(z, psi=0.7))


def test_train_py_checkpoint_with_namespace_args_and_discriminator(tmp_path, tiny_generator):
    """train.py writes g, d, g_ema, optimisers and an argparse.Namespace, and no latent_avg."""
    path = tmp_path / "050000.pt"
    args = argparse.Namespace(size=32, channel_multiplier=2, latent=16, n_mlp=2, lr=0.002)
    disc = {"convs.0.0.weight": torch.randn(4, 3, 1, 1)}
    torch.save({"g": tiny_generator.state_dict(), "d": disc, "g_ema": tiny_generator.state_dict(),
                "g_optim": {"state": {}, "param_groups": []}, "args": args, "ada_aug_p": 0.0}, path)
    loaded = load_generator(path)
    assert loaded.metadata["args"]["size"] == 32
    assert set(loaded.discriminator) == set(disc)
    # No stored average: computed from the mapping, deterministically.
    assert torch.allclose(loaded.generator.w_avg, tiny_generator.compute_w_avg(), atol=1e-6)


def test_native_round_trip_never_unpickles(tmp_path, tiny_generator):
    out = tmp_path / "tiny.safetensors"
    save_native(tiny_generator, out, source_format="rosinality", source_name="x.pt", license_note="CC-BY")
    with safe_open(str(out), framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == "styledomain.generator"
    assert GeneratorConfig.from_json(json.loads(meta["config"])) == TINY
    loaded = load_generator(out)
    assert loaded.source_format == "styledomain" and loaded.license == "CC-BY"
    z = torch.randn(1, TINY.style_dim)
    with torch.no_grad():
        assert torch.equal(loaded.generator(z, psi=0.5), tiny_generator(z, psi=0.5))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _bad_inputs(tmp_path):
    gen_sd = make_generator().state_dict()
    good = tmp_path / "good.pt"
    torch.save({"g_ema": gen_sd}, good)
    raw = good.read_bytes()
    e4e = tmp_path / "e4e.pt"
    torch.save({"state_dict": {"encoder.input_layer.0.weight": torch.zeros(1)}, "opts": {"encoder_type": "x"}}, e4e)
    disc = tmp_path / "disc.pt"
    torch.save({"d": {"convs.0.0.weight": torch.zeros(1)}}, disc)
    unknown = tmp_path / "unknown_arch.pt"
    bad_sd = dict(gen_sd)
    bad_sd.pop("convs.1.conv.weight")
    torch.save({"g_ema": bad_sd}, unknown)
    native_trunc = tmp_path / "trunc.safetensors"
    save_native(make_generator(), native_trunc)
    native_trunc.write_bytes(native_trunc.read_bytes()[:200])
    return {
        "missing": (tmp_path / "nope.pt", "not found"),
        "empty": (_write(tmp_path, "empty.pt", b""), "empty"),
        "text": (_write(tmp_path, "notes.pt", b"hello, I am a text file\n" * 10), "not a model file"),
        "truncated": (_write(tmp_path, "trunc.pt", raw[: len(raw) // 2]), "truncated or corrupt"),
        "e4e": (e4e, "e4e encoder"),
        "discriminator": (disc, "discriminator-only"),
        "unknown-arch": (unknown, "unknown generator architecture"),
        "native-truncated": (native_trunc, "truncated or corrupt"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "text", "truncated", "e4e", "discriminator", "unknown-arch",
                                  "native-truncated"])
def test_bad_inputs_give_one_line_naming_the_file(tmp_path, case):
    path, reason = _bad_inputs(tmp_path)[case]
    with pytest.raises(ModelFileError) as err:
        load_generator(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and reason in msg and "\n" not in msg


def test_pickle_that_would_run_a_command_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"g_ema": _Evil(marker)}, path)
    with pytest.raises(ModelFileError, match="refused"):
        load_generator(path)
    assert not marker.exists()
