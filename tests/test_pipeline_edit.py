"""engine.pipeline.edit: one render_edit for every front-end (seed or W+, directions, deltas, truncation)."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY, make_generator
from test_directions_helpers import styledomain_file

from engine.domains.blend import DirectionTerm, build_edit
from engine.domains.direction import load_direction
from engine.domains.param_delta import make_param_delta
from engine.errors import UserError
from engine.jobs import Cancelled, CancelToken
from engine.pipeline.edit import DeltaTerm, Edit, render_edit, render_edit_image
from engine.pipeline.seeds import w_plus_from_seed
from engine.stylespace import style_layout

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def gen():
    return make_generator()


@pytest.fixture(scope="module")
def delta(gen):
    adapted = make_generator()
    with torch.no_grad():
        adapted.convs[1].conv.modulation.weight.add_(0.5)
        adapted.to_rgbs[0].conv.weight.mul_(1.5)
    return make_param_delta(gen, adapted, name="adapt"), adapted


def _params(gen) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in gen.state_dict().items()}


def test_seed_and_untruncated_w_plus_render_the_same(gen):
    w = w_plus_from_seed(gen, 3)[0]  # psi 1: untruncated W+
    edit = Edit(psi=0.6, cutoff=4)
    a = render_edit(gen, 3, edit)
    b = render_edit(gen, w, edit)
    assert torch.equal(a, b)
    with torch.no_grad():
        expected = gen.synthesize(gen.styles(gen.truncate(w.unsqueeze(0), 0.6, 4)))
    assert torch.equal(a, expected)
    assert not torch.equal(a, render_edit(gen, w))


def test_directions_with_mask_and_strength_match_build_edit(gen, tmp_path):
    styledomain_file(tmp_path / "d.pt", TINY.channels, seed=2)
    d = load_direction(tmp_path / "d.pt")
    term = DirectionTerm(d, 0.7, "middle")
    got = render_edit(gen, 5, Edit((term,), strength=0.5))
    with torch.no_grad():
        styles = gen.styles(w_plus_from_seed(gen, 5))
        expected = build_edit([term], style_layout(TINY), 0.5).synthesize(gen, styles)
    assert torch.equal(got, expected)
    assert not torch.equal(got, render_edit(gen, 5))
    # with_weights only changes the weights
    assert torch.equal(render_edit(gen, 5, Edit((term,), strength=0.5).with_weights([0.0])), render_edit(gen, 5))


def test_deltas_render_the_adapted_generator_and_are_restored_exactly(gen, delta):
    pd, adapted = delta
    before = _params(gen)
    got = render_edit(gen, 1, Edit(deltas=(DeltaTerm(pd, 1.0),)))
    with torch.no_grad():
        expected = adapted.synthesize(adapted.styles(w_plus_from_seed(adapted, 1)))
    assert (got - expected).abs().max() < 1e-5
    assert not torch.equal(got, render_edit(gen, 1))
    after = _params(gen)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_deltas_are_restored_when_synthesis_fails(gen, delta, monkeypatch):
    before = _params(gen)

    def boom(*a, **k):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(gen, "synthesize", boom)
    with pytest.raises(RuntimeError):
        render_edit(gen, 1, Edit(deltas=(DeltaTerm(delta[0], 2.0),)))
    monkeypatch.undo()
    assert all(torch.equal(before[k], v) for k, v in _params(gen).items())


def test_size_early_exit_and_resample(gen):
    assert render_edit(gen, 1, size=16).shape[-1] == 16
    assert render_edit(gen, 1, size=40).shape[-1] == 32  # not a synthesis resolution: full size ...
    assert render_edit_image(gen, 1, size=40).size == (40, 40)  # ... resampled
    assert render_edit_image(gen, 1).size == (32, 32)


def test_random_noise_follows_the_noise_seed_and_batches_render(gen):
    a = render_edit(gen, 2, noise_mode="random", noise_seed=7)
    assert torch.equal(a, render_edit(gen, 2, noise_mode="random", noise_seed=7))
    assert not torch.equal(a, render_edit(gen, 2, noise_mode="random", noise_seed=8))
    g = torch.Generator().manual_seed(7)
    assert torch.equal(a, render_edit(gen, 2, noise_mode="random", noise_generator=g))
    ws = torch.cat([w_plus_from_seed(gen, s) for s in (1, 2)])
    batch = render_edit(gen, ws, Edit(psi=0.7))
    assert batch.shape[0] == 2
    assert torch.allclose(batch[1:], render_edit(gen, 2, Edit(psi=0.7)), atol=1e-5)


@pytest.mark.parametrize("kwargs, needle", [
    ({"edit": Edit(psi=float("nan"))}, "psi"),
    ({"edit": Edit(strength=float("inf"))}, "strength"),
    ({"noise_seed": 2**70}, "noise seed"),
    ({"size": -5}, "size"),
    ({"size": 10**6}, "size"),
    ({"latent": -1}, "seed"),
    ({"latent": torch.zeros(3, 16)}, "shape"),
    ({"latent": torch.full((TINY.num_ws, 16), float("nan"))}, "NaN"),
])
def test_bad_arguments_are_user_errors(gen, kwargs, needle):
    latent = kwargs.pop("latent", 1)
    with pytest.raises(UserError, match=needle):
        render_edit(gen, latent, **kwargs)


def test_cancel_before_start_leaves_weights_untouched(gen, delta):
    token = CancelToken()
    token.cancel()
    before = _params(gen)
    with pytest.raises(Cancelled):
        render_edit(gen, 1, Edit(deltas=(DeltaTerm(delta[0], 1.0),)), cancel=token)
    assert all(torch.equal(before[k], v) for k, v in _params(gen).items())
    seen = []
    render_edit(gen, 1, progress=seen.append)
    assert seen and seen[-1].step == seen[-1].total == 1


def test_render_morph_frames_progress_and_cancel(gen, tmp_path):
    from engine.pipeline.morph_frames import morph_schedule, pad_anchors, render_morph

    styledomain_file(tmp_path / "a.pt", TINY.channels, seed=4)
    styledomain_file(tmp_path / "b.pt", TINY.channels, seed=5)
    edit = Edit(tuple(DirectionTerm(load_direction(tmp_path / f"{n}.pt"), 0.0) for n in "ab"), psi=0.8)
    weights = morph_schedule(2, 3, from_original=True)
    assert weights == [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    assert morph_schedule(4, 2, pad_path=pad_anchors(4)[1:3]) == [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
    seen = []
    frames = render_morph(gen, 3, edit, weights, size=16, progress=seen.append)
    assert [(p.step, p.total) for p in seen] == [(1, 3), (2, 3), (3, 3)]
    for img, ws in zip(frames, weights, strict=True):
        assert img.size == (16, 16)
        assert img.tobytes() == render_edit_image(gen, 3, edit.with_weights(ws), size=16).tobytes()
    token = CancelToken()
    with pytest.raises(Cancelled):
        render_morph(gen, 3, edit, weights, size=16, cancel=token, progress=lambda p: token.cancel())
