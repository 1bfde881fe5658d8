"""The ``styledomain`` command line: info, render, convert, bench, and its error contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY
from PIL import Image

from engine.cli.main import main
from engine.pipeline.seeds import z_from_seed

ROOT = Path(__file__).resolve().parent.parent


def test_info_json_lists_style_layers(rosinality_pt, capsys):
    assert main(["info", str(rosinality_pt), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["resolution"] == 32 and info["format"] == "rosinality"
    layers = info["style_layers"]
    assert len(layers) == 11  # 4, 8, 16, 32 px: 3*3 + 2
    assert layers[0] == {"name": "conv1_resolution_4", "resolution": 4, "kind": "conv", "channels": 16, "w_index": 0}
    assert layers[-1] == {"name": "toRGB_resolution_32", "resolution": 32, "kind": "torgb", "channels": 8,
                          "w_index": 7}
    assert info["stylespace_channels"] == sum(lay["channels"] for lay in layers)


def test_info_text(rosinality_pt, capsys):
    assert main(["info", str(rosinality_pt)]) == 0
    out = capsys.readouterr().out
    assert "resolution 32" in out and "toRGB_resolution_32" in out


def test_render_matches_generator_and_seed_convention(rosinality_pt, tiny_generator, tmp_path):
    out = tmp_path / "seed7.png"
    assert main(["render", str(rosinality_pt), "--seed", "7", "--psi", "0.6", "-o", str(out)]) == 0
    z = torch.from_numpy(z_from_seed(7, TINY.style_dim)).float()
    with torch.no_grad():
        img = tiny_generator(z, psi=0.6)
    expected = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy()
    got = np.asarray(Image.open(out))
    assert got.shape == (32, 32, 3)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_render_size_uses_early_exit_preview(rosinality_pt, tmp_path):
    small = tmp_path / "s.png"
    assert main(["render", str(rosinality_pt), "--seed", "1", "--size", "16", "-o", str(small)]) == 0
    assert Image.open(small).size == (16, 16)
    big = tmp_path / "b.png"
    assert main(["render", str(rosinality_pt), "--seed", "1", "--size", "40", "-o", str(big)]) == 0
    assert Image.open(big).size == (40, 40)


def test_convert_then_render_identically(rosinality_pt, tmp_path):
    st = tmp_path / "m.safetensors"
    assert main(["convert", str(rosinality_pt), str(st)]) == 0
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["render", str(rosinality_pt), "--seed", "3", "--noise-mode", "random", "-o", str(a)]) == 0
    assert main(["render", str(st), "--seed", "3", "--noise-mode", "random", "-o", str(b)]) == 0
    assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))


def test_bench_json_schema(rosinality_pt, capsys):
    code = main(["bench", str(rosinality_pt), "--device", "cpu", "--json", "--resolutions", "16,32",
                 "--batches", "1,2", "--repeats", "1", "--tasks", "render,projector"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["device"] == "cpu"
    rows = [r for r in report["results"] if r["task"] == "render"]
    (step,) = [r for r in report["results"] if r["task"] == "projector_step"]
    assert step["resolution"] == 32 and step["ms_per_image"] > 0
    assert {(r["resolution"], r["batch"], r["impl"]) for r in rows} == {
        (res, b, impl) for res in (16, 32) for b in (1, 2) for impl in ("fast", "reference")}
    assert all(r["ms_per_image"] > 0 for r in rows)
    assert main(["bench", "--tasks", "render,warp"]) == 2


@pytest.mark.parametrize("argv_tail, fragment", [
    (["--seed", "1", "-o", "{tmp}/x.jpg"], "must end in .png"),
    (["--seed", "1", "-o", "{tmp}/missing_dir/x.png"], "does not exist"),
])
def test_render_output_errors(rosinality_pt, tmp_path, capsys, argv_tail, fragment):
    argv = ["render", str(rosinality_pt)] + [a.format(tmp=tmp_path) for a in argv_tail]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and "\n" not in err
    assert list(tmp_path.glob("*.png")) == [] and list(tmp_path.glob(".*partial")) == []


def test_user_errors_exit_nonzero_with_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_text("not a model")
    out = tmp_path / "o.png"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "render", str(bad), "--seed", "1", "-o", str(out)],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists()
