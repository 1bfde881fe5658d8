"""NVIDIA StyleGAN2 ``.pkl`` files, read without running any code stored in them.

* stylegan2-ada-pytorch / stylegan3-repo pickles: ``{training_set_kwargs, G, D, G_ema, augment_pipe}``
  of ``torch_utils.persistence`` objects. ``G_ema`` is mapped to rosinality names (the name table in this module);
  ``conv_clamp``, NVIDIA's demodulation epsilon, the mapping learning-rate multiplier, the resample
  filter and ``mapping.w_avg`` are honoured. fp16 blocks are rendered in fp32 (as ``force_fp32=True``).
* TF-era pickles ``(G, D, Gs)`` of ``dnnlib.tflib.network.Network``: see :mod:`.tf_legacy`.

Rejected with a clear reason: conditional models, non-skip generators, StyleGAN3 generators, pickles
without ``G_ema``, image channels other than 3.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from engine.generator import Generator

from .errors import ModelFileError
from .rosinality import build_from_state_dict
from .safe_pickle import PersistentRecord, TFNetworkRecord, restricted_load

NVIDIA_KEYS = ("G_ema", "G", "D", "training_set_kwargs", "augment_pipe")


def load_nvidia_pickle(path: Path) -> tuple[Generator, str, dict]:
    """(generator, ``"nvidia"`` or ``"nvidia-tf"``, metadata) from an NVIDIA network pickle."""
    path = Path(path)
    data = restricted_load(path)
    if isinstance(data, tuple) and len(data) == 3 and all(isinstance(n, TFNetworkRecord) for n in data):
        from .tf_legacy import convert_tf_generator

        gen, meta = convert_tf_generator(path, data[2])
        return gen, "nvidia-tf", meta
    if isinstance(data, dict) and any(k in data for k in NVIDIA_KEYS):
        g = data.get("G_ema")
        if not isinstance(g, PersistentRecord):
            have = sorted(str(k) for k in data)
            raise ModelFileError(path, f"NVIDIA pickle without a G_ema generator (contains {have})")
        gen, meta = convert_pytorch_generator(path, g)
        meta["pickle_keys"] = sorted(str(k) for k in data)
        meta["training_set_kwargs"] = plain(data.get("training_set_kwargs"))
        return gen, "nvidia", meta
    if isinstance(data, PersistentRecord) and data.class_name == "Generator":  # a bare pickled G_ema
        gen, meta = convert_pytorch_generator(path, data)
        meta["pickle_keys"] = []
        return gen, "nvidia", meta
    raise ModelFileError(path, f"not an NVIDIA StyleGAN2 network pickle (it holds {_describe(data)})")


# ---- stylegan2-ada-pytorch / stylegan3 repo ------------------------------------------------------
def convert_pytorch_generator(path: Path, g: PersistentRecord) -> tuple[Generator, dict]:
    """Rosinality-named generator from the ``G_ema`` record; reads sizes off the stored tensors."""
    if g.class_name != "Generator":
        raise ModelFileError(path, f"G_ema is a {g.class_name!r}, not a StyleGAN2 Generator")
    kwargs = plain(g.attr("_init_kwargs") or {})
    if not isinstance(kwargs, dict):
        kwargs = {}
    synthesis, mapping = g.child("synthesis"), g.child("mapping")
    if synthesis is None or mapping is None:
        raise ModelFileError(path, "G_ema has no mapping/synthesis networks")
    if synthesis.child("b4") is None:
        kind = "StyleGAN3" if "input" in synthesis.children() or "SynthesisInput" in synthesis.module_src \
            else "unknown"
        raise ModelFileError(path, f"{kind} generator (not StyleGAN2): only StyleGAN2 networks are supported")
    _check_generator_kwargs(path, g, kwargs, _synthesis_kwargs(synthesis, kwargs))

    t = {k: v.detach().float().cpu() for k, v in g.tensors().items()}
    sd, w_avg, lr_mul = _map_mapping(path, mapping, t)
    clamp, taps = _map_synthesis(path, synthesis, t, sd)
    gen = build_from_state_dict(sd, w_avg, path, conv_clamp=clamp, demod_eps_mode="nvidia", lr_mlp=lr_mul,
                                blur_kernel=taps)
    syn_kw = _synthesis_kwargs(synthesis, kwargs)
    meta = {
        "nvidia_class": g.class_name,
        "persistence_version": plain(g.version),
        "init_kwargs": kwargs,
        "conv_clamp": clamp,
        "num_fp16_res": syn_kw.get("num_fp16_res", 0),
        "fp16_blocks": sorted(int(k[1:]) for k, b in synthesis.children().items() if b.attr("use_fp16")),
        "rendered_precision": "fp32 (fp16 blocks run in fp32, as force_fp32=True)",
        "w_avg_source": "mapping.w_avg" if w_avg is not None else "computed (no mapping.w_avg)",
    }
    return gen, meta


def _synthesis_kwargs(synthesis: PersistentRecord, g_kwargs: dict) -> dict:
    """SynthesisNetwork init kwargs: its own record (both repos), else G's ``synthesis_kwargs`` (ada-pytorch)."""
    own = plain(synthesis.attr("_init_kwargs") or {})
    if isinstance(own, dict) and own:
        return own
    nested = g_kwargs.get("synthesis_kwargs")
    return nested if isinstance(nested, dict) else g_kwargs  # stylegan3 repo passes them flat


def _check_generator_kwargs(path: Path, g: PersistentRecord, kwargs: dict, syn_kw: dict) -> None:
    c_dim = g.attr("c_dim", kwargs.get("c_dim", 0)) or 0
    if int(c_dim) > 0:
        raise ModelFileError(path, f"conditional generator (c_dim={int(c_dim)}): class-conditional models are "
                                   "not supported")
    img_channels = g.attr("img_channels", kwargs.get("img_channels", 3))
    if int(img_channels) != 3:
        raise ModelFileError(path, f"generator makes {int(img_channels)}-channel images; only RGB (3) is supported")
    z_dim, w_dim = g.attr("z_dim", kwargs.get("z_dim")), g.attr("w_dim", kwargs.get("w_dim"))
    if z_dim is not None and w_dim is not None and int(z_dim) != int(w_dim):
        raise ModelFileError(path, f"z_dim {int(z_dim)} differs from w_dim {int(w_dim)}: unsupported mapping network")
    arch = syn_kw.get("architecture", "skip")
    if arch != "skip":
        raise ModelFileError(path, f"generator architecture {arch!r}: only the 'skip' StyleGAN2 generator is supported")


def _map_mapping(path: Path, mapping: PersistentRecord, t: dict) -> tuple[dict, torch.Tensor | None, float]:
    sd: dict[str, torch.Tensor] = {}
    fcs = sorted(int(k[2:]) for k in mapping.children() if k.startswith("fc") and k[2:].isdigit())
    if not fcs or fcs != list(range(len(fcs))):
        raise ModelFileError(path, "mapping network layers fc0..fcN missing")
    if mapping.child("embed") is not None:
        raise ModelFileError(path, "conditional generator (label embedding present): not supported")
    lr_muls = set()
    for i in fcs:
        fc = mapping.child(f"fc{i}")
        if fc.attr("activation", "lrelu") != "lrelu":
            raise ModelFileError(path, f"mapping activation {fc.attr('activation')!r}: only 'lrelu' is supported")
        lr_muls.add(float(fc.attr("bias_gain", 0.01)))
        w, b = t.get(f"mapping.fc{i}.weight"), t.get(f"mapping.fc{i}.bias")
        if w is None or b is None or w.ndim != 2 or w.shape[0] != w.shape[1]:
            raise ModelFileError(path, f"mapping layer fc{i} has an unsupported shape (needs square, with bias)")
        sd[f"style.{i + 1}.weight"], sd[f"style.{i + 1}.bias"] = w, b
        wg = fc.attr("weight_gain")
        if wg is not None and not math.isclose(float(wg), float(fc.attr("bias_gain", 0.01)) / math.sqrt(w.shape[1]),
                                                rel_tol=1e-6):
            raise ModelFileError(path, f"mapping layer fc{i} has an unexpected weight gain {float(wg)}")
    if len(lr_muls) != 1:
        raise ModelFileError(path, f"mapping layers use different learning-rate multipliers {sorted(lr_muls)}")
    return sd, t.get("mapping.w_avg"), lr_muls.pop()


def _map_layer(path: Path, layer: PersistentRecord, nv: str, ros: str, t: dict, sd: dict) -> None:
    """One SynthesisLayer ``nv`` (e.g. ``synthesis.b8.conv0``) into rosinality module ``ros``."""
    if layer.attr("activation", "lrelu") != "lrelu":
        raise ModelFileError(path, f"{nv}: activation {layer.attr('activation')!r} is not supported")
    w = t[f"{nv}.weight"]
    if w.ndim != 4 or w.shape[2:] != (3, 3):
        raise ModelFileError(path, f"{nv}: expected a 3x3 convolution, got weight {list(w.shape)}")
    sd[f"{ros}.conv.weight"] = w.unsqueeze(0)
    sd[f"{ros}.conv.modulation.weight"] = t[f"{nv}.affine.weight"]
    sd[f"{ros}.conv.modulation.bias"] = t[f"{nv}.affine.bias"]
    sd[f"{ros}.activate.bias"] = t[f"{nv}.bias"]
    strength = t.get(f"{nv}.noise_strength")
    sd[f"{ros}.noise.weight"] = strength.reshape(1) if strength is not None else torch.zeros(1)


def _map_torgb(path: Path, nv: str, ros: str, t: dict, sd: dict) -> None:
    w = t[f"{nv}.weight"]
    if w.ndim != 4 or w.shape[0] != 3 or w.shape[2:] != (1, 1):
        raise ModelFileError(path, f"{nv}: expected a 1x1 RGB convolution, got weight {list(w.shape)}")
    sd[f"{ros}.conv.weight"] = w.unsqueeze(0)
    sd[f"{ros}.conv.modulation.weight"] = t[f"{nv}.affine.weight"]
    sd[f"{ros}.conv.modulation.bias"] = t[f"{nv}.affine.bias"]
    sd[f"{ros}.bias"] = t[f"{nv}.bias"].reshape(1, 3, 1, 1)


def _noise(layer: PersistentRecord, nv: str, t: dict, res: int) -> torch.Tensor:
    n = t.get(f"{nv}.noise_const")
    if n is None:  # use_noise=False: strength is 0 anyway
        return torch.zeros(1, 1, res, res)
    return n.reshape(1, 1, res, res)


def _map_synthesis(path: Path, syn: PersistentRecord, t: dict, sd: dict) -> tuple[float | None, tuple]:
    """Fill ``sd`` with synthesis tensors; return (conv_clamp, resample taps)."""
    blocks = {}
    for name, rec in syn.children().items():
        if not (name.startswith("b") and name[1:].isdigit()):
            raise ModelFileError(path, f"unknown synthesis module {name!r}: not a StyleGAN2 generator")
        blocks[int(name[1:])] = rec
    res_list = sorted(blocks)
    top = res_list[-1]
    if res_list != [2**i for i in range(2, int(math.log2(top)) + 1)] or top < 8:
        raise ModelFileError(path, f"synthesis blocks {res_list} are not 4, 8, ..., resolution")
    try:
        clamps, filters = set(), []
        for res in res_list:
            blk = blocks[res]
            if blk.attr("architecture", "skip") != "skip":
                raise ModelFileError(path, f"generator architecture {blk.attr('architecture')!r}: only 'skip' "
                                           "StyleGAN2 generators are supported")
            if blk.child("torgb") is None:
                raise ModelFileError(path, f"synthesis block b{res} has no toRGB layer (not a skip generator)")
            nv = f"synthesis.b{res}"
            if f"{nv}.resample_filter" in t:
                filters.append(t[f"{nv}.resample_filter"])
            layers = [("conv1", blk.child("conv1"))] if res == 4 else [("conv0", blk.child("conv0")),
                                                                        ("conv1", blk.child("conv1"))]
            for lname, layer in layers:
                if layer is None:
                    raise ModelFileError(path, f"synthesis block b{res} lacks {lname}")
                clamps.add(layer.attr("conv_clamp"))
                if f"{nv}.{lname}.resample_filter" in t:
                    filters.append(t[f"{nv}.{lname}.resample_filter"])
            clamps.add(blk.child("torgb").attr("conv_clamp"))
            if res == 4:
                sd["input.input"] = t[f"{nv}.const"].unsqueeze(0)
                _map_layer(path, blocks[4].child("conv1"), f"{nv}.conv1", "conv1", t, sd)
                _map_torgb(path, f"{nv}.torgb", "to_rgb1", t, sd)
                sd["noises.noise_0"] = _noise(blk.child("conv1"), f"{nv}.conv1", t, 4)
                continue
            j, log = int(math.log2(res)) - 3, int(math.log2(res))
            _map_layer(path, blk.child("conv0"), f"{nv}.conv0", f"convs.{2 * j}", t, sd)
            _map_layer(path, blk.child("conv1"), f"{nv}.conv1", f"convs.{2 * j + 1}", t, sd)
            _map_torgb(path, f"{nv}.torgb", f"to_rgbs.{j}", t, sd)
            sd[f"noises.noise_{2 * log - 5}"] = _noise(blk.child("conv0"), f"{nv}.conv0", t, res)
            sd[f"noises.noise_{2 * log - 4}"] = _noise(blk.child("conv1"), f"{nv}.conv1", t, res)
    except KeyError as exc:
        raise ModelFileError(path, f"synthesis tensor {exc.args[0]} missing") from None
    if len(clamps) != 1:
        raise ModelFileError(path, f"layers use different conv_clamp values {sorted(map(str, clamps))}")
    clamp = clamps.pop()
    return (None if clamp is None else float(clamp)), resample_taps(path, filters)


def resample_taps(path: Path, filters: list[torch.Tensor]) -> tuple[int, ...]:
    """Integer 1-D taps whose normalised outer product is every stored 2-D ``resample_filter``."""
    if not filters:
        return (1, 3, 3, 1)
    f = filters[0].double()
    if any(g.shape != f.shape or not torch.allclose(g.double(), f, atol=1e-7) for g in filters):
        raise ModelFileError(path, "synthesis layers use different resample filters")
    if f.ndim == 1:
        f = f[:, None] * f[None, :] / f.sum() ** 2
    row = f.sum(0)
    if f.ndim != 2 or not torch.allclose(row[:, None] * row[None, :], f, atol=1e-7):
        raise ModelFileError(path, "non-separable resample filter is not supported")
    taps = row / row.min()
    rounded = torch.round(taps)
    if row.min() <= 0 or not torch.allclose(taps, rounded, atol=1e-4):
        raise ModelFileError(path, f"resample filter taps {row.tolist()} are not supported")
    return tuple(int(v) for v in rounded.tolist())


# ---- helpers -------------------------------------------------------------------------------------
def plain(obj, depth: int = 0):
    """JSON-friendly copy of pickled kwargs (dicts, lists, numbers, strings); other things by type name."""
    if depth > 8:
        return "..."
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {str(k): plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v, depth + 1) for v in obj]
    return f"<{type(obj).__name__}>"


def _describe(obj) -> str:
    if isinstance(obj, dict):
        return f"a dict with keys {sorted(str(k) for k in obj)[:5]}"
    if isinstance(obj, PersistentRecord):
        return f"a single {obj.class_name!r} network"
    return f"a {type(obj).__name__}"
