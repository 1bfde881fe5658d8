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
        from desktop.worker.render import spec_edit
        from engine.domains.morph import save_animation
        from engine.pipeline.morph_frames import render_morph

        gen = ctx.store.generator(spec.model_path).generator
        edit, latent = spec_edit(ctx.store, spec)
        frames = render_morph(gen, latent, edit, frame_weights(spec, request), progress=ctx.progress,
                              cancel=ctx.cancel, noise_mode=spec.noise_mode, noise_seed=spec.noise_seed)
        return str(save_animation(frames, request.output, request.duration_ms))

    return job
