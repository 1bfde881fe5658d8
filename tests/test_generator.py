"""The generator against an independent literal implementation, and its own paths against each other."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from conftest import TINY, make_generator
from reference_stylegan2 import mapping as ref_mapping
from reference_stylegan2 import synthesize as ref_synthesize

from engine.generator import Generator, GeneratorConfig
from engine.pipeline.images import to_uint8
from engine.pipeline.seeds import z_from_seed

CONFIGS = [
    TINY,
    GeneratorConfig(size=16, style_dim=8, n_mlp=1, channels={4: 6, 8: 10, 16: 4}),  # odd custom widths
]


def _ref_image(gen: Generator, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
    sd = gen.state_dict()
    w = ref_mapping(sd, z, gen.config.n_mlp, gen.config.lr_mlp)
    w = gen.w_avg.double() + psi * (w - gen.w_avg.double())
    n_blocks = len(gen.config.resolutions) - 1
    return torch.stack([ref_synthesize(sd, wi.expand(gen.num_ws, -1), n_blocks, None) for wi in w])


@pytest.mark.parametrize("cfg", CONFIGS, ids=["tiny", "custom"])
@pytest.mark.parametrize("impl", ["reference", "fast"])
def test_matches_independent_implementation(cfg, impl):
    gen = make_generator(cfg, seed=3)
    z = torch.randn(3, cfg.style_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = gen(z, psi=0.7, impl=impl).double()
    ref = _ref_image(gen, z, psi=0.7)
    assert ours.shape == (3, 3, cfg.size, cfg.size)
    assert ref.abs().max() > 0.5  # the oracle renders something non-trivial
    assert (ours - ref).abs().max().item() < 1e-4


def test_fast_path_equals_reference_in_batches(tiny_generator):
    z = torch.randn(8, TINY.style_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        styles = tiny_generator.styles(tiny_generator.truncate(tiny_generator.mapping(z), 0.5))
        a = tiny_generator.synthesize(styles, impl="reference")
        b = tiny_generator.synthesize(styles, impl="fast")
    assert (a - b).abs().max().item() < 1e-4


def test_fast_path_trains_like_reference_in_batches(tiny_generator):
    """With autograd on, CPU batches take the batched path: same images and same weight gradients."""
    gen = copy.deepcopy(tiny_generator).requires_grad_(True)
    z = torch.randn(4, TINY.style_dim, generator=torch.Generator().manual_seed(5))
    grads = []
    for impl in ("reference", "fast"):
        gen.zero_grad(set_to_none=True)
        img = gen.synthesize(gen.styles(gen.truncate(gen.mapping(z))), impl=impl)
        img.square().mean().backward()
        grads.append((img.detach(), [p.grad.clone() for p in gen.parameters() if p.grad is not None]))
    (ref_img, ref_grads), (fast_img, fast_grads) = grads
    assert (ref_img - fast_img).abs().max().item() < 1e-4
    assert len(ref_grads) == len(fast_grads) > 0
    for a, b in zip(ref_grads, fast_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-3)


def test_early_exit_returns_lower_resolution_skip_image(tiny_generator):
    z = torch.randn(2, TINY.style_dim, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        styles = tiny_generator.styles(tiny_generator.truncate(tiny_generator.mapping(z)))
        low = tiny_generator.synthesize(styles, max_resolution=16)
    # Oracle: the same network truncated after the 16 px block.
    sd = tiny_generator.state_dict()
    w = ref_mapping(sd, z, TINY.n_mlp, TINY.lr_mlp)
    ref = torch.stack([ref_synthesize(sd, wi.expand(TINY.num_ws, -1), 2, None) for wi in w])
    assert low.shape == (2, 3, 16, 16)
    assert (low.double() - ref).abs().max().item() < 1e-4
    with pytest.raises(ValueError, match="max_resolution"):
        tiny_generator.synthesize(styles, max_resolution=12)


def test_truncation_cutoff_only_touches_first_rows(tiny_generator):
    w = tiny_generator.mapping(torch.randn(1, TINY.style_dim))
    wp = tiny_generator.truncate(w, psi=0.5, cutoff=3)
    expected_low = tiny_generator.w_avg + 0.5 * (w - tiny_generator.w_avg)
    assert torch.allclose(wp[0, :3], expected_low.expand(3, -1), atol=1e-6)
    assert torch.allclose(wp[0, 3:], w.expand(TINY.num_ws - 3, -1))
    assert torch.allclose(tiny_generator.truncate(w, psi=0.0)[0], tiny_generator.w_avg.expand(TINY.num_ws, -1))


def test_noise_modes(tiny_generator):
    styles = tiny_generator.styles(tiny_generator.truncate(tiny_generator.mapping(torch.randn(1, 16))))
    with torch.no_grad():
        const = tiny_generator.synthesize(styles, "const")
        none = tiny_generator.synthesize(styles, "none")
        r1 = tiny_generator.synthesize(styles, "random", generator=torch.Generator().manual_seed(5))
        r2 = tiny_generator.synthesize(styles, "random", generator=torch.Generator().manual_seed(5))
        r3 = tiny_generator.synthesize(styles, "random", generator=torch.Generator().manual_seed(6))
    assert torch.equal(r1, r2)
    assert not torch.allclose(r1, r3)
    assert not torch.allclose(const, none)
    zero = [torch.zeros_like(n) for n in tiny_generator.make_noise(1, "const")]
    with torch.no_grad():
        explicit_zero = tiny_generator.synthesize(styles, noise=zero)
    assert torch.allclose(explicit_zero, none, atol=1e-6)
    with pytest.raises(ValueError, match="noise mode"):
        tiny_generator.make_noise(1, "loud")


def test_seed_convention_is_nvidia_generate_py():
    z = z_from_seed(42, 512)
    assert z.shape == (1, 512)
    assert np.array_equal(z, np.random.RandomState(42).randn(1, 512))


def test_pixel_mapping_rounds_like_generate_py():
    img = torch.tensor([-1.0, -0.999, 0.0, 0.5, 1.0, 1.2]).view(1, 1, 1, 6).expand(1, 3, 1, 6)
    px = to_uint8(img)[0, 0, :, 0]
    assert px.tolist() == [0, 0, 128, 191, 255, 255]


def test_gradients_flow_only_where_asked(tiny_generator):
    """Adaptation trains S offsets without touching the frozen generator."""
    w = tiny_generator.truncate(tiny_generator.mapping(torch.randn(1, 16)))
    styles = tiny_generator.styles(w)
    delta = torch.zeros_like(styles[3], requires_grad=True)
    styles = [s + delta if i == 3 else s for i, s in enumerate(styles)]
    tiny_generator.synthesize(styles, impl="fast").square().mean().backward()
    assert delta.grad is not None and delta.grad.abs().sum() > 0
    assert all(p.grad is None for p in tiny_generator.parameters())


def test_reduced_precision_fast_path_stays_close(tiny_generator):
    """bf16 activations (previews): styles, demodulation and the RGB skip path stay fp32."""
    z = torch.randn(2, TINY.style_dim, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        styles = tiny_generator.styles(tiny_generator.truncate(tiny_generator.mapping(z)))
        full = tiny_generator.synthesize(styles, impl="fast")
        low = tiny_generator.synthesize(styles, impl="fast", dtype=torch.bfloat16)
    assert low.dtype == torch.float32
    rel = ((low - full).norm() / full.norm()).item()
    assert 0 < rel < 5e-2
