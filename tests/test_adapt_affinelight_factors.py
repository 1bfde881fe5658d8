"""AffineLight results are stored as their U, V factors; loading and ``render --delta`` apply U @ V."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adapt_helpers import negative_reference
from PIL import Image
from safetensors.torch import save_file

from engine.adaptation import adapt, render_adapted
from engine.cli.main import main
from engine.domains.param_delta import load_param_delta
from engine.errors import FileProblem
from engine.fileio import read_safetensors
from engine.pipeline.seeds import w_plus_from_seed

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def light(tiny_generator):
    return adapt(tiny_generator, [negative_reference(tiny_generator)], param="affinelight", rank=3, steps=4, batch=1,
                 lr=0.05,
                 seed=3)


def test_file_holds_the_factors_and_loads_to_the_same_delta(light, tmp_path):
    path = light.save(tmp_path / "light.safetensors")
    tensors, meta = read_safetensors(path)
    assert tensors and all(k.endswith((".lowrank_u", ".lowrank_v")) for k in tensors)
    assert meta["format_version"] == "2" and "rank 3" in meta["factors"] and "rank 3" in light.metadata["factors"]
    u = next(v for k, v in tensors.items() if k.endswith(".lowrank_u"))
    assert u.shape[1] == 3 and bool(u.ne(0).any())  # trained away from U = 0
    loaded = load_param_delta(path)
    assert set(loaded.deltas) == set(light.delta.deltas)
    for k, d in light.delta.deltas.items():
        assert torch.equal(loaded.deltas[k], d)


def test_render_delta_reproduces_the_training_render(light, tmp_path, rosinality_pt, tiny_generator):
    path = light.save(tmp_path / "light.safetensors")
    png = tmp_path / "r.png"
    assert main(["render", str(rosinality_pt), "--seed", "4", "--delta", str(path), "--device", "cpu",
                 "-o", str(png)]) == 0
    w = w_plus_from_seed(tiny_generator, 4)
    with torch.no_grad():
        trained = render_adapted(tiny_generator, w, light.delta)
        from_file = render_adapted(tiny_generator, w, load_param_delta(path))
    assert light.delta.factors and torch.equal(trained, from_file)
    got = np.asarray(Image.open(png), np.float32)
    want = (trained[0].permute(1, 2, 0).numpy() * 127.5 + 128).clip(0, 255)
    assert np.abs(got - want).max() <= 1.5


def test_a_lone_factor_is_a_one_line_file_problem(light, tmp_path):
    path = light.save(tmp_path / "light.safetensors")
    tensors, meta = read_safetensors(path)
    drop = next(k for k in tensors if k.endswith(".lowrank_v"))
    del tensors[drop]
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad), meta)
    with pytest.raises(FileProblem, match="no partner factor") as info:
        load_param_delta(bad)
    assert "bad.safetensors" in str(info.value) and "\n" not in str(info.value)
