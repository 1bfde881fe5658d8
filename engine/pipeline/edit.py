"""Render an edit: a latent plus directions, parameter deltas, strength, style mixing and truncation -> image.

This is the one place where an edit is turned into pixels; ``styledomain render``, ``direction morph``,
``apply``, the batch exporter and the studio all call :func:`render_edit` (or :func:`render_edit_image`).

Order of operations (the recipe format's semantics, ``engine.pipeline.recipe``):

1. parameter deltas are added to the generator's weights (``theta = theta_0 + sum_j c_j delta_j``) for the
   duration of the call and restored bit-exactly on every exit path;
2. the latent (an NVIDIA seed mapped through the, possibly edited, mapping network, or a W+ tensor) is
   truncated toward ``w_avg`` with ``psi`` on the first ``cutoff`` rows;
3. each direction with ``style_mix`` mixes its style latents into the last W+ rows;
4. the blended directions edit StyleSpace: ``s' = s + strength * sum_j c_j M_j(d_j)`` (DomMod directions
   scale the conv weights instead); with ``keep`` < 1 each direction is first magnitude-pruned to its
   ``keep`` fraction of strongest channels (:func:`engine.domains.blend.sparsify`, StyleSpaceSparse);
5. synthesis stops early when the requested size is one of the generator's synthesis resolutions;
   other sizes are resampled (Lanczos) by :func:`to_pil` / :func:`render_edit_image`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace

import torch
from PIL import Image

from engine.device import pick_dtype
from engine.domains.blend import DirectionTerm, StyleEdit, build_edit, mix_style_latents, sparsify
from engine.domains.param_delta import ParamDelta, applied_deltas, check_delta_fits
from engine.errors import UserError
from engine.generator import NOISE_MODES, Generator
from engine.jobs import CancelToken, ProgressFn, check_cancel, report
from engine.stylespace import style_layout

from .images import to_pil
from .seeds import w_plus_from_seed

#: largest output side (as recipes allow)
MAX_SIZE = 8192
#: noise seeds feed ``torch.Generator.manual_seed``, which takes 64-bit values
MAX_NOISE_SEED = 2**64 - 1

__all__ = ["MAX_SIZE", "DeltaTerm", "DirectionTerm", "Edit", "output_size", "render_edit", "render_edit_image",
           "style_edit"]


@dataclass(frozen=True)
class DeltaTerm:
    """One parameter delta in an edit: ``theta += weight * delta``.

    ``origin`` (the file) and ``sha256`` only serve error messages and recipes.
    """

    delta: ParamDelta
    weight: float = 1.0
    origin: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class Edit:
    """Everything done to a latent before synthesis (see the module docstring for the order).

    ``directions``: :class:`~engine.domains.blend.DirectionTerm` (direction, weight ``c_j``, layer
    selection, style mix); ``deltas``: :class:`DeltaTerm`; ``strength``: the global direction strength;
    ``psi``/``cutoff``: truncation of the latent (1 / None = none); ``keep``: the fraction of each
    direction's channels kept by magnitude pruning, in (0, 1] (1 = no pruning, the exact old render). An
    empty ``Edit()`` renders the latent as it is.
    """

    directions: tuple[DirectionTerm, ...] = ()
    deltas: tuple[DeltaTerm, ...] = ()
    strength: float = 1.0
    psi: float = 1.0
    cutoff: int | None = None
    keep: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "directions", tuple(self.directions))
        object.__setattr__(self, "deltas", tuple(self.deltas))

    def with_weights(self, weights: Sequence[float]) -> Edit:
        """The same edit with new direction weights (one per direction, in order), e.g. for a morph frame."""
        if len(weights) != len(self.directions):
            raise ValueError(f"expected {len(self.directions)} weights, got {len(weights)}")
        return replace(self, directions=tuple(replace(t, weight=float(w))
                                              for t, w in zip(self.directions, weights, strict=True)))

    def check(self) -> None:
        """Raise :class:`UserError` for non-finite numbers or a bad cutoff (cheap; no model needed)."""
        if not math.isfinite(self.psi):
            raise UserError(f"truncation psi must be a finite number, got {self.psi}")
        if not math.isfinite(self.strength):
            raise UserError(f"strength must be a finite number, got {self.strength}")
        if not math.isfinite(self.keep) or not 0.0 < self.keep <= 1.0:
            raise UserError(f"keep fraction (sparsity) must be in (0, 1], got {self.keep}")
        if self.cutoff is not None and self.cutoff < 0:
            raise UserError(f"truncation cutoff must be 0 or more, got {self.cutoff}")
        for t in self.directions:
            for what, v in (("weight", t.weight), ("style mix", t.style_mix)):
                if not math.isfinite(v):
                    raise UserError(f"{what} of direction {t.direction.name!r} must be a finite number, got {v}")
        for d in self.deltas:
            if not math.isfinite(d.weight):
                raise UserError(f"weight of parameter delta {d.delta.name!r} must be a finite number, got {d.weight}")


def style_edit(generator: Generator, edit: Edit) -> StyleEdit:
    """The directions of ``edit`` reduced to one StyleSpace offset (+ DomMod scales) for ``generator``.

    Checks that every direction fits the generator and that every layer selection selects a layer.
    ``edit.keep`` < 1 prunes each direction to its strongest channels first.
    """
    terms = edit.directions
    if edit.keep < 1.0:
        terms = tuple(replace(t, direction=sparsify(t.direction, edit.keep)[0]) for t in terms)
    return build_edit(terms, style_layout(generator.config), edit.strength)


def output_size(generator: Generator, size: int | None) -> int:
    """The output side for ``size`` (None = the generator's size), checked against :data:`MAX_SIZE`."""
    if size is None:
        return generator.config.size
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
        raise UserError(f"output size must be an integer from 1 to {MAX_SIZE}, got {size!r}")
    return size


def _check_render_args(generator: Generator, w_plus, noise_mode: str, noise_seed: int) -> None:
    if noise_mode not in NOISE_MODES:
        raise UserError(f"noise mode must be one of {', '.join(NOISE_MODES)}, got {noise_mode!r}")
    if isinstance(noise_seed, bool) or not isinstance(noise_seed, int) or not 0 <= noise_seed <= MAX_NOISE_SEED:
        raise UserError(f"noise seed must be an integer from 0 to 2**64-1, got {noise_seed!r}")
    if isinstance(w_plus, int) and not isinstance(w_plus, bool):
        if not 0 <= w_plus < 2**32:
            raise UserError(f"seed must be an integer from 0 to 2**32-1, got {w_plus}")
        return
    if not torch.is_tensor(w_plus):
        raise TypeError(f"w_plus must be a tensor or an int seed, not {type(w_plus).__name__}")
    cfg = generator.config
    shape = tuple(w_plus.shape)
    if shape[-2:] != (cfg.num_ws, cfg.style_dim) or w_plus.ndim not in (2, 3):
        raise UserError(f"latent has shape {list(shape)}, this model needs [{cfg.num_ws}, {cfg.style_dim}] "
                        f"(or a batch [B, {cfg.num_ws}, {cfg.style_dim}])")
    if not bool(torch.isfinite(w_plus).all()):
        raise UserError("latent contains NaN/Inf values")


def render_edit(generator: Generator, w_plus: torch.Tensor | int, edit: Edit | None = None, *,
                size: int | None = None, noise_mode: str = "const", noise_seed: int = 0,
                noise_generator: torch.Generator | None = None, precision: str = "fp32", impl: str | None = None,
                progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> torch.Tensor:
    """Render ``edit`` applied to ``w_plus``; returns [B, 3, R, R] in about [-1, 1] on the generator's device.

    ``w_plus``: untruncated W+ ``[num_ws, w_dim]`` or a batch ``[B, num_ws, w_dim]`` (any device; moved to
    the generator's), or an ``int`` NVIDIA seed (``np.random.RandomState(seed)`` z through the mapping, as
    ``generate.py``). ``size``: R is ``size`` when it is a synthesis resolution (early exit, a fast preview),
    else the generator's full size (resample with :func:`to_pil`; :func:`render_edit_image` does both).
    ``noise_mode``: const | random | none; random noise comes from ``noise_generator`` or, when None,
    ``torch.Generator().manual_seed(noise_seed)``. ``precision``: fp32 (default, the reference
    implementation), fp16/bf16 where supported (fast implementation); ``impl`` overrides the choice.

    The generator's weights are changed only inside this call (parameter deltas) and restored exactly,
    also on error or cancel; the model is never moved. Cancel is checked before the work starts
    (raises :class:`~engine.jobs.Cancelled`); one ``progress`` report at the end.
    """
    edit = edit or Edit()
    edit.check()
    _check_render_args(generator, w_plus, noise_mode, noise_seed)
    out_size = output_size(generator, size)
    early = out_size if out_size in generator.config.resolutions else None
    device = generator.w_avg.device
    dtype = pick_dtype(precision, device)
    impl = impl or ("reference" if dtype == torch.float32 else "fast")
    styled = style_edit(generator, edit)
    for d in edit.deltas:
        check_delta_fits(d.delta, generator, d.origin)
    check_cancel(cancel, "render")
    rng = noise_generator if noise_generator is not None else torch.Generator().manual_seed(noise_seed)
    with ExitStack() as stack, torch.no_grad():
        if edit.deltas:
            stack.enter_context(applied_deltas(generator, [(d.delta, d.weight) for d in edit.deltas]))
        if isinstance(w_plus, int):
            wp = w_plus_from_seed(generator, w_plus, edit.psi, edit.cutoff)
        else:
            w = w_plus.to(device=device, dtype=torch.float32)
            wp = generator.truncate(w.unsqueeze(0) if w.ndim == 2 else w, edit.psi, edit.cutoff)
        for term in edit.directions:
            wp = mix_style_latents(wp, term.direction, term.style_mix)
        img = generator.synthesize(styled.styles(generator.styles(wp)), noise_mode, max_resolution=early,
                                   impl=impl, generator=rng, dtype=dtype, conv_scales=styled.in_scales())
    report(progress, "render", 1, 1)
    return img


def render_edit_image(generator: Generator, w_plus: torch.Tensor | int, edit: Edit | None = None, *,
                      size: int | None = None, **kwargs) -> Image.Image:
    """:func:`render_edit` of one latent as a PIL RGB image of exactly ``size`` (default: the model's size)."""
    img = render_edit(generator, w_plus, edit, size=size, **kwargs)
    return to_pil(img, output_size(generator, size))

