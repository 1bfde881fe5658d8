"""Generator-space blends: adapted generators stored as parameter deltas.

A parameter-delta file (``.safetensors``, never unpickled) holds ``{param_name: theta_adapted -
theta_base}`` for the parameters an adaptation changed, with string metadata ``format`` =
``styledomain.param_delta``, ``format_version``, ``name``, ``layout_fingerprint`` (of the base
generator), ``base_sha256`` (optional), ``source``, ``license``.

A low-rank delta (AffineLight) may be stored as its factors: ``NAME.lowrank_u`` [out, r] and
``NAME.lowrank_v`` [r, in] instead of ``NAME`` (format version 2, metadata ``factors``); loading
multiplies them back with :func:`low_rank_product`, the same product training rendered with.

Blending sets ``theta = theta_0 + sum_j c_j * delta_j`` in place for the duration of a ``with``
block (:func:`applied_deltas`); only the touched parameters are saved and restored bit-exactly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from engine.errors import FileProblem, UserError
from engine.fileio import read_safetensors, save_safetensors
from engine.generator import Generator
from engine.stylespace import layout_fingerprint, style_layout

FORMAT_NAME = "styledomain.param_delta"
FORMAT_VERSION = 1
FACTORED_VERSION = 2  # written only when some delta is stored as low-rank factors
FACTOR_SUFFIXES = (".lowrank_u", ".lowrank_v")
RESERVED_META = ("format", "format_version", "name", "layout_fingerprint", "base_sha256", "source", "license")


@dataclass
class ParamDelta:
    """Differences of some generator parameters from a base generator."""

    deltas: dict[str, torch.Tensor]
    name: str = ""
    layout_fingerprint: str = ""
    base_sha256: str = ""
    source: str = ""
    license: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    #: ``{name: (U, V)}`` for deltas that are ``U @ V`` and are saved as their factors
    factors: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)


def low_rank_product(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``U @ V`` in float32: the dense delta of a low-rank factor pair."""
    return (u.float() @ v.float()).contiguous()


def make_param_delta(base: Generator, adapted: Generator, name: str = "", base_sha256: str = "",
                     atol: float = 0.0) -> ParamDelta:
    """Delta of ``adapted`` from ``base`` (parameters that differ by more than ``atol`` only)."""
    if layout_fingerprint(style_layout(base.config)) != layout_fingerprint(style_layout(adapted.config)):
        raise UserError("the two generators have different layer tables; no parameter delta between them")
    own = dict(adapted.named_parameters())
    deltas = {}
    for key, p0 in base.named_parameters():
        d = (own[key].detach() - p0.detach()).cpu().float()
        if bool((d.abs() > atol).any()):
            deltas[key] = d.contiguous()
    return ParamDelta(deltas, name, layout_fingerprint(style_layout(base.config)), base_sha256)


def save_param_delta(delta: ParamDelta, path: str | os.PathLike) -> None:
    """Atomically; string entries of ``delta.meta`` (e.g. ``adaptation`` JSON) are kept beside the fixed keys."""
    path = Path(path)
    meta = {k: str(v) for k, v in delta.meta.items() if k not in RESERVED_META}
    meta.pop("factors", None)
    version = FACTORED_VERSION if delta.factors else FORMAT_VERSION
    meta.update({"format": FORMAT_NAME, "format_version": str(version), "name": delta.name,
                 "layout_fingerprint": delta.layout_fingerprint, "base_sha256": delta.base_sha256,
                 "source": delta.source, "license": delta.license})
    tensors = {}
    for k, v in delta.deltas.items():
        if k in delta.factors:
            u, w = delta.factors[k]
            tensors[k + FACTOR_SUFFIXES[0]], tensors[k + FACTOR_SUFFIXES[1]] = u.float(), w.float()
        else:
            tensors[k] = v.float()
    if delta.factors:
        rank = max(u.shape[1] for u, _ in delta.factors.values())
        meta["factors"] = f"low-rank (rank {rank}): NAME{FACTOR_SUFFIXES[0]} @ NAME{FACTOR_SUFFIXES[1]} is NAME's delta"
    save_safetensors(tensors, path, meta)


def load_param_delta(path: str | os.PathLike) -> ParamDelta:
    from engine.fileio import require_file

    p = require_file(path)
    tensors, meta = read_safetensors(p)
    if meta.get("format") != FORMAT_NAME:
        raise FileProblem(p, f"not a StyleDomain parameter-delta file (format={meta.get('format')!r})")
    if meta.get("format_version") not in (str(FORMAT_VERSION), str(FACTORED_VERSION)):
        raise FileProblem(p, f"parameter-delta format version {meta.get('format_version')!r} is not supported "
                             f"(this program reads versions {FORMAT_VERSION} and {FACTORED_VERSION})")
    for k, v in tensors.items():
        if not v.is_floating_point():
            raise FileProblem(p, f"{k} has dtype {v.dtype}, expected a float type")
        if not bool(torch.isfinite(v).all()):
            raise FileProblem(p, f"{k} contains NaN/Inf values")
    deltas, factors = _expand_factors(p, {k: v.float() for k, v in tensors.items()})
    return ParamDelta(deltas, meta.get("name") or p.stem, meta.get("layout_fingerprint", ""),
                      meta.get("base_sha256", ""), meta.get("source", ""), meta.get("license", ""), meta, factors)


def _expand_factors(p: Path, tensors: dict[str, torch.Tensor]):
    """(dense deltas, factors): each ``NAME.lowrank_u`` / ``NAME.lowrank_v`` pair becomes ``NAME``."""
    su, sv = FACTOR_SUFFIXES
    deltas = {k: v for k, v in tensors.items() if not k.endswith(FACTOR_SUFFIXES)}
    factors = {}
    for k in sorted(tensors):
        if not k.endswith(FACTOR_SUFFIXES):
            continue
        name = k[: -len(su)] if k.endswith(su) else k[: -len(sv)]
        u, v = tensors.get(name + su), tensors.get(name + sv)
        if u is None or v is None:
            raise FileProblem(p, f"{k} has no partner factor ({name}{su if u is None else sv} is missing)")
        if u.ndim != 2 or v.ndim != 2 or u.shape[1] != v.shape[0] or name in deltas:
            raise FileProblem(p, f"{name}: low-rank factors of shapes {list(u.shape)} and {list(v.shape)} "
                                 "do not make one delta")
        factors[name] = (u, v)
    deltas.update({k: low_rank_product(u, v) for k, (u, v) in factors.items()})
    return deltas, factors


def check_delta_fits(delta: ParamDelta, gen: Generator, origin: str | os.PathLike = "") -> None:
    params = dict(gen.named_parameters())
    where = origin or delta.name

    def fail(reason: str):
        raise FileProblem(where, reason) if where else UserError(reason)

    fp = layout_fingerprint(style_layout(gen.config))
    if delta.layout_fingerprint and delta.layout_fingerprint != fp:
        fail(f"parameter delta {delta.name!r} was made for layout {delta.layout_fingerprint}, the model is {fp}")
    for k, v in delta.deltas.items():
        if k not in params:
            fail(f"parameter delta names {k!r}, which this model does not have")
        if tuple(params[k].shape) != tuple(v.shape):
            fail(f"{k}: delta has shape {list(v.shape)}, the model has {list(params[k].shape)}")


@contextmanager
def applied_deltas(gen: Generator, terms: Sequence[tuple[ParamDelta, float]],
                   recompute_w_avg: bool = False) -> Iterator[Generator]:
    """Inside the block ``gen``'s parameters are ``theta_0 + sum_j c_j * delta_j``; restored exactly after.

    ``recompute_w_avg`` re-estimates the truncation centre when a delta touches the mapping network
    (as the paper's weight morphing recomputes ``mean_latent``).
    """
    for delta, c in terms:
        if not math.isfinite(c):
            raise UserError(f"weight of parameter delta {delta.name!r} must be a finite number")
        check_delta_fits(delta, gen)
    params = dict(gen.named_parameters())
    touched = sorted({k for delta, _ in terms for k in delta.deltas})
    saved = {k: params[k].detach().clone() for k in touched}
    saved_avg = gen.w_avg.detach().clone()
    try:
        with torch.no_grad():
            for k in touched:
                total = torch.zeros_like(saved[k])
                for delta, c in terms:
                    if k in delta.deltas:
                        total += float(c) * delta.deltas[k].to(total.device, total.dtype)
                params[k].copy_(saved[k] + total)
            if recompute_w_avg and any(k.startswith("style.") for k in touched):
                gen.w_avg.copy_(gen.compute_w_avg())
        yield gen
    finally:
        with torch.no_grad():
            for k, v in saved.items():
                params[k].copy_(v)
            gen.w_avg.copy_(saved_avg)
