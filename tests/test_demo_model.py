"""The shipped demo generator: loads, is marked as the demo, has the right layer table, draws faces."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from engine.checkpoints import load_generator, save_native
from engine.cli.main import main as cli_main
from engine.demo_world.faces import FaceParams, render_photo
from engine.demo_world.quality import feature_scores, seed_feature_boxes
from engine.pipeline.images import to_uint8
from engine.pipeline.seeds import w_plus_from_seed, z_from_seed
from engine.resources import demo_model_path
from engine.stylespace import style_layout

HELD_OUT = [1_000_003, 1_000_017, 1_000_042, 1_000_101, 1_000_777, 1_000_999]  # not in the training pool


@pytest.fixture(scope="module")
def demo():
    path = demo_model_path()
    assert path is not None, "resources/models/demo*.safetensors is missing"
    return load_generator(path)


def sample(gen, seeds: list[int]) -> np.ndarray:
    with torch.no_grad():
        w = torch.cat([w_plus_from_seed(gen, s) for s in seeds])
        return to_uint8(gen.synthesize(gen.styles(w), "const")).astype(np.float32)


def targets(gen, seeds: list[int]) -> np.ndarray:
    size, z_dim = gen.config.size, gen.config.style_dim
    return np.stack([render_photo(FaceParams.from_z(z_from_seed(s, z_dim)[0]), size) for s in seeds]).astype(
        np.float32)


def test_demo_file_is_small_and_named_by_resolution(demo):
    assert demo.path.stat().st_size <= 20 * 1024 * 1024
    assert f"-{demo.generator.config.size}" in demo.path.name


def test_demo_is_marked_and_native(demo):
    assert demo.source_format == "styledomain"
    assert demo.metadata.get("demo") == "true"
    training = json.loads(demo.metadata["training"])
    assert training["steps_done"] > 0 and "train_demo.py" in training["command"]


def test_layer_table_matches_config_and_info_json(demo, capsys):
    gen = demo.generator
    layers = style_layout(gen.config)
    assert len(layers) == 2 + 3 * (gen.config.log_size - 2)
    for lay, (name, mod, row) in zip(layers, gen.style_modules(), strict=True):
        assert lay.module == name and lay.w_index == row
        assert lay.channels == mod.modulation.weight.shape[0]
    assert cli_main(["info", str(demo.path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["is_demo"] is True
    assert info["style_layers"] == [lay.to_json() for lay in layers]
    assert info["resolution"] == gen.config.size


def test_w_avg_is_the_mapping_mean(demo):
    gen = demo.generator
    assert gen.w_avg.abs().sum() > 0
    assert torch.allclose(gen.w_avg, gen.compute_w_avg(4096, seed=0), atol=1e-5)  # as the card says
    # and an independent estimate agrees within sampling error (5 standard errors per dimension)
    with torch.no_grad():
        w = gen.mapping(torch.randn(2048, gen.config.style_dim, generator=torch.Generator().manual_seed(1)))
    assert ((w.mean(0) - gen.w_avg).abs() < 5 * w.std(0) / 2048**0.5).all()


def test_renders_the_renderer_face_of_the_seed_better_than_random_init(demo):
    gen = demo.generator
    real = targets(gen, HELD_OUT)
    fake = sample(gen, HELD_OUT)
    torch.manual_seed(0)
    rnd = type(gen)(gen.config).eval()
    rnd.w_avg.copy_(rnd.compute_w_avg(256))
    model_l1 = np.abs(fake - real).mean()
    random_l1 = np.abs(sample(rnd, HELD_OUT) - real).mean()
    assert model_l1 < 0.6 * random_l1, (model_l1, random_l1)


def test_sample_is_closer_to_its_own_seed_than_to_other_faces(demo):
    """Recognisable: each held-out seed's sample matches that seed's face better than the others'."""
    gen = demo.generator
    real = targets(gen, HELD_OUT)
    fake = sample(gen, HELD_OUT)
    d = np.abs(fake[:, None] - real[None]).mean(axis=(2, 3, 4))  # [sample, target]
    own = np.diag(d)
    others = (d.sum(1) - own) / (len(HELD_OUT) - 1)
    assert (own < others).mean() >= 0.8, d


def test_eyes_and_mouth_are_drawn(demo):
    """Faces, not blank heads: the eye and mouth windows carry detail, and it is this seed's detail."""
    gen = demo.generator
    real = targets(gen, HELD_OUT)
    fake = sample(gen, HELD_OUT)
    boxes = seed_feature_boxes(HELD_OUT, gen.config.size)
    own_l1, detail = feature_scores(fake, real, boxes)
    other_l1, _ = feature_scores(np.roll(fake, 1, axis=0), real, boxes)
    assert detail > 0.6, detail  # a featureless (blurred) head scores below 0.5
    assert own_l1 < 0.7 * other_l1, (own_l1, other_l1)


def test_stylespace_edits_change_the_image(demo):
    gen = demo.generator
    with torch.no_grad():
        styles = gen.styles(w_plus_from_seed(gen, 5))
        base = gen.synthesize(styles, "const")
        spread = gen.styles(w_plus_from_seed(gen, 6))  # a second face: the natural scale of each layer
        layer = 5  # conv0 at 16 px
        one = [s.clone() for s in styles]
        top = (styles[layer] - spread[layer]).abs().argmax()
        one[layer][0, top] += 10 * styles[layer].std()
        single = gen.synthesize(one, "const")
        g = torch.Generator().manual_seed(0)
        whole = [s.clone() for s in styles]
        whole[2] = whole[2] + 2 * styles[2].std() * torch.randn(whole[2].shape, generator=g)  # conv0 at 8 px
        coarse = gen.synthesize(whole, "const")
    assert (single - base).abs().max() > 0.05  # one channel visibly changes some pixels
    assert (coarse - base).abs().mean() > 0.02  # a coarse layer edit changes the whole face
    assert torch.equal(gen.synthesize(styles, "const"), base)  # edits live in the style list only


def test_cli_render_says_demo_and_writes_png(demo, tmp_path, capsys):
    out = tmp_path / "seed3.png"
    assert cli_main(["render", str(demo.path), "--seed", "3", "-o", str(out)]) == 0
    assert "demo model" in capsys.readouterr().out
    img = Image.open(out)
    assert img.size == (demo.generator.config.size,) * 2


def test_save_native_stores_extra_metadata(tmp_path, tiny_generator):
    path = tmp_path / "tiny.safetensors"
    save_native(tiny_generator, path, extra_metadata={"demo": "true"})
    assert load_generator(path).metadata["demo"] == "true"
    with pytest.raises(ValueError, match="reserved"):
        save_native(tiny_generator, tmp_path / "bad.safetensors", extra_metadata={"format": "x"})
    assert not (tmp_path / "bad.safetensors").exists()
