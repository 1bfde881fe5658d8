"""tools/train_demo.py: what the demo model card promises about reproducing the checkpoint."""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

import torch

from engine.checkpoints import load_generator
from engine.fileio import sha256_of

TOOL = Path(__file__).resolve().parents[1] / "tools" / "train_demo.py"


@functools.cache
def _tool():
    spec = importlib.util.spec_from_file_location("train_demo", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _train(out: Path, *extra: str) -> dict[str, torch.Tensor]:
    args = ["--size", "16", "--width", "16", "--z-dim", "32", "--pool", "6", "--batch", "3", "--steps", "4",
            "--threads", "1", "--save-every", "100", "--out", str(out), *extra]
    assert _tool().main(args) == 0
    return load_generator(out).generator.state_dict()


def test_same_command_same_tensors(tmp_path):
    a = _train(tmp_path / "a.safetensors")
    b = _train(tmp_path / "b.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_stop_at_and_init_continue_a_run(tmp_path):
    first = tmp_path / "stage1.safetensors"
    stage1 = _train(first, "--stop-at", "2")
    meta = json.loads(load_generator(first).metadata["training"])
    assert meta["steps_done"] == 2 and meta["stopped_early"] is True
    # A zero learning rate keeps the weights: stage 2 starts exactly from stage 1 and records which file that was.
    second = tmp_path / "stage2.safetensors"
    stage2 = _train(second, "--init", str(first), "--lr", "0")
    assert all(torch.equal(stage1[k], stage2[k]) for k in stage1)
    meta2 = json.loads(load_generator(second).metadata["training"])
    assert meta2["init"] == str(first) and meta2["init_sha256"] == sha256_of(first)
