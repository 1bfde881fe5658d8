"""Studio projects: save then open restores the document."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

import torch  # noqa: E402
from desktop_helpers import studio_window  # noqa: E402

from desktop.document import Source  # noqa: E402
from desktop.project_actions import install_project  # noqa: E402
from engine.resources import demo_model_path  # noqa: E402


@pytest.fixture
def window(qtbot):
    with studio_window(qtbot) as win:
        yield win


def test_save_then_open_restores_the_document(window, qtbot, tmp_path):
    acts = getattr(window, "project_actions", None) or install_project(window)
    window.open_model(demo_model_path())
    qtbot.waitUntil(lambda: window.document.state.model is not None, timeout=30_000)
    from engine.checkpoints import load_generator

    g = load_generator(demo_model_path()).generator.config
    w = torch.randn(g.num_ws, g.style_dim, generator=torch.Generator().manual_seed(1))
    window.document.set_source(Source("latent", None, w))
    window.document.set_strength(0.6)
    assert acts.save_to(tmp_path / "p")
    saved = tmp_path / "p.sdproj"
    assert saved.is_file()
    window.document.set_strength(0.1)
    window.document.set_source(Source("seed", 5))
    done = []
    acts.open_project(saved, on_done=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    st = window.document.state
    assert st.strength == 0.6 and torch.equal(st.source.w_plus, w) and st.model.sha256
