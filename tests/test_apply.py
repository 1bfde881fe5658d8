"""`styledomain render --direction` and `styledomain apply --recipe`: bit-identical reproduction."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY
from PIL import Image
from test_directions_helpers import conv_positions, styledomain_file

from engine.checkpoints import load_generator
from engine.cli.main import main
from engine.domains.param_delta import make_param_delta, save_param_delta
from engine.pipeline.images import to_uint8
from engine.pipeline.png_metadata import TRAINED_ALGORITHMIC_MEDIA, read_png_metadata
from engine.pipeline.recipe import load_recipe
from engine.pipeline.seeds import w_plus_from_seed, z_from_seed


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def run_ok(argv, capsys=None):
    code = main([str(a) for a in argv])
    assert code == 0, capsys.readouterr().err if capsys else code
    return code


def test_render_direction_matches_independent_edit(tmp_path, rosinality_pt, capsys):
    heads = styledomain_file(tmp_path / "d.pt", TINY.channels, seed=3)
    run_ok(["render", rosinality_pt, "--seed", 5, "--psi", 0.7, "--direction", f"{tmp_path / 'd.pt'}=0.5",
            "--layers", "middle", "--device", "cpu", "-o", tmp_path / "a.png"], capsys)
    gen = load_generator(rosinality_pt).generator
    with torch.no_grad():
        styles = gen.styles(w_plus_from_seed(gen, 5, 0.7))
        res = [4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32]
        for k, idx in enumerate(conv_positions(3)):
            if 16 <= res[idx] <= 32:
                styles[idx] = styles[idx] + 0.5 * heads[k]
        img = gen.synthesize(styles, "const", generator=torch.Generator().manual_seed(5))
    assert np.array_equal(pixels(tmp_path / "a.png"), to_uint8(img)[0])
    run_ok(["render", rosinality_pt, "--seed", 5, "--psi", 0.7, "-o", tmp_path / "plain.png"], capsys)
    assert not np.array_equal(pixels(tmp_path / "plain.png"), pixels(tmp_path / "a.png"))


@pytest.mark.parametrize("extra", [
    [],
    ["--noise-mode", "random", "--size", "16", "--strength", "0.8", "--layers", "2-6"],
    ["--cutoff", "3", "--direction", "MOD=-0.4"],
])
def test_apply_reproduces_render_bit_identically(tmp_path, rosinality_pt, capsys, extra):
    styledomain_file(tmp_path / "d.pt", TINY.channels, seed=1)
    styledomain_file(tmp_path / "m.pt", TINY.channels, kind="cin_mult", seed=2, scale=0.3)
    extra = [str(tmp_path / "m.pt") + x[3:] if x.startswith("MOD") else x for x in extra]
    run_ok(["render", rosinality_pt, "--seed", 11, "--psi", 0.6, "--direction", tmp_path / "d.pt", *extra,
            "--save-recipe", tmp_path / "r.json", "-o", tmp_path / "render.png"], capsys)
    run_ok(["apply", "--recipe", tmp_path / "r.json", "--device", "cpu", "-o", tmp_path / "apply1.png"], capsys)
    run_ok(["apply", "--recipe", tmp_path / "r.json", "-o", tmp_path / "apply2.png"], capsys)
    ref = pixels(tmp_path / "render.png")
    assert np.array_equal(pixels(tmp_path / "apply1.png"), ref)
    assert np.array_equal(pixels(tmp_path / "apply2.png"), ref)
    # the exported PNG carries the recipe and reproduces itself
    meta = read_png_metadata(tmp_path / "apply1.png")
    assert meta.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert load_recipe(tmp_path / "apply1.png").directions == [
        d.__class__(**{**vars(d), "file": "d.pt" if d.name == "d" else "m.pt"})
        for d in load_recipe(tmp_path / "r.json").directions]
    run_ok(["apply", "--recipe", tmp_path / "apply1.png", "-o", tmp_path / "again.png"], capsys)
    assert np.array_equal(pixels(tmp_path / "again.png"), ref)


def test_inline_latent_recipe_matches_render_and_latent_input(tmp_path, rosinality_pt, capsys):
    styledomain_file(tmp_path / "d.pt", TINY.channels, seed=4)
    run_ok(["render", rosinality_pt, "--seed", 2, "--psi", 0.5, "--direction", f"{tmp_path / 'd.pt'}=0.9",
            "--save-recipe", tmp_path / "r.json", "-o", tmp_path / "render.png"], capsys)
    gen = load_generator(rosinality_pt).generator
    with torch.no_grad():
        w = gen.mapping(torch.from_numpy(z_from_seed(2, TINY.style_dim)).float())
    w_plus = w.repeat(TINY.num_ws, 1)  # untruncated W+; the recipe's psi applies on top
    d = json.loads((tmp_path / "r.json").read_text())
    d["latent"] = {"kind": "inline", "w_plus": w_plus.tolist()}
    (tmp_path / "inline.json").write_text(json.dumps(d))
    run_ok(["apply", "--recipe", tmp_path / "inline.json", "-o", tmp_path / "inline.png"], capsys)
    assert np.array_equal(pixels(tmp_path / "inline.png"), pixels(tmp_path / "render.png"))
    np.save(tmp_path / "w.npy", w_plus.numpy().astype(np.float32))
    run_ok(["apply", "--recipe", tmp_path / "r.json", tmp_path / "w.npy", "-o", tmp_path / "npy.png"], capsys)
    assert np.array_equal(pixels(tmp_path / "npy.png"), pixels(tmp_path / "render.png"))
    from safetensors.torch import save_file

    save_file({"w_plus": w_plus.contiguous()}, str(tmp_path / "w.safetensors"))
    run_ok(["apply", "--recipe", tmp_path / "r.json", tmp_path / "w.safetensors", "-o", tmp_path / "st.png"], capsys)
    assert np.array_equal(pixels(tmp_path / "st.png"), pixels(tmp_path / "render.png"))
    assert load_recipe(tmp_path / "st.png").latent.kind == "inline"


def test_param_deltas_in_a_recipe(tmp_path, rosinality_pt, capsys):
    base = load_generator(rosinality_pt).generator
    adapted = load_generator(rosinality_pt).generator
    with torch.no_grad():
        adapted.convs[1].conv.modulation.weight.add_(0.5)
    save_param_delta(make_param_delta(base, adapted, name="adapt"), tmp_path / "adapt.safetensors")
    from engine.fileio import sha256_of

    run_ok(["render", rosinality_pt, "--seed", 1, "--save-recipe", tmp_path / "r.json", "-o", tmp_path / "p.png"],
           capsys)
    d = json.loads((tmp_path / "r.json").read_text())
    d["param_deltas"] = [{"name": "adapt", "sha256": sha256_of(tmp_path / "adapt.safetensors"),
                          "file": "adapt.safetensors", "weight": 1.0}]
    (tmp_path / "r2.json").write_text(json.dumps(d))
    run_ok(["apply", "--recipe", tmp_path / "r2.json", "-o", tmp_path / "delta.png"], capsys)
    with torch.no_grad():
        expected = adapted.synthesize(adapted.styles(w_plus_from_seed(adapted, 1)))
    got = pixels(tmp_path / "delta.png").astype(int)
    assert np.abs(got - to_uint8(expected)[0].astype(int)).max() <= 1
    assert not np.array_equal(pixels(tmp_path / "delta.png"), pixels(tmp_path / "p.png"))


def test_strip_metadata(tmp_path, rosinality_pt, capsys):
    run_ok(["render", rosinality_pt, "--seed", 1, "--save-recipe", tmp_path / "r.json", "-o", tmp_path / "p.png"],
           capsys)
    run_ok(["apply", "--recipe", tmp_path / "r.json", "--strip-metadata", "-o", tmp_path / "s.png"], capsys)
    meta = read_png_metadata(tmp_path / "s.png")
    assert meta.recipe_text is None and meta.xmp is None
    assert np.array_equal(pixels(tmp_path / "s.png"), pixels(tmp_path / "p.png"))


def _fail(argv, capsys) -> str:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    return err


def test_apply_errors(tmp_path, rosinality_pt, capsys):
    run_ok(["render", rosinality_pt, "--seed", 1, "--save-recipe", tmp_path / "r.json", "-o", tmp_path / "p.png"],
           capsys)
    d = json.loads((tmp_path / "r.json").read_text())
    (tmp_path / "v2.json").write_text(json.dumps({**d, "version": 2}))
    assert "version 2 is not supported" in _fail(["apply", "--recipe", tmp_path / "v2.json", "-o",
                                                  tmp_path / "x.png"], capsys)
    (tmp_path / "gone.json").write_text(json.dumps({**d, "generator": {**d["generator"], "file": "nope.pt",
                                                                       "sha256": "0" * 64}}))
    err = _fail(["apply", "--recipe", tmp_path / "gone.json", "-o", tmp_path / "x.png"], capsys)
    assert "tiny-rosinality" in err and d["generator"]["layout_fingerprint"] in err
    data = bytearray((tmp_path / "p.png").read_bytes())
    run_ok(["apply", "--recipe", tmp_path / "r.json", "-o", tmp_path / "e.png"], capsys)
    data = bytearray((tmp_path / "e.png").read_bytes())
    i = data.index(b"StyleDomain-Recipe") + 40
    data[i] ^= 0x55
    (tmp_path / "bad.png").write_bytes(bytes(data))
    assert "corrupt" in _fail(["apply", "--recipe", tmp_path / "bad.png", "-o", tmp_path / "x.png"], capsys)
    np.save(tmp_path / "w.npy", np.zeros((3, 16), np.float32))
    assert "shape" in _fail(["apply", "--recipe", tmp_path / "r.json", tmp_path / "w.npy", "-o",
                             tmp_path / "x.png"], capsys)
    np.save(tmp_path / "nan.npy", np.full((TINY.num_ws, 16), np.nan, np.float32))
    assert "NaN" in _fail(["apply", "--recipe", tmp_path / "r.json", tmp_path / "nan.npy", "-o",
                           tmp_path / "x.png"], capsys)
    (tmp_path / "face.jpg").write_bytes(b"not a jpeg at all")
    assert "face.jpg" in _fail(["apply", "--recipe", tmp_path / "r.json", tmp_path / "face.jpg", "-o",
                                tmp_path / "x.png"], capsys)
    assert "paste-back needs the original photo" in _fail(["apply", "--recipe", tmp_path / "r.json", "--paste-back",
                                                            "-o", tmp_path / "x.png"], capsys)
    assert not (tmp_path / "x.png").exists()


def test_render_direction_errors(tmp_path, rosinality_pt, capsys):
    from engine.generator import GeneratorConfig

    styledomain_file(tmp_path / "big.pt", {4: 16, 8: 16, 16: 8, 32: 8})
    err = _fail(["render", rosinality_pt, "--seed", 1, "--direction", tmp_path / "big.pt", "-o",
                 tmp_path / "x.png"], capsys)
    assert "conv1_resolution_16" in err and "12" in err
    styledomain_file(tmp_path / "d.pt", TINY.channels)
    assert "selects no layer" in _fail(["render", rosinality_pt, "--seed", 1, "--direction", tmp_path / "d.pt",
                                        "--layers", "fine", "-o", tmp_path / "x.png"], capsys)
    assert "--direction" in _fail(["render", rosinality_pt, "--seed", 1, "--layers", "coarse", "-o",
                                   tmp_path / "x.png"], capsys)
    assert GeneratorConfig  # imported for readability of the layout above


def test_direction_cli(tmp_path, capsys):
    styledomain_file(tmp_path / "d.pt", TINY.channels, seed=8, style_latents=torch.randn(1, 3, 16))
    run_ok(["direction", "import", tmp_path / "d.pt", tmp_path / "d.safetensors", "--name", "Pixar",
            "--license", "CC0"], capsys)
    out = capsys.readouterr().out
    assert "Pixar" in out and "style latents" in out
    run_ok(["direction", "info", tmp_path / "d.safetensors", "--json"], capsys)
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "Pixar" and info["channels"] == 16 + 16 + 16 + 16 + 12 + 12 + 8
    assert info["kind"] == "s_delta" and info["license"] == "CC0" and info["style_latents"] == [1, 3, 16]
    run_ok(["direction", "sparsify", tmp_path / "d.safetensors", tmp_path / "s.safetensors", "--keep", "25"], capsys)
    assert "kept 25.0%" in capsys.readouterr().out
    run_ok(["direction", "info", tmp_path / "s.safetensors", "--json"], capsys)
    assert json.loads(capsys.readouterr().out)["nonzero_fraction"] == pytest.approx(24 / 96)
    run_ok(["direction", "info", tmp_path / "d.pt"], capsys)
    assert "conv1_resolution_32" in capsys.readouterr().out
    assert "--keep" in _fail(["direction", "sparsify", tmp_path / "d.pt", tmp_path / "z.safetensors", "--keep", "0"],
                             capsys)
    torch.save({"model_type": "parametrization", "patch_key": "s_delta",
                "state_dict": {"heads.conv_0.params_in": torch.full((1, 16), float("nan"))}}, tmp_path / "nan.pt")
    assert "NaN" in _fail(["direction", "import", tmp_path / "nan.pt", tmp_path / "n.safetensors"], capsys)
    assert not (tmp_path / "n.safetensors").exists()


def test_photo_input_inverts_records_source_and_pastes_back(tmp_path, rosinality_pt, capsys):
    from engine.fileio import sha256_of

    styledomain_file(tmp_path / "d.pt", TINY.channels, seed=6)
    run_ok(["render", rosinality_pt, "--seed", 3, "--direction", tmp_path / "d.pt", "--save-recipe",
            tmp_path / "r.json", "-o", tmp_path / "seed.png"], capsys)
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (80, 104, 3), dtype=np.uint8))
    photo.paste(Image.open(tmp_path / "seed.png").resize((64, 64)), (20, 8))
    photo.save(tmp_path / "photo.png")
    run_ok(["apply", "--recipe", tmp_path / "r.json", tmp_path / "photo.png", "--aligned", "--steps", 2,
            "-o", tmp_path / "a.png"], capsys)
    rec = load_recipe(tmp_path / "a.png")
    assert rec.source.photo_sha256 == sha256_of(tmp_path / "photo.png")
    assert rec.source.inversion["steps"] == 2 and rec.source.inversion["aligned"] is True
    assert rec.latent.kind == "inline" and len(rec.latent.w_plus) == TINY.num_ws
    assert pixels(tmp_path / "a.png").shape == (32, 32, 3)
    run_ok(["apply", "--recipe", tmp_path / "a.png", "-o", tmp_path / "b.png"], capsys)
    assert np.array_equal(pixels(tmp_path / "b.png"), pixels(tmp_path / "a.png"))
    run_ok(["apply", "--recipe", tmp_path / "r.json", tmp_path / "photo.png", "--centre-crop", "--steps", 1,
            "--paste-back", "-o", tmp_path / "c.png"], capsys)
    full = pixels(tmp_path / "c.png")
    assert full.shape == (80, 104, 3)
    rec = load_recipe(tmp_path / "c.png")
    assert rec.paste_back and rec.source.alignment["method"] == "centre-crop"
    assert np.array_equal(full[0, 0], np.asarray(photo)[0, 0])  # outside the crop the photo is untouched
    assert "photo" in _fail(["apply", "--recipe", tmp_path / "c.png", "-o", tmp_path / "x.png"], capsys)


def test_sidecar_latent_and_changed_files(tmp_path, rosinality_pt, capsys):
    from engine.fileio import sha256_of

    styledomain_file(tmp_path / "d.pt", TINY.channels, seed=4)
    run_ok(["render", rosinality_pt, "--seed", 2, "--direction", tmp_path / "d.pt", "--save-recipe",
            tmp_path / "r.json", "-o", tmp_path / "render.png"], capsys)
    gen = load_generator(rosinality_pt).generator
    with torch.no_grad():
        w_plus = gen.mapping(torch.from_numpy(z_from_seed(2, TINY.style_dim)).float()).repeat(TINY.num_ws, 1)
    np.save(tmp_path / "side.npy", w_plus.numpy())
    d = json.loads((tmp_path / "r.json").read_text())
    d["latent"] = {"kind": "file", "file": "side.npy", "sha256": sha256_of(tmp_path / "side.npy")}
    (tmp_path / "side.json").write_text(json.dumps(d))
    run_ok(["apply", "--recipe", tmp_path / "side.json", "-o", tmp_path / "side.png"], capsys)
    assert np.array_equal(pixels(tmp_path / "side.png"), pixels(tmp_path / "render.png"))
    assert load_recipe(tmp_path / "side.png").latent.kind == "inline"  # the PNG travels alone
    np.save(tmp_path / "side.npy", w_plus.numpy() * 2)  # edited after the recipe was written
    err = _fail(["apply", "--recipe", tmp_path / "side.json", "-o", tmp_path / "x.png"], capsys)
    assert "side.npy has other contents" in err
    styledomain_file(tmp_path / "d.pt", TINY.channels, seed=5)  # direction file replaced
    err = _fail(["apply", "--recipe", tmp_path / "r.json", "-o", tmp_path / "x.png"], capsys)
    assert "direction 'd'" in err and "other contents" in err
    d = json.loads((tmp_path / "r.json").read_text())
    d["directions"][0].update(sha256=sha256_of(tmp_path / "d.pt"), style_mix=0.5)
    (tmp_path / "mix.json").write_text(json.dumps(d))
    assert "style latents" in _fail(["apply", "--recipe", tmp_path / "mix.json", "-o", tmp_path / "x.png"], capsys)


def test_recipe_style_latent_mix(tmp_path, rosinality_pt, capsys):
    lat = torch.randn(1, 3, TINY.style_dim, generator=torch.Generator().manual_seed(0))
    heads = styledomain_file(tmp_path / "mtg.pt", TINY.channels, seed=9, style_latents=lat)
    run_ok(["render", rosinality_pt, "--seed", 6, "--psi", 0.8, "--direction", tmp_path / "mtg.pt",
            "--save-recipe", tmp_path / "r.json", "-o", tmp_path / "plain.png"], capsys)
    d = json.loads((tmp_path / "r.json").read_text())
    d["directions"][0]["style_mix"] = 0.5
    (tmp_path / "mix.json").write_text(json.dumps(d))
    run_ok(["apply", "--recipe", tmp_path / "mix.json", "-o", tmp_path / "mix.png"], capsys)
    gen = load_generator(rosinality_pt).generator
    with torch.no_grad():
        w = w_plus_from_seed(gen, 6, 0.8).clone()
        w[:, -3:] = 0.5 * lat + 0.5 * w[:, -3:]
        styles = gen.styles(w)
        for k, idx in enumerate(conv_positions(3)):
            styles[idx] = styles[idx] + heads[k]
        img = gen.synthesize(styles, "const")
    got = pixels(tmp_path / "mix.png").astype(int)
    assert np.abs(got - to_uint8(img)[0].astype(int)).max() <= 1
    assert not np.array_equal(pixels(tmp_path / "mix.png"), pixels(tmp_path / "plain.png"))


def _delta_file(tmp_path, rosinality_pt):
    base = load_generator(rosinality_pt).generator
    adapted = load_generator(rosinality_pt).generator
    with torch.no_grad():
        adapted.convs[2].conv.modulation.weight.add_(0.4)
    save_param_delta(make_param_delta(base, adapted, name="adapt"), tmp_path / "adapt.safetensors")
    return tmp_path / "adapt.safetensors"


def test_render_delta_and_direction_together_recorded_and_reproduced(tmp_path, rosinality_pt, capsys):
    from engine.domains.blend import DirectionTerm
    from engine.domains.direction import load_direction
    from engine.domains.param_delta import load_param_delta
    from engine.pipeline.edit import DeltaTerm, Edit, render_edit_image

    delta = _delta_file(tmp_path, rosinality_pt)
    styledomain_file(tmp_path / "d.pt", TINY.channels, seed=7)
    (tmp_path / "out").mkdir()
    run_ok(["render", rosinality_pt, "--seed", 4, "--psi", 0.8, "--direction", f"{tmp_path / 'd.pt'}=0.6",
            "--delta", f"{delta}=0.7", "--layers", "coarse", "--save-recipe", tmp_path / "r.json",
            "-o", tmp_path / "out" / "r.png"], capsys)
    gen = load_generator(rosinality_pt).generator
    edit = Edit((DirectionTerm(load_direction(tmp_path / "d.pt"), 0.6, "coarse"),),
                (DeltaTerm(load_param_delta(delta), 0.7),), psi=0.8)
    ref = pixels(tmp_path / "out" / "r.png")
    assert np.array_equal(ref, np.asarray(render_edit_image(gen, 4, edit)))
    assert not np.array_equal(ref, np.asarray(render_edit_image(gen, 4, Edit(edit.directions, psi=0.8))))
    saved = load_recipe(tmp_path / "r.json")
    assert [(d.name, d.weight, d.file) for d in saved.param_deltas] == [("adapt", 0.7, "adapt.safetensors")]
    assert [(d.weight, d.layers, d.file) for d in saved.directions] == [(0.6, "coarse", "d.pt")]
    # the PNG carries the same recipe, with file hints relative to the PNG's folder
    carried = load_recipe(tmp_path / "out" / "r.png")
    assert carried.param_deltas[0].file == "../adapt.safetensors" and carried.directions[0].file == "../d.pt"
    assert read_png_metadata(tmp_path / "out" / "r.png").digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    for recipe in (tmp_path / "r.json", tmp_path / "out" / "r.png"):
        run_ok(["apply", "--recipe", recipe, "-o", tmp_path / "again.png"], capsys)
        assert np.array_equal(pixels(tmp_path / "again.png"), ref)


def test_render_strip_metadata_keeps_the_pixels(tmp_path, rosinality_pt, capsys):
    run_ok(["render", rosinality_pt, "--seed", 2, "-o", tmp_path / "a.png"], capsys)
    run_ok(["render", rosinality_pt, "--seed", 2, "--strip-metadata", "-o", tmp_path / "s.png"], capsys)
    assert read_png_metadata(tmp_path / "a.png").recipe_text is not None
    meta = read_png_metadata(tmp_path / "s.png")
    assert meta.recipe_text is None and meta.xmp is None
    assert np.array_equal(pixels(tmp_path / "a.png"), pixels(tmp_path / "s.png"))


def test_render_writes_nothing_when_the_render_fails(tmp_path, rosinality_pt, capsys):
    styledomain_file(tmp_path / "d.pt", TINY.channels, seed=1)
    _fail(["render", rosinality_pt, "--seed", 1, "--direction", tmp_path / "d.pt", "--precision", "fp16",
           "--device", "cpu", "--save-recipe", tmp_path / "r.json", "-o", tmp_path / "x.png"], capsys)
    (tmp_path / "bad.safetensors").write_bytes(b"junk")
    _fail(["render", rosinality_pt, "--seed", 1, "--delta", tmp_path / "bad.safetensors",
           "--save-recipe", tmp_path / "r.json", "-o", tmp_path / "x.png"], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.safetensors", "d.pt", rosinality_pt.name]


def test_apply_photo_equals_invert_then_apply_latent(tmp_path, rosinality_pt, capsys):
    run_ok(["render", rosinality_pt, "--seed", 3, "--save-recipe", tmp_path / "r.json", "-o", tmp_path / "r.png"],
           capsys)
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (72, 80, 3), dtype=np.uint8)).save(tmp_path / "face.png")
    run_ok(["invert", tmp_path / "face.png", "--model", rosinality_pt, "--aligned", "--steps", 3,
            "-o", tmp_path / "w.npy"], capsys)
    run_ok(["apply", "--recipe", tmp_path / "r.json", tmp_path / "w.npy", "-o", tmp_path / "latent.png"], capsys)
    run_ok(["apply", "--recipe", tmp_path / "r.json", tmp_path / "face.png", "--aligned", "--steps", 3,
            "-o", tmp_path / "photo.png"], capsys)
    assert np.array_equal(pixels(tmp_path / "latent.png"), pixels(tmp_path / "photo.png"))
    assert "exclude each other" in _fail(["apply", "--recipe", tmp_path / "r.json", tmp_path / "face.png", "--aligned",
                                          "--centre-crop", "-o", tmp_path / "x.png"], capsys)
