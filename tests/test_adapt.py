"""engine.adaptation: parameterisations train deltas only, losses decrease, cancel, determinism, files."""

from __future__ import annotations

import pytest
import torch

from engine.adaptation import Reference, adapt, distil_direction, make_param, render_adapted
from engine.adaptation.params import affine_names, synthesis_names
from engine.domains.blend import DirectionTerm, build_edit
from engine.domains.direction import load_direction
from engine.domains.param_delta import applied_deltas, load_param_delta
from engine.errors import UserError
from engine.jobs import CancelToken
from engine.stylespace import style_layout

pytestmark = pytest.mark.usefixtures("one_thread")


def _ref(gen, seed: int = 3) -> Reference:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        w = gen.truncate(gen.mapping(torch.randn(1, gen.config.style_dim, generator=g)))[0]
        img = gen(torch.randn(1, gen.config.style_dim, generator=g)).clamp(-1, 1)
    return Reference(img.flip(-1), w, "ref", "0" * 64)  # some other picture: a flipped other face


def _snapshot(gen):
    return {k: v.detach().clone() for k, v in gen.state_dict().items()}


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("param,expected", [
    ("affine", lambda g: set(affine_names(g, True))),
    ("affinelight", lambda g: {n for n in affine_names(g, True) if n.endswith(".weight")}),
    ("full", lambda g: set(synthesis_names(g))),
])
def test_only_chosen_parameters_move_and_the_caller_is_untouched(tiny_generator, param, expected):
    gen = tiny_generator
    before = _snapshot(gen)
    res = adapt(gen, [_ref(gen)], param=param, steps=4, batch=2, seed=0)
    assert _same(before, _snapshot(gen)), "the caller's generator changed"
    assert all(p.grad is None for p in gen.parameters())
    moved = {k for k, v in res.delta.deltas.items() if bool(v.ne(0).any())}
    assert moved and moved <= expected(gen)
    # applying the delta changes exactly those parameters, and restores bit for bit
    with applied_deltas(gen, [(res.delta, 1.0)]):
        now = dict(gen.named_parameters())
        changed = {k for k, v in now.items() if not torch.equal(v, before[k])}
    assert changed == moved
    assert _same(before, _snapshot(gen))


def test_no_torgb_keeps_to_conv_affines(tiny_generator):
    res = adapt(tiny_generator, [_ref(tiny_generator)], param="affine", torgb=False, steps=2, batch=1)
    assert res.delta.deltas and not any(k.startswith("to_rgb") for k in res.delta.deltas)


def test_stylespace_trains_conv_channels_only(tiny_generator):
    gen = tiny_generator
    before = _snapshot(gen)
    res = adapt(gen, [_ref(gen)], param="stylespace", steps=4, batch=2)
    assert _same(before, _snapshot(gen))
    d = res.direction
    assert not d.covers_torgb and bool(d.values.ne(0).any())
    for lay in d.layout:
        if lay.kind == "torgb":
            assert not bool(d.layer_values(lay).ne(0).any())
    with_rgb = adapt(gen, [_ref(gen)], param="stylespace", torgb=True, steps=3, batch=1).direction
    assert with_rgb.covers_torgb and any(bool(with_rgb.layer_values(lay).ne(0).any())
                                         for lay in with_rgb.layout if lay.kind == "torgb")
    sparse = adapt(gen, [_ref(gen)], param="stylespace", steps=3, batch=1, sparsify=0.2).direction
    assert 0 < int(sparse.values.ne(0).sum()) <= int(0.2 * d.covered_mask().sum()) + 1


@pytest.mark.parametrize("param", ["affine", "affinelight", "stylespace", "full"])
def test_jojo_loss_decreases(tiny_generator, param):
    res = adapt(tiny_generator, [_ref(tiny_generator)], param=param, loss="jojo", steps=30, batch=2, seed=1,
                lr=0.02 if param != "stylespace" else 0.05)
    first = sum(h["total"] for h in res.history[:3]) / 3
    assert res.final_losses["total"] < 0.95 * first


def test_paired_loss_decreases_towards_the_targets(tiny_generator):
    gen = tiny_generator
    refs = [_ref(gen, s) for s in (1, 2, 3)]
    sources = [Reference(r.image, r.w_plus, "src") for r in refs]
    targets = [Reference((-r.image).clamp(-1, 1), r.w_plus, f"t{i}") for i, r in enumerate(refs)]
    res = adapt(gen, targets, sources=sources, loss="paired", steps=30, batch=2, lr=0.02)
    assert res.loss == "paired"
    assert res.final_losses["total"] < 0.9 * res.history[0]["total"]
    with pytest.raises(UserError, match="one --source per --reference"):
        adapt(gen, targets, sources=sources[:2], loss="paired", steps=1)


def test_same_seed_same_result_bit_for_bit(tiny_generator):
    gen = tiny_generator
    a = adapt(gen, [_ref(gen)], param="affinelight", steps=5, batch=2, seed=7)
    b = adapt(gen, [_ref(gen)], param="affinelight", steps=5, batch=2, seed=7)
    c = adapt(gen, [_ref(gen)], param="affinelight", steps=5, batch=2, seed=8)
    assert all(torch.equal(a.delta.deltas[k], b.delta.deltas[k]) for k in a.delta.deltas)
    assert any(not torch.equal(a.delta.deltas[k], c.delta.deltas[k]) for k in a.delta.deltas)


def test_cancel_mid_run_returns_a_partial_result(tiny_generator):
    token = CancelToken()
    seen = []

    def progress(p):
        seen.append(p.step)
        if p.step == 3:
            token.cancel()

    res = adapt(tiny_generator, [_ref(tiny_generator)], steps=50, batch=1, progress=progress, cancel=token)
    assert res.cancelled and res.partial and res.steps_done == 3 and seen[-1] == 3
    assert res.metadata["cancelled"] is True and res.metadata["steps_done"] == 3
    assert any(bool(v.ne(0).any()) for v in res.delta.deltas.values())


def test_nan_loss_stops_and_keeps_the_last_good_state(tiny_generator, monkeypatch):
    import engine.adaptation.api as api

    real = api._step_loss
    calls = []

    def flaky(loss_fn, p, step, dev, notes, opt):
        total, values = real(loss_fn, p, step, dev, notes, opt)
        calls.append(p.state())
        return (total * float("nan"), values) if step == 4 else (total, values)

    monkeypatch.setattr(api, "_step_loss", flaky)
    res = adapt(tiny_generator, [_ref(tiny_generator)], steps=20, batch=1)
    assert res.stopped == "NaN/Inf loss" and res.stopped_step == 4 and res.steps_done == 4
    good = calls[4]  # the state after four good updates, before the bad step
    assert all(torch.equal(res.delta.deltas[k], good[k]) for k in res.delta.deltas)


class _OutOfMemoryInBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (backward)")


@pytest.mark.parametrize("where", ["forward", "backward"])
def test_out_of_memory_halves_the_batch_and_says_so(tiny_generator, where):
    """CUDA OOM in the loss or its backward pass: the cache is freed and the step retried at half the batch,
    with a note; at batch 1 it is one clear user error. (A fake CUDA device: only the retry logic is tested.)"""
    import engine.adaptation.api as api

    x = torch.ones(3, requires_grad=True)
    opt = torch.optim.Adam([x])

    class Loss:
        def __init__(self) -> None:
            self.batch, self.seen = 4, []

        def __call__(self, p, step):
            self.seen.append(self.batch)
            if self.batch > 2 and where == "forward":
                raise torch.cuda.OutOfMemoryError("CUDA out of memory")
            y = _OutOfMemoryInBackward.apply(x) if self.batch > 2 else x
            return (y * self.batch).sum(), {"pixel": 1.0}

    loss, notes = Loss(), []
    total, _ = api._step_loss(loss, None, 7, torch.device("cuda"), notes, opt)
    assert loss.seen == [4, 2] and float(total.detach()) == 6.0 and torch.equal(x.grad, torch.full((3,), 2.0))
    assert notes == ["out of GPU memory at step 7: batch reduced to 2"]

    def always(p, step):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    always.batch = 1
    with pytest.raises(UserError, match="even at batch 1"):
        api._step_loss(always, None, 0, torch.device("cuda"), [], opt)


def test_saved_files_reproduce_the_adapted_render(tiny_generator, tmp_path):
    gen = tiny_generator
    w = _ref(gen, 9).w_plus.unsqueeze(0)
    res = adapt(gen, [_ref(gen)], steps=4, batch=1)
    param_render = render_adapted(gen, w, res.delta)
    res.save(tmp_path / "a.safetensors")
    back = load_param_delta(tmp_path / "a.safetensors")
    assert '"param": "affine"' in back.meta["adaptation"] and back.meta["thumbnail_png_base64"]
    with torch.no_grad(), applied_deltas(gen, [(back, 1.0)]):
        direct = gen.synthesize(gen.styles(w), "const", impl="fast")
    assert torch.allclose(direct, param_render, atol=1e-5)

    ss = adapt(gen, [_ref(gen)], param="stylespace", steps=4, batch=1)
    ss.save(tmp_path / "d.safetensors")
    d = load_direction(tmp_path / "d.safetensors")
    assert d.thumbnail_png and d.extra["param"] == "stylespace"
    edit = build_edit([DirectionTerm(d, 1.0, "all", "d")], style_layout(gen.config))
    with torch.no_grad():
        via_edit = gen.synthesize(edit.styles(gen.styles(w)), "const", impl="fast")
    assert torch.allclose(via_edit, render_adapted(gen, w, direction=ss.direction), atol=1e-5)


def test_distilled_direction_is_closer_than_no_edit(tiny_generator):
    gen = tiny_generator
    res = adapt(gen, [_ref(gen)], param="affine", torgb=False, steps=15, batch=2, lr=0.02)
    direction, report = distil_direction(gen, res.delta, n=64)
    assert not direction.covers_torgb and report["l1_delta_source"] > 0
    assert report["ratio"] < 1.0


def test_affinelight_starts_at_zero(tiny_generator):
    p = make_param("affinelight", tiny_generator, generator=torch.Generator().manual_seed(0))
    assert all(bool(d.eq(0).all()) for d in p.param_deltas().values())
    assert p.count == sum(t.numel() for t in p.trainable().values())


def test_plateau_stops_early_with_a_note_and_is_not_partial(tiny_generator):
    res = adapt(tiny_generator, [_ref(tiny_generator)], steps=40, batch=1, plateau=(2, 10.0))
    assert res.steps_done == 3 and not res.partial and any("plateau" in n for n in res.notes)
    off = adapt(tiny_generator, [_ref(tiny_generator)], steps=5, batch=1, plateau=(0, 0.0))
    assert off.steps_done == 5
