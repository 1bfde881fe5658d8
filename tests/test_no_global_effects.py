"""No hidden global effects (issue 9, section 2): after each public engine call the front-ends use, the
process thread count, the global RNGs (torch, NumPy, ``random``), torch's initial seed, the umask, and the
caller's model (device, every parameter and buffer bit for bit, ``w_avg``) are as they were."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.checkpoints import load_generator
from engine.domains.blend import DirectionTerm
from engine.domains.direction import load_direction
from engine.pipeline.edit import Edit

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "models" / "demo-faces-64.safetensors"
pytestmark = pytest.mark.usefixtures("one_thread")

SAMPLE = ROOT / "resources" / "samples" / "face-seed2.png"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _global_state() -> dict:
    return {"threads": torch.get_num_threads(), "interop": torch.get_num_interop_threads(),
            "initial_seed": torch.initial_seed(), "torch_rng": torch.get_rng_state().clone(),
            "numpy_rng": np.random.get_state(), "random": random.getstate(), "umask": _umask()}


def _model_state(gen) -> dict:
    return {"device": gen.w_avg.device, "training": gen.training,
            "tensors": {**{k: v.detach().clone() for k, v in gen.state_dict(keep_vars=True).items()},
                        **{k: v.detach().clone() for k, v in gen.named_buffers()},  # non-persistent ones too
                        "w_avg": gen.w_avg.detach().clone()},
            "requires_grad": {k: p.requires_grad for k, p in gen.named_parameters()}}


def _assert_same_globals(before: dict, after: dict) -> None:
    for key in ("threads", "interop", "initial_seed", "umask"):
        assert after[key] == before[key], key
    assert torch.equal(after["torch_rng"], before["torch_rng"]), "torch global RNG state changed"
    b, a = before["numpy_rng"], after["numpy_rng"]
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:], "numpy global RNG state changed"
    assert after["random"] == before["random"], "random module state changed"


def _assert_same_model(before: dict, gen) -> None:
    after = _model_state(gen)
    assert after["device"] == before["device"]
    assert after["training"] == before["training"]
    assert after["requires_grad"] == before["requires_grad"]
    assert after["tensors"].keys() == before["tensors"].keys()
    for k, v in before["tensors"].items():
        w = after["tensors"][k]
        assert w.device == v.device and w.dtype == v.dtype and torch.equal(w, v), f"{k} changed"


@pytest.fixture(scope="module")
def demo():
    if not DEMO.is_file():
        pytest.skip("demo model not shipped in this checkout")
    return load_generator(DEMO)


@pytest.fixture(scope="module")
def direction(demo, tmp_path_factory):
    """A StyleDomain-layout direction for the demo model, written here (resources/domains is not tracked)."""
    from test_directions_helpers import styledomain_file

    path = tmp_path_factory.mktemp("dir") / "d.pt"
    styledomain_file(path, demo.generator.config.channels, seed=3, scale=0.3)
    return path


def _edit(direction: Path) -> Edit:
    return Edit((DirectionTerm(load_direction(direction), 0.7, "all", str(direction)),), psi=0.8)


# ---- the calls -------------------------------------------------------------------------------------------


def call_load_generator(demo, direction, tmp: Path) -> None:
    load_generator(DEMO)


def call_render_edit(demo, direction, tmp: Path) -> None:
    from engine.pipeline.edit import render_edit, render_edit_image

    render_edit(demo.generator, 5, _edit(direction), noise_mode="random", noise_seed=3)
    render_edit_image(demo.generator, torch.zeros(demo.generator.num_ws, demo.generator.config.style_dim),
                      _edit(direction), size=32)


def call_prepare_and_photo_edit(demo, direction, tmp: Path) -> None:
    from engine.pipeline.photo_edit import photo_edit, prepare_photo

    prepare_photo(SAMPLE, 64)
    photo_edit(SAMPLE, demo, _edit(direction), steps=2, paste_back=True)


def call_invert_image(demo, direction, tmp: Path) -> None:
    from engine.inversion import invert_image

    invert_image(Image.open(SAMPLE).convert("RGB"), demo, None, 2, mode="w+")
    invert_image(Image.open(SAMPLE).convert("RGB"), demo, False, 2, mode="noise")


def call_invert_photo(demo, direction, tmp: Path) -> None:
    from engine.inversion import invert_photo

    invert_photo(SAMPLE, demo, None, 2)


def call_train_encoder(demo, direction, tmp: Path) -> None:
    from engine.inversion.encoder_training import EncoderTrainingSettings, train_encoder
    from engine.inversion.small_encoder import SmallEncoderConfig

    gen = demo.generator
    cfg = SmallEncoderConfig(input_size=32, num_ws=gen.num_ws, w_dim=gen.config.style_dim, base_width=8,
                             max_width=16, hidden=32)
    train_encoder(gen, cfg, EncoderTrainingSettings(steps=2, batch=2, pool=4, image_every=1))


def call_morph(demo, direction, tmp: Path) -> None:
    from engine.pipeline.morph_frames import morph_schedule, render_morph

    edit = _edit(direction)
    render_morph(demo.generator, 4, edit, morph_schedule(1, 3, from_original=True), size=32,
                 noise_mode="random")


def call_batch(demo, direction, tmp: Path) -> None:
    from engine.pipeline.batch import run_batch
    from engine.pipeline.recipe import GeneratorRef, LatentRef, Recipe, save_recipe
    from engine.stylespace import layout_fingerprint, style_layout

    folder = tmp / "in"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "a.png")
    recipe = Recipe(GeneratorRef(demo.name, demo.sha256, layout_fingerprint(style_layout(demo.generator.config)),
                                 str(DEMO)), LatentRef("seed", seed=0))
    save_recipe(recipe, tmp / "r.json")
    rep = run_batch([folder], tmp / "out", tmp / "r.json", model=DEMO, steps=1, workers=1, batch_size=1)
    assert len(rep.done) == 1, rep.failed


def call_adapt(demo, direction, tmp: Path) -> None:
    from engine.adaptation import adapt

    adapt(demo, [SAMPLE], aligned=True, invert_steps=1, steps=2, batch=1, param="affine")


def call_library_import(demo, direction, tmp: Path) -> None:
    from engine.library import Library

    lib = Library(tmp / "home")
    lib.import_file(DEMO, name="demo-copy")
    lib.verify("demo-copy")
    lib.remove("demo-copy")


CALLS = [call_load_generator, call_render_edit, call_prepare_and_photo_edit, call_invert_image, call_invert_photo,
         call_train_encoder, call_morph, call_batch, call_adapt, call_library_import]


@pytest.mark.parametrize("call", CALLS, ids=[c.__name__[5:] for c in CALLS])
def test_call_leaves_process_and_model_as_they_were(call, demo, direction, tmp_path):
    torch.manual_seed(1234)  # a state of the caller's own, to see that nothing replaces it
    np.random.seed(4321)
    random.seed(99)
    model_before = _model_state(demo.generator)
    before = _global_state()
    call(demo, direction, tmp_path)
    _assert_same_globals(before, _global_state())
    _assert_same_model(model_before, demo.generator)
