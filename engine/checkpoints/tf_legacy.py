"""TF-era StyleGAN2 pickles (``stylegan2-ffhq-config-f.pkl``): ``(G, D, Gs)`` of ``dnnlib.tflib`` networks.

Each network's pickled state holds ``static_kwargs``, ``components`` (sub-networks) and ``variables``
(a list of ``(name, numpy array)``); no TensorFlow is needed. ``Gs`` is converted as rosinality's
``convert_weight.py`` does: dense weights transposed, conv HWIO -> OIHW, modulation
weight transposed and bias + 1, ``Conv0_up`` weights flipped spatially, ``dlatent_avg`` -> ``w_avg``.
TF's demodulation epsilon is rosinality's, so ``demod_eps_mode`` stays ``"rosinality"``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from engine.generator import Generator

from .errors import ModelFileError
from .nvidia import plain, resample_taps
from .rosinality import build_from_state_dict
from .safe_pickle import TFNetworkRecord

_KNOWN_ARCH = ("skip",)


def collect_tf_params(net: TFNetworkRecord, prefix: str = "", depth: int = 0) -> dict[str, np.ndarray]:
    """All variables of ``net`` and its components, named ``component/.../variable``."""
    if depth > 4:
        return {}
    out: dict[str, np.ndarray] = {}
    for item in net.variables:
        if isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str):
            out[prefix + item[0]] = item[1]
    for name, comp in net.components.items():
        if isinstance(comp, TFNetworkRecord):
            out.update(collect_tf_params(comp, f"{prefix}{name}/", depth + 1))
    return out


def _array(path: Path, params: dict, name: str) -> torch.Tensor:
    try:
        value = params[name]
    except KeyError:
        raise ModelFileError(path, f"TF variable {name!r} missing: not a StyleGAN2 (config E/F) generator") from None
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        raise ModelFileError(path, f"TF variable {name!r} is not a numeric array")
    return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))


def _hwio_to_oihw(w: torch.Tensor) -> torch.Tensor:
    return w.permute(3, 2, 0, 1)


def convert_tf_generator(path: Path, gs: TFNetworkRecord) -> tuple[Generator, dict]:
    """Rosinality-named generator from a TF ``Gs`` network record."""
    kw = gs.static_kwargs
    for comp in gs.components.values():  # sub-networks may carry the synthesis/mapping kwargs
        if isinstance(comp, TFNetworkRecord):
            kw = {**comp.static_kwargs, **kw}
    if int(kw.get("label_size", 0) or 0) > 0:
        raise ModelFileError(path, f"conditional generator (label_size={kw['label_size']}): not supported")
    if int(kw.get("num_channels", 3) or 3) != 3:
        raise ModelFileError(path, f"generator makes {kw['num_channels']}-channel images; only RGB (3) is supported")
    arch = kw.get("architecture", "skip") or "skip"
    params = collect_tf_params(gs)
    if any(re.fullmatch(r"synthesis/ToRGB_lod\d+/.*", k) for k in params):
        arch = "orig"
    if arch not in _KNOWN_ARCH:
        raise ModelFileError(path, f"generator architecture {arch!r}: only the 'skip' StyleGAN2 generator is supported")
    for act_key in ("nonlinearity", "mapping_nonlinearity"):
        if kw.get(act_key, "lrelu") != "lrelu":
            raise ModelFileError(path, f"{act_key} {kw[act_key]!r}: only 'lrelu' is supported")
    if "synthesis/4x4/Conv/mod_weight" not in params:
        raise ModelFileError(path, "TF network without modulated convolutions: not a StyleGAN2 generator "
                                   "(StyleGAN1 pickles are not supported)")

    sd: dict[str, torch.Tensor] = {}
    n_mlp = 0
    while f"mapping/Dense{n_mlp}/weight" in params:
        sd[f"style.{n_mlp + 1}.weight"] = _array(path, params, f"mapping/Dense{n_mlp}/weight").t()
        sd[f"style.{n_mlp + 1}.bias"] = _array(path, params, f"mapping/Dense{n_mlp}/bias")
        n_mlp += 1
    if n_mlp == 0:
        raise ModelFileError(path, "TF mapping network has no Dense layers")

    def layer(tf: str, ros: str, flip: bool = False) -> None:
        w = _array(path, params, f"{tf}/weight")
        if flip:
            w = torch.flip(w, [0, 1])
        sd[f"{ros}.conv.weight"] = _hwio_to_oihw(w).unsqueeze(0)
        sd[f"{ros}.conv.modulation.weight"] = _array(path, params, f"{tf}/mod_weight").t()
        sd[f"{ros}.conv.modulation.bias"] = _array(path, params, f"{tf}/mod_bias") + 1
        if ros.startswith("to_rgb"):
            sd[f"{ros}.bias"] = _array(path, params, f"{tf}/bias").reshape(1, -1, 1, 1)
        else:
            sd[f"{ros}.noise.weight"] = (_array(path, params, f"{tf}/noise_strength").reshape(1)
                                         if f"{tf}/noise_strength" in params else torch.zeros(1))
            sd[f"{ros}.activate.bias"] = _array(path, params, f"{tf}/bias")

    sd["input.input"] = _array(path, params, "synthesis/4x4/Const/const").reshape(1, -1, 4, 4)
    layer("synthesis/4x4/Conv", "conv1")
    layer("synthesis/4x4/ToRGB", "to_rgb1")
    res, j = 8, 0
    while f"synthesis/{res}x{res}/Conv0_up/weight" in params:
        layer(f"synthesis/{res}x{res}/Conv0_up", f"convs.{2 * j}", flip=True)
        layer(f"synthesis/{res}x{res}/Conv1", f"convs.{2 * j + 1}")
        layer(f"synthesis/{res}x{res}/ToRGB", f"to_rgbs.{j}")
        res, j = res * 2, j + 1
    size = res // 2
    for i in range(2 * int(np.log2(size)) - 3):
        r = 2 ** ((i + 5) // 2)
        name = f"synthesis/noise{i}"
        sd[f"noises.noise_{i}"] = (_array(path, params, name).reshape(1, 1, r, r) if name in params
                                   else torch.zeros(1, 1, r, r))

    w_avg = _array(path, params, "dlatent_avg") if "dlatent_avg" in params else None
    clamp = kw.get("conv_clamp")
    taps = resample_taps(path, [torch.tensor(kw["resample_kernel"], dtype=torch.float64)]
                         if kw.get("resample_kernel") is not None else [])
    gen = build_from_state_dict(sd, w_avg, path, lr_mlp=float(kw.get("mapping_lrmul", 0.01)),
                                conv_clamp=None if clamp is None else float(clamp), blur_kernel=taps)
    meta = {
        "tf_network": gs.name,
        "static_kwargs": plain(kw),
        "conv_clamp": None if clamp is None else float(clamp),
        "w_avg_source": "dlatent_avg" if w_avg is not None else "computed (no dlatent_avg)",
    }
    return gen, meta
