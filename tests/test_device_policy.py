"""engine.device: the one device/thread policy that front-ends apply, and the engine never does."""

from __future__ import annotations

import pytest
import torch

from engine.device import configure_runtime, threads_for
from engine.errors import UserError


def test_small_cpu_models_get_one_thread_and_others_the_default():
    assert threads_for(torch.device("cpu"), 64) == 1
    assert threads_for(torch.device("cpu"), 1024) is None
    assert threads_for(torch.device("cuda"), 64) is None


def test_configure_runtime_sets_threads_only_when_asked():
    before = torch.get_num_threads()
    try:
        assert configure_runtime("cpu") == torch.device("cpu")
        assert torch.get_num_threads() == before
        configure_runtime("cpu", threads=1)
        assert torch.get_num_threads() == 1
        with pytest.raises(UserError):
            configure_runtime("cpu", threads=0)
    finally:
        torch.set_num_threads(before)
