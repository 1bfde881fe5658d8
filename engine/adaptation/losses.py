"""Adaptation losses. Each is a callable ``loss(param, step) -> (total, {name: value})``.

* :class:`JoJoLoss` (one or more references, no CLIP): training latents keep the reference's coarse
  W+ rows and take the fine rows from random samples; the adapted render of each is pulled to its
  reference by a multi-scale pixel + image-gradient loss (+ discriminator features when the checkpoint
  carries ``d``, + LPIPS-VGG when a VGG16 file is given).
  For a reference with little colour (monochrome), a tone-map term also pulls each sample's render, pooled
  to 16 px, to the reference's global tone/colour map (:class:`ToneMap`) of that sample's unadapted render.
* :class:`PairedLoss` (source/target pairs): the adapted render of each inverted source is pulled to its
  target, pixel for pixel (same multi-scale loss, no mixing); for targets no more colourful than the model's
  faces, random faces are also pulled to the pairs' tone map of their unadapted render (pseudo-pairs).
* :class:`MTGLoss` (one reference, CLIP): Mind the Gap as StyleDomain's ``im2im_mtg``: across-domain
  direction (1), within-domain (0.5), CLIP reference (30) and reconstruction of G_t(w_ref) (10).
* :class:`NadaLoss` (text): StyleGAN-NADA directional loss over prompt templates (1) + in-domain (0.25).

CLIP losses are computed per encoder and summed. Latents are drawn from a ``torch.Generator`` only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from engine.generator import Generator
from engine.inversion.losses import pyramid

from .clip import ClipEncoder
from .params import Parameterisation

LOSSES = ("jojo", "paired", "mtg", "nada")

#: Prompt templates for the text direction (our own short list; NADA averages over ImageNet templates).
TEMPLATES = (
    "a photo of a {}.", "a picture of a {}.", "a rendering of a {}.", "a close-up photo of a {}.",
    "a good photo of a {}.", "a bright photo of a {}.", "a cropped photo of a {}.", "an image of a {}.",
    "a drawing of a {}.", "a portrait of a {}.", "a painting of a {}.", "art of a {}.",
)


# ---- latents -----------------------------------------------------------------------------------------

def sample_w(gen: Generator, batch: int, rng: torch.Generator, mixing: float = 0.0) -> torch.Tensor:
    """W+ [batch, num_ws, D] from seeded z; with probability ``mixing`` two z's crossed at a random row."""
    dev = gen.w_avg.device
    d, n = gen.config.style_dim, gen.num_ws
    with torch.no_grad():
        w1 = gen.mapping(torch.randn(batch, d, generator=rng).to(dev))
        w_plus = w1.unsqueeze(1).repeat(1, n, 1)
        if mixing > 0 and float(torch.rand((), generator=rng)) < mixing:
            w2 = gen.mapping(torch.randn(batch, d, generator=rng).to(dev))
            cut = int(torch.randint(1, n, (), generator=rng))
            w_plus[:, cut:] = w2.unsqueeze(1)
    return w_plus


def row_resolutions(gen: Generator) -> dict[int, int]:
    """W+ row -> the lowest resolution among the layers it feeds."""
    out = {0: 4, 1: 4}
    for j, res in enumerate(gen.config.resolutions[1:]):
        for row in (2 * j + 1, 2 * j + 2, 2 * j + 3):
            out.setdefault(row, res)
    return out


def default_coarse_rows(gen: Generator) -> int:
    """W+ rows kept from the reference in JoJo mixing: rows feeding layers up to ``max(8, size / 32)`` px
    (JoJoGAN keeps rows 0..6 at 1024, up to 32 px)."""
    limit = max(8, gen.config.size // 32)
    res = row_resolutions(gen)
    return max(1, sum(1 for r in range(gen.num_ws) if res.get(r, 10**9) <= limit))


# ---- pixel losses ------------------------------------------------------------------------------------

def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def pyramid_l1_grad(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per level of an image pyramid, summed: (mean L1, mean L1 of the image gradients)."""
    pix = a.new_zeros(())
    grad = a.new_zeros(())
    for x, y in zip(pyramid(a), pyramid(b), strict=True):
        pix = pix + (x - y).abs().mean()
        for gx, gy in zip(image_gradients(x), image_gradients(y), strict=True):
            grad = grad + (gx - gy).abs().mean()
    return pix, grad


class PixelLoss(torch.nn.Module):
    """Per level of an image pyramid: mean L1 + mean L1 of the image gradients (+ optional extras)."""

    name = "pyramid-l1+grad"

    def __init__(self, grad_weight: float = 1.0, discriminator: dict | None = None, lpips=None,
                 d_weight: float = 0.1) -> None:
        super().__init__()
        self.grad_weight = grad_weight
        self.lpips = lpips
        self.d = None
        self.d_weight = d_weight
        if discriminator:
            from engine.inversion.losses import DiscriminatorFeatures

            try:
                self.d = DiscriminatorFeatures(discriminator, 4)
            except (ValueError, KeyError):
                self.d = None

    def to(self, *args, **kwargs):
        if self.d is not None:
            self.d.to(*args, **kwargs)
        if self.lpips is not None:
            self.lpips.to(*args, **kwargs)
        return self

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        pix, grad = pyramid_l1_grad(a, b)
        out = {"pixel": pix, "grad": self.grad_weight * grad}
        if self.d is not None:
            out["d_feat"] = self.d_weight * sum((fa - fb).pow(2).mean() for fa, fb in
                                                zip(self.d(a), self.d(b), strict=True))
        if self.lpips is not None:
            out["lpips"] = self.lpips(a, b)
        return out


def _total(parts: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    total = sum(parts.values())
    return total, {k: float(v.detach()) for k, v in parts.items()}


# ---- JoJo and paired ---------------------------------------------------------------------------------

def _pooled(x: torch.Tensor, size: int = 16) -> torch.Tensor:
    return F.adaptive_avg_pool2d(x, size).flatten(1)


def contrast_ratio(reference: torch.Tensor, reconstruction: torch.Tensor) -> float:
    """How much contrast (std of the image pooled to 16 px) the reference has relative to the unadapted
    model's render of its latent, at most 1: a flat target domain (pencil on paper) makes faces alike."""
    return min(1.0, float(_pooled(reference).std(1).mean() / _pooled(reconstruction).std(1).mean().clamp_min(1e-6)))


def similarity_loss(adapted: torch.Tensor, source: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Keeps a batch's samples apart: for each pair, how much closer (mean L1 of the images pooled to 16 px)
    the adapted renders are than ``scale`` x the source renders, averaged over pairs (0 when none got closer).
    All samples collapsing onto one picture (the reference) drives it to the source's mean pair distance."""
    def dists(x: torch.Tensor) -> torch.Tensor:
        f = _pooled(x)
        return (f[:, None] - f[None]).abs().mean(-1)
    b = adapted.shape[0]
    mask = torch.tril(torch.ones(b, b, dtype=torch.bool, device=adapted.device), diagonal=-1)
    return F.relu(scale * dists(source) - dists(adapted))[mask].mean()


# ---- the reference's tones (references with little colour) ------------------------------------------

_LUMA = (0.299, 0.587, 0.114)


def luma(x: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] -> [B, 1, H, W] luminance."""
    return (x * x.new_tensor(_LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)


def chroma(x: torch.Tensor) -> float:
    """Mean colourfulness: max - min over the RGB channels, averaged over pixels (0 for a grey image)."""
    return float((x.amax(1) - x.amin(1)).mean())


class ToneMap(torch.nn.Module):
    """A global colour transform ``out_c = f_c(Y) + sat * (x - Y)``: per channel a piecewise-linear curve of
    the luminance Y (``knots`` points over [-1, 1]) plus one saturation factor. Fitted on the unadapted render
    of the reference's latent -> the reference (:meth:`fit`), it is the medium's tones and colour without its
    geometry, and with so few degrees of freedom it carries over to other faces. ``offset`` (``fit(...,
    offset=True)``, for several aligned pairs): the pairs' mean residual image added in place, the medium's
    average change at each position of an aligned face (lighting, paper, the line screen)."""

    def __init__(self, knots: int = 8) -> None:
        super().__init__()
        self.knots = torch.nn.Parameter(torch.linspace(-1, 1, knots).repeat(3, 1))
        self.sat = torch.nn.Parameter(torch.ones(()))
        self.register_buffer("offset", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = luma(x)
        k = self.knots.shape[1]
        pos = (y.clamp(-1, 1) + 1) / 2 * (k - 1)
        i0 = pos.floor().clamp(0, k - 2).long()
        frac = pos - i0
        curves = [self.knots[c][i0] * (1 - frac) + self.knots[c][i0 + 1] * frac for c in range(3)]
        return (torch.cat(curves, 1) + self.sat * (x - y) + self.offset).clamp(-1, 1)

    @classmethod
    def fit(cls, source: torch.Tensor, target: torch.Tensor, steps: int = 800, lr: float = 1e-2,
            offset: bool = False) -> ToneMap:
        """Least squares ``source -> target`` (Adam, deterministic), then with ``offset`` the mean residual
        ``target - f(source)`` over the batch; the result is frozen."""
        tm = cls().to(source.device)
        opt = torch.optim.Adam(tm.parameters(), lr=lr)
        with torch.enable_grad():
            for _ in range(steps):
                loss = (tm(source) - target).pow(2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        if offset:
            with torch.no_grad():
                tm.offset = (target - tm(source)).mean(0, keepdim=True)
        return tm.requires_grad_(False)


def tone_loss(param: Parameterisation, tone_map: ToneMap, w: torch.Tensor, img: torch.Tensor,
              pool_to: int | None = 16) -> torch.Tensor:
    """Pyramid L1 + gradient of the adapted render ``img`` of ``w`` against the tone map of the unadapted render
    of ``w``, both pooled to ``pool_to`` px (None: at full size)."""
    with torch.no_grad():
        toned = tone_map(param.render_source(w))
    k = max(1, img.shape[-1] // pool_to) if pool_to else 1
    return sum(pyramid_l1_grad(F.avg_pool2d(img, k), F.avg_pool2d(toned, k)))


class JoJoLoss:
    """G_t(w_ref coarse rows + random fine rows) -> reference (see module docstring)."""

    name = "jojo"

    def __init__(self, gen: Generator, w_refs: torch.Tensor, targets: torch.Tensor, rng: torch.Generator,
                 batch: int, pixel: PixelLoss, coarse_rows: int | None = None, alpha: float = 1.0,
                 anchor_weight: float = 1.0, mixed_weight: float = 1.0, colour_weight: float = 1.0,
                 diversity: float = 0.0, tone_map: ToneMap | None = None, tone_weight: float = 0.0) -> None:
        self.gen, self.w_refs, self.targets, self.rng, self.batch = gen, w_refs, targets, rng, batch
        self.pixel = pixel
        self.coarse = coarse_rows if coarse_rows is not None else default_coarse_rows(gen)
        self.alpha = alpha
        self.anchor_weight = anchor_weight
        self.mixed_weight = mixed_weight
        self.colour_weight = colour_weight
        self.diversity = diversity
        self.tone_map, self.tone_weight = tone_map, tone_weight
        self.contrast: float | None = None  # the reference's contrast_ratio, on the first call

    def latents(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.w_refs.shape[0]
        idx = torch.randint(0, n, (self.batch,), generator=self.rng)
        w = self.w_refs[idx.to(self.w_refs.device)].clone()
        rand = sample_w(self.gen, self.batch, self.rng)
        w[:, self.coarse:] = self.alpha * rand[:, self.coarse:] + (1 - self.alpha) * w[:, self.coarse:]
        return w, self.targets[idx.to(self.targets.device)]

    def __call__(self, param: Parameterisation, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        w, target = self.latents()
        img = param.render(w)
        if self.colour_weight != 1.0:  # the mean colour of each image weighted apart from the rest
            m_img, m_trg = img.mean((2, 3), keepdim=True), target.mean((2, 3), keepdim=True)
            parts = self.pixel(img - m_img, target - m_trg)
            parts["colour"] = self.colour_weight * (m_img - m_trg).abs().mean()
        else:
            parts = self.pixel(img, target)
        parts = {k: self.mixed_weight * v for k, v in parts.items()}
        if self.diversity and w.shape[0] > 1:
            with torch.no_grad():
                src = param.render_source(w)
                if self.contrast is None:
                    self.contrast = contrast_ratio(self.targets, param.render_source(self.w_refs))
            parts["diversity"] = self.diversity * similarity_loss(img, src, self.contrast ** 2)
        if self.tone_map is not None and self.tone_weight:
            parts["tone"] = self.tone_weight * tone_loss(param, self.tone_map, w, img)
        if self.anchor_weight:
            rec = self.pixel(param.render(self.w_refs), self.targets)
            parts = {**parts, "rec": self.anchor_weight * sum(rec.values())}
        return _total(parts)


class PairedLoss:
    """G_t(w_source_i) -> target_i, pixel-exact pairs, minibatches drawn with the seeded generator."""

    name = "paired"

    def __init__(self, w_sources: torch.Tensor, targets: torch.Tensor, rng: torch.Generator, batch: int,
                 pixel: PixelLoss, gen: Generator | None = None, tone_map: ToneMap | None = None,
                 tone_weight: float = 0.0, mixing: float = 0.9) -> None:
        self.w, self.targets, self.rng, self.batch, self.pixel = w_sources, targets, rng, batch, pixel
        self.gen, self.tone_map, self.tone_weight, self.mixing = gen, tone_map, tone_weight, mixing

    def __call__(self, param: Parameterisation, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        n = self.w.shape[0]
        if n <= self.batch:
            idx = torch.arange(n)
        else:
            idx = torch.randperm(n, generator=self.rng)[: self.batch]
        idx = idx.to(self.w.device)
        parts = self.pixel(param.render(self.w[idx]), self.targets[idx])
        if self.tone_map is not None and self.tone_weight and self.gen is not None:
            w = sample_w(self.gen, self.batch, self.rng, self.mixing)  # random faces, in the pairs' tones
            parts["tone"] = self.tone_weight * tone_loss(param, self.tone_map, w, param.render(w), pool_to=None)
        return _total(parts)


# ---- CLIP losses -------------------------------------------------------------------------------------

def direction_loss(e_adapted: torch.Tensor, e_source: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """mean_i 1 - cos(E(G_B(z_i)) - E(G_A(z_i)), delta)."""
    return (1 - F.cosine_similarity(e_adapted - e_source, delta.expand_as(e_adapted), dim=-1)).mean()


def indomain_loss(e_adapted: torch.Tensor, e_source: torch.Tensor) -> torch.Tensor:
    """Squared differences of the batch cosine matrices below the diagonal, averaged (HyperDomainNet)."""
    b = e_adapted.shape[0]
    if b < 2:
        return e_adapted.new_zeros(())
    c_src, c_trg = e_source @ e_source.t(), e_adapted @ e_adapted.t()
    mask = torch.tril(torch.ones(b, b, dtype=torch.bool, device=e_adapted.device), diagonal=-1)
    return (c_src - c_trg)[mask].pow(2).sum() * 2 / (b * (b - 1))


class NadaLoss:
    """StyleGAN-NADA: text direction over templates (coef 1) + in-domain loss (coef 0.25), mixing 0.9."""

    name = "nada"

    def __init__(self, gen: Generator, clips: Sequence[ClipEncoder], source: str, target: str,
                 rng: torch.Generator, batch: int, mixing: float = 0.9, indomain: float = 0.25) -> None:
        self.gen, self.clips, self.rng, self.batch = gen, clips, rng, batch
        self.mixing, self.indomain = mixing, indomain
        self.deltas = []
        for c in clips:
            t_trg = c.encode_text([t.format(target) for t in TEMPLATES]).mean(0)
            t_src = c.encode_text([t.format(source) for t in TEMPLATES]).mean(0)
            self.deltas.append((t_trg - t_src).unsqueeze(0))

    def __call__(self, param: Parameterisation, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        w = sample_w(self.gen, self.batch, self.rng, self.mixing)
        with torch.no_grad():
            src = param.render_source(w)
        img = param.render(w)
        parts = {"direction": img.new_zeros(()), "indomain": img.new_zeros(())}
        for c, delta in zip(self.clips, self.deltas, strict=True):
            e_b = c.encode_image(img)
            with torch.no_grad():
                e_a = c.encode_image(src)
            parts["direction"] = parts["direction"] + direction_loss(e_b, e_a, delta)
            parts["indomain"] = parts["indomain"] + self.indomain * indomain_loss(e_b, e_a)
        return _total(parts)


class MTGLoss:
    """Mind the Gap (one reference): direction 1, within 0.5, CLIP reference 30, reconstruction 10."""

    name = "mtg"

    def __init__(self, gen: Generator, clips: Sequence[ClipEncoder], w_ref: torch.Tensor, reference: torch.Tensor,
                 rng: torch.Generator, batch: int, pixel: PixelLoss, source_param: Parameterisation,
                 mixing: float = 0.9, coefs: dict[str, float] | None = None) -> None:
        self.gen, self.clips, self.w_ref, self.ref = gen, clips, w_ref[:1], reference[:1]
        self.rng, self.batch, self.pixel, self.mixing = rng, batch, pixel, mixing
        self.coefs = {"direction": 1.0, "within": 0.5, "clip_ref": 30.0, "rec": 10.0, **(coefs or {})}
        self.e_ref, self.e_src_ref, self.delta = [], [], []
        with torch.no_grad():
            src_ref = source_param.render_source(self.w_ref)
            for c in clips:
                e_ref, e_src = c.encode_image(self.ref), c.encode_image(src_ref)
                self.e_ref.append(e_ref)
                self.e_src_ref.append(e_src)
                self.delta.append(e_ref - e_src)

    def __call__(self, param: Parameterisation, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        w = sample_w(self.gen, self.batch, self.rng, self.mixing)
        with torch.no_grad():
            src = param.render_source(w)
        img = param.render(w)
        rec = param.render(self.w_ref)
        k = self.coefs
        z = img.new_zeros(())
        parts = {"direction": z, "within": z, "clip_ref": z}
        for c, e_ref, e_src_ref, delta in zip(self.clips, self.e_ref, self.e_src_ref, self.delta, strict=True):
            e_b = c.encode_image(img)
            with torch.no_grad():
                e_a = c.encode_image(src)
            parts["direction"] = parts["direction"] + k["direction"] * direction_loss(e_b, e_a, delta)
            within = 1 - F.cosine_similarity(e_b - e_ref, e_a - e_src_ref, dim=-1)
            parts["within"] = parts["within"] + k["within"] * within.mean()
            ref_cos = F.cosine_similarity(c.encode_image(rec), e_ref, dim=-1)
            parts["clip_ref"] = parts["clip_ref"] + k["clip_ref"] * (1 - ref_cos).mean()
        parts["rec"] = k["rec"] * sum(self.pixel(rec, self.ref).values())
        return _total(parts)
