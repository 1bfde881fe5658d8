"""StyleGAN2 generator in plain PyTorch, with a first-class StyleSpace.

Parameter names and shapes are those of rosinality/stylegan2-pytorch, so a ``g_ema`` state dict
loads as is. The generator is split along the data path::

    z --mapping--> w --truncate--> W+ [B, num_ws, D] --styles--> s (26 vectors at 1024) --synthesize--> image

``synthesize`` takes the style vectors from outside, so edits in S (directions, trainable
offsets) need no copy of the model. Two implementations of the modulated convolution:

* ``impl="reference"``: per-sample weights and a grouped convolution, literally as the reference
  code does it;
* ``impl="fast"``: the same maths on activations (scale inputs by s, one shared-weight conv,
  scale outputs by the demodulation coefficients); faster for batches, equal within float error.

Gains are explicit, as in NVIDIA's ``networks.py``: stored weights are N(0, 1) (mapping: N(0,
1/lr_mul)) and scaled at run time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .config import GeneratorConfig
from .ops import bias_leaky_relu, make_kernel, upfirdn2d

NOISE_MODES = ("const", "random", "none")
IMPLS = ("reference", "fast")


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Dense layer with equalised learning rate: applied weight = stored * lr_mul / sqrt(in)."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activation: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.weight_gain = lr_mul / math.sqrt(in_dim)
        self.bias_gain = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation:
            return bias_leaky_relu(F.linear(x, self.weight * self.weight_gain), self.bias * self.bias_gain)
        return F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)


class Blur(nn.Module):
    """FIR low-pass after the transposed (upsampling) convolution; kernel stored x4 as rosinality does."""

    def __init__(self, taps: Sequence[int], pad: tuple[int, int], gain: float) -> None:
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps) * gain)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """2x FIR upsampling of the skip RGB image."""

    def __init__(self, taps: Sequence[int], factor: int = 2) -> None:
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps) * factor**2)
        p = len(taps) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class ModulatedConv2d(nn.Module):
    """Style-modulated convolution. ``modulation`` is the affine layer whose output is StyleSpace."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, demodulate: bool = True,
                 upsample: bool = False, blur_kernel: Sequence[int] = (1, 3, 3, 1),
                 demod_eps_mode: str = "rosinality") -> None:
        super().__init__()
        self.in_channel, self.out_channel, self.kernel_size = in_ch, out_ch, kernel_size
        self.upsample, self.demodulate = upsample, demodulate
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)
        self.weight_gain = 1.0 / math.sqrt(in_ch * kernel_size**2)
        # NVIDIA adds eps to sum((w*s)^2) without the weight gain: the same as a larger eps here.
        self.demod_eps = 1e-8 if demod_eps_mode == "rosinality" else 1e-8 * self.weight_gain**2
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), gain=factor**2)
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor, s: torch.Tensor, impl: str = "reference") -> torch.Tensor:
        if impl == "fast":
            return self._forward_fast(x, s)
        return self._forward_reference(x, s)

    def _forward_reference(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        weight = self.weight_gain * self.weight * s.float().view(b, 1, c, 1, 1)
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + self.demod_eps)
            weight = weight * demod.view(b, self.out_channel, 1, 1, 1)
        weight = weight.to(x.dtype)
        k = self.kernel_size
        x = x.reshape(1, b * c, h, w)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(b * c, self.out_channel, k, k)
            out = F.conv_transpose2d(x, weight, stride=2, padding=0, groups=b)
            out = out.view(b, self.out_channel, out.shape[2], out.shape[3])
            return self.blur(out)
        weight = weight.view(b * self.out_channel, c, k, k)
        out = F.conv2d(x, weight, padding=self.padding, groups=b)
        return out.view(b, self.out_channel, h, w)

    def demodulation(self, s: torch.Tensor) -> torch.Tensor:
        """Per-sample, per-output-channel demodulation coefficients [B, out] without per-sample weights."""
        wsq = (self.weight[0] * self.weight_gain).pow(2).sum([2, 3])  # [out, in]
        return torch.rsqrt(s.pow(2) @ wsq.t() + self.demod_eps)

    def _forward_fast(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Batch 1: modulate the (small) weight; batches: modulate activations, one shared-weight conv."""
        b = x.shape[0]
        s = s.float()
        weight = self.weight[0] * self.weight_gain
        if b == 1:
            weight = weight * s.view(1, -1, 1, 1)
            if self.demodulate:
                weight = weight * self.demodulation(s).view(-1, 1, 1, 1)
            out = self._conv(x, weight.to(x.dtype))
        else:
            out = self._conv(x * s.view(b, -1, 1, 1).to(x.dtype), weight.to(x.dtype))
            if self.demodulate:
                out = out * self.demodulation(s).view(b, -1, 1, 1).to(out.dtype)
        return self.blur(out) if self.upsample else out

    def _conv(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            return F.conv_transpose2d(x, weight.transpose(0, 1), stride=2, padding=0)
        return F.conv2d(x, weight, padding=self.padding)


class NoiseInjection(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if noise is None:
            return x
        return x + self.weight.to(x.dtype) * noise.to(x.dtype)


class BiasedActivation(nn.Module):
    """Bias + leaky ReLU * sqrt(2) (rosinality's ``FusedLeakyReLU``), with NVIDIA's optional clamp.

    NVIDIA's ``SynthesisLayer`` passes ``clamp=conv_clamp * gain`` with the layer's call ``gain`` (1),
    not the sqrt(2) activation gain, so activations are clamped to +-conv_clamp after the gain.
    """

    def __init__(self, channels: int, clamp: float | None = None) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.clamp = clamp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bias_leaky_relu(x, self.bias, clamp=self.clamp)


class StyledConv(nn.Module):
    """Modulated conv -> noise -> bias + activation."""

    def __init__(self, in_ch: int, out_ch: int, style_dim: int, cfg: GeneratorConfig, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, style_dim, upsample=upsample,
                                    blur_kernel=cfg.blur_kernel, demod_eps_mode=cfg.demod_eps_mode)
        self.noise = NoiseInjection()
        self.activate = BiasedActivation(out_ch, clamp=cfg.conv_clamp)

    def forward(self, x, s, noise, impl="reference", in_scale: torch.Tensor | None = None):
        if in_scale is not None:  # DomMod: demodulated weight scaled per input channel == input scaled
            x = x * in_scale.to(x.dtype).view(in_scale.shape[0] if in_scale.ndim == 2 else 1, -1, 1, 1)
        return self.activate(self.noise(self.conv(x, s, impl), noise))


class ToRGB(nn.Module):
    """1x1 modulated conv (no demodulation) + bias, added to the upsampled skip image."""

    def __init__(self, in_ch: int, style_dim: int, cfg: GeneratorConfig, upsample: bool = True) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample(cfg.blur_kernel)
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.clamp = cfg.conv_clamp

    def forward(self, x, s, skip=None, impl="reference"):
        out = self.conv(x, s, impl).float() + self.bias  # the RGB skip path stays fp32
        if self.clamp is not None:
            out = out.clamp(-self.clamp, self.clamp)
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConstantInput(nn.Module):
    def __init__(self, channels: int, size: int = 4) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.repeat(batch, 1, 1, 1)


class Generator(nn.Module):
    """StyleGAN2 generator (skip architecture) with explicit W, W+ and StyleSpace stages."""

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        cfg = config or GeneratorConfig()
        self.config = cfg
        ch, d = cfg.channels, cfg.style_dim
        self.style = nn.Sequential(
            PixelNorm(), *[EqualLinear(d, d, lr_mul=cfg.lr_mlp, activation=True) for _ in range(cfg.n_mlp)]
        )
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], d, cfg)
        self.to_rgb1 = ToRGB(ch[4], d, cfg, upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_ch = ch[4]
        for res in cfg.resolutions[1:]:
            out_ch = ch[res]
            self.convs.append(StyledConv(in_ch, out_ch, d, cfg, upsample=True))
            self.convs.append(StyledConv(out_ch, out_ch, d, cfg))
            self.to_rgbs.append(ToRGB(out_ch, d, cfg))
            in_ch = out_ch
        self.noises = nn.Module()
        for i in range(cfg.num_noise):
            r = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, r, r))
        # Average W for truncation; not in rosinality's state dict (it travels as ``latent_avg``).
        self.register_buffer("w_avg", torch.zeros(d), persistent=False)

    # ---- layer bookkeeping -------------------------------------------------------------------------
    def style_modules(self) -> list[tuple[str, ModulatedConv2d, int]]:
        """The modulated convs in StyleSpace order: (rosinality name, module, W+ row)."""
        out = [("conv1", self.conv1.conv, 0), ("to_rgb1", self.to_rgb1.conv, 1)]
        for j in range(len(self.to_rgbs)):
            out.append((f"convs.{2 * j}", self.convs[2 * j].conv, 2 * j + 1))
            out.append((f"convs.{2 * j + 1}", self.convs[2 * j + 1].conv, 2 * j + 2))
            out.append((f"to_rgbs.{j}", self.to_rgbs[j].conv, 2 * j + 3))
        return out

    @property
    def num_ws(self) -> int:
        return self.config.num_ws

    # ---- z -> w -> W+ ------------------------------------------------------------------------------
    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        return self.style(z)

    @torch.no_grad()
    def compute_w_avg(self, n: int = 4096, seed: int = 0) -> torch.Tensor:
        """Mean of the mapping over ``n`` seeded z samples (for checkpoints without a stored average)."""
        from engine.pipeline.seeds import sample_w  # one "seeded z through the mapping" for the engine

        return sample_w(self, n, seed).mean(0)

    def truncate(self, w: torch.Tensor, psi: float = 1.0, cutoff: int | None = None) -> torch.Tensor:
        """W [B, D] (or W+ [B, num_ws, D]) -> truncated W+ [B, num_ws, D].

        ``w' = w_avg + psi * (w - w_avg)`` on the first ``cutoff`` rows (all rows when None).
        """
        if w.ndim == 2:
            w = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if psi == 1.0:
            return w
        avg = self.w_avg.to(w.dtype)
        truncated = avg + psi * (w - avg)
        if cutoff is None or cutoff >= self.num_ws:
            return truncated
        return torch.cat([truncated[:, :cutoff], w[:, cutoff:]], dim=1)

    # ---- W+ -> S -----------------------------------------------------------------------------------
    def styles(self, w_plus: torch.Tensor) -> list[torch.Tensor]:
        """W+ [B, num_ws, D] -> the affine outputs s, one [B, C_in] tensor per layer in StyleSpace order."""
        return [mod.modulation(w_plus[:, row]) for _, mod, row in self.style_modules()]

    # ---- noise ---------------------------------------------------------------------------------------
    def make_noise(self, batch: int, mode: str = "const", generator: torch.Generator | None = None,
                   device=None) -> list[torch.Tensor | None]:
        if mode not in NOISE_MODES:
            raise ValueError(f"noise mode must be one of {NOISE_MODES}, got {mode!r}")
        bufs = [getattr(self.noises, f"noise_{i}") for i in range(self.config.num_noise)]
        if mode == "none":
            return [None] * len(bufs)
        if mode == "const":
            return bufs
        device = device or bufs[0].device
        return [torch.randn(batch, 1, *b.shape[2:], generator=generator, device="cpu").to(device) for b in bufs]

    # ---- S -> image --------------------------------------------------------------------------------
    def synthesize(self, styles: Sequence[torch.Tensor], noise_mode: str = "const",
                   noise: Sequence[torch.Tensor | None] | None = None, max_resolution: int | None = None,
                   impl: str = "reference", generator: torch.Generator | None = None,
                   dtype: torch.dtype | None = None,
                   conv_scales: Sequence[torch.Tensor | None] | None = None) -> torch.Tensor:
        """Render from StyleSpace. Stops after ``max_resolution`` and returns that skip-RGB image.

        ``dtype`` sets the activation precision (fp32 by default; fp16/bf16 for fast previews):
        styles, demodulation and the RGB skip path stay fp32.
        ``conv_scales`` (one entry per StyleSpace layer, ``[C]`` or ``[B, C]``, None = unchanged; toRGB
        entries must be None) scales each conv's demodulated weight per input channel (DomMod,
        ``cin_mult``): demodulation still sees only ``s``.
        """
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        if len(styles) != len(self.style_modules()):
            raise ValueError(f"expected {len(self.style_modules())} style vectors, got {len(styles)}")
        batch = styles[0].shape[0]
        if noise is None:
            noise = self.make_noise(batch, noise_mode, generator, device=styles[0].device)
        limit = max_resolution or self.config.size
        if limit not in self.config.resolutions:
            raise ValueError(f"max_resolution must be one of {self.config.resolutions}, got {limit}")
        x = self.input(batch).to(dtype or torch.float32)
        if impl == "fast":
            x = x.contiguous(memory_format=torch.channels_last)
        scales = list(conv_scales) if conv_scales is not None else [None] * len(styles)
        if len(scales) != len(styles) or any(scales[i] is not None for i in range(1, len(styles), 3)):
            raise ValueError("conv_scales needs one entry per style layer, None for every toRGB layer")
        if impl == "fast" and batch > 1 and styles[0].device.type == "cpu" and not torch.is_grad_enabled():
            # For inference on CPUs a batch costs more per image than single samples with modulated
            # weights; with autograd (training) one batched graph is about 2x faster than the split.
            def pick(t: torch.Tensor | None, i: int) -> torch.Tensor | None:
                return t if t is None or t.ndim == 1 or t.shape[0] == 1 else t[i : i + 1]

            return torch.cat([
                self.synthesize([s[i : i + 1] for s in styles], noise=[pick(n, i) for n in noise],
                                max_resolution=limit, impl=impl, dtype=dtype, conv_scales=[pick(c, i) for c in scales])
                for i in range(batch)
            ])
        x = self.conv1(x, styles[0], noise[0], impl, scales[0])
        skip = self.to_rgb1(x, styles[1], impl=impl)
        res = 4
        for j in range(len(self.to_rgbs)):
            if res >= limit:
                break
            si = 2 + 3 * j
            x = self.convs[2 * j](x, styles[si], noise[1 + 2 * j], impl, scales[si])
            x = self.convs[2 * j + 1](x, styles[si + 1], noise[2 + 2 * j], impl, scales[si + 1])
            skip = self.to_rgbs[j](x, styles[si + 2], skip, impl=impl)
            res *= 2
        return skip

    def forward(self, z: torch.Tensor, psi: float = 1.0, cutoff: int | None = None, noise_mode: str = "const",
                max_resolution: int | None = None, impl: str = "reference") -> torch.Tensor:
        """z [B, D] -> image [B, 3, H, W] in about [-1, 1]."""
        w_plus = self.truncate(self.mapping(z), psi, cutoff)
        return self.synthesize(self.styles(w_plus), noise_mode, max_resolution=max_resolution, impl=impl)
