"""A command writes all of its outputs only after all of its work succeeded, and all of them or none
(issue 9, section 7): ``engine.fileio.write_together`` and the verbs that write more than one file
(render + ``--save-recipe``, invert + ``--preview``, adapt + ``--distil-direction``). Also: invert's
``--model``/``--encoder``/``--vgg16`` take model-library names.

Failures are real where the test can make them real (a folder appears where an output is going, a full
disk at one temporary file); the CLI runs in-process (``engine.cli.main.main``).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli.main import main
from engine.errors import UserError
from engine.fileio import atomic_path, distinct_outputs, save_safetensors, write_together
from engine.resources import demo_model_path

pytestmark = pytest.mark.usefixtures("one_thread")


def run_cli(argv, capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def assert_one_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert ".partial" not in err, err
    for needle in needles:
        assert needle in lines[0], err


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def out_dir(tmp_path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


@pytest.fixture
def face_png(tmp_path) -> Path:
    path = tmp_path / "face.png"
    Image.new("RGB", (64, 64), (120, 90, 80)).save(path)
    return path


# ---- engine.fileio.write_together ----------------------------------------------------------------------
def test_files_appear_together_at_the_end_of_the_block(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.safetensors"
    with write_together():
        with atomic_path(a) as tmp:
            tmp.write_text("one")
        save_safetensors({"x": torch.ones(2)}, b, {"k": "v"})
        assert not a.exists() and not b.exists()  # staged under temporary names only
        assert sorted(p.name for p in tmp_path.iterdir()) == [".a.txt.partial", ".b.safetensors.partial"]
    assert a.read_text() == "one" and listing(tmp_path) == ["a.txt", "b.safetensors"]
    with atomic_path(a) as tmp:  # outside a block: written at once, as always
        tmp.write_text("two")
    assert a.read_text() == "two"


def test_a_later_failure_leaves_no_file_and_no_temporary(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    with pytest.raises(OSError) as caught, write_together():
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("new")
        with atomic_path(tmp_path / "b.txt") as tmp:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert caught.value.filename == str(tmp_path / "b.txt")
    assert listing(tmp_path) == ["a.txt"] and (tmp_path / "a.txt").read_text() == "old"  # untouched


def test_a_folder_where_an_output_goes_fails_before_anything_is_placed(tmp_path):
    (tmp_path / "b.txt").mkdir()
    with pytest.raises(IsADirectoryError) as caught, write_together():
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("one")
        with atomic_path(tmp_path / "b.txt") as tmp:
            tmp.write_text("two")
    assert caught.value.filename == str(tmp_path / "b.txt")
    assert listing(tmp_path) == ["b.txt"]


def test_a_failing_final_rename_takes_back_the_files_already_placed(tmp_path, monkeypatch):
    real = os.replace
    calls = []

    def replace(src, dst):
        calls.append(Path(dst).name)
        if len(calls) == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(src))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError) as caught, write_together():
        for name in ("a.txt", "b.txt", "c.txt"):
            with atomic_path(tmp_path / name) as tmp:
                tmp.write_text(name)
    assert calls == ["a.txt", "b.txt"]
    assert caught.value.filename == str(tmp_path / "b.txt")
    assert listing(tmp_path) == []


def test_nested_blocks_join_the_outer_one_and_one_path_twice_is_refused(tmp_path):
    with pytest.raises(OSError), write_together():
        with write_together(), atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("inner")
        assert not (tmp_path / "a.txt").exists()  # the outer block renames
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "b.txt"))
    assert listing(tmp_path) == []
    with pytest.raises(UserError, match="two outputs"), write_together():
        for _ in range(2):
            with atomic_path(tmp_path / "a.txt") as tmp:
                tmp.write_text("x")
    assert listing(tmp_path) == []
    with pytest.raises(UserError, match="two outputs"):
        distinct_outputs(tmp_path / "a.png", None, tmp_path / "sub" / ".." / "a.png")
    distinct_outputs(tmp_path / "a.png", None, tmp_path / "a.json")


# ---- render -o PNG --save-recipe JSON ------------------------------------------------------------------
def test_render_full_disk_at_the_recipe_writes_no_png(rosinality_pt, out_dir, capsys, monkeypatch):
    real = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name == ".r.json.partial":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    code, err = run_cli(["render", rosinality_pt, "--seed", 1, "--device", "cpu", "-o", out_dir / "a.png",
                         "--save-recipe", out_dir / "r.json"], capsys)
    assert code == 1
    assert_one_line(err, str(out_dir / "r.json"), "no space left")
    assert listing(out_dir) == []  # the PNG was staged, then removed with the recipe


def test_render_png_path_taken_by_a_folder_midway_writes_no_recipe(rosinality_pt, out_dir, capsys, monkeypatch):
    import engine.cli.render as render_cli

    real = render_cli.render_edit_image

    def render_then_block(*args, **kwargs):
        img = real(*args, **kwargs)
        (out_dir / "a.png").mkdir()  # a folder of that name appears while the command works
        return img

    monkeypatch.setattr(render_cli, "render_edit_image", render_then_block)
    code, err = run_cli(["render", rosinality_pt, "--seed", 1, "--device", "cpu", "-o", out_dir / "a.png",
                         "--save-recipe", out_dir / "r.json"], capsys)
    assert code != 0
    assert_one_line(err, str(out_dir / "a.png"))
    assert listing(out_dir) == ["a.png"] and listing(out_dir / "a.png") == []


def test_render_refuses_a_folder_or_one_path_for_both_outputs_before_work(out_dir, capsys):
    (out_dir / "taken.png").mkdir()
    code, err = run_cli(["render", "no-such-model.pt", "--seed", 1, "-o", out_dir / "taken.png",
                         "--save-recipe", out_dir / "r.json"], capsys)
    assert code == 2
    assert_one_line(err, "taken.png", "folder")
    code, err = run_cli(["render", "no-such-model.pt", "--seed", 1, "-o", out_dir / "a.png",
                         "--save-recipe", out_dir / "a.png"], capsys)
    assert code == 2  # refused before the (missing) model is looked at
    assert_one_line(err, "a.png", "two outputs")
    assert listing(out_dir) == ["taken.png"]


def test_render_writes_both_when_all_succeeds(rosinality_pt, out_dir, capsys):
    code, err = run_cli(["render", rosinality_pt, "--seed", 1, "--device", "cpu", "-o", out_dir / "a.png",
                         "--save-recipe", out_dir / "r.json"], capsys)
    assert code == 0, err
    assert listing(out_dir) == ["a.png", "r.json"]


# ---- invert -o LATENT --preview PNG --------------------------------------------------------------------
def _invert_argv(model, photo, out_dir, *extra):
    return ["invert", photo, "-m", model, "--encoder", "none", "--aligned", "--steps", 0, "-o", out_dir / "w.npy",
            "--preview", out_dir / "p.png", "--device", "cpu", *extra]


@pytest.mark.parametrize("blocked", ["p.png", "w.npy"])
def test_invert_writes_neither_file_when_one_cannot_be_written(rosinality_pt, face_png, out_dir, capsys,
                                                               monkeypatch, blocked):
    import engine.cli.invert as invert_cli

    real = invert_cli.invert_photo

    def invert_then_block(*args, **kwargs):
        res = real(*args, **kwargs)
        (out_dir / blocked).mkdir()
        return res

    monkeypatch.setattr(invert_cli, "invert_photo", invert_then_block)
    code, err = run_cli(_invert_argv(rosinality_pt, face_png, out_dir), capsys)
    assert code != 0
    assert_one_line(err, str(out_dir / blocked))
    assert listing(out_dir) == [blocked] and listing(out_dir / blocked) == []


def test_invert_takes_library_names_for_model_and_encoder(face_png, out_dir, tmp_path, capsys, monkeypatch):
    from engine.library import Library

    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path / "library"))
    demo = demo_model_path()
    encoder = demo.with_name("demo-faces-64-encoder.safetensors")
    lib = Library()
    lib.import_file(demo, name="faces")
    lib.import_file(encoder, name="faces-enc")
    by_path = ["invert", face_png, "-m", demo, "--encoder", encoder, "--aligned", "--steps", 0, "--device", "cpu"]
    by_name = ["invert", face_png, "-m", "faces", "--encoder", "faces-enc", "--aligned", "--steps", 0,
               "--device", "cpu"]
    assert run_cli([*by_path, "-o", out_dir / "a.npy"], capsys)[0] == 0
    code, err = run_cli([*by_name, "-o", out_dir / "b.npy"], capsys)
    assert code == 0, err
    a, b = np.load(out_dir / "a.npy"), np.load(out_dir / "b.npy")
    assert a.shape == b.shape and np.array_equal(a, b)
    # --vgg16 is looked up as kind "vgg": an unknown name, or a name of another kind, is one line, before work
    code, err = run_cli([*by_name, "--vgg16", "no-such-vgg", "-o", out_dir / "c.npy"], capsys)
    assert code == 2
    assert_one_line(err, "no-such-vgg", "no vgg")
    code, err = run_cli([*by_name, "--vgg16", "faces-enc", "-o", out_dir / "c.npy"], capsys)
    assert code == 2
    assert_one_line(err, "faces-enc", "not a vgg")
    code, err = run_cli([*by_name[:5], "no-such-encoder", *by_name[6:], "-o", out_dir / "c.npy"], capsys)
    assert code == 2
    assert_one_line(err, "no-such-encoder", "no encoder")
    assert listing(out_dir) == ["a.npy", "b.npy"]


# ---- adapt -o OUT --distil-direction OUT2 --------------------------------------------------------------
@pytest.fixture
def ref_png(tmp_path, tiny_generator) -> Path:
    with torch.no_grad():
        img = tiny_generator(torch.randn(1, tiny_generator.config.style_dim, generator=torch.Generator()))
    arr = ((-img[0]).clamp(-1, 1).permute(1, 2, 0).numpy() * 127.5 + 127.5).astype(np.uint8)
    path = tmp_path / "ref.png"
    Image.fromarray(arr).resize((64, 64), Image.LANCZOS).save(path)
    return path


def _adapt_argv(model, ref, out_dir, distil):
    return ["adapt", model, "--reference", ref, "--aligned", "--invert-steps", 0,
            "--steps", 1, "--batch", 1, "--device", "cpu", "-o", out_dir / "d.safetensors",
            "--distil-direction", distil]


def test_adapt_refuses_an_impossible_distil_output_before_any_work(ref_png, out_dir, capsys):
    code, err = run_cli(_adapt_argv("no-such-model.pt", ref_png, out_dir, out_dir / "missing" / "s.safetensors"),
                        capsys)
    assert code == 2  # the output is checked before the (missing) model is looked at
    assert_one_line(err, "missing", "does not exist")
    code, err = run_cli(_adapt_argv("no-such-model.pt", ref_png, out_dir, out_dir / "d.safetensors"), capsys)
    assert code == 2
    assert_one_line(err, "d.safetensors", "two outputs")
    assert listing(out_dir) == []


def test_adapt_writes_no_delta_when_the_distilled_direction_cannot_be_written(rosinality_pt, ref_png, out_dir,
                                                                              capsys, monkeypatch):
    import engine.adaptation as adaptation

    real = adaptation.distil_direction

    def distil_then_block(*args, **kwargs):
        got = real(*args, **kwargs)
        (out_dir / "s.safetensors").mkdir()  # a folder appears where the direction is going
        return got

    monkeypatch.setattr(adaptation, "distil_direction", distil_then_block)
    code, err = run_cli(_adapt_argv(rosinality_pt, ref_png, out_dir, out_dir / "s.safetensors"), capsys)
    assert code != 0
    assert "s.safetensors" in err.strip().splitlines()[-1] and "Traceback" not in err, err
    assert listing(out_dir) == ["s.safetensors"]  # no d.safetensors, no temporary file
