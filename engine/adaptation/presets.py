"""Optimiser settings from the reference configs (StyleDomain ``SimilarDomains/configs``), plus CPU defaults.

A preset fixes steps, batch, lr, Adam betas and a linear warm-up ``(steps, start_lr)``; every value can be
overridden by the caller. ``default_preset(loss, param, size)`` picks one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from engine.errors import UserError


@dataclass(frozen=True)
class Preset:
    name: str
    steps: int
    batch: int
    lr: float
    betas: tuple[float, float] = (0.0, 0.999)
    warmup_steps: int = 0
    warmup_start_lr: float = 1e-3
    mixing: float = 0.9
    plateau: tuple[int, float] | None = None  # (window, tol) early stop on the reference reconstruction
    note: str = ""
    schedule: str = "constant"  # after the warm-up: "constant", or "cosine" decay to lr * final_lr
    final_lr: float = 0.0
    ema: float = 0.0  # > 0: the result is the exponential moving average of the trained tensors (this decay)
    mixed_weight: float = 1.0  # JoJo: weight of the mixed-latent term (the reference reconstruction is jojo_anchor)
    colour_weight: float = 1.0  # JoJo mixed latents: weight of the per-channel mean colour (1 = plain pixel loss)
    diversity: float = 0.0  # JoJo: weight of the pairwise-similarity loss that keeps mixed samples apart
    contrast_lr: float = 0.0  # JoJo: lr x contrast ** -this (contrast: losses.contrast_ratio of the reference)
    tone_map: float = 0.0  # JoJo / paired: weight of the tone-map term (/ the contrast_lr factor), for references
    tone_chroma: float = 0.5  # ... whose chroma is below this fraction of the model's samples' chroma
    tone_offset: bool = False  # paired: the tone map also adds the pairs' mean residual image (ToneMap.offset)
    source_views: tuple[int, ...] = ()  # paired: more latents per source, inverted with these steps (0 = encoder)
    bias_lr: float = 1.0  # lr multiplier of the affine biases (each a constant style offset; affine and full)

    def lr_at(self, step: int) -> float:
        """Linear warm-up from ``warmup_start_lr`` to ``lr`` over ``warmup_steps`` (LambdaLR as the reference),
        then constant or a cosine decay to ``lr * final_lr`` at ``steps``."""
        if step < self.warmup_steps and self.warmup_steps > 0:
            start = min(self.warmup_start_lr, self.lr)
            return start + (self.lr - start) * step / self.warmup_steps
        if self.schedule != "cosine" or self.steps <= self.warmup_steps:
            return self.lr
        t = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
        low = self.lr * self.final_lr
        return low + (self.lr - low) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("mtg-affine", 250, 4, 0.002, (0.0, 0.999), 25, 1e-3, note="im2im_mtg (patch original)"),
    Preset("mtg-stylespace", 250, 4, 0.05, (0.9, 0.999), 25, 1e-3, note="im2im_mtg_sdelta"),
    Preset("nada-affine", 250, 4, 0.002, (0.0, 0.999), note="td_nada_ffhq"),
    Preset("nada-stylespace", 250, 4, 0.05, (0.9, 0.999), note="td_nada_ffhq_sdelta"),
    Preset("jojo-affine", 250, 4, 0.002, (0.0, 0.999), 20, 1e-3, note="im2im_jojo"),
    Preset("jojo-stylespace", 250, 4, 0.05, (0.9, 0.999), 20, 1e-3, note="im2im_jojo_sdelta"),
    Preset("paired-affine", 250, 4, 0.002, (0.0, 0.999), 20, 1e-3, note="im2im_jojo settings on pairs"),
    Preset("paired-stylespace", 250, 4, 0.05, (0.9, 0.999), 20, 1e-3, note="im2im_jojo_sdelta settings on pairs"),
    # CPU defaults for small (<= 128 px) models such as the demo: see docs/adaptation.md for the measurements.
    # one-shot: a fixed 100 steps (session 18; the plateau stop ended sketch after 26 steps because its
    # reference reconstruction first gets worse), lr x contrast^-6 for a flat reference (capped at 8x; only the
    # sketch reference is flatter than the model's samples): sketch 0.53, clay 0.76, woodcut 0.96, pop_art 0.98.
    # session 19: tone_map=2 for a monochrome reference (chroma < 0.5 x the samples': sketch, woodcut): woodcut
    # 0.821, sketch 0.511 (shrunk256 targets); clay and pop_art are not monochrome and train bit for bit as before
    Preset("cpu-small-affine", 100, 4, 0.002, (0.0, 0.999), 20, 1e-3, note="demo model, CPU", contrast_lr=6.0,
           tone_map=2.0),
    Preset("cpu-small-stylespace", 300, 4, 0.05, (0.9, 0.999), 20, 1e-3, plateau=(25, 0.015),
           note="demo model, CPU"),
    # few-shot pairs on small models: lr 5e-3 beat 2e-3 at 300 steps (sketch 0.51 vs 0.57, clay 0.62 vs 0.63);
    # docs/adaptation_fewshot.md
    # session 18: lr 1e-2 with a cosine decay and each source's encoder-only latent as a second training latent
    # (source_views) beat that on all four demo domains (clay 0.613, pop_art 0.683, sketch 0.472, woodcut 0.851)
    # session 19 (pairs drawn at 256, shrunk256 targets): tone_map=1 for monochrome targets (random faces pulled to
    # the pairs' tone map, full size): woodcut 0.668 -> 0.527, sketch 0.379 -> 0.186; bias_lr=10 (the affines'
    # constant style offsets learn 10x faster): pop_art 0.676 -> 0.593, woodcut 0.506, clay 0.631 -> 0.650;
    # tone_chroma=1: 8 pairs pin the tone map down well enough for any target not more colourful than the model's
    # faces (clay 0.845 x: 0.649 -> 0.626; pop_art, 3.1 x, lost 0.59 -> 0.76 with it and stays off)
    # source_views (0, 5, 10, 25), four more latents per source: clay 0.626 -> 0.612, pop_art 0.594 -> 0.589
    # session 20: tone_offset, the pseudo-pairs' teacher also adds the pairs' mean residual image (aligned faces:
    # the medium's average change in place): clay 0.612 -> 0.565, sketch 0.165 -> 0.145, woodcut 0.508 -> 0.461
    Preset("cpu-small-paired-affine", 300, 4, 0.01, (0.0, 0.999), 20, 1e-3, schedule="cosine",
           source_views=(0, 5, 10, 25), tone_map=1.0, tone_chroma=1.0, tone_offset=True, bias_lr=10.0,
           note="demo model, CPU, pairs"),
    # session 20: the same tone pseudo-pairs (with the mean residual) for one StyleSpace direction: clay 0.861 ->
    # 0.632, sketch 0.386 -> 0.241, woodcut 0.809 -> 0.593 (pop_art is not gated in and trains as before)
    Preset("cpu-small-paired-stylespace", 300, 4, 0.05, (0.9, 0.999), 20, 1e-3, tone_map=1.0, tone_chroma=1.0,
           tone_offset=True, note="demo model, CPU, pairs"),
)}

#: learning-rate multiplier of a parameterisation relative to the affine preset it borrows
FAMILY = {"affine": "affine", "full": "affine", "affinelight": "affine", "stylespace": "stylespace"}
LR_SCALE = {"affine": 1.0, "full": 1.0, "affinelight": 5.0, "stylespace": 1.0}


#: one-shot on small models: full and affinelight learn faster than affine and overfit the reference well before
#: affine's fixed 100 steps (clay 1.21 / 1.53 at 100 steps); they keep the plateau stop, at most 300 steps
#: (clay 0.67 / 0.83, sketch 0.49 / 0.52, woodcut 0.94 / 1.05, pop_art 0.96 / 0.96; docs/adaptation.md)
PLATEAU_STOPPED = {"full": (300, (25, 0.015)), "affinelight": (300, (25, 0.015))}


def default_preset(loss: str, param: str, size: int) -> Preset:
    family = FAMILY[param]
    if size <= 128 and loss == "paired":
        base = PRESETS[f"cpu-small-paired-{family}"]
    elif size <= 128 and loss == "jojo":
        base = PRESETS[f"cpu-small-{family}"]
        if param in PLATEAU_STOPPED:
            steps, plateau = PLATEAU_STOPPED[param]
            base = replace(base, steps=steps, plateau=plateau)
    else:
        base = PRESETS[f"{loss}-{family}"]
    return replace(base, lr=base.lr * LR_SCALE[param])


def get_preset(name: str | None, loss: str, param: str, size: int) -> Preset:
    if name is None:
        return default_preset(loss, param, size)
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r} (known: {', '.join(sorted(PRESETS))})")
    return PRESETS[name]
