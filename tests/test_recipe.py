"""Recipes: strict versioned JSON, PNG iTXt + XMP round trip, corrupt chunks, missing files."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from engine.errors import FileProblem, UserError
from engine.pipeline.png_metadata import (
    RECIPE_KEYWORD,
    TRAINED_ALGORITHMIC_MEDIA,
    iter_chunks,
    read_png_metadata,
    save_png,
)
from engine.pipeline.recipe import (
    DeltaRef,
    DirectionRef,
    GeneratorRef,
    LatentRef,
    Recipe,
    RecipeError,
    SourcePhoto,
    load_recipe,
    save_recipe,
)
from engine.pipeline.recipe_render import resolve_recipe


def _recipe() -> Recipe:
    return Recipe(
        GeneratorRef("ffhq", "ab" * 32, "0123456789abcdef", "models/ffhq.pt"),
        LatentRef("inline", w_plus=[[0.1, -2.5e-8, 3.0], [1 / 3, 7.0, -0.0]]),
        [DirectionRef("pixar", "cd" * 32, "pixar.safetensors", 0.6, "coarse,16px-32px", 0.0),
         DirectionRef("joker", "ef" * 32, "", -0.25, "all", 0.5)],
        [DeltaRef("dog", "12" * 32, "dog.safetensors", 0.3)],
        strength=0.85, psi=0.7, cutoff=8, noise_mode="random", noise_seed=1234, size=256, paste_back=True,
        source=SourcePhoto("34" * 32, {"quad": [[1.5, 2.0], [3, 4], [5, 6], [7, 8]], "size": 1024}, 0),
    )


def test_dict_round_trip_is_exact():
    r = _recipe()
    d = r.to_dict()
    back = Recipe.loads(r.dumps())
    assert back == r and back.to_dict() == d
    assert json.loads(r.dumps())["version"] == 1
    assert Recipe.loads(r.dumps(indent=2)) == r
    seed = Recipe(GeneratorRef("m", "", "fp"), LatentRef("seed", seed=42))
    assert Recipe.loads(seed.dumps()) == seed


def test_png_round_trip_yields_recipe_exactly(tmp_path):
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8))
    text = _recipe().dumps()
    save_png(img, tmp_path / "out.png", text)
    meta = read_png_metadata(tmp_path / "out.png")
    assert meta.recipe_text == text
    assert meta.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert load_recipe(tmp_path / "out.png") == _recipe()
    with Image.open(tmp_path / "out.png") as back:  # still a normal PNG for other readers
        assert np.array_equal(np.asarray(back), np.asarray(img))
        assert back.info.get(RECIPE_KEYWORD) == text
    save_recipe(_recipe(), tmp_path / "r.json")
    assert load_recipe(tmp_path / "r.json") == _recipe()


def test_strip_writes_pixels_only(tmp_path):
    img = Image.new("RGB", (8, 8), (10, 20, 30))
    img.info["icc_profile"] = b"fake"
    save_png(img, tmp_path / "s.png", _recipe().dumps(), strip=True)
    types = [c[0] for c in iter_chunks((tmp_path / "s.png").read_bytes(), "s.png")]
    assert set(types) <= {b"IHDR", b"IDAT", b"IEND"}
    meta = read_png_metadata(tmp_path / "s.png")
    assert meta.recipe_text is None and meta.xmp is None
    with pytest.raises(FileProblem, match="no StyleDomain recipe"):
        load_recipe(tmp_path / "s.png")


def _recipe_chunk_span(data: bytes) -> tuple[int, int]:
    pos = 8
    while True:
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"iTXt" and data[pos + 8 :].startswith(RECIPE_KEYWORD.encode()):
            return pos, length
        pos += 12 + length


def test_corrupt_recipe_chunk_is_reported(tmp_path):
    save_png(Image.new("RGB", (8, 8)), tmp_path / "ok.png", _recipe().dumps())
    data = bytearray((tmp_path / "ok.png").read_bytes())
    pos, length = _recipe_chunk_span(bytes(data))
    flipped = bytearray(data)
    flipped[pos + 8 + length - 5] ^= 0xFF
    (tmp_path / "crc.png").write_bytes(bytes(flipped))
    with pytest.raises(FileProblem, match="recipe chunk is corrupt"):
        load_recipe(tmp_path / "crc.png")
    # valid CRC but garbage compressed text
    body = RECIPE_KEYWORD.encode() + b"\0\1\0\0\0" + b"not zlib at all"
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
    bad = bytes(data[:pos]) + chunk + bytes(data[pos + 12 + length :])
    (tmp_path / "zlib.png").write_bytes(bad)
    with pytest.raises(FileProblem, match="recipe chunk is corrupt"):
        load_recipe(tmp_path / "zlib.png")
    # valid chunk, text that is not JSON
    body = RECIPE_KEYWORD.encode() + b"\0\0\0\0\0" + b"{broken"
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
    (tmp_path / "json.png").write_bytes(bytes(data[:pos]) + chunk + bytes(data[pos + 12 + length :]))
    with pytest.raises(FileProblem, match="not valid JSON"):
        load_recipe(tmp_path / "json.png")
    (tmp_path / "trunc.png").write_bytes(bytes(data[: pos + 20]))
    with pytest.raises(FileProblem, match="truncated"):
        load_recipe(tmp_path / "trunc.png")


@pytest.mark.parametrize("mutate,needle", [
    (lambda d: d.__setitem__("version", 2), "version 2 is not supported"),
    (lambda d: d.pop("version"), "no version field"),
    (lambda d: d.__setitem__("version", "1"), "version '1' is not supported"),
    (lambda d: d.__setitem__("format", "other"), "not a StyleDomain recipe"),
    (lambda d: d.__setitem__("colour", 1), "unknown field"),
    (lambda d: d["generator"].pop("sha256"), "generator lacks sha256"),
    (lambda d: d["latent"].__setitem__("kind", "z"), "latent.kind"),
    (lambda d: d["latent"]["w_plus"][1].append(1.0), "same, non-zero length"),
    (lambda d: d["directions"][0].__setitem__("weight", "big"), "weight must be a finite number"),
    (lambda d: d["directions"][0].__setitem__("layers", "upper"), "layers"),
    (lambda d: d["noise"].__setitem__("mode", "loud"), "noise.mode"),
    (lambda d: d["output"].__setitem__("paste_back", "yes"), "paste_back"),
    (lambda d: d.__setitem__("strength", float("nan")), "strength"),
    (lambda d: d.__setitem__("strength", 1e308), r"strength must be in -1000\.\.1000"),
    (lambda d: d["truncation"].__setitem__("psi", 1e308), "truncation.psi must be in"),
    (lambda d: d["truncation"].__setitem__("cutoff", -1), "truncation.cutoff must be >= 0"),
    (lambda d: d["noise"].__setitem__("seed", 2**70), "noise.seed must be in 0..18446744073709551615"),
    (lambda d: d["noise"].__setitem__("seed", -1), "noise.seed"),
    (lambda d: d["directions"][0].__setitem__("weight", -1e9), r"directions\[0\]\.weight must be in"),
    (lambda d: d["directions"][0].__setitem__("style_mix", 2.0), "style_mix must be in 0..1"),
    (lambda d: d["source"].__setitem__("face_index", -1) if d["source"] else d.__setitem__(
        "source", {"photo_sha256": "ab", "face_index": -1}), "face_index must be >= 0"),
])
def test_bad_recipes(mutate, needle):
    d = _recipe().to_dict()
    mutate(d)
    with pytest.raises(RecipeError, match=needle):
        Recipe.from_dict(d, "r.json")


def test_missing_model_is_named_with_fingerprint(tmp_path):
    save_recipe(_recipe(), tmp_path / "r.json")
    with pytest.raises(UserError) as err:
        resolve_recipe(load_recipe(tmp_path / "r.json"), tmp_path / "r.json", search_dirs=[tmp_path])
    msg = str(err.value)
    assert "'ffhq'" in msg and "0123456789abcdef" in msg and "--model" in msg


def test_non_png_non_json(tmp_path):
    (tmp_path / "r.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(FileProblem):
        load_recipe(tmp_path / "r.json")
    with pytest.raises(FileProblem, match="file not found"):
        load_recipe(tmp_path / "nope.json")


@pytest.mark.parametrize("seed", [-1, 2**32, 2**40])
def test_seed_latents_must_fit_numpy_random_state(seed):
    d = _recipe().to_dict()
    d["latent"] = {"kind": "seed", "seed": seed}
    with pytest.raises(RecipeError, match=r"latent.seed must be in 0\.\.4294967295"):
        Recipe.from_dict(d, "r.json")
    d["latent"]["seed"] = 2**32 - 1
    assert Recipe.from_dict(d, "r.json").latent.seed == 2**32 - 1


def test_deeply_nested_json_is_a_recipe_error():
    with pytest.raises(RecipeError, match="nested too deeply"):
        Recipe.loads("[" * 50_000 + "]" * 50_000, "r.json")


def test_metadata_inflation_is_capped():
    from engine.pipeline.png_metadata import inflate_limited

    small = zlib.compress(b"x" * 1000)
    assert inflate_limited(small, 1000, "p.png", "recipe") == b"x" * 1000
    with pytest.raises(FileProblem, match="decompression bomb"):
        inflate_limited(small, 999, "p.png", "recipe")
    with pytest.raises(FileProblem, match="truncated"):
        inflate_limited(small[:-6], 1000, "p.png", "recipe")
