"""Every user error is one line (exit 2, or 1 for a full disk), and nothing is half-written (issue 9, section 7).

All through the CLI: ``engine.cli.main.main([...])`` in-process, or a subprocess where the process itself
(a closed pipe) is what is tested.
"""

from __future__ import annotations

import errno
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from conftest import TINY
from test_directions_helpers import styledomain_file

from engine import validation
from engine.cli.main import main
from engine.errors import FileProblem
from engine.pipeline.png_metadata import RECIPE_KEYWORD, read_png_metadata

ROOT = Path(__file__).resolve().parent.parent


def run_cli(argv, capsys) -> tuple[int, str]:
    """Exit code and stderr of one CLI call; argparse errors (SystemExit) count as exit codes."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def assert_one_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("styledomain "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], err


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def direction_pt(tmp_path) -> Path:
    path = tmp_path / "d.pt"
    styledomain_file(path, TINY.channels, seed=3)
    return path


@pytest.fixture
def out_dir(tmp_path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


# ---- 1. sizes, frame counts and batches against the model and the machine -------------------------------
@pytest.mark.parametrize("size", ["99999", "-5", "0", "7"])
def test_render_size_out_of_range_is_refused_before_loading(rosinality_pt, out_dir, capsys, size):
    code, err = run_cli(["render", "no-such-model.pt", "--seed", 1, "--size", size, "-o", out_dir / "a.png"], capsys)
    assert code == 2
    assert_one_line(err, "--size", "8..8192")
    assert listing(out_dir) == []


def test_size_beyond_free_memory_is_refused_with_the_limit(rosinality_pt, out_dir, capsys, monkeypatch):
    monkeypatch.setattr(validation, "available_memory", lambda: 64 * 2**20)
    monkeypatch.setattr(validation, "device_memory", lambda device: 64 * 2**20)
    code, err = run_cli(["render", rosinality_pt, "--seed", 1, "--size", 4096, "--device", "cpu",
                         "-o", out_dir / "a.png"], capsys)
    assert code == 2
    assert_one_line(err, "4096", "MB", "lower --size")
    assert listing(out_dir) == []
    # the same machine renders the model's own size
    assert run_cli(["render", rosinality_pt, "--seed", 1, "--device", "cpu", "-o", out_dir / "b.png"], capsys)[0] == 0


def test_morph_frames_times_size_is_checked_against_memory(rosinality_pt, direction_pt, out_dir, capsys,
                                                           monkeypatch):
    monkeypatch.setattr(validation, "available_memory", lambda: 256 * 2**20)
    code, err = run_cli(["direction", "morph", rosinality_pt, "--seed", 1, "--direction", direction_pt,
                         "--direction", direction_pt, "--frames", 5000, "--size", 1024, "--device", "cpu",
                         "-o", out_dir / "m.gif"], capsys)
    assert code == 2
    assert_one_line(err, "5000 image(s) of 1024 x 1024", "--frames")
    assert listing(out_dir) == []


@pytest.mark.parametrize("argv,flag", [
    (["direction", "morph", "M", "--seed", "1", "--direction", "d", "--frames", "0", "-o", "x.gif"], "--frames"),
    (["direction", "morph", "M", "--seed", "1", "--direction", "d", "--frames", "10000000", "-o", "x.gif"],
     "--frames"),
    (["train-encoder", "M", "-o", "e.safetensors", "--batch", "0"], "--batch"),
    (["train-encoder", "M", "-o", "e.safetensors", "--batch", "100000"], "--batch"),
    (["train-encoder", "M", "-o", "e.safetensors", "--width", "100000"], "--width"),
    (["align", "photo.jpg", "-o", "a.png", "--face", "0"], "--face"),
])
def test_counts_out_of_range_are_one_line(argv, flag, capsys):
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert_one_line(err, flag)


def test_training_batch_beyond_memory_is_refused(rosinality_pt, out_dir, capsys, monkeypatch):
    monkeypatch.setattr(validation, "device_memory", lambda device: 2**20)
    code, err = run_cli(["train-encoder", rosinality_pt, "-o", out_dir / "e.safetensors", "--batch", 4096,
                         "--steps", 1, "--device", "cpu"], capsys)
    assert code == 2
    assert_one_line(err, "lower --batch")
    assert listing(out_dir) == []


# ---- 2. non-finite and out-of-range numbers ---------------------------------------------------------
@pytest.mark.parametrize("extra,flag", [
    (["--psi", "nan"], "--psi"), (["--psi", "inf"], "--psi"), (["--psi", "1e308"], "--psi"),
    (["--seed", "-1"], "--seed"), (["--seed", str(2**40)], "--seed"), (["--seed", "1.5"], "--seed"),
    (["--cutoff", "-2"], "--cutoff"),
    (["--direction", "{d}", "--strength", "1e308"], "--strength"),
    (["--direction", "{d}", "--strength", "nan"], "--strength"),
    (["--direction", "{d}=nan"], "--direction"), (["--direction", "{d}=-inf"], "--direction"),
])
def test_render_numbers_are_checked(rosinality_pt, direction_pt, out_dir, capsys, extra, flag):
    argv = ["render", rosinality_pt, "--seed", "1", *[e.format(d=direction_pt) for e in extra], "-o", out_dir / "a.png"]
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert_one_line(err, flag)
    assert listing(out_dir) == []


@pytest.mark.parametrize("extra,flag", [
    (["--pad-path", "0,0;nan,1"], "--pad-path"), (["--pad-path", "0,0;inf,1"], "--pad-path"),
    (["--psi", "nan"], "--psi"), (["--strength", "inf"], "--strength"), (["--duration", "0"], "--duration"),
    (["--size", "-5"], "--size"),
])
def test_morph_numbers_are_checked(rosinality_pt, direction_pt, out_dir, capsys, extra, flag):
    code, err = run_cli(["direction", "morph", rosinality_pt, "--seed", 1, "--direction", direction_pt,
                         "--direction", direction_pt, *extra, "-o", out_dir / "m.gif"], capsys)
    assert code == 2
    assert_one_line(err, flag)
    assert listing(out_dir) == []


@pytest.mark.parametrize("argv,flag", [
    (["invert", "p.jpg", "-m", "M", "-o", "x.npy", "--lr", "nan"], "--lr"),
    (["invert", "p.jpg", "-m", "M", "-o", "x.npy", "--lr", "-1"], "--lr"),
    (["invert", "p.jpg", "-m", "M", "-o", "x.npy", "--steps", "-3"], "--steps"),
    (["invert", "p.jpg", "-m", "M", "-o", "x.npy", "--resolution", "-5"], "--resolution"),
    (["apply", "--recipe", "r.json", "-o", "x.png", "--steps", "-1"], "--steps"),
    (["train-encoder", "M", "-o", "e.safetensors", "--lr", "inf"], "--lr"),
    (["train-encoder", "M", "-o", "e.safetensors", "--time-limit", "nan"], "--time-limit"),
    (["train-encoder", "M", "-o", "e.safetensors", "--seed", "-1"], "--seed"),
    (["direction", "sparsify", "a", "b.safetensors", "--keep", "nan"], "--keep"),
])
def test_other_verbs_numbers_are_checked(argv, flag, capsys):
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert_one_line(err, flag)


def test_invert_resolution_must_be_one_of_the_models(rosinality_pt, tmp_path, out_dir, capsys):
    from PIL import Image

    Image.new("RGB", (64, 64), (120, 90, 80)).save(tmp_path / "face.png")
    code, err = run_cli(["invert", tmp_path / "face.png", "-m", rosinality_pt, "--encoder", "none", "--aligned",
                         "--resolution", 64, "-o", out_dir / "w.npy", "--device", "cpu"], capsys)
    assert code == 2
    assert_one_line(err, "--resolution", "8, 16, 32")
    assert listing(out_dir) == []


@pytest.fixture
def recipe_json(rosinality_pt, tmp_path, capsys) -> Path:
    path = tmp_path / "r.json"
    assert run_cli(["render", rosinality_pt, "--seed", 2, "--device", "cpu", "-o", tmp_path / "r.png",
                    "--save-recipe", path], capsys)[0] == 0
    return path


@pytest.mark.parametrize("edit,needle", [
    (lambda d: d["latent"].__setitem__("seed", -1), "latent.seed"),
    (lambda d: d["latent"].__setitem__("seed", 2**40), "latent.seed"),
    (lambda d: d.__setitem__("noise", {"mode": "random", "seed": 2**70}), "noise.seed"),
    (lambda d: d.__setitem__("truncation", {"psi": 1e308, "cutoff": None}), "truncation.psi"),
    (lambda d: d.__setitem__("strength", 1e300), "strength"),
    (lambda d: d.__setitem__("output", {"size": 99999}), "output.size"),
    (lambda d: d.__setitem__("truncation", {"psi": 1.0, "cutoff": -1}), "truncation.cutoff"),
])
def test_recipe_numbers_are_checked_by_apply(recipe_json, out_dir, capsys, edit, needle):
    d = json.loads(recipe_json.read_text())
    edit(d)
    recipe_json.write_text(json.dumps(d))
    code, err = run_cli(["apply", "--recipe", recipe_json, "-o", out_dir / "a.png", "--device", "cpu"], capsys)
    assert code == 2
    assert_one_line(err, str(recipe_json), needle)
    assert listing(out_dir) == []


def test_deeply_nested_recipe_is_one_line(tmp_path, out_dir, capsys):
    bad = tmp_path / "deep.json"
    bad.write_text('{"format": "styledomain.recipe", "version": 1, "source": ' + "[" * 100_000 + "]" * 100_000 + "}")
    code, err = run_cli(["apply", "--recipe", bad, "-o", out_dir / "a.png"], capsys)
    assert code == 2
    assert_one_line(err, "deep.json", "nested too deeply")


# ---- 3. operating-system errors -----------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_one_line_before_any_work(rosinality_pt, out_dir, capsys):
    out_dir.chmod(0o555)
    try:
        code, err = run_cli(["render", rosinality_pt, "--seed", 1, "-o", out_dir / "a.png"], capsys)
    finally:
        out_dir.chmod(0o755)
    assert code == 2
    assert_one_line(err, str(out_dir / "a.png"), "not writable")
    assert listing(out_dir) == []


def _deny_writes_in(folder: Path, monkeypatch, err: int, after_bytes: int | None = None):
    """Make files opened for writing in ``folder`` fail like a read-only (at open) or full disk (at write)."""
    import builtins
    import io

    real_open = builtins.open

    class FullFile(io.FileIO):
        written = 0

        def write(self, b):
            if self.written + len(b) > (after_bytes or 0):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.written += len(b)
            return super().write(b)

    def fake_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file).parent == folder and any(c in mode for c in "wax+"):
            if after_bytes is None:
                raise OSError(err, os.strerror(err), str(file))
            raw = FullFile(file, mode.replace("b", "").replace("t", "") or "w")
            return raw if "b" in mode else io.TextIOWrapper(raw, encoding=kwargs.get("encoding"))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)  # pathlib opens through io.open


def test_unwritable_file_names_the_target_not_the_temp(rosinality_pt, out_dir, capsys, monkeypatch):
    _deny_writes_in(out_dir, monkeypatch, errno.EACCES)
    monkeypatch.setattr(os, "open", _failing_os_open(out_dir, errno.EACCES, os.open))
    code, err = run_cli(["render", rosinality_pt, "--seed", 1, "--device", "cpu", "-o", out_dir / "a.png"], capsys)
    assert code == 2
    assert_one_line(err, f"{out_dir / 'a.png'}: ")
    assert ".partial" not in err
    assert listing(out_dir) == []


def _failing_os_open(folder: Path, err: int, real):
    def fake(path, flags, *args, **kwargs):
        if Path(os.fsdecode(path)).parent == folder and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(err, os.strerror(err), os.fsdecode(path))
        return real(path, flags, *args, **kwargs)

    return fake


def test_full_disk_is_one_line_and_leaves_nothing(rosinality_pt, out_dir, capsys, monkeypatch):
    _deny_writes_in(out_dir, monkeypatch, errno.ENOSPC, after_bytes=10)
    code, err = run_cli(["render", rosinality_pt, "--seed", 1, "--device", "cpu", "-o", out_dir / "a.png"], capsys)
    assert code == 1
    assert_one_line(err, str(out_dir / "a.png"), "no space left")
    assert listing(out_dir) == []  # no output, no temporary file


# ---- 4. half-written results ----------------------------------------------------------------------------
def test_invert_writes_no_latent_when_the_preview_fails(rosinality_pt, tmp_path, out_dir, capsys, monkeypatch):
    from PIL import Image

    import engine.cli.invert as invert_cli

    Image.new("RGB", (64, 64), (120, 90, 80)).save(tmp_path / "face.png")

    def full_disk(pil, path, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(invert_cli, "save_image_atomic", full_disk)
    code, err = run_cli(["invert", tmp_path / "face.png", "-m", rosinality_pt, "--encoder", "none", "--aligned",
                         "--steps", 0, "-o", out_dir / "w.npy", "--preview", out_dir / "p.png", "--device", "cpu"],
                        capsys)
    assert code == 1, err
    assert_one_line(err, "p.png", "no space left")
    assert listing(out_dir) == []


def test_morph_png_dir_that_cannot_be_made_is_refused_before_work(rosinality_pt, direction_pt, out_dir, capsys):
    blocker = out_dir / "frames"
    blocker.write_text("a file, not a folder")
    code, err = run_cli(["direction", "morph", rosinality_pt, "--seed", 1, "--direction", direction_pt,
                         "--direction", direction_pt, "--frames", 2, "--png-dir", blocker / "sub",
                         "-o", out_dir / "m.gif", "--device", "cpu"], capsys)
    assert code == 2
    assert_one_line(err, "frames")
    assert listing(out_dir) == ["frames"]


def test_morph_writes_no_animation_when_the_pngs_fail(rosinality_pt, direction_pt, out_dir, capsys, monkeypatch):
    import engine.domains.morph as morph

    def full_disk(frames, folder, prefix="frame"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(Path(folder) / "frame_0000.png"))

    monkeypatch.setattr(morph, "save_png_sequence", full_disk)
    code, err = run_cli(["direction", "morph", rosinality_pt, "--seed", 1, "--direction", direction_pt,
                         "--direction", direction_pt, "--frames", 2, "--png-dir", out_dir / "frames",
                         "-o", out_dir / "m.gif", "--device", "cpu"], capsys)
    assert code == 1
    assert_one_line(err, "frame_0000.png")
    assert "m.gif" not in listing(out_dir)


def test_render_save_recipe_is_not_written_when_the_render_fails(rosinality_pt, out_dir, capsys, monkeypatch):
    import engine.cli.render as render_cli
    from engine.errors import UserError

    def fails(*a, **kw):
        raise UserError("synthesis failed")

    monkeypatch.setattr(render_cli, "render_edit_image", fails)
    code, err = run_cli(["render", rosinality_pt, "--seed", 1, "--device", "cpu", "-o", out_dir / "a.png",
                         "--save-recipe", out_dir / "a.json"], capsys)
    assert code == 2
    assert_one_line(err, "synthesis failed")
    assert listing(out_dir) == []


# ---- 5. resource bombs in metadata ----------------------------------------------------------------------
def _bomb_png(path: Path, inflated_mb: int = 64) -> None:
    """A valid 8x8 PNG whose recipe iTXt inflates to ``inflated_mb`` MB (about 64 kB on disk)."""
    from PIL import Image

    from engine.pipeline.png_metadata import encode_png

    z = zlib.compressobj(9)
    block = b" " * 2**20
    body = b"".join([z.compress(b"{" + block[1:])] + [z.compress(block) for _ in range(inflated_mb - 1)]) + z.flush()
    data = RECIPE_KEYWORD.encode() + b"\0\1\0\0\0" + body
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", zlib.crc32(b"iTXt" + data))
    png = encode_png(Image.new("RGB", (8, 8)), strip=True)
    idat = png.index(b"IDAT") - 4
    path.write_bytes(png[:idat] + chunk + png[idat:])


def test_zlib_bomb_recipe_is_refused_without_inflating(tmp_path, out_dir, capsys):
    bomb = tmp_path / "bomb.png"
    _bomb_png(bomb)
    assert bomb.stat().st_size < 200_000
    with pytest.raises(FileProblem, match="decompression bomb"):
        read_png_metadata(bomb)
    code, err = run_cli(["apply", "--recipe", bomb, "-o", out_dir / "a.png"], capsys)
    assert code == 2
    assert_one_line(err, "bomb.png", "inflates to more than")
    assert listing(out_dir) == []


def test_recipe_json_file_size_is_capped(tmp_path, out_dir, capsys):
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(9 * 2**20)  # sparse: no real disk use
    code, err = run_cli(["apply", "--recipe", big, "-o", out_dir / "a.png"], capsys)
    assert code == 2
    assert_one_line(err, "big.json", "too large for a recipe")


# ---- 6. consistency -----------------------------------------------------------------------------------
def _cli(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "engine.cli", *args], cwd=ROOT, env=env, **kw)


def test_closed_output_pipe_is_quiet(direction_pt):
    proc = _cli("direction", "info", str(direction_pt), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is printed
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert err == ""


def test_direction_info_into_head_has_no_traceback(direction_pt):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = f'"{sys.executable}" -m engine.cli direction info "{direction_pt}" | head -1'
    done = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert len(done.stdout.splitlines()) == 1
    assert "Error" not in done.stderr and "Traceback" not in done.stderr


def test_argument_errors_are_one_line_not_the_usage_block(capsys):
    code, err = run_cli(["render", "M", "--seed", "x", "-o", "a.png"], capsys)
    assert code == 2
    assert_one_line(err, "styledomain render: error: argument --seed", "--help")
    assert "usage:" not in err


def test_bench_refuses_resolutions_the_model_lacks(rosinality_pt, capsys):
    code, err = run_cli(["bench", rosinality_pt, "--resolutions", "256,512", "--tasks", "render", "--device", "cpu",
                         "--batches", 1, "--repeats", 1, "--no-reference"], capsys)
    assert code == 2
    assert_one_line(err, "32 px", "--resolutions")


def test_invert_and_apply_default_to_the_same_steps(rosinality_pt, recipe_json, tmp_path, out_dir, capsys):
    from PIL import Image

    from engine.fileio import read_safetensors_metadata
    from engine.pipeline.recipe import load_recipe

    photo = tmp_path / "face.png"
    Image.new("RGB", (64, 64), (120, 90, 80)).save(photo)
    common = ["--encoder", "none", "--aligned", "--device", "cpu"]
    assert run_cli(["invert", photo, "-m", rosinality_pt, *common, "-o", out_dir / "w.safetensors"], capsys)[0] == 0
    assert run_cli(["apply", "--recipe", recipe_json, photo, *common, "-o", out_dir / "a.png"], capsys)[0] == 0
    invert_steps = int(read_safetensors_metadata(out_dir / "w.safetensors")["steps"])
    apply_steps = load_recipe(out_dir / "a.png").source.inversion["steps"]
    assert invert_steps == apply_steps > 0


def test_render_png_carries_recipe_and_provenance_unless_stripped(rosinality_pt, out_dir, capsys):
    from engine.pipeline.png_metadata import TRAINED_ALGORITHMIC_MEDIA

    assert run_cli(["render", rosinality_pt, "--seed", 4, "--device", "cpu", "-o", out_dir / "a.png"], capsys)[0] == 0
    meta = read_png_metadata(out_dir / "a.png")
    assert json.loads(meta.recipe_text)["latent"] == {"kind": "seed", "seed": 4}
    assert meta.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert run_cli(["render", rosinality_pt, "--seed", 4, "--device", "cpu", "--strip-metadata",
                    "-o", out_dir / "b.png"], capsys)[0] == 0
    stripped = read_png_metadata(out_dir / "b.png")
    assert stripped.recipe_text is None and stripped.xmp is None
