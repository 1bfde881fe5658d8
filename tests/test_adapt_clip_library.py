"""CLIP from the model library: mtg/nada without --clip take the library's clip entries; --clip NAME."""

from __future__ import annotations

import pytest
import torch
from adapt_helpers import negative_reference
from safetensors.torch import save_file

from engine.adaptation import adapt
from engine.adaptation.clip import ClipEncoder, build_clip, load_clip
from engine.cli.main import main
from engine.errors import UserError
from engine.library import Library

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_CLIP = {"embed_dim": 32,
             "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16, "head_width": 64},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 1, "layers": 1}}


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    torch.manual_seed(3)  # open_clip initialises from the global RNG; test-only
    model = build_clip(TINY_CLIP)
    path = tmp_path_factory.mktemp("clipsrc") / "tiny-vit.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


@pytest.fixture
def home(tmp_path, monkeypatch):
    root = tmp_path / "home"
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(root))
    return root


def test_mtg_and_nada_without_clip_use_the_library_entries(home, clip_file, tiny_generator):
    entry = Library().import_file(clip_file, name="tiny-vit")
    assert entry.kind == "clip" and entry.path.parent.parent == home
    res = adapt(tiny_generator, [negative_reference(tiny_generator)], loss="mtg", steps=2, batch=2, seed=1)
    assert res.steps_done == 2 and {"direction", "clip_ref"} <= set(res.history[0])
    assert len(res.metadata["clip"]) == 1 and res.metadata["clip"][0].startswith("tiny-vit")
    res = adapt(tiny_generator, text=("photo", "sketch"), steps=2, batch=2, seed=1)
    assert res.loss == "nada" and res.metadata["clip"][0].startswith("tiny-vit")


def test_clip_name_resolves_through_the_library(home, clip_file, tiny_generator):
    Library().import_file(clip_file, name="my-clip")
    by_name, by_path = load_clip("my-clip"), load_clip(clip_file)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert isinstance(by_name, ClipEncoder) and torch.equal(by_name.encode_image(x), by_path.encode_image(x))
    res = adapt(tiny_generator, [negative_reference(tiny_generator)], loss="mtg", clip=["my-clip"], steps=1, batch=1)
    assert res.metadata["clip"][0].startswith("my-clip")
    with pytest.raises(UserError, match="no clip called 'nope'"):
        load_clip("nope")


def test_no_clip_anywhere_says_what_to_import(home, tiny_generator):
    for kwargs in ({"loss": "mtg"}, {"text": ("photo", "sketch")}):
        refs = [negative_reference(tiny_generator)] if "loss" in kwargs else []
        with pytest.raises(UserError, match="model library has none.*models import") as info:
            adapt(tiny_generator, refs, steps=1, **kwargs)
        assert "\n" not in str(info.value)


def test_cli_without_clip_names_the_import(home, tmp_path, rosinality_pt, capsys):
    out = tmp_path / "x.safetensors"
    rc = main(["adapt", str(rosinality_pt), "--text", "photo", "sketch", "--steps", "1", "--device", "cpu",
               "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "styledomain models import" in err[0] and not out.exists()


def test_cli_clip_by_library_name(home, tmp_path, rosinality_pt, clip_file, capsys):
    assert main(["models", "import", str(clip_file), "--name", "vit-tiny"]) == 0
    out = tmp_path / "t.safetensors"
    assert main(["adapt", str(rosinality_pt), "--text", "photo", "sketch", "--clip", "vit-tiny", "--steps", "2",
                 "--batch", "1", "--device", "cpu", "-o", str(out)]) == 0
    assert out.exists() and "wrote" in capsys.readouterr().out
