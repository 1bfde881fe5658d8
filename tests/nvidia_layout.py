"""Test helpers: write pickles in NVIDIA's layouts and run NVIDIA / TF forward passes independently.

* ``Nv*`` modules mirror stylegan2-ada-pytorch's ``training/networks.py`` (attribute names, buffers,
  numpy-float gains, ``_init_kwargs``) and pickle exactly as ``torch_utils.persistence`` objects do:
  ``_reconstruct_persistent_obj(meta)`` with ``meta = {type, version, module_src, class_name, state}``.
* ``write_tf_pickle`` writes ``(G, D, Gs)`` of ``dnnlib.tflib.network.Network`` objects.
* ``nvidia_forward`` / ``tf_forward`` are written from NVIDIA's equations with plain torch ops,
  sharing no code with ``engine``.

While writing, stand-in ``torch_utils``/``dnnlib`` modules sit in ``sys.modules`` so ``pickle`` can name
the globals; they are removed again before anything is loaded.
"""

from __future__ import annotations

import contextlib
import copy
import math
import pickle
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)
TAPS = [1, 3, 3, 1]


# ---- stand-ins for NVIDIA's globals (only while pickling) -----------------------------------------
def _reconstruct_persistent_obj(meta):  # never called: the loader must not use it
    raise AssertionError("stand-in must not be called")


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"


class EasyDict(dict):
    """Pickles as ``dnnlib.util.EasyDict``."""


EasyDict.__module__ = "dnnlib.util"


class Network:
    """Pickles as ``dnnlib.tflib.network.Network`` with the state layout of its ``__getstate__``."""

    def __init__(self, name, static_kwargs, components, variables, func_name):
        self._state = {"version": 4, "name": name, "static_kwargs": dict(static_kwargs),
                       "components": dict(components), "build_module_src": "import tensorflow as tf\n",
                       "build_func_name": func_name, "variables": list(variables)}

    def __getstate__(self):
        return self._state


Network.__module__ = "dnnlib.tflib.network"


@contextlib.contextmanager
def nvidia_globals():
    names = ["torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util", "dnnlib.tflib",
             "dnnlib.tflib.network"]
    assert not any(n in sys.modules for n in names)
    mods = {n: types.ModuleType(n) for n in names}
    mods["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
    mods["dnnlib.util"].EasyDict = EasyDict
    mods["dnnlib.tflib.network"].Network = Network
    sys.modules.update(mods)
    try:
        yield
    finally:
        for n in names:
            sys.modules.pop(n, None)


# ---- NVIDIA-layout modules -------------------------------------------------------------------------
def setup_filter(taps=TAPS) -> torch.Tensor:
    f = torch.tensor(taps, dtype=torch.float32)
    f = f[:, None] * f[None, :]
    return f / f.sum()


class NvModule(torch.nn.Module):
    """Reduces like a ``@persistent_class`` instance; ``module_src`` is text the loader must not run."""

    module_src = "import numpy as np\n"

    def __init__(self, **init_kwargs):
        super().__init__()
        self._init_args = ()
        self._init_kwargs = copy.deepcopy(init_kwargs)

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def __reduce__(self):
        meta = dict(type="class", version=6, module_src=self.module_src, class_name=type(self).__name__[2:],
                    state=self.__getstate__())
        return (_reconstruct_persistent_obj, (meta,))


class NvFullyConnectedLayer(NvModule):
    def __init__(self, in_features, out_features, activation="linear", lr_multiplier=1, bias_init=0):
        super().__init__(in_features=in_features, out_features=out_features, activation=activation,
                         lr_multiplier=lr_multiplier, bias_init=bias_init)
        self.activation = activation
        self.weight = torch.nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = torch.nn.Parameter(torch.full([out_features], np.float32(bias_init)))
        self.weight_gain = lr_multiplier / np.sqrt(in_features)
        self.bias_gain = lr_multiplier


class NvMappingNetwork(NvModule):
    def __init__(self, z_dim, c_dim, w_dim, num_ws, num_layers=8, lr_multiplier=0.01):
        super().__init__(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=num_ws, num_layers=num_layers,
                         lr_multiplier=lr_multiplier)
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, c_dim, w_dim, num_ws, num_layers
        self.w_avg_beta = 0.995
        if c_dim > 0:
            self.embed = NvFullyConnectedLayer(c_dim, w_dim)
        feats = [z_dim + (w_dim if c_dim else 0)] + [w_dim] * num_layers
        for i in range(num_layers):
            setattr(self, f"fc{i}", NvFullyConnectedLayer(feats[i], feats[i + 1], activation="lrelu",
                                                          lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros([w_dim]))


class NvSynthesisLayer(NvModule):
    def __init__(self, in_channels, out_channels, w_dim, resolution, up=1, conv_clamp=None):
        super().__init__(in_channels=in_channels, out_channels=out_channels, w_dim=w_dim, resolution=resolution,
                         up=up, conv_clamp=conv_clamp)
        self.resolution, self.up, self.use_noise, self.activation = resolution, up, True, "lrelu"
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter())
        self.padding = 1
        self.act_gain = np.sqrt(2)
        self.affine = NvFullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, 3, 3]))
        self.register_buffer("noise_const", torch.randn([resolution, resolution]))
        self.noise_strength = torch.nn.Parameter(torch.zeros([]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))


class NvToRGBLayer(NvModule):
    def __init__(self, in_channels, out_channels, w_dim, conv_clamp=None):
        super().__init__(in_channels=in_channels, out_channels=out_channels, w_dim=w_dim, conv_clamp=conv_clamp)
        self.conv_clamp = conv_clamp
        self.affine = NvFullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / np.sqrt(in_channels)


class NvSynthesisBlock(NvModule):
    def __init__(self, in_channels, out_channels, w_dim, resolution, img_channels, is_last, architecture="skip",
                 conv_clamp=None, use_fp16=False):
        super().__init__(in_channels=in_channels, out_channels=out_channels, w_dim=w_dim, resolution=resolution,
                         img_channels=img_channels, is_last=is_last, architecture=architecture,
                         conv_clamp=conv_clamp, use_fp16=use_fp16)
        self.in_channels, self.w_dim, self.resolution, self.img_channels = in_channels, w_dim, resolution, img_channels
        self.is_last, self.architecture, self.use_fp16, self.channels_last = is_last, architecture, use_fp16, False
        self.register_buffer("resample_filter", setup_filter())
        self.num_conv, self.num_torgb = 0, 0
        if in_channels == 0:
            self.const = torch.nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = NvSynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, conv_clamp=conv_clamp)
            self.num_conv += 1
        self.conv1 = NvSynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = NvToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1


class NvSynthesisNetwork(NvModule):
    def __init__(self, w_dim, img_resolution, img_channels, channel_base=32768, channel_max=512, num_fp16_res=0,
                 **block_kwargs):
        super().__init__(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                         channel_base=channel_base, channel_max=channel_max, num_fp16_res=num_fp16_res,
                         **block_kwargs)
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.img_resolution_log2 = int(np.log2(img_resolution))
        self.block_resolutions = [2**i for i in range(2, self.img_resolution_log2 + 1)]
        ch = {r: min(channel_base // r, channel_max) for r in self.block_resolutions}
        fp16_res = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for r in self.block_resolutions:
            blk = NvSynthesisBlock(ch[r // 2] if r > 4 else 0, ch[r], w_dim, r, img_channels,
                                   is_last=r == img_resolution, use_fp16=r >= fp16_res, **block_kwargs)
            self.num_ws += blk.num_conv + (blk.num_torgb if r == img_resolution else 0)
            setattr(self, f"b{r}", blk)


class NvGenerator(NvModule):
    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs=None,
                 synthesis_kwargs=None):
        mapping_kwargs = EasyDict(mapping_kwargs or {})
        synthesis_kwargs = EasyDict(synthesis_kwargs or {})
        super().__init__(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
                         img_channels=img_channels, mapping_kwargs=mapping_kwargs, synthesis_kwargs=synthesis_kwargs)
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = NvSynthesisNetwork(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                                            **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = NvMappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs)


class NvDiscriminator(NvModule):
    def __init__(self, channels=8):
        super().__init__(channels=channels)
        self.fromrgb = torch.nn.Parameter(torch.randn([channels, 3, 1, 1]))


def make_nvidia_generator(seed=0, res=32, w_dim=16, conv_clamp=0.8, c_dim=0, img_channels=3, architecture="skip",
                          mapping_layers=2, num_fp16_res=2) -> NvGenerator:
    """A tiny ada-pytorch-style G with every term non-trivial (biases, noise strengths, w_avg)."""
    torch.manual_seed(seed)
    g = NvGenerator(z_dim=w_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=res, img_channels=img_channels,
                    mapping_kwargs={"num_layers": mapping_layers},
                    synthesis_kwargs={"channel_base": 256, "channel_max": 16, "num_fp16_res": num_fp16_res,
                                      "conv_clamp": conv_clamp, "architecture": architecture})
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("bias") or name.endswith("noise_strength"):
                p.add_(torch.randn(p.shape, generator=gen) * 0.3)
        if c_dim == 0:
            z = torch.randn(256, w_dim, generator=gen)
            g.mapping.w_avg.copy_(nv_mapping(g, z).mean(0) + 0.1 * torch.randn(w_dim, generator=gen))
    return g.eval().requires_grad_(False)


def write_nvidia_pickle(path, g_ema, protocol=3, module_src=None, g=None, drop=()) -> None:
    """Write ``{training_set_kwargs, G, D, G_ema, augment_pipe}`` as training_loop.py's ``pickle.dump``."""
    data = {"training_set_kwargs": EasyDict(path="~/datasets/ffhq.zip", resolution=g_ema.img_resolution,
                                            use_labels=False, max_size=70000, xflip=True),
            "G": copy.deepcopy(g_ema) if g is None else g, "D": NvDiscriminator(), "G_ema": g_ema,
            "augment_pipe": None}
    for k in drop:
        data.pop(k)
    saved = NvModule.module_src
    NvModule.module_src = module_src if module_src is not None else saved
    try:
        with nvidia_globals(), open(path, "wb") as f:
            pickle.dump(data, f, protocol=protocol)
    finally:
        NvModule.module_src = saved


# ---- NVIDIA-semantics forward (networks.py, force_fp32=True, fused modconv) -------------------------
def _upfirdn(x, f, up, pad0, pad1, gain):
    """Zero-insert upsample, pad, true convolution with ``f * gain`` (upfirdn2d semantics)."""
    b, c, h, w = x.shape
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(b, c, h * up, w * up)
    x = F.pad(x, [pad0, pad1, pad0, pad1])
    k = (f * gain).flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, k, groups=c)


def _fc(layer, x):
    y = x @ (layer.weight * float(layer.weight_gain)).t() + layer.bias * layer.bias_gain
    return F.leaky_relu(y, 0.2) * SQRT2 if layer.activation == "lrelu" else y


def nv_mapping(g, z):
    x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
    for i in range(g.mapping.num_layers):
        x = _fc(getattr(g.mapping, f"fc{i}"), x)
    return x


def _modconv(x, weight, styles, demodulate, up, f):
    out = []
    for i in range(x.shape[0]):  # one sample at a time, plain convolutions
        w = weight * styles[i].reshape(1, -1, 1, 1)
        if demodulate:
            w = w * (w.square().sum([1, 2, 3]) + 1e-8).rsqrt().reshape(-1, 1, 1, 1)
        xi = x[i : i + 1]
        if up == 2:
            xi = _upfirdn(xi, f, up=2, pad0=3, pad1=2, gain=4)  # padding 1 plus the filter's
            out.append(F.conv2d(xi, w.flip([2, 3])))  # flip_weight=False: true convolution
        else:
            out.append(F.conv2d(xi, w, padding=w.shape[-1] // 2))
    return torch.cat(out)


def _layer(layer, x, w, noise_mode):
    x = _modconv(x, layer.weight, _fc(layer.affine, w), True, layer.up, layer.resample_filter)
    if noise_mode == "const":
        x = x + layer.noise_const * layer.noise_strength
    x = F.leaky_relu(x + layer.bias.reshape(1, -1, 1, 1), 0.2) * float(layer.act_gain)
    return x if layer.conv_clamp is None else x.clamp(-layer.conv_clamp, layer.conv_clamp)


def _torgb(layer, x, w):
    y = _modconv(x, layer.weight, _fc(layer.affine, w) * float(layer.weight_gain), False, 1, None)
    y = y + layer.bias.reshape(1, -1, 1, 1)
    return y if layer.conv_clamp is None else y.clamp(-layer.conv_clamp, layer.conv_clamp)


def nvidia_forward(g, z, psi=1.0, cutoff=None, noise_mode="const"):
    """``G(z, None, truncation_psi, truncation_cutoff, noise_mode, force_fp32=True)`` from the equations."""
    ws = nv_mapping(g, z).unsqueeze(1).repeat(1, g.num_ws, 1)
    if psi != 1:
        n = g.num_ws if cutoff is None else cutoff
        ws[:, :n] = g.mapping.w_avg.lerp(ws[:, :n], psi)
    x = img = None
    w_idx = 0
    for r in g.synthesis.block_resolutions:
        blk = getattr(g.synthesis, f"b{r}")
        it = iter(ws[:, w_idx : w_idx + blk.num_conv + blk.num_torgb].unbind(1))
        w_idx += blk.num_conv
        if blk.in_channels == 0:
            x = blk.const.unsqueeze(0).repeat(z.shape[0], 1, 1, 1)
        else:
            x = _layer(blk.conv0, x, next(it), noise_mode)
        x = _layer(blk.conv1, x, next(it), noise_mode)
        if img is not None:
            img = _upfirdn(img, blk.resample_filter, up=2, pad0=2, pad1=1, gain=4)
        y = _torgb(blk.torgb, x, next(it))
        img = y if img is None else img + y
    return img


# ---- TF-era layout --------------------------------------------------------------------------------
def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float32).copy()


def tf_params_from_nvidia(g) -> dict[str, np.ndarray]:
    """The TF variables (network/.../name) that legacy.py would turn into ``g``: the inverse conversion."""
    p = {"dlatent_avg": _np(g.mapping.w_avg), "lod": np.array(0, dtype=np.float32)}
    for i in range(g.mapping.num_layers):
        fc = getattr(g.mapping, f"fc{i}")
        p[f"mapping/Dense{i}/weight"] = _np(fc.weight.t())
        p[f"mapping/Dense{i}/bias"] = _np(fc.bias)

    def layer(prefix, lay, flip=False):
        w = lay.weight.permute(2, 3, 1, 0)  # OIHW -> HWIO
        p[f"{prefix}/weight"] = _np(w.flip([0, 1]) if flip else w)
        p[f"{prefix}/mod_weight"] = _np(lay.affine.weight.t())
        p[f"{prefix}/mod_bias"] = _np(lay.affine.bias - 1)
        p[f"{prefix}/bias"] = _np(lay.bias)
        if hasattr(lay, "noise_strength"):
            p[f"{prefix}/noise_strength"] = _np(lay.noise_strength)

    for r in g.synthesis.block_resolutions:
        blk = getattr(g.synthesis, f"b{r}")
        log = int(math.log2(r))
        if r == 4:
            p["synthesis/4x4/Const/const"] = _np(blk.const[None])
            layer("synthesis/4x4/Conv", blk.conv1)
            p["synthesis/noise0"] = _np(blk.conv1.noise_const[None, None])
        else:
            layer(f"synthesis/{r}x{r}/Conv0_up", blk.conv0, flip=True)
            layer(f"synthesis/{r}x{r}/Conv1", blk.conv1)
            p[f"synthesis/noise{2 * log - 5}"] = _np(blk.conv0.noise_const[None, None])
            p[f"synthesis/noise{2 * log - 4}"] = _np(blk.conv1.noise_const[None, None])
        layer(f"synthesis/{r}x{r}/ToRGB", blk.torgb)
    return p


def write_tf_pickle(path, params: dict[str, np.ndarray], static_kwargs: dict, protocol=3) -> None:
    """``(G, D, Gs)`` of Network objects, as NVlabs/stylegan2's training loop pickles them."""
    own = [(k, v) for k, v in params.items() if "/" not in k]
    sub = {c: [(k[len(c) + 1:], v) for k, v in params.items() if k.startswith(c + "/")]
           for c in ("mapping", "synthesis")}

    def gs(name):
        comps = {"synthesis": Network("G_synthesis", static_kwargs, {}, sub["synthesis"], "G_synthesis_stylegan2"),
                 "mapping": Network("G_mapping", {**static_kwargs, "dlatent_broadcast": 8}, {}, sub["mapping"],
                                    "G_mapping")}
        return Network(name, static_kwargs, comps, own, "G_main")

    d = Network("D", {"resolution": static_kwargs.get("resolution")}, {},
                [("4x4/Dense0/weight", np.ones((4, 2), np.float32))], "D_stylegan2")
    with nvidia_globals(), open(path, "wb") as f:
        pickle.dump((gs("G"), d, gs("Gs")), f, protocol=protocol)


def tf_forward(p: dict[str, np.ndarray], z, psi=1.0, cutoff=None, lrmul=0.01):
    """NVlabs/stylegan2 ``Gs`` (G_main, G_mapping, G_synthesis_stylegan2, skip) from TF-layout variables."""
    t = {k: torch.from_numpy(v) for k, v in p.items()}
    x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
    i = 0
    while f"mapping/Dense{i}/weight" in t:
        w = t[f"mapping/Dense{i}/weight"]
        x = F.leaky_relu(x @ (w * lrmul / math.sqrt(w.shape[0])) + t[f"mapping/Dense{i}/bias"] * lrmul, 0.2) * SQRT2
        i += 1
    top = max(int(k.split("/")[1].split("x")[0]) for k in t if k.startswith("synthesis/") and "x" in k.split("/")[1])
    num_layers = 2 * int(math.log2(top)) - 2
    dl = x.unsqueeze(1).repeat(1, num_layers, 1)
    if psi != 1:
        idx = torch.arange(num_layers)[None, :, None]
        layer_psi = torch.where(idx < (num_layers if cutoff is None else cutoff), psi, 1.0)
        dl = t["dlatent_avg"] + (dl - t["dlatent_avg"]) * layer_psi
    kern = setup_filter()

    def modconv(x, y, pre, demodulate=True, up=False):
        w = t[f"{pre}/weight"]  # [k, k, I, O]
        kk, cin = w.shape[0], w.shape[2]
        s = y @ (t[f"{pre}/mod_weight"] / math.sqrt(y.shape[1])) + t[f"{pre}/mod_bias"] + 1
        ww = w[None] / math.sqrt(kk * kk * cin) * s[:, None, None, :, None]  # [B, k, k, I, O]
        if demodulate:
            ww = ww * (ww.square().sum([1, 2, 3]) + 1e-8).rsqrt()[:, None, None, None, :]
        outs = []
        for b in range(x.shape[0]):
            wb = ww[b]
            if up:  # tf.nn.conv2d_transpose with the weights flipped, then FIR pad ((p+1)//2+1, p//2+1)
                wt = wb.flip([0, 1]).permute(2, 3, 0, 1)  # [I, O, k, k]
                o = F.conv_transpose2d(x[b : b + 1], wt, stride=2)
                outs.append(_upfirdn(o, kern, up=1, pad0=1, pad1=1, gain=4))
            else:  # tf.nn.conv2d SAME, correlation
                outs.append(F.conv2d(x[b : b + 1], wb.permute(3, 2, 0, 1), padding=kk // 2))
        return torch.cat(outs)

    def layer(x, y, pre, noise, up=False):
        x = modconv(x, y, pre, up=up)
        x = x + t[noise] * t[f"{pre}/noise_strength"]
        return F.leaky_relu(x + t[f"{pre}/bias"].reshape(1, -1, 1, 1), 0.2) * SQRT2

    def torgb(x, y, pre, img):
        o = modconv(x, y, pre, demodulate=False) + t[f"{pre}/bias"].reshape(1, -1, 1, 1)
        return o if img is None else img + o

    x = t["synthesis/4x4/Const/const"].repeat(z.shape[0], 1, 1, 1)
    x = layer(x, dl[:, 0], "synthesis/4x4/Conv", "synthesis/noise0")
    img = torgb(x, dl[:, 1], "synthesis/4x4/ToRGB", None)
    for res in range(3, int(math.log2(top)) + 1):
        r = 2**res
        x = layer(x, dl[:, res * 2 - 5], f"synthesis/{r}x{r}/Conv0_up", f"synthesis/noise{res * 2 - 5}", up=True)
        x = layer(x, dl[:, res * 2 - 4], f"synthesis/{r}x{r}/Conv1", f"synthesis/noise{res * 2 - 4}")
        img = _upfirdn(img, kern, up=2, pad0=2, pad1=1, gain=4)
        img = torgb(x, dl[:, res * 2 - 3], f"synthesis/{r}x{r}/ToRGB", img)
    return img
