"""Shared fixtures: tiny StyleGAN2 generators that the tests build themselves."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
torch.set_num_threads(max(1, min(2, torch.get_num_threads())))

from engine.generator import Generator, GeneratorConfig  # noqa: E402

TINY = GeneratorConfig(size=32, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 12, 32: 8})


def randomize(gen: Generator, seed: int = 0) -> Generator:
    """Give biases, noise strengths and noise buffers non-trivial values so every term matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in gen.named_parameters():
            if name.endswith("bias") or name.endswith("noise.weight"):
                p.add_(torch.randn(p.shape, generator=g) * 0.3)
        gen.w_avg.copy_(gen.compute_w_avg(256))
    return gen


def make_generator(cfg: GeneratorConfig = TINY, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return randomize(Generator(cfg), seed).eval().requires_grad_(False)


@pytest.fixture
def tiny_config() -> GeneratorConfig:
    return TINY


@pytest.fixture
def tiny_generator() -> Generator:
    return make_generator()


@pytest.fixture
def rosinality_pt(tmp_path, tiny_generator):
    """A rosinality-layout checkpoint: {'g_ema': state_dict, 'latent_avg': [D]}."""
    path = tmp_path / "tiny-rosinality.pt"
    torch.save({"g_ema": tiny_generator.state_dict(), "latent_avg": tiny_generator.w_avg.clone()}, path)
    return path


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: one thread avoids oversubscribing a small shared CPU. Use via ``pytestmark``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
