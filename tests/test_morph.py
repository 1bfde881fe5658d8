"""Morph export: paths through the pad, keyframes, animation files, PNG sequences, cancel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY, make_generator
from PIL import Image
from test_directions_helpers import styledomain_file

from engine.domains import BlendPad, DirectionTerm, build_edit, load_direction
from engine.domains.morph import (
    Cancelled,
    points_along_path,
    render_frames,
    save_animation,
    save_png_sequence,
    weights_along_path,
    weights_from_keyframes,
)
from engine.errors import UserError
from engine.jobs import CancelToken
from engine.pipeline.images import to_pil
from engine.stylespace import style_layout


def test_points_are_evenly_spaced_by_arc_length():
    pts = points_along_path([(0, 0), (3, 0), (3, 1)], 5)  # length 4: steps of 1
    flat = [c for p in pts for c in p]
    assert flat == pytest.approx([0, 0, 1, 0, 2, 0, 3, 0, 3, 1])
    assert points_along_path([(1, 2)], 3) == [(1.0, 2.0)] * 3
    assert points_along_path([(0, 0), (1, 1)], 1) == [(0.0, 0.0)]
    with pytest.raises(UserError):
        points_along_path([(0, 0)], 0)


def test_keyframes_interpolate_linearly():
    w = weights_from_keyframes([[1, 0], [0, 1], [0.5, 0.5]], 5)
    flat = [c for row in w for c in row]
    assert flat == pytest.approx([1, 0, 0.5, 0.5, 0, 1, 0.25, 0.75, 0.5, 0.5])
    with pytest.raises(UserError):
        weights_from_keyframes([[1, 0], [1]], 3)


def test_path_weights_start_and_end_at_anchors():
    pad = BlendPad([(0, 0), (1, 0), (0, 1), (1, 1)])
    w = weights_along_path(pad, [(0, 0), (1, 1)], 9)
    assert w[0] == [1, 0, 0, 0] and w[-1] == [0, 0, 0, 1]
    assert all(sum(x) == pytest.approx(1) for x in w)


def _morph_frames(tmp_path, n=4):
    gen = make_generator()
    styledomain_file(tmp_path / "a.pt", TINY.channels, seed=1)
    styledomain_file(tmp_path / "b.pt", TINY.channels, seed=2)
    dirs = [load_direction(tmp_path / "a.pt"), load_direction(tmp_path / "b.pt")]
    styles = gen.styles(gen.truncate(gen.mapping(torch.randn(1, 16, generator=torch.Generator().manual_seed(0)))))
    layout = style_layout(TINY)

    def render(weights):
        edit = build_edit([DirectionTerm(d, c) for d, c in zip(dirs, weights, strict=True)], layout)
        with torch.no_grad():
            return to_pil(edit.synthesize(gen, styles))

    return weights_from_keyframes([[1, 0], [0, 1]], n), render


def test_render_animation_and_sequence(tmp_path):
    weights, render = _morph_frames(tmp_path)
    seen = []
    frames = render_frames(weights, render, progress=seen.append)
    assert [(p.job, p.step, p.total) for p in seen] == [("morph", i, 4) for i in (1, 2, 3, 4)]
    assert all(p.preview is f for p, f in zip(seen, frames, strict=True))
    assert not np.array_equal(np.asarray(frames[0]), np.asarray(frames[-1]))
    for suffix in (".gif", ".webp"):
        out = save_animation(frames, tmp_path / f"morph{suffix}", duration_ms=120)
        with Image.open(out) as im:
            assert im.n_frames == 4 and im.is_animated
            for i, f in enumerate(frames):
                im.seek(i)
                im.load()
                assert im.info.get("duration") == 120
                if suffix == ".webp":  # lossless: frames come back exactly
                    assert np.array_equal(np.asarray(im.convert("RGB")), np.asarray(f))
    paths = save_png_sequence(frames, tmp_path / "seq")
    assert [p.name for p in paths] == [f"frame_{i:04d}.png" for i in range(4)]
    assert np.array_equal(np.asarray(Image.open(paths[2])), np.asarray(frames[2]))
    assert not list(tmp_path.rglob(".*partial"))


def test_cancel_and_bad_output(tmp_path):
    weights, render = _morph_frames(tmp_path)
    calls, token = [], CancelToken()

    def progress(p):
        calls.append(p.step)
        if p.step == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        render_frames(weights, render, progress, token)
    assert calls == [1, 2]
    img = Image.new("RGB", (4, 4))
    with pytest.raises(UserError):
        save_animation([img], tmp_path / "x.mp4")
    with pytest.raises(UserError):
        save_animation([], tmp_path / "x.gif")
    with pytest.raises(UserError):
        save_animation([img], tmp_path / "x.gif", duration_ms=0)


def test_morph_cli_keyframes_and_pad_path(tmp_path, rosinality_pt, capsys):
    from engine.cli.main import main

    styledomain_file(tmp_path / "a.pt", TINY.channels, seed=1)
    styledomain_file(tmp_path / "b.pt", TINY.channels, kind="cin_mult", seed=2, scale=0.3)
    code = main(["direction", "morph", str(rosinality_pt), "--seed", "4", "--direction", str(tmp_path / "a.pt"),
                 "--direction", str(tmp_path / "b.pt"), "--frames", "5", "--duration", "50", "--from-original",
                 "--png-dir", str(tmp_path / "seq"), "-o", str(tmp_path / "m.gif")])
    assert code == 0, capsys.readouterr().err
    with Image.open(tmp_path / "m.gif") as im:
        assert im.n_frames == 5
    first = np.asarray(Image.open(tmp_path / "seq" / "frame_0000.png"))
    assert main(["render", str(rosinality_pt), "--seed", "4", "-o", str(tmp_path / "plain.png")]) == 0
    assert np.array_equal(first, np.asarray(Image.open(tmp_path / "plain.png")))  # starts unedited
    mid = np.asarray(Image.open(tmp_path / "seq" / "frame_0002.png"))  # weights (1, 0): direction a alone
    assert main(["render", str(rosinality_pt), "--seed", "4", "--direction", str(tmp_path / "a.pt"),
                 "-o", str(tmp_path / "a.png")]) == 0
    assert np.array_equal(mid, np.asarray(Image.open(tmp_path / "a.png")))
    code = main(["direction", "morph", str(rosinality_pt), "--seed", "4", "--direction", str(tmp_path / "a.pt"),
                 "--direction", str(tmp_path / "b.pt"), "--direction", str(tmp_path / "a.pt"), "--frames", "3",
                 "--pad-path", "1,0;-0.5,0.866", "--size", "16", "-o", str(tmp_path / "p.webp")])
    assert code == 0, capsys.readouterr().err
    with Image.open(tmp_path / "p.webp") as im:
        assert im.n_frames == 3 and im.size == (16, 16)
    assert main(["direction", "morph", str(rosinality_pt), "--seed", "4", "--direction", str(tmp_path / "a.pt"),
                 "--pad-path", "oops", "-o", str(tmp_path / "q.gif")]) == 2
