"""The model library: import / list / verify / remove, names accepted by the CLI, recipes found by sha256."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY, make_generator
from PIL import Image
from test_directions_helpers import styledomain_file

from engine.checkpoints import load_generator, save_native
from engine.cli.main import main
from engine.domains.direction import load_direction
from engine.errors import UserError
from engine.fileio import sha256_of
from engine.jobs import Cancelled, CancelToken
from engine.library import Library, find_by_sha256, resolve
from engine.pipeline.recipe_render import find_file
from engine.resources import demo_model_path
from engine.stylespace import layout_fingerprint, style_layout

pytestmark = pytest.mark.usefixtures("one_thread")
FP = layout_fingerprint(style_layout(TINY))


@pytest.fixture
def home(tmp_path, monkeypatch):
    root = tmp_path / "library"
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(root))
    return root


def cli(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(root) -> dict:
    """Every file under ``root`` with its bytes: 'nothing changed' means this is equal before and after."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} \
        if root.exists() else {}


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


@pytest.fixture
def native_gen(tmp_path):
    path = tmp_path / "src" / "tiny-native.safetensors"
    path.parent.mkdir()
    save_native(make_generator(seed=4), path, license_note="CC-BY 4.0 test weights")
    return path


def test_round_trip_import_list_render_recipe_verify_remove(home, tmp_path, capsys, native_gen, rosinality_pt):
    direction_pt = tmp_path / "src" / "tiny-sketch.pt"
    styledomain_file(direction_pt, TINY.channels, seed=3)

    assert cli(["models", "import", native_gen, "--name", "native"], capsys)[0] == 0
    code, out, _ = cli(["models", "import", rosinality_pt, "--kind", "generator"], capsys)
    assert code == 0 and "converted from rosinality" in out
    code, out, err = cli(["models", "import", direction_pt, "--licence", "mine"], capsys)
    assert code == 0, err

    code, out, _ = cli(["models", "list", "--json"], capsys)
    listed = {e["name"]: e for e in json.loads(out)["entries"]}
    assert {"native", "tiny-rosinality", "tiny-sketch", "demo-faces-64"} <= set(listed)
    ros = listed["tiny-rosinality"]
    assert ros["kind"] == "generator" and ros["path"].endswith(".safetensors") and ros["fingerprint"] == FP
    assert ros["source_name"] == "tiny-rosinality.pt" and ros["source_sha256"] == sha256_of(rosinality_pt)
    assert ros["sha256"] == sha256_of(ros["path"]) and ros["size"] > 0 and ros["imported"]
    assert listed["native"]["licence"] == "CC-BY 4.0 test weights" and listed["native"]["fingerprint"] == FP
    assert listed["tiny-sketch"]["kind"] == "direction" and listed["tiny-sketch"]["licence"] == "mine"
    assert listed["demo-faces-64"]["read_only"] and not listed["native"]["read_only"]
    # the converted generator holds the same weights
    a, b = load_generator(rosinality_pt).generator, load_generator(ros["path"]).generator
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert load_direction(listed["tiny-sketch"]["path"]).fingerprint == FP

    # render by library names, the same pixels as from the original file
    out_lib, out_file = tmp_path / "lib.png", tmp_path / "file.png"
    code, _, err = cli(["render", "tiny-rosinality", "--seed", 1, "--direction", "tiny-sketch=0.5", "-o", out_lib],
                       capsys)
    assert code == 0, err
    assert cli(["render", rosinality_pt, "--seed", 1, "--direction", f"{direction_pt}=0.5", "-o", out_file],
               capsys)[0] == 0
    assert np.array_equal(pixels(out_lib), pixels(out_file))

    # recipes: a file neither beside the recipe nor in a search folder is found by sha256 in the library
    nowhere = tmp_path / "empty"
    nowhere.mkdir()
    stored = home / "generator"
    assert find_file(listed["native"]["sha256"], "native.safetensors", nowhere, []) == stored / "native.safetensors"
    assert find_file(sha256_of(rosinality_pt), "gone.pt", nowhere, []) == stored / "tiny-rosinality.safetensors"
    assert find_by_sha256(sha256_of(direction_pt), "direction") == home / "direction" / "tiny-sketch.safetensors"
    assert find_by_sha256("0" * 64) is None
    assert find_by_sha256(sha256_of(demo_model_path()), "generator") == demo_model_path()

    # verify: all good, then one modified file is named and the exit code is 1
    code, out, _ = cli(["models", "verify", "--json"], capsys)
    assert code == 0 and json.loads(out)["ok"]
    stored = home / "generator" / "native.safetensors"
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0xFF
    stored.write_bytes(bytes(data))
    code, out, _ = cli(["models", "verify", "--json"], capsys)
    status = {r["name"]: r["status"] for r in json.loads(out)["results"]}
    assert code == 1 and status["native"] == "modified" and status["tiny-sketch"] == "ok"
    assert cli(["models", "verify", "tiny-rosinality"], capsys)[0] == 0

    # remove: entry and file go; the name no longer resolves
    code, out, _ = cli(["models", "remove", "native"], capsys)
    assert code == 0 and not stored.exists()
    assert "native" not in {e.name for e in Library(home).entries()}
    code, _, err = cli(["render", "native", "--seed", 1, "-o", tmp_path / "x.png"], capsys)
    assert code == 2 and "no generator called 'native'" in err and len(err.splitlines()) == 1


def test_resolve_prefers_an_existing_file_and_names_close_matches(home, tmp_path, native_gen):
    lib = Library()
    lib.import_file(native_gen, name="faces")
    clash = tmp_path / "faces"
    assert resolve("faces", "generator") == home / "generator" / "faces.safetensors"
    clash.write_bytes(b"x")
    assert resolve(str(clash), "generator") == clash  # an existing path wins over a library name
    with pytest.raises(UserError, match="close names: faces"):
        resolve("facez", "generator")
    with pytest.raises(UserError, match="is a generator, not a direction"):
        resolve("faces", "direction")
    with pytest.raises(UserError, match="unknown kind"):
        resolve("faces", "painting")


def _refusal(argv, capsys, home, needle) -> None:
    before = snapshot(home)
    code, out, err = cli(argv, capsys)
    assert code == 2, (out, err)
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert snapshot(home) == before  # nothing changed, no temporary files left


def test_bad_input_is_one_line_exit_2_and_changes_nothing(home, tmp_path, capsys, native_gen, rosinality_pt):
    assert cli(["models", "import", native_gen, "--name", "faces"], capsys)[0] == 0
    enc = demo_model_path().with_name("demo-faces-64-encoder.safetensors")
    _refusal(["models", "import", native_gen, "--kind", "painting"], capsys, home, "unknown kind 'painting'")
    _refusal(["models", "list", "--kind", "painting"], capsys, home, "unknown kind 'painting'")
    _refusal(["models", "import", enc, "--kind", "generator"], capsys, home, "an encoder file, not a generator")
    _refusal(["models", "import", rosinality_pt, "--kind", "direction"], capsys, home, "not a direction")
    _refusal(["models", "import", rosinality_pt, "--name", "faces"], capsys, home, "already in the library")
    _refusal(["models", "import", native_gen, "--name", "copy"], capsys, home, "already in the library as 'faces'")
    _refusal(["models", "import", tmp_path / "missing.pt"], capsys, home, "file not found")
    _refusal(["models", "import", native_gen, "--name", "../escape"], capsys, home, "library name")
    text = tmp_path / "notes.pt"
    text.write_text("not a model")
    _refusal(["models", "import", text], capsys, home, "not a model file the library knows")
    junk = tmp_path / "junk.dat"
    junk.write_bytes(bytes(range(256)) * 8)
    _refusal(["models", "import", junk, "--kind", "landmarks"], capsys, home, "not a landmarks file")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(native_gen.read_bytes()[:200])
    _refusal(["models", "import", broken], capsys, home, "broken.safetensors")
    _refusal(["models", "remove", "fases"], capsys, home, "close names: faces")
    _refusal(["models", "verify", "nothing"], capsys, home, "no model called 'nothing'")

    # --replace swaps the entry for the new file, under the same name
    code, out, _ = cli(["models", "import", rosinality_pt, "--name", "faces", "--replace", "--json"], capsys)
    assert code == 0 and json.loads(out)["source_sha256"] == sha256_of(rosinality_pt)
    assert [e.source_name for e in Library().entries("generator") if e.name == "faces"] == ["tiny-rosinality.pt"]


def test_built_ins_are_read_only(home, capsys):
    entries = {e.name: e for e in Library().entries()}
    demo, enc = entries["demo-faces-64"], entries["demo-faces-64-encoder"]
    assert demo.read_only and demo.kind == "generator" and demo.path == demo_model_path()
    assert enc.read_only and enc.kind == "encoder" and enc.fingerprint == demo.fingerprint
    assert demo.sha256 == sha256_of(demo_model_path())
    _refusal(["models", "remove", "demo-faces-64"], capsys, home, "built in and cannot be removed")
    _refusal(["models", "import", demo_model_path(), "--replace"], capsys, home, "built-in generator")
    assert resolve("demo-faces-64", "generator") == demo_model_path()
    code, out, _ = cli(["models", "verify", "demo-faces-64"], capsys)
    assert code == 0 and "ok" in out


def test_corrupt_index_is_moved_aside_and_rebuilt(home, capsys, native_gen, tmp_path):
    lib = Library()
    lib.import_file(native_gen, name="faces")
    direction_pt = tmp_path / "d.pt"
    styledomain_file(direction_pt, TINY.channels, seed=1)
    lib.import_file(direction_pt, name="dir")
    (home / "index.json").write_text('{"format": "styledomain.library", "entries": [')
    code, out, err = cli(["models", "list", "--json"], capsys)
    assert code == 0 and len(err.splitlines()) == 1 and "moved it to index.corrupt-" in err
    assert {"faces", "dir"} <= {e["name"] for e in json.loads(out)["entries"]}
    assert len(list(home.glob("index.corrupt-*.json"))) == 1
    rebuilt = {e.name: e for e in Library().entries()}
    assert rebuilt["faces"].kind == "generator" and rebuilt["faces"].fingerprint == FP
    assert rebuilt["faces"].sha256 == sha256_of(home / "generator" / "faces.safetensors")
    assert rebuilt["dir"].kind == "direction"
    assert cli(["models", "list"], capsys)[2] == ""  # the rebuilt index reads without a notice


def test_import_reports_progress_and_a_cancel_leaves_nothing(home, native_gen):
    seen = []
    Library().import_file(native_gen, name="a", progress=seen.append)
    assert seen[-1].step == seen[-1].total == native_gen.stat().st_size and seen[-1].job == "import"
    before = snapshot(home)
    token = CancelToken()
    token.cancel()
    other = native_gen.with_name("other.safetensors")
    save_native(make_generator(seed=9), other)
    with pytest.raises(Cancelled):
        Library().import_file(other, name="b", cancel=token)
    assert snapshot(home) == before
