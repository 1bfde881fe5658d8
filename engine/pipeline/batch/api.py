"""``run_batch``: export a recipe's edit for many photos into one folder, resumably.

Front-ends (``styledomain batch``, the studio's batch dialog) call :func:`run_batch`; it checks everything
a user can get wrong first (recipe, model, encoder, names, OUT writable: :class:`UserError` before any
image is touched), then runs the overlapped pipeline of :mod:`engine.pipeline.batch.pipeline` with the
stages of :mod:`engine.pipeline.batch.stages`, recording each finished input in the manifest
(:mod:`engine.pipeline.batch.manifest`). Bad inputs are reported in the :class:`BatchReport` and skipped;
they never stop the run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import FileProblem, UserError
from engine.jobs import Cancelled, CancelToken, ProgressFn, report

from .inputs import InputFile, discover_inputs
from .manifest import Manifest, input_stat
from .naming import DEFAULT_TEMPLATE, NameTemplate, recipe_label
from .pipeline import PipelineStats, Stages, run_pipeline
from .stages import BatchSettings, Job, PhotoStages
from .writers import check_quality

JOB = "batch"


@dataclass
class BatchReport:
    """What a batch did. ``done`` entries are ``{input, output, reason}``; ``skipped`` and ``failed`` entries
    ``{input, reason}`` (``reason`` is one line). ``stage_seconds``: busy seconds per stage (summed over
    threads: ``decode_align``, ``invert_render``, ``encode_write``). ``cancelled``: the cancel token stopped
    the run; what finished before is in ``done`` and in the manifest."""

    out_dir: Path
    total: int = 0
    done: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    batches: int = 0
    cancelled: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def outputs(self) -> list[str]:
        return [d["output"] for d in self.done]

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 1 when any input failed (the CLI's exit status)."""
        return 1 if self.failed else 0

    @property
    def images_per_minute(self) -> float:
        return 60.0 * len(self.done) / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict:
        """The ``--json`` summary object."""
        return {"done": self.done, "skipped": self.skipped, "failed": self.failed, "outputs": self.outputs,
                "seconds": round(self.seconds, 3),
                "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
                "total": self.total, "cancelled": self.cancelled, "out_dir": str(self.out_dir),
                "images_per_minute": round(self.images_per_minute, 2), "notes": self.notes}


def _reason(exc: BaseException, path: Path) -> str:
    """One line without the path (the report names the input separately)."""
    if isinstance(exc, FileProblem):
        text = exc.reason
    elif isinstance(exc, UserError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "not enough memory for this image"
    else:
        text = f"internal error ({type(exc).__name__}: {str(exc).strip() or 'no message'})"
    text = text.splitlines()[0] if text else type(exc).__name__
    for prefix in (f"{path}: ", f"{os.path.abspath(path)}: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text[:300]


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(folder))
        return True
    except ValueError:
        return False


def run_batch(inputs: Sequence[str | os.PathLike | InputFile], out_dir: str | os.PathLike,
              recipe: str | os.PathLike, *, model: str | os.PathLike | None = None,
              search: Sequence[str | os.PathLike] = (), fmt: str = "png", quality: int | None = None,
              paste_back: bool | None = None, name: str = DEFAULT_TEMPLATE, overwrite: bool = False,
              workers: int | None = None, writers: int = 1, batch_size: int | None = None,
              encoder: str | os.PathLike | bool | None = None, steps: int | None = None, aligned: bool = False,
              centre_crop: bool = False, face: int = 1, strip_metadata: bool = False, device: str = "cpu",
              progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> BatchReport:
    """Apply the recipe ``recipe`` (a ``.json`` or a PNG carrying one) to every photo in ``inputs``
    (files, folders scanned recursively, ``@list.txt``) and write one file per photo into ``out_dir``.

    ``model``: generator file (default: found from the recipe, next to it or in ``search``).
    ``fmt``: png | jpg | webp; ``quality`` 1..100 for jpg/webp. ``paste_back`` None = as the recipe says.
    ``name``: output name template (:mod:`engine.pipeline.batch.naming`). ``overwrite``: replace existing
    files that no earlier batch into ``out_dir`` wrote (otherwise they are skipped). ``workers``: CPU
    threads for decode + alignment (default: up to 4); ``writers``: encode + write threads; ``batch_size``:
    photos per device batch (default 8 on CUDA, 4 elsewhere). ``encoder``: None = the model's own encoder
    if any, False = start from w_avg, or a file. ``steps``: optimisation steps after the encoder (default:
    the recipe's, else :data:`engine.inversion.DEFAULT_STEPS`). ``aligned``: inputs are aligned crops
    already (no detection, no paste-back); ``centre_crop``: centred square instead of detection;
    ``face``: which face, 1 = largest. ``device``: where the model runs (loaded by this call).

    Reports :class:`~engine.jobs.Progress` (job ``"batch"``, one step per input, values ``done``,
    ``skipped``, ``failed``, ``images_per_minute``; ``message`` = ``"NAME: done|skipped|failed[: reason]"``)
    and honours ``cancel`` between images and within an inversion step; a cancelled run returns its
    report with ``cancelled=True`` (finished outputs are kept and recorded), it does not raise.
    Raises :class:`UserError` for usage errors, before any work.
    """
    from engine.inversion import DEFAULT_STEPS
    from engine.pipeline.recipe import load_recipe
    from engine.pipeline.recipe_render import resolve_recipe

    t_start = time.perf_counter()
    out = Path(out_dir)
    quality = check_quality(fmt, quality)
    template = NameTemplate(name, fmt)
    if face < 1:
        raise UserError(f"--face counts from 1 (largest face), got {face}")
    if steps is not None and not 0 <= steps <= 100_000:
        raise UserError(f"--steps must be from 0 to 100000, got {steps}")
    for what, value in (("workers", workers), ("writers", writers), ("batch size", batch_size)):
        if value is not None and not 1 <= value <= 256:
            raise UserError(f"{what} must be from 1 to 256, got {value}")
    recipe_path = Path(recipe)
    rec = load_recipe(recipe_path)
    label = recipe_label(recipe_path)
    found = discover_inputs([i.path if isinstance(i, InputFile) else i for i in inputs])
    found = [i for i in found if not _inside(i.path, out)]
    if not found:
        raise UserError("no input images found (folders are scanned for "
                        ".jpg .jpeg .png .webp .bmp .tif .tiff; hidden files are skipped)")
    res = resolve_recipe(rec, recipe_path, model, search, device)
    enc, enc_id = _resolve_encoder(encoder, res)
    n_steps = steps if steps is not None else int(((rec.source.inversion or {}).get("steps", DEFAULT_STEPS))
                                                  if rec.source else DEFAULT_STEPS)
    paste = rec.paste_back if paste_back is None else bool(paste_back)
    settings = BatchSettings(fmt, quality, paste and not aligned, strip_metadata, n_steps, aligned, centre_crop,
                             face - 1)
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    batch_size = batch_size or (8 if str(device).startswith("cuda") else 4)

    rep = BatchReport(out_dir=out, total=len(found), notes=list(res.notes))
    manifest = Manifest(out).open()  # UserError when OUT is not writable or busy
    rep.notes += manifest.notes
    stages = PhotoStages(res, settings, out, manifest, _sha256_text(rec.dumps()), enc, enc_id, cancel)
    counter = _Counter(rep, progress, t_start)
    try:
        stats = run_pipeline(
            _plan(found, template, label, res.loaded.name, manifest, stages, overwrite, counter),
            Stages(stages.prepare, stages.process, stages.finish, PhotoStages.names),
            workers=workers, writers=writers, batch=batch_size, cancel=cancel,
            on_done=counter.done, on_failed=counter.failed)
        _take_stats(rep, stats)
    except Cancelled:
        rep.cancelled = True
    finally:
        manifest.close()
    rep.seconds = time.perf_counter() - t_start
    return rep


def _take_stats(rep: BatchReport, stats: PipelineStats) -> None:
    rep.stage_seconds = dict(stats.busy)
    rep.batches = stats.batches


def _sha256_text(text: str) -> str:
    from .manifest import sha256_bytes

    return sha256_bytes(text.encode("utf-8"))


def _resolve_encoder(encoder, res):
    """(encoder on the model's device or None, identity string for the manifest)."""
    from engine.fileio import sha256_of
    from engine.inversion.encoders import find_default_encoder
    from engine.pipeline.photo_edit import resolve_photo_encoder

    loaded = res.loaded
    if encoder is False:
        return None, "none"
    if encoder is True:
        encoder = None
    if encoder is not None and not Path(encoder).is_file():
        raise UserError(f"{encoder}: encoder file not found")
    path = Path(encoder) if encoder is not None else find_default_encoder(loaded.generator, loaded.sha256,
                                                                         loaded.path)
    enc = resolve_photo_encoder(loaded, encoder)
    if enc is None:
        return None, "none"
    return enc.eval(), sha256_of(path) if path is not None else getattr(enc, "name", "encoder")


class _Counter:
    """Collects per-input outcomes into the report and reports progress (called under one lock)."""

    def __init__(self, rep: BatchReport, progress: ProgressFn | None, t0: float) -> None:
        self.rep, self.progress, self.t0 = rep, progress, t0
        self.lock = threading.RLock()  # the planner (feeder thread) and the pipeline's threads both report

    def _report(self, item: InputFile, status: str, reason: str = "") -> None:
        r = self.rep
        n = len(r.done) + len(r.skipped) + len(r.failed)
        elapsed = time.perf_counter() - self.t0
        ipm = 60.0 * len(r.done) / elapsed if elapsed > 0 else 0.0
        msg = f"{item.path}: {status}" + (f": {reason}" if reason else "")
        report(self.progress, JOB, n, r.total, msg,
               {"done": len(r.done), "skipped": len(r.skipped), "failed": len(r.failed), "images_per_minute": ipm})

    def done(self, job: Job, target: Path) -> None:
        with self.lock:
            self.rep.done.append({"input": str(job.input.path), "output": str(target), "reason": "exported"})
            self._report(job.input, "done")

    def failed(self, job: Job | InputFile, exc: BaseException | str) -> None:
        item = job.input if isinstance(job, Job) else job
        reason = exc if isinstance(exc, str) else _reason(exc, item.path)
        with self.lock:
            self.rep.failed.append({"input": str(item.path), "reason": reason})
            self._report(item, "failed", reason)

    def skipped(self, item: InputFile, reason: str) -> None:
        with self.lock:
            self.rep.skipped.append({"input": str(item.path), "reason": reason})
            self._report(item, "skipped", reason)


def _plan(found: Iterable[InputFile], template: NameTemplate, label: str, model_name: str, manifest: Manifest,
          stages: PhotoStages, overwrite: bool, counter: _Counter):
    """Jobs for the pipeline; inputs already done, blocked or unusable are reported here instead."""
    planned: dict[str, str] = {}
    owned = manifest.outputs()  # written by earlier batches into OUT: ours to replace
    for index, item in enumerate(found, start=1):
        try:
            size, mtime = input_stat(item.path)
        except OSError as exc:
            counter.failed(item, "file not found" if isinstance(exc, FileNotFoundError)
                           else f"cannot read ({exc.strerror or exc})")
            continue
        p = item.path
        try:
            rel = str(template.render(stem=p.stem, name=p.name, suffix=p.suffix.lstrip("."), folder=item.folder,
                                      recipe=label, model=model_name, index=index))
        except UserError as exc:
            counter.failed(item, str(exc))
            continue
        key = item.key
        if rel in planned:
            counter.failed(item, f"output name {rel} is already used by {planned[rel]}; put {{folder}} or "
                                 "{index} in --name")
            continue
        planned[rel] = str(p)
        if manifest.finished(key, size, mtime, stages.recipe_sha256, stages.settings_sha256, rel):
            counter.skipped(item, f"already exported to {rel}")
            continue
        if (out := manifest.out_dir / rel).exists() and not overwrite and rel not in owned:
            counter.skipped(item, f"{out} exists and was not written by a batch into this folder "
                                  "(use --overwrite to replace it)")
            continue
        yield Job(index, item, key, size, mtime, rel)
