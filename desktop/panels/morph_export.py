"""The blend pad's morph export as a worker job: frames along the recorded path, written as an animation."""

from __future__ import annotations

from typing import Any

from desktop.panels.blend_pad_panel import MorphRequest
from desktop.worker.requests import RenderSpec


def frame_weights(spec: RenderSpec, request: MorphRequest) -> list[list[float]]:
    """One weight per enabled direction of ``spec`` for each frame; directions off the pad keep theirs."""
    return [[fw.get(d.path, d.weight) for d in spec.directions] for fw in request.frame_weights()]


def morph_job(spec: RenderSpec, request: MorphRequest):
    """Job (worker thread): render the frames with engine render_morph and save them; returns the file."""

    def job(ctx: Any) -> str:
        from engine.domains.blend import DirectionTerm
        from engine.domains.morph import save_animation
        from engine.pipeline.edit import DeltaTerm, Edit
        from engine.pipeline.morph_frames import render_morph

        store = ctx.store
        gen = store.generator(spec.model_path).generator
        terms = tuple(DirectionTerm(store.direction(d.path), d.weight, d.layers, d.path, d.style_mix)
                      for d in spec.directions)
        deltas = tuple(DeltaTerm(store.delta(x.path), x.weight, x.path) for x in spec.deltas)
        edit = Edit(terms, deltas, spec.strength, spec.psi, keep=spec.keep)
        latent = int(spec.seed or 0) if spec.w_plus is None else spec.w_plus
        frames = render_morph(gen, latent, edit, frame_weights(spec, request), progress=ctx.progress,
                              cancel=ctx.cancel, noise_mode=spec.noise_mode, noise_seed=spec.noise_seed)
        return str(save_animation(frames, request.output, request.duration_ms))

    return job
