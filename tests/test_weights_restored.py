"""Code that writes generator weights in place restores them bit for bit on every exit path (issue 9, §2)."""

from __future__ import annotations

import pytest
import torch
from conftest import make_generator

from engine.domains.param_delta import ParamDelta, applied_deltas
from engine.jobs import Cancelled, CancelToken
from engine.pipeline.edit import DeltaTerm, Edit, render_edit


def _snapshot(gen) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in gen.state_dict().items()}


def _same(gen, before) -> bool:
    now = gen.state_dict()
    return now.keys() == before.keys() and all(torch.equal(now[k], before[k]) for k in before)


def _delta(gen) -> ParamDelta:
    params = dict(gen.named_parameters())
    names = [k for k in params if not k.startswith("style.")][:3] + [k for k in params if k.startswith("style.")][:1]
    return ParamDelta({k: torch.full_like(params[k], 0.25) for k in names}, "d")


@pytest.mark.parametrize("exit_by", ["normal", "error", "cancel"])
def test_applied_deltas_restores_weights_on_every_exit(exit_by):
    gen = make_generator()
    before = _snapshot(gen)
    delta = _delta(gen)
    token = CancelToken()
    token.cancel()
    try:
        with applied_deltas(gen, [(delta, 1.0)], recompute_w_avg=True):
            assert not _same(gen, before)  # the block really sees changed weights
            if exit_by == "error":
                raise RuntimeError("boom")
            if exit_by == "cancel":
                token.raise_if_cancelled("render")
    except (RuntimeError, Cancelled):
        assert exit_by != "normal"
    assert _same(gen, before)


def test_render_edit_restores_weights_when_the_render_fails(monkeypatch):
    gen = make_generator()
    before = _snapshot(gen)
    edit = Edit(deltas=(DeltaTerm(_delta(gen), 1.0, "", "0" * 64),))

    def broken(*args, **kwargs):
        raise RuntimeError("synthesis failed")

    monkeypatch.setattr(gen, "synthesize", broken)
    with pytest.raises(RuntimeError):
        render_edit(gen, 3, edit)
    assert _same(gen, before)
