"""``styledomain adapt``: a run writes a file that ``render --delta`` / ``--direction`` reproduce; bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from engine.adaptation import render_adapted
from engine.cli.main import main
from engine.domains.direction import load_direction
from engine.domains.param_delta import load_param_delta
from engine.pipeline.seeds import w_plus_from_seed

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def ref_png(tmp_path, tiny_generator):
    with torch.no_grad():
        img = tiny_generator(torch.randn(1, tiny_generator.config.style_dim, generator=torch.Generator()))
    arr = ((-img[0]).clamp(-1, 1).permute(1, 2, 0).numpy() * 127.5 + 127.5).astype(np.uint8)
    path = tmp_path / "ref.png"
    Image.fromarray(arr).resize((64, 64), Image.LANCZOS).save(path)  # photos need >= 64 px
    return path


def _adapt(model, ref, out, *extra) -> int:
    return main(["adapt", str(model), "--reference", str(ref), "--aligned", "--invert-steps", "2", "--steps", "3",
                 "--batch", "1", "--device", "cpu", "-o", str(out), *extra])


def test_adapt_writes_a_delta_that_render_reproduces(tmp_path, rosinality_pt, ref_png, tiny_generator, capsys):
    out = tmp_path / "look.safetensors"
    assert _adapt(rosinality_pt, ref_png, out, "--json", "--preview-dir", str(tmp_path),
                  "--preview-every", "3") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["param"] == "affine" and summary["loss"] == "jojo" and summary["steps_done"] == 3
    assert summary["references"][0]["sha256"] and summary["source_model"]["sha256"]
    assert list(tmp_path.glob("step-*.png"))
    delta = load_param_delta(out)
    png = tmp_path / "r.png"
    assert main(["render", str(rosinality_pt), "--seed", "4", "--delta", str(out), "--device", "cpu",
                 "-o", str(png)]) == 0
    got = np.asarray(Image.open(png), np.float32)
    with torch.no_grad():
        want = render_adapted(tiny_generator, w_plus_from_seed(tiny_generator, 4), delta)
        plain = render_adapted(tiny_generator, w_plus_from_seed(tiny_generator, 4))
    want = want[0].permute(1, 2, 0).numpy() * 127.5 + 128
    plain = plain[0].permute(1, 2, 0).numpy() * 127.5 + 128
    assert np.abs(got - want.clip(0, 255)).max() <= 1.5
    assert np.abs(got - plain.clip(0, 255)).max() > 1.5  # the delta made a visible difference


def test_stylespace_writes_a_direction_and_distil(tmp_path, rosinality_pt, ref_png, capsys):
    out = tmp_path / "d.safetensors"
    assert _adapt(rosinality_pt, ref_png, out, "--param", "stylespace", "--sparsify", "0.5") == 0
    assert load_direction(out).extra["sparsified_keep"] == pytest.approx(0.5, abs=0.05)
    delta_out, dist = tmp_path / "a.safetensors", tmp_path / "dist.safetensors"
    assert _adapt(rosinality_pt, ref_png, delta_out, "--distil-direction", str(dist), "--no-torgb") == 0
    assert "distilled direction" in capsys.readouterr().out
    assert not load_direction(dist).covers_torgb


@pytest.mark.parametrize("case,needle", [
    ("not_image", "notes.txt"),
    ("empty_text", "empty"),
    ("bad_clip", "not a CLIP checkpoint"),
    ("neither", "--reference IMG"),
    ("bad_suffix", "must end in .safetensors"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, rosinality_pt, ref_png, capsys, case, needle):
    out = tmp_path / "out.safetensors"
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    args = {
        "not_image": ["--reference", str(text)],
        "empty_text": ["--text", "photo", " ", "--clip", str(rosinality_pt)],
        "bad_clip": ["--reference", str(ref_png), "--aligned", "--clip", str(rosinality_pt)],
        "neither": [],
        "bad_suffix": ["--reference", str(ref_png)],
    }[case]
    target = str(tmp_path / "out.pt") if case == "bad_suffix" else str(out)
    assert main(["adapt", str(rosinality_pt), *args, "--steps", "1", "--device", "cpu", "-o", target]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_grey_reference_and_grey_pairs_get_the_tone_map_through_the_cli(tmp_path, rosinality_pt, ref_png, capsys):
    """The small-model defaults read the references: a grey reference (one-shot) and grey pair targets (few-shot)
    are taught their tone map, which the --json summary says; few-shot also records the faster affine biases."""
    grey = tmp_path / "grey.png"
    Image.open(ref_png).convert("L").convert("RGB").save(grey)
    assert _adapt(rosinality_pt, grey, tmp_path / "one.safetensors", "--json") == 0
    one = json.loads(capsys.readouterr().out)
    assert any(n.startswith("tone map of the reference") for n in one["notes"])
    assert one["final_losses"]["tone"] > 0 and "bias_lr" not in one
    assert main(["adapt", str(rosinality_pt), "--source", str(ref_png), "--reference", str(grey), "--aligned",
                 "--loss", "paired", "--invert-steps", "2", "--steps", "3", "--batch", "1", "--device", "cpu",
                 "--json", "-o", str(tmp_path / "few.safetensors")]) == 0
    few = json.loads(capsys.readouterr().out)
    assert any(n.startswith("tone map of the targets") for n in few["notes"])
    assert few["final_losses"]["tone"] > 0 and few["bias_lr"] == 10.0
    assert load_param_delta(tmp_path / "few.safetensors").deltas
