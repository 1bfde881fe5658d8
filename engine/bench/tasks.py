"""Registration of every bench task: one line each (see :mod:`engine.bench`)."""

from .registry import BenchTask, register

register(BenchTask("render", "ms/image per resolution, batch and impl (fast vs reference path)",
                   "engine.bench.render:run", "engine.bench.render:format_render"))
register(BenchTask("e4e", "full-size e4e (IR-SE50, random weights) forward at 256 px, batch 8",
                   "engine.bench.inversion:run_e4e", "engine.bench.inversion:format_e4e"))
register(BenchTask("projector", "one optimisation step at the model's resolution",
                   "engine.bench.inversion:run_projector", "engine.bench.inversion:format_projector"))
register(BenchTask("adapt", "ms per adaptation step + peak memory (MTG+Affine with two random ViT-B CLIPs on CUDA)",
                   "engine.adaptation.bench:run", "engine.adaptation.bench:format_adapt"))
register(BenchTask("batch", "images/min and busy seconds per stage of a batch export (aligned seed faces, --steps 0)",
                   "engine.pipeline.batch.bench:run", "engine.pipeline.batch.bench:format_batch"))
