"""Atomic writes: all or nothing, and ordinary permissions on what is written."""

from __future__ import annotations

import stat
import sys

import pytest
import torch

from engine.fileio import atomic_path, read_safetensors, save_safetensors


def test_failed_write_leaves_the_old_file_and_no_partial(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_safetensors_files_get_the_usual_permissions(tmp_path):
    """safetensors itself creates 0600 files; ours get the mode of any other new file (umask applied)."""
    path = save_safetensors({"a": torch.arange(3.0)}, tmp_path / "d.safetensors", {"k": "v"})
    tensors, meta = read_safetensors(path)
    assert torch.equal(tensors["a"], torch.arange(3.0)) and meta["k"] == "v"
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
