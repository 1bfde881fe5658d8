"""``adapt(loaded_generator, references, ...)``: quick domain adaptation, training only deltas.

The generator the caller passes in is never written to (see :mod:`engine.adaptation.params`); the
result holds the trained deltas (affine, affinelight, full: a :class:`ParamDelta`; stylespace: a
:class:`Direction`) and the run's metadata, and saves them with :meth:`AdaptResult.save`.
Same seed, same inputs, same device -> the same result (all randomness from one ``torch.Generator``).
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import torch

from engine.checkpoints import LoadedGenerator
from engine.domains.direction import Direction, save_direction
from engine.domains.param_delta import ParamDelta, low_rank_product, save_param_delta
from engine.errors import UserError
from engine.generator import Generator
from engine.jobs import CancelToken, ProgressFn, is_cancelled, report
from engine.stylespace import layout_fingerprint, style_layout

from .losses import LOSSES, JoJoLoss, MTGLoss, NadaLoss, PairedLoss, PixelLoss, ToneMap, chroma, sample_w
from .params import PARAMS, AffineLight, Parameterisation, StyleSpaceOffset, make_param
from .presets import Preset, get_preset
from .references import Reference, png_thumbnail, prepare_reference

JOB = "adapt"
#: a loss above this multiple of the best loss so far counts as exploding (after the first 10 steps)
EXPLODE_FACTOR = 50.0
PREVIEW_SEED = 1234
#: the most the reference's contrast may raise the lr (Preset.contrast_lr)
CONTRAST_LR_MAX = 8.0


@dataclass
class AdaptResult:
    """What :func:`adapt` produced. ``cancelled``/``stopped`` mark a partial result (last good state)."""

    param: str
    loss: str
    steps: int  # planned
    steps_done: int
    seed: int
    preset: Preset
    trained_count: int
    seconds: float
    history: list[dict[str, float]]
    final_losses: dict[str, float]
    metadata: dict
    delta: ParamDelta | None = None
    direction: Direction | None = None
    cancelled: bool = False
    stopped: str | None = None  # why training stopped early (NaN / exploding loss), None otherwise
    stopped_step: int | None = None
    notes: list[str] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list, repr=False)

    @property
    def partial(self) -> bool:
        return self.cancelled or self.stopped is not None

    def save(self, path: str | Path) -> Path:
        """Atomically write the delta or direction file (with metadata)."""
        path = Path(path)
        if self.direction is not None:
            save_direction(self.direction, path)
        else:
            save_param_delta(self.delta, path)
        return path

    def summary(self) -> dict:
        return {k: v for k, v in self.metadata.items() if k != "thumbnail_png_base64"}


def _unpack(model: LoadedGenerator | Generator) -> tuple[Generator, str, str, dict | None]:
    if isinstance(model, LoadedGenerator):
        return model.generator, model.sha256, model.name, model.discriminator
    return model, "", "model", None


def choose_loss(loss: str | None, text, sources, references, clips) -> str:
    if loss is None:
        if text is not None:
            return "nada"
        if sources:
            return "paired"
        return "mtg" if clips else "jojo"
    if loss not in LOSSES:
        raise UserError(f"unknown loss {loss!r} (choose {', '.join(LOSSES)})")
    return loss


def _check_inputs(loss: str, text, sources, references, clips) -> None:
    if loss == "nada":
        if text is None:
            raise UserError("--loss nada needs --text SOURCE TARGET")
        from .clip import require_prompt

        require_prompt(text[0], "source")
        require_prompt(text[1], "target")
    elif not references:
        raise UserError(f"--loss {loss} needs at least one --reference image")
    if loss in ("mtg", "nada") and not clips:
        from .clip import no_clip_message

        raise UserError(no_clip_message(loss))
    if loss == "paired" and len(sources) != len(references):
        raise UserError(f"--loss paired needs one --source per --reference, in order "
                        f"({len(sources)} sources, {len(references)} references)")
    if loss != "paired" and sources:
        raise UserError("--source images are only used by --loss paired")
    if loss == "mtg" and len(references) != 1:
        raise UserError("--loss mtg takes exactly one --reference image")


def _stack(refs: Sequence[Reference], dev) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.stack([r.w_plus for r in refs]).to(dev), torch.cat([r.image for r in refs]).to(dev))


def _preview(param: Parameterisation, w_grid: torch.Tensor, refs: list[Reference] | None) -> torch.Tensor:
    """[3, H, W] in [-1, 1]: the fixed grid of latents, then (reference reconstruction, reference)."""
    with torch.no_grad():
        tiles = list(param.render(w_grid))
        if refs:
            w_ref, img_ref = _stack(refs[:1], w_grid.device)
            tiles += [param.render(w_ref)[0], img_ref[0]]
    return torch.cat([t.detach().float().cpu().clamp(-1, 1) for t in tiles], dim=2)


def adapt(loaded_generator: LoadedGenerator | Generator, references: Sequence = (), *,
          sources: Sequence = (), text: tuple[str, str] | None = None, param: str = "affine",
          loss: str | None = None, steps: int | None = None, batch: int | None = None, lr: float | None = None,
          seed: int = 0, preset: str | None = None, clip: Sequence = (), torgb: bool | None = None,
          rank: int = 5, sparsify: float | None = None, aligned: bool = False, centre_crop: bool = False,
          encoder=None, invert_steps: int = 50, vgg16=None, jojo_anchor: float = 1.0,
          coarse_rows: int | None = None, plateau: tuple[int, float] | None = None, preview_every: int = 0,
          name: str = "",
          progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> AdaptResult:
    """Adapt ``loaded_generator`` to reference image(s) or a text pair; see the module docstring.

    ``references``: paths, PIL images or :class:`Reference` objects (photos are aligned and inverted;
    ``aligned=True`` takes them as face crops). ``sources`` (paired loss): the source images, in the order of
    ``references``. ``text``: (source, target) prompts for ``nada``. ``clip``: paths, model-library names or
    :class:`ClipEncoder` objects (none given with mtg/nada: every ``clip`` entry of the model library).
    ``param`` in :data:`PARAMS`; ``loss`` in :data:`LOSSES` (default: nada for text, paired with sources, mtg
    with CLIP, else jojo). ``steps``/``batch``/``lr`` override the preset. Cancelling between steps returns the
    last state marked ``cancelled``; a NaN or exploding loss stops training, keeps the last good state and
    records the step in ``stopped``.
    ``plateau`` = (window, tol): stop once the reference's own reconstruction loss (``rec``, jojo) has
    improved by less than ``tol`` (relative) over the last ``window`` steps; the preset's default for small
    models (``Preset.plateau``) guards against a close domain overfitting the one reference; (0, 0) = off.
    """
    t0 = time.perf_counter()
    gen, sha, model_name, disc = _unpack(loaded_generator)
    if param not in PARAMS:
        raise UserError(f"unknown parameterisation {param!r} (choose {', '.join(PARAMS)})")
    if sparsify is not None and param != "stylespace":
        raise UserError("--sparsify applies to --param stylespace only")
    loss = choose_loss(loss, text, sources, references, clip)
    if loss in ("mtg", "nada") and not clip:
        from .clip import library_clips

        clip = library_clips()  # the model library's clip entries, summed as several --clip files
    _check_inputs(loss, text, sources, references, clip)
    pre = get_preset(preset, loss, param, gen.config.size)
    pre = replace(pre, steps=pre.steps if steps is None else int(steps), batch=pre.batch if batch is None else batch,
                  lr=pre.lr if lr is None else float(lr))
    if pre.steps < 0 or pre.batch < 1 or not (pre.lr > 0 and math.isfinite(pre.lr)):
        raise UserError(f"steps must be >= 0, batch >= 1 and lr > 0 (got {pre.steps}, {pre.batch}, {pre.lr})")
    plateau = pre.plateau if plateau is None else plateau
    dev = gen.w_avg.device
    clips = _load_clips(clip, dev)
    ref_steps = 0 if loss == "paired" else invert_steps  # paired targets are only compared, never inverted further
    refs = [prepare_reference(r, loaded_generator, aligned=aligned, centre_crop=centre_crop, encoder=encoder,
                              invert_steps=ref_steps, cancel=cancel) for r in references]
    srcs = [prepare_reference(s, loaded_generator, aligned=aligned, centre_crop=centre_crop, encoder=encoder,
                              invert_steps=invert_steps, cancel=cancel) for s in sources]
    if loss == "paired" and pre.source_views:
        srcs += _source_views(srcs, loaded_generator, encoder, pre.source_views, cancel)
    rng = torch.Generator().manual_seed(int(seed))
    p = make_param(param, gen, torgb=torgb, rank=rank, generator=rng)
    pixel = PixelLoss(discriminator=disc, lpips=_lpips(vgg16)).to(dev)
    notes: list[str] = []
    tone = (None, 0.0)
    scale_lr = loss == "jojo" and lr is None and bool(pre.contrast_lr)
    if scale_lr or (loss in ("jojo", "paired") and pre.tone_map):
        pre, tone, notes = _read_references(pre, p, refs, srcs, scale_lr)
    loss_fn = _make_loss(loss, gen, p, refs, srcs, text, clips, rng, pre, pixel, jojo_anchor, coarse_rows, tone)
    w_grid = sample_w(gen, 4, torch.Generator().manual_seed(PREVIEW_SEED))
    opt = torch.optim.Adam(_param_groups(p, pre.bias_lr), lr=pre.lr_at(0), betas=pre.betas)
    history: list[dict[str, float]] = []
    cancelled, stopped, stopped_step = False, None, None
    best = math.inf
    step = 0
    early = ""
    ema: dict[str, torch.Tensor] | None = None
    for step in range(pre.steps):  # noqa: B007 - step is reported after the loop
        if is_cancelled(cancel):
            cancelled = True
            break
        for group in opt.param_groups:
            group["lr"] = pre.lr_at(step) * group["lr_scale"]
        saved = p.state()
        total, values = _step_loss(loss_fn, p, step, dev, notes, opt)
        value = float(total.detach())
        if not math.isfinite(value) or (step >= 10 and value > EXPLODE_FACTOR * best):
            stopped, stopped_step = ("NaN/Inf loss" if not math.isfinite(value) else "exploding loss"), step
            break
        best = min(best, value)
        opt.step()
        if not p.finite():
            p.load_state(saved)
            stopped, stopped_step = "non-finite parameters after the update", step
            break
        ema = _ema_update(ema, p, pre.ema)
        values["total"] = value
        history.append(values)
        if _plateaued(history, plateau):
            early = f"the reference reconstruction stopped improving (plateau) after {len(history)} steps"
        preview = None
        if preview_every and ((step + 1) % preview_every == 0 or step + 1 == pre.steps or early):
            preview = _preview(p, w_grid, [replace(refs[0], w_plus=srcs[0].w_plus)] if srcs else refs)
        report(progress, JOB, step + 1, pre.steps, values=values, preview=preview)
        if early:
            notes.append(early)
            break
    else:
        step = pre.steps
    steps_done = len(history)
    if ema is not None and not stopped:  # the result is the average of the trained tensors
        p.load_state(ema)
    if stopped:
        notes.append(f"training stopped at step {stopped_step}: {stopped}; the last good state is kept")
    seconds = round(time.perf_counter() - t0, 3)
    final = _final_losses(history)
    meta = _metadata(gen, sha, model_name, p, loss, pre, seed, steps_done, seconds, final, refs, text,
                     cancelled, stopped, stopped_step, notes)
    if clips:
        meta["clip"] = [c.name for c in clips]
    result = AdaptResult(param, loss, pre.steps, steps_done, int(seed), pre, p.count, seconds, history, final, meta,
                         cancelled=cancelled, stopped=stopped, stopped_step=stopped_step, notes=notes,
                         references=refs)
    _attach_output(result, p, gen, sha, name or (refs[0].name if refs else (text[1] if text else "adapted")),
                   refs, sparsify)
    return result


def _param_groups(p: Parameterisation, bias_lr: float) -> list[dict]:
    """Adam parameter groups, each with its ``lr_scale``: the affine biases (a constant style offset each) at
    ``bias_lr``, everything else at 1 (one group when ``bias_lr`` is 1 or there are no affine biases)."""
    trained = p.trainable()
    bias = [v for k, v in trained.items() if k.endswith("modulation.bias")]
    if bias_lr == 1.0 or not bias:
        return [{"params": list(trained.values()), "lr_scale": 1.0}]
    rest = [v for k, v in trained.items() if not k.endswith("modulation.bias")]
    return [{"params": rest, "lr_scale": 1.0}, {"params": bias, "lr_scale": float(bias_lr)}]


def _load_clips(clip: Sequence, dev) -> list:
    from .clip import ClipEncoder, load_clip

    out = []
    for c in clip:
        out.append(c.to(dev) if isinstance(c, ClipEncoder) else load_clip(c, dev))
    return out


def _lpips(vgg16):
    if not vgg16:
        return None
    from engine.inversion.losses import make_lpips

    return make_lpips(vgg16)


def _make_loss(loss, gen, p, refs, srcs, text, clips, rng, pre, pixel, anchor, coarse_rows, tone=(None, 0.0)):
    dev = gen.w_avg.device
    if loss == "nada":
        return NadaLoss(gen, clips, text[0], text[1], rng, pre.batch, pre.mixing)
    w_refs, targets = _stack(refs, dev)
    if loss == "paired":  # several latents per source (source_views): each trained towards its pair's target
        w_src, _ = _stack(srcs, dev)
        return PairedLoss(w_src, targets.repeat(len(srcs) // len(refs), 1, 1, 1), rng, pre.batch, pixel, gen,
                          tone[0], tone[1], pre.mixing)
    if loss == "mtg":
        return MTGLoss(gen, clips, w_refs, targets, rng, pre.batch, pixel, p, pre.mixing)
    return JoJoLoss(gen, w_refs, targets, rng, pre.batch, pixel, coarse_rows, anchor_weight=anchor,
                    mixed_weight=pre.mixed_weight, colour_weight=pre.colour_weight, diversity=pre.diversity,
                    tone_map=tone[0], tone_weight=tone[1])


def _source_views(srcs: list[Reference], loaded, encoder, views: Sequence[int], cancel) -> list[Reference]:
    """More latents of the paired sources, in ``srcs`` order per view: each source's image inverted again
    with each of ``views`` step counts (0 = the encoder alone). Several latents that render the same face make
    the few pairs generalise better (docs/adaptation_fewshot.md). None without an encoder (a w_avg start)."""
    from engine.inversion import invert_image

    out = []
    for steps in views:
        for s in srcs:
            res = invert_image(s.image, loaded, encoder, int(steps), cancel=cancel)
            if res.encoder_kind == "none":
                return []
            out.append(replace(s, w_plus=res.w_plus.to(s.w_plus.device, s.w_plus.dtype)))
    return out


def _step_loss(loss_fn, p, step, dev, notes, opt):
    """One loss evaluation and its backward pass into fresh gradients (none for a non-finite loss); on CUDA
    out-of-memory in either, free the cache and retry with half the batch, with a note."""
    while True:
        try:
            total, values = loss_fn(p, step)
            opt.zero_grad(set_to_none=True)
            if math.isfinite(float(total.detach())):
                total.backward()
            return total, values
        except torch.cuda.OutOfMemoryError:
            if dev.type != "cuda" or getattr(loss_fn, "batch", 1) <= 1:
                raise UserError("out of GPU memory even at batch 1; try --device cpu or a smaller model") from None
            opt.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
            loss_fn.batch = max(1, loss_fn.batch // 2)
            notes.append(f"out of GPU memory at step {step}: batch reduced to {loss_fn.batch}")


def _read_references(pre: Preset, p: Parameterisation, refs: list[Reference], srcs: list[Reference],
                     scale_lr: bool) -> tuple[Preset, tuple[ToneMap | None, float], list[str]]:
    """Settings read from the references (the targets, with ``srcs``: paired) against 16 fixed samples of the
    model, with a note on each. ``scale_lr``: lr x min(8, contrast ** -``pre.contrast_lr``), contrast = the
    references' over the samples' (at most 1): a flat reference (pencil on paper, far from the model's photos)
    trains faster. References with little colour (chroma below ``pre.tone_chroma`` x the samples'): the
    :class:`ToneMap` fitted on them (unadapted render of each latent -> its reference; paired: of each source)
    and its weight ``pre.tone_map`` / that lr factor (the flatter the reference, the more samples may collapse
    onto it); paired with ``pre.tone_offset``, plus the pairs' mean residual image (``ToneMap.offset``)."""
    from .losses import contrast_ratio

    dev = p.gen.w_avg.device
    w_refs, targets = _stack(refs, dev)
    with torch.no_grad():
        samples = p.render_source(sample_w(p.gen, 16, torch.Generator().manual_seed(PREVIEW_SEED)))
    notes, factor = [], 1.0
    if scale_lr:
        c = max(0.2, contrast_ratio(targets, samples))
        factor = min(CONTRAST_LR_MAX, c ** -pre.contrast_lr)
        notes.append(f"reference contrast {c:.3f}: lr {pre.lr:g} x {factor:.2f}")
        pre = replace(pre, lr=pre.lr * factor)
    if not pre.tone_map:
        return pre, (None, 0.0), notes
    ratio = chroma(targets) / max(chroma(samples.clamp(-1, 1)), 1e-6)  # the samples as shown
    if ratio >= pre.tone_chroma:
        return pre, (None, 0.0), notes
    if srcs:  # paired: each source's latent (every view) -> its target
        w_refs = _stack(srcs, dev)[0]
        targets = targets.repeat(len(srcs) // len(refs), 1, 1, 1)
    with torch.no_grad():
        rec = p.render_source(w_refs)
    weight = pre.tone_map / factor
    offset = bool(srcs) and pre.tone_offset
    what = ("targets plus their mean residual image" if offset else "targets") if srcs else "reference"
    notes.append(f"tone map of the {what} (chroma {ratio:.2f} x the model's, below {pre.tone_chroma:g}) taught to "
                 f"random faces at weight {weight:.2f}")
    return pre, (ToneMap.fit(rec, targets, offset=offset), weight), notes


def _ema_update(ema: dict[str, torch.Tensor] | None, p: Parameterisation, decay: float):
    """The running exponential average of ``p``'s trained tensors (None when ``decay`` is 0)."""
    if decay <= 0:
        return None
    if ema is None:
        return p.state()
    with torch.no_grad():
        for k, v in p.trainable().items():
            ema[k].mul_(decay).add_(v.detach(), alpha=1 - decay)
    return ema


def _plateaued(history: list[dict[str, float]], plateau: tuple[int, float] | None, key: str = "rec") -> bool:
    if not plateau or not plateau[0] or len(history) <= plateau[0] or key not in history[-1]:
        return False
    window, tol = plateau
    before, now = history[-1 - window][key], history[-1][key]
    return before > 0 and (before - now) / before < tol


def _final_losses(history: list[dict[str, float]], window: int = 10) -> dict[str, float]:
    if not history:
        return {}
    tail = history[-window:]
    return {k: round(sum(h[k] for h in tail) / len(tail), 6) for k in tail[-1]}


def _metadata(gen, sha, model_name, p, loss, pre, seed, steps_done, seconds, final, refs, text, cancelled, stopped,
              stopped_step, notes) -> dict:
    meta = {
        "source_model": {"name": model_name, "sha256": sha, "layout_fingerprint":
                         layout_fingerprint(style_layout(gen.config)), "size": gen.config.size},
        "param": p.name, "torgb": getattr(p, "torgb", None), "loss": loss, "preset": pre.name,
        "steps": pre.steps, "steps_done": steps_done, "batch": pre.batch, "lr": pre.lr, "betas": list(pre.betas),
        **({"bias_lr": pre.bias_lr} if pre.bias_lr != 1.0 else {}),
        "seed": int(seed), "seconds": seconds, "trained_parameters": p.count, "final_losses": final,
        "cancelled": cancelled, "stopped": stopped, "stopped_step": stopped_step, "notes": notes,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "references": [{"name": r.name, "sha256": r.sha256} for r in refs],
    }
    if text is not None:
        meta["text"] = list(text)
    if refs:
        meta["thumbnail_png_base64"] = base64.b64encode(png_thumbnail(refs[0].image)).decode()
    return meta


def _attach_output(result: AdaptResult, p: Parameterisation, gen: Generator, sha: str, name: str, refs,
                   sparsify: float | None) -> None:
    fp = layout_fingerprint(style_layout(gen.config))
    if isinstance(p, StyleSpaceOffset):
        thumb = png_thumbnail(refs[0].image) if refs else None
        extra = result.summary()
        direction = Direction(p.layout, p.flat(), "s_delta", name, p.torgb, "styledomain adapt", "",
                              thumb, None, extra)
        if sparsify is not None:
            from engine.domains import sparsify as prune

            direction, kept = prune(direction, sparsify)
            result.metadata["sparsified_keep"] = kept
            direction.extra["sparsified_keep"] = kept
        result.direction = direction
        return
    factors = {}
    if isinstance(p, AffineLight):  # stored as U, V; the dense delta is their product, as rendered in training
        factors = {k: tuple(p.factors[f"{k}.{f}"].detach().cpu().float().contiguous() for f in "UV")
                   for k in p.weights}
        result.metadata["factors"] = f"low-rank U @ V, rank {p.rank}"
    deltas = {k: low_rank_product(*factors[k]) if k in factors else v.detach().cpu().float().contiguous()
              for k, v in p.param_deltas().items()}
    meta = {"adaptation": json.dumps(result.summary())}
    if "thumbnail_png_base64" in result.metadata:
        meta["thumbnail_png_base64"] = result.metadata["thumbnail_png_base64"]
    result.delta = ParamDelta(deltas, name, fp, sha, "styledomain adapt", "", meta, factors)
