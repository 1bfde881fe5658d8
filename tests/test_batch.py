"""`styledomain batch`: mixed folders, names, formats, manifest and rerun, overwrite rules, usage errors."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image
from test_batch_helpers import FACES, SAMPLES, aligned_inputs, demo_direction, make_recipe, mixed_folder

from engine.cli.main import main
from engine.fileio import sha256_of
from engine.jobs import CancelToken
from engine.pipeline.batch import JOURNAL_NAME, MANIFEST_NAME, run_batch
from engine.pipeline.png_metadata import TRAINED_ALGORITHMIC_MEDIA, read_png_metadata
from engine.pipeline.recipe import Recipe

pytestmark = pytest.mark.usefixtures("one_thread")


def batch(argv, capsys):
    code = main(["batch", *[str(a) for a in argv], "--device", "cpu"])
    out, err = capsys.readouterr()
    return code, out, err


def batch_json(argv, capsys):
    code, out, err = batch([*argv, "--json"], capsys)
    assert out.strip(), err
    return code, json.loads(out)


@pytest.fixture
def recipe(tmp_path):
    return make_recipe(tmp_path / "sketchy.json", direction=demo_direction(tmp_path / "dir.pt"))


def test_mixed_folder_reports_bad_inputs_and_exports_the_rest(tmp_path, recipe, capsys):
    files = mixed_folder(tmp_path / "in")
    out = tmp_path / "out"
    code, rep = batch_json([tmp_path / "in", "-o", out, "--recipe", recipe, "--steps", 0], capsys)
    assert code == 1
    assert sorted(d["input"] for d in rep["done"]) == sorted(str(p) for p in files["good"])
    failed = {os.path.basename(f["input"]): f["reason"] for f in rep["failed"]}
    assert set(failed) == {"corrupt.png", "faceless.png", "text.png"}
    assert "no face" in failed["faceless.png"]
    assert "truncated" in failed["corrupt.png"] or "damaged" in failed["corrupt.png"]
    assert "not an image" in failed["text.png"]
    assert all("\n" not in r for r in failed.values())
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([MANIFEST_NAME] + [f"{p.stem}_sketchy.png" for p in files["good"]])
    assert sorted(rep["outputs"]) == sorted(str(out / f"{p.stem}_sketchy.png") for p in files["good"])
    assert set(rep["stage_seconds"]) == {"decode_align", "invert_render", "encode_write"}
    assert rep["seconds"] > 0 and rep["skipped"] == []

    meta = read_png_metadata(out / "face-seed2_sketchy.png")
    assert meta.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    eff = Recipe.loads(meta.recipe_text)
    assert eff.source.photo_sha256 == sha256_of(files["good"][0])
    assert eff.latent.kind == "inline" and len(eff.latent.w_plus) > 0
    assert [d.name for d in eff.directions] == ["dir"]
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    entry = manifest["entries"][os.path.abspath(files["good"][0])]
    st = files["good"][0].stat()
    assert (entry["size"], entry["mtime"], entry["output"]) == (st.st_size, st.st_mtime, "face-seed2_sketchy.png")
    assert entry["recipe_sha256"] and not (out / JOURNAL_NAME).exists()

    # a rerun skips what is done and leaves those files alone; the bad inputs fail again
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    code, rep2 = batch_json([tmp_path / "in", "-o", out, "--recipe", recipe, "--steps", 0], capsys)
    assert code == 1 and rep2["done"] == [] and len(rep2["failed"]) == 3
    assert sorted(s["input"] for s in rep2["skipped"]) == sorted(str(p) for p in files["good"])
    assert all("already exported" in s["reason"] for s in rep2["skipped"])
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")} == before


def test_all_good_exits_0_and_existing_files_need_overwrite(tmp_path, recipe, capsys):
    inp = tmp_path / "in"
    inp.mkdir()
    for f in FACES[:2]:
        shutil.copy(SAMPLES / f, inp / f)
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "face-seed2_sketchy.png"
    mine.write_bytes(b"the user's own file")
    code, rep = batch_json([inp, "-o", out, "--recipe", recipe, "--steps", 0], capsys)
    assert code == 0
    assert [s["input"] for s in rep["skipped"]] == [str(inp / "face-seed2.png")]
    assert "--overwrite" in rep["skipped"][0]["reason"]
    assert mine.read_bytes() == b"the user's own file"
    code, rep = batch_json([inp, "-o", out, "--recipe", recipe, "--steps", 0, "--overwrite"], capsys)
    assert code == 0 and [d["input"] for d in rep["done"]] == [str(inp / "face-seed2.png")]
    assert Image.open(mine).size == (64, 64)


def test_list_file_names_formats_and_quality(tmp_path, recipe, capsys):
    inp = tmp_path / "photos"
    aligned = aligned_inputs(inp / "a", 2, size=96)
    shutil.copy(SAMPLES / FACES[0], inp / FACES[0])
    lst = tmp_path / "list.txt"
    lst.write_text(f"# photos\nphotos/a/{aligned[0].name}\n\n{aligned[1]}\nphotos/missing.png\n")
    out = tmp_path / "out"
    code, rep = batch_json([f"@{lst}", "-o", out, "--recipe", recipe, "--steps", 0, "--aligned", "--format", "jpg",
                            "--quality", "30", "--name", "{index:03d}-{stem}"], capsys)
    assert code == 1
    assert [f["reason"] for f in rep["failed"]] == ["file not found"]
    assert sorted(p.name for p in out.glob("*.jpg")) == ["001-img00000.jpg", "002-img00001.jpg"]
    assert Image.open(out / "001-img00000.jpg").format == "JPEG"
    low = (out / "001-img00000.jpg").stat().st_size
    out2 = tmp_path / "out2"
    code, _ = batch_json([aligned[0], "-o", out2, "--recipe", recipe, "--steps", 0, "--aligned", "--format", "jpg",
                          "--quality", "95", "--name", "{index:03d}-{stem}"], capsys)
    assert code == 0 and (out2 / "001-img00000.jpg").stat().st_size > low
    code, _ = batch_json([inp, "-o", tmp_path / "w", "--recipe", recipe, "--steps", 0, "--aligned", "--format",
                          "webp", "--name", "{folder}/{stem}.{ext}"], capsys)
    assert code == 0
    assert sorted(str(p.relative_to(tmp_path / "w")) for p in (tmp_path / "w").rglob("*.webp")) == [
        "a/img00000.webp", "a/img00001.webp", "face-seed2.webp"]
    assert Image.open(tmp_path / "w" / "a" / "img00000.webp").format == "WEBP"


def test_paste_back_gives_the_whole_photo(tmp_path, recipe, capsys):
    out = tmp_path / "out"
    code, rep = batch_json([SAMPLES / FACES[1], "-o", out, "--recipe", recipe, "--steps", 0, "--paste-back"], capsys)
    assert code == 0
    pasted = np.asarray(Image.open(out / "face-seed6_sketchy.png").convert("RGB")).astype(int)
    photo = np.asarray(Image.open(SAMPLES / FACES[1]).convert("RGB")).astype(int)
    assert pasted.shape == photo.shape
    assert 0 < np.abs(pasted - photo).mean()
    assert np.array_equal(pasted[:3, :3], photo[:3, :3])  # corners lie outside the face crop
    assert Recipe.loads(read_png_metadata(out / "face-seed6_sketchy.png").recipe_text).paste_back


@pytest.mark.parametrize("case", ["bad-recipe", "missing-model", "out-not-writable", "bad-name", "no-inputs",
                                  "bad-quality"])
def test_usage_errors_exit_2_before_any_work(tmp_path, recipe, capsys, case):
    inp = tmp_path / "in"
    aligned_inputs(inp, 1)
    out = tmp_path / "out"
    args = [inp, "-o", out, "--recipe", recipe, "--steps", 0, "--aligned"]
    if case == "bad-recipe":
        bad = tmp_path / "bad.json"
        bad.write_text('{"format": "styledomain.recipe", "version": 99}')
        args[4] = bad
    elif case == "missing-model":
        doc = json.loads(recipe.read_text())
        doc["generator"].update(file="gone.safetensors", sha256="0" * 64)
        (tmp_path / "r2.json").write_text(json.dumps(doc))
        args[4] = tmp_path / "r2.json"
    elif case == "out-not-writable":
        (tmp_path / "afile").write_text("x")
        args[2] = tmp_path / "afile" / "out"
    elif case == "bad-name":
        args += ["--name", "../{stem}"]
    elif case == "no-inputs":
        args[0] = tmp_path / "empty"
        (tmp_path / "empty").mkdir()
    elif case == "bad-quality":
        args += ["--format", "jpg", "--quality", "0"]
    code, out_text, err = batch(args, capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_engine_progress_and_cancel_keep_what_finished(tmp_path, recipe):
    inputs = aligned_inputs(tmp_path / "in", 6)
    out = tmp_path / "out"
    token = CancelToken()
    seen = []

    def progress(p):
        seen.append(p)
        if p.values.get("done", 0) >= 1:
            token.cancel()

    rep = run_batch([tmp_path / "in"], out, recipe, steps=0, aligned=True, workers=1, batch_size=1,
                    progress=progress, cancel=token)
    assert rep.cancelled and 1 <= len(rep.done) < len(inputs)
    assert seen[0].job == "batch" and seen[0].total == len(inputs)
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert sorted(manifest["entries"]) == sorted(os.path.abspath(d["input"]) for d in rep.done)
    rep2 = run_batch([tmp_path / "in"], out, recipe, steps=0, aligned=True)
    assert not rep2.cancelled and len(rep2.done) + len(rep2.skipped) == len(inputs)
    assert len(rep2.skipped) == len(rep.done)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        f"{p.stem}_sketchy.png" for p in inputs)


@pytest.mark.parametrize("paste", [False, True])
def test_batch_output_matches_apply(tmp_path, recipe, capsys, paste):
    flag = "--paste-back" if paste else "--no-paste-back"
    photo = SAMPLES / FACES[0]
    assert main(["apply", "--recipe", str(recipe), str(photo), "-o", str(tmp_path / "apply.png"), "--steps", "0",
                 flag, "--device", "cpu"]) == 0
    capsys.readouterr()
    code, _ = batch_json([photo, "-o", tmp_path / "out", "--recipe", recipe, "--steps", 0, flag,
                          "--batch-size", 1], capsys)
    assert code == 0
    ours = np.asarray(Image.open(tmp_path / "out" / "face-seed2_sketchy.png"))
    theirs = np.asarray(Image.open(tmp_path / "apply.png"))
    assert np.array_equal(ours, theirs)
    # the batch's exported PNG reproduces itself through apply (it carries the whole effective recipe)
    assert main(["apply", "--recipe", str(tmp_path / "out" / "face-seed2_sketchy.png"), "-o",
                 str(tmp_path / "again.png"), "--no-paste-back", "--device", "cpu"]) == 0
    if not paste:
        assert np.array_equal(np.asarray(Image.open(tmp_path / "again.png")), ours)


def test_batched_encoder_is_close_to_one_at_a_time(tmp_path, recipe, capsys):
    inp = tmp_path / "in"
    inp.mkdir()
    for f in FACES:
        shutil.copy(SAMPLES / f, inp / f)
    for b in (1, 4):
        code, rep = batch_json([inp, "-o", tmp_path / f"b{b}", "--recipe", recipe, "--steps", 0, "--batch-size", b],
                               capsys)
        assert code == 0 and len(rep["done"]) == 4
    for f in FACES:
        name = f.replace(".png", "_sketchy.png")
        a = np.asarray(Image.open(tmp_path / "b1" / name)).astype(int)
        b = np.asarray(Image.open(tmp_path / "b4" / name)).astype(int)
        assert np.abs(a - b).max() <= 2
