"""Generator-space blends: parameter-delta files and theta = theta_0 + sum_j c_j delta_j in place."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY, make_generator
from safetensors.torch import save_file

from engine.domains.param_delta import (
    ParamDelta,
    applied_deltas,
    load_param_delta,
    make_param_delta,
    save_param_delta,
)
from engine.errors import FileProblem, UserError
from engine.generator import GeneratorConfig


def _adapted(base, seed, names=("convs.2.conv.modulation.weight", "to_rgbs.1.conv.weight", "convs.4.conv.weight")):
    g = torch.Generator().manual_seed(seed)
    other = make_generator()
    with torch.no_grad():
        for n, p in other.named_parameters():
            if n in names:
                p.add_(torch.randn(p.shape, generator=g) * 0.2)
    return other


def test_make_save_load_round_trip(tmp_path):
    base = make_generator()
    delta = make_param_delta(base, _adapted(base, 1), name="dog")
    assert sorted(delta.deltas) == sorted(["convs.2.conv.modulation.weight", "to_rgbs.1.conv.weight",
                                           "convs.4.conv.weight"])
    save_param_delta(delta, tmp_path / "dog.safetensors")
    back = load_param_delta(tmp_path / "dog.safetensors")
    assert back.name == "dog" and back.layout_fingerprint == delta.layout_fingerprint
    assert all(torch.equal(back.deltas[k], delta.deltas[k]) for k in delta.deltas)


def test_blend_sets_weighted_sum_and_restores_exactly():
    base = make_generator()
    a, b = _adapted(base, 1), _adapted(base, 2, names=("convs.2.conv.modulation.weight", "conv1.conv.weight"))
    da, db = make_param_delta(base, a), make_param_delta(base, b)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    z = torch.randn(1, TINY.style_dim)
    with applied_deltas(base, [(da, 0.25), (db, 0.75)]) as g:
        params = dict(g.named_parameters())
        p0 = before["convs.2.conv.modulation.weight"]
        expected = p0 + 0.25 * (dict(a.named_parameters())["convs.2.conv.modulation.weight"] - p0) + 0.75 * (
            dict(b.named_parameters())["convs.2.conv.modulation.weight"] - p0)
        assert torch.allclose(params["convs.2.conv.modulation.weight"], expected, atol=1e-6)
        assert torch.equal(params["convs.0.conv.weight"], before["convs.0.conv.weight"])
        mixed = g(z)
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())
    with applied_deltas(base, [(da, 1.0)]) as g:
        full = g(z)
    assert torch.allclose(full, a(z), atol=1e-5)  # weight 1 reproduces the adapted generator
    assert (mixed - base(z)).abs().max() > 1e-3


def test_restores_after_an_error():
    base = make_generator()
    delta = make_param_delta(base, _adapted(base, 3))
    before = {k: v.clone() for k, v in base.state_dict().items()}
    with pytest.raises(RuntimeError), applied_deltas(base, [(delta, 2.0)]):
        raise RuntimeError("boom")
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())


def test_bad_deltas(tmp_path):
    base = make_generator()
    with pytest.raises(UserError):
        with applied_deltas(base, [(ParamDelta({"nope.weight": torch.zeros(1)}, "x"), 1.0)]):
            pass
    with pytest.raises(UserError, match="shape"):
        with applied_deltas(base, [(ParamDelta({"conv1.conv.weight": torch.zeros(1)}, "x"), 1.0)]):
            pass
    other = make_generator(GeneratorConfig(size=32, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8, 32: 8}))
    with pytest.raises(UserError, match="layer tables"):
        make_param_delta(base, other)
    meta = {"format": "styledomain.param_delta", "format_version": "1", "name": "x"}
    save_file({"conv1.conv.weight": torch.full((1,), float("nan"))}, str(tmp_path / "nan.safetensors"), metadata=meta)
    with pytest.raises(FileProblem, match="NaN"):
        load_param_delta(tmp_path / "nan.safetensors")
    save_file({"a": torch.zeros(1)}, str(tmp_path / "v.safetensors"), metadata={**meta, "format_version": "7"})
    with pytest.raises(FileProblem, match="version"):
        load_param_delta(tmp_path / "v.safetensors")
    save_file({"a": torch.zeros(1)}, str(tmp_path / "f.safetensors"), metadata={"format": "other"})
    with pytest.raises(FileProblem, match="not a StyleDomain parameter-delta"):
        load_param_delta(tmp_path / "f.safetensors")
    with pytest.raises(UserError, match="finite"):
        with applied_deltas(base, [(make_param_delta(base, _adapted(base, 1)), float("inf"))]):
            pass
