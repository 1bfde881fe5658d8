"""CLIP losses (mtg, nada) with tiny randomly initialised open_clip models; CLIP file recognition."""

from __future__ import annotations

import pytest
import torch
from adapt_helpers import negative_reference
from safetensors.torch import save_file

from engine.adaptation import adapt
from engine.adaptation.clip import ClipEncoder, build_clip, clip_config, load_clip
from engine.errors import FileProblem, UserError

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_CLIP = {"embed_dim": 32,
             "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16, "head_width": 64},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 1, "layers": 1}}


@pytest.fixture(scope="module")
def tiny_clip() -> ClipEncoder:
    torch.manual_seed(0)  # open_clip initialises from the global RNG; test-only
    return ClipEncoder(build_clip(TINY_CLIP), 32, "tiny")


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory, tiny_clip):
    path = tmp_path_factory.mktemp("clip") / "tiny-clip.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_clip.model.state_dict().items()}, str(path))
    return path


def test_architecture_is_recognised_from_shapes(tiny_clip, clip_file):
    cfg = clip_config(tiny_clip.model.state_dict(), "x")
    assert cfg["vision_cfg"]["width"] == 64 and cfg["vision_cfg"]["patch_size"] == 16
    assert cfg["vision_cfg"]["image_size"] == 32 and cfg["text_cfg"]["layers"] == 1 and cfg["embed_dim"] == 32
    loaded = load_clip(clip_file)
    x = torch.rand(2, 3, 40, 48) * 2 - 1
    assert torch.allclose(loaded.encode_image(x), tiny_clip.encode_image(x), atol=1e-5)
    assert loaded.encode_text(["a photo of a face."]).shape == (1, 32)


def test_preprocessing_is_differentiable(tiny_clip):
    x = torch.zeros(1, 3, 64, 64, requires_grad=True)
    tiny_clip.encode_image(x).sum().backward()
    assert x.grad is not None and bool(x.grad.ne(0).any())


def test_wrong_files_are_one_line_errors(tmp_path, rosinality_pt):
    with pytest.raises(FileProblem, match="not a CLIP checkpoint"):
        load_clip(rosinality_pt)
    bad = tmp_path / "junk.bin"
    bad.write_bytes(b"hello, not a model")
    with pytest.raises(FileProblem, match="junk.bin"):
        load_clip(bad)
    partial = tmp_path / "part.safetensors"
    save_file({"visual.conv1.weight": torch.zeros(64, 3, 16, 16)}, str(partial))
    with pytest.raises(FileProblem, match="unknown CLIP architecture"):
        load_clip(partial)


def test_mtg_loss_decreases(tiny_generator, tiny_clip):
    res = adapt(tiny_generator, [negative_reference(tiny_generator)], loss="mtg", clip=[tiny_clip], steps=25, batch=2,
                lr=0.01,
                seed=2)
    assert set(res.history[0]) >= {"direction", "within", "clip_ref", "rec"}
    first = sum(h["total"] for h in res.history[:3]) / 3
    assert res.final_losses["total"] < first


def test_nada_moves_renders_along_the_text_direction(tiny_generator, tiny_clip):
    from engine.adaptation import render_adapted
    from engine.adaptation.losses import NadaLoss, direction_loss, sample_w

    gen = tiny_generator
    res = adapt(gen, text=("photo", "sketch"), clip=[tiny_clip, tiny_clip], param="affine", steps=30, batch=3,
                lr=0.02, seed=2)
    assert res.loss == "nada" and res.delta is not None and {"direction", "indomain"} <= set(res.history[0])
    delta = NadaLoss(gen, [tiny_clip], "photo", "sketch", torch.Generator(), 1).deltas[0]
    w = sample_w(gen, 8, torch.Generator().manual_seed(77))  # latents the training never saw
    with torch.no_grad():
        e_src = tiny_clip.encode_image(render_adapted(gen, w))
        e_new = tiny_clip.encode_image(render_adapted(gen, w, res.delta))
    assert float(direction_loss(e_new, e_src, delta)) < 0.9  # 1.0 = no move along the direction


def test_clip_losses_need_clip_and_text(tiny_generator, tiny_clip, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path))  # an empty model library: no clip to fall back on
    with pytest.raises(UserError, match="CLIP"):
        adapt(tiny_generator, [negative_reference(tiny_generator)], loss="mtg", steps=1)
    with pytest.raises(UserError, match="empty"):
        adapt(tiny_generator, text=("photo", "  "), clip=[tiny_clip], steps=1)
