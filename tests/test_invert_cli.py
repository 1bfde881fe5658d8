"""``styledomain invert``: latent files, encoder use, refusals with one line and nothing written; Python API."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY, make_generator
from PIL import Image
from safetensors import safe_open
from test_e4e import SMALL, literal_e4e, randomize_encoder, write_published

from engine.checkpoints import load_generator, save_native
from engine.cli.main import main
from engine.generator import GeneratorConfig
from engine.inversion import invert_photo
from engine.inversion.e4e import Encoder4Editing
from engine.pipeline.images import to_pil

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny model file and an aligned 'photo' rendered from it (64 px: photos need at least 64)."""
    d = tmp_path_factory.mktemp("invert")
    gen = make_generator()
    model = d / "tiny.safetensors"
    save_native(gen, model)
    with torch.no_grad():
        w = gen.truncate(gen.mapping(torch.randn(1, TINY.style_dim, generator=torch.Generator().manual_seed(5))), 0.7)
        img = gen.synthesize(gen.styles(w), "const")
    photo = d / "face.png"
    to_pil(img, 64).save(photo)
    return d, model, photo, gen


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err.strip()


def test_npy_encoder_free_steps_zero_is_w_avg(setup, tmp_path, capsys):
    _, model, photo, gen = setup
    out = tmp_path / "lat.npy"
    code, stdout, _ = run(["invert", str(photo), "--model", str(model), "--aligned", "--steps", "0", "-o", str(out)],
                          capsys)
    assert code == 0 and "wrote" in stdout
    arr = np.load(out)
    assert arr.dtype == np.float32 and arr.shape == (gen.num_ws, gen.config.style_dim)
    assert np.allclose(arr, gen.w_avg.expand(gen.num_ws, -1).numpy())


def test_safetensors_with_steps_preview_and_metadata(setup, tmp_path, capsys):
    _, model, photo, gen = setup
    out, prev = tmp_path / "lat.safetensors", tmp_path / "rec.png"
    code, _, _ = run(["invert", str(photo), "-m", str(model), "--aligned", "--steps", "25", "-o", str(out),
                      "--preview", str(prev)], capsys)
    assert code == 0
    with safe_open(str(out), framework="pt") as f:
        meta = f.metadata()
        w = f.get_tensor("w_plus")
    assert w.shape == (gen.num_ws, gen.config.style_dim) and w.dtype == torch.float32
    assert meta["photo_sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    assert meta["model_sha256"] == load_generator(model).sha256
    assert meta["steps"] == "25" and meta["encoder"] == "none" and json.loads(meta["alignment"]) is None
    assert Image.open(prev).size == (gen.config.size, gen.config.size)
    # optimisation improved on the w_avg start
    base = tmp_path / "base.safetensors"
    run(["invert", str(photo), "-m", str(model), "--aligned", "--steps", "0", "-o", str(base)], capsys)
    with safe_open(str(base), framework="pt") as f:
        assert float(meta["psnr"]) > float(f.metadata()["psnr"]) + 1.0


def test_e4e_encoder_drives_steps_zero(setup, tmp_path, capsys):
    _, model, photo, gen = setup
    net = randomize_encoder(Encoder4Editing(style_count=gen.num_ws, **SMALL))
    enc_path = tmp_path / "e4e.pt"
    avg = gen.w_avg.repeat(gen.num_ws, 1)
    write_published(enc_path, net, latent_avg=avg)
    out = tmp_path / "lat.npy"
    code, _, _ = run(["invert", str(photo), "-m", str(model), "--aligned", "--steps", "0", "--encoder",
                      str(enc_path), "-o", str(out)], capsys)
    assert code == 0
    with torch.no_grad():  # the 64 px photo, resized once to the encoder's 32 px input (PIL bilinear)
        want = net(reference_e4e_input(photo, 32))[0] + avg
    assert np.allclose(np.load(out), want.numpy(), atol=1e-5)


def reference_e4e_input(photo, size: int) -> torch.Tensor:
    """e4e's inference transform: Resize((size, size)) (PIL bilinear), ToTensor, Normalize(0.5, 0.5)."""
    transforms = pytest.importorskip("torchvision.transforms")
    t = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                            transforms.Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])])
    return t(Image.open(photo).convert("RGB")).unsqueeze(0)


GEN64 = GeneratorConfig(size=64, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 12, 32: 8, 64: 8})
E4E256 = {**SMALL, "input_size": 256}


@pytest.mark.parametrize("side", [256, 200])
def test_e4e_parity_through_the_cli(tmp_path, capsys, side):
    """A 64 px generator, a 256 px e4e and an aligned crop: the encoder sees the crop resized once."""
    gen = make_generator(GEN64)
    model = tmp_path / "g64.safetensors"
    save_native(gen, model)
    net = randomize_encoder(Encoder4Editing(style_count=gen.num_ws, **E4E256))
    avg = gen.w_avg.repeat(gen.num_ws, 1)
    enc_path = tmp_path / "e4e256.pt"
    write_published(enc_path, net, latent_avg=avg)
    photo = tmp_path / "aligned.png"
    rng = np.random.RandomState(side)
    smooth = Image.fromarray(rng.randint(0, 256, (side // 8, side // 8, 3), dtype=np.uint8)).resize((side, side))
    smooth.save(photo)
    out = tmp_path / "lat.npy"
    code, _, _ = run(["invert", str(photo), "-m", str(model), "--aligned", "--steps", "0", "--encoder",
                      str(enc_path), "-o", str(out)], capsys)
    assert code == 0
    with torch.no_grad():
        want = literal_e4e(net.state_dict(), reference_e4e_input(photo, 256), E4E256["units"], gen.num_ws, avg)[0]
    got = torch.from_numpy(np.load(out))
    assert float((got - want).norm() / want.norm()) <= 1e-4


def expect_refusal(argv, capsys, folder, message):
    before = sorted(p.name for p in folder.iterdir())
    code, _, err = run(argv, capsys)
    assert code == 2
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written, no temp files left


def test_refusals(setup, tmp_path, capsys):
    _, model, photo, gen = setup
    base = ["invert", str(photo), "-m", str(model), "--aligned"]
    expect_refusal([*base, "-o", str(tmp_path / "lat.png")], capsys, tmp_path, "must end in .npy or .safetensors")
    expect_refusal([*base, "-o", str(tmp_path / "no" / "lat.npy")], capsys, tmp_path, "does not exist")
    expect_refusal([*base, "-o", str(tmp_path / "lat.npy"), "--steps", "-1"], capsys, tmp_path, "--steps")
    expect_refusal([*base, "-o", str(tmp_path / "lat.npy"), "--preview", str(tmp_path / "p.gif")], capsys, tmp_path,
                   "must end in .png")
    expect_refusal(["invert", str(tmp_path / "missing.png"), "-m", str(model), "-o", str(tmp_path / "l.npy")],
                   capsys, tmp_path, "file not found")
    notimg = tmp_path / "notes.png"
    notimg.write_text("this is not an image")
    expect_refusal(["invert", str(notimg), "-m", str(model), "--aligned", "-o", str(tmp_path / "l.npy")], capsys,
                   tmp_path, "notes.png")
    e4e14 = tmp_path / "e4e14.pt"
    write_published(e4e14, randomize_encoder(Encoder4Editing(style_count=14, **SMALL)),
                    latent_avg=torch.zeros(14, TINY.style_dim))
    expect_refusal([*base, "--encoder", str(e4e14), "-o", str(tmp_path / "l.npy")], capsys, tmp_path,
                   "14 rows")
    expect_refusal([*base, "--encoder", str(photo), "-o", str(tmp_path / "l.npy")], capsys, tmp_path,
                   "not an encoder file")


def test_centre_crop_of_an_unaligned_photo(setup, tmp_path, capsys):
    _, model, photo, gen = setup
    wide = tmp_path / "wide.jpg"
    canvas = Image.new("RGB", (128, 64), (40, 40, 40))
    canvas.paste(Image.open(photo), (32, 0))
    canvas.save(wide)
    out = tmp_path / "lat.safetensors"
    code, _, _ = run(["invert", str(wide), "-m", str(model), "--centre-crop", "--steps", "0", "-o", str(out)], capsys)
    assert code == 0
    with safe_open(str(out), framework="pt") as f:
        align = json.loads(f.metadata()["alignment"])
    assert align["method"] == "centre-crop" and align["quad"][0] == [32.0, 0.0]


def test_no_face_is_one_line(setup, tmp_path, capsys):
    _, model, _, _ = setup
    pytest.importorskip("dlib")
    from engine.alignment import find_predictor

    try:
        find_predictor()
    except Exception:  # noqa: BLE001
        pytest.skip("no landmark model installed")
    blank = tmp_path / "blank.png"
    Image.new("RGB", (128, 128), (120, 160, 200)).save(blank)
    expect_refusal(["invert", str(blank), "-m", str(model), "-o", str(tmp_path / "l.npy")], capsys, tmp_path,
                   "no face found")


def test_python_api(setup):
    _, model, photo, gen = setup
    loaded = load_generator(model)
    res = invert_photo(photo, loaded, steps=3, aligned=True)
    w_plus = res.w_plus
    assert w_plus.shape == (gen.num_ws, gen.config.style_dim) and w_plus.dtype == torch.float32
    assert res.steps == 3 and res.photo_sha256 and res.alignment is None and res.photo == Path(photo)
    assert res.mode == "w+" and res.resolution == gen.config.size and res.final_loss is not None
    assert res.reconstruction.shape == res.target.shape == (1, 3, gen.config.size, gen.config.size)
    result = invert_photo(photo, loaded.generator, steps=0, aligned=True, device="cpu")  # bare Generator too
    assert result.w_plus.shape == w_plus.shape and result.alignment is None and result.face_index is None
    assert result.steps == 0 and result.mode is None and result.aligned_input


def test_noise_mode_stores_noise_maps(setup, tmp_path, capsys):
    _, model, photo, gen = setup
    out = tmp_path / "lat.safetensors"
    code, _, _ = run(["invert", str(photo), "-m", str(model), "--aligned", "--steps", "3", "--mode", "noise",
                      "-o", str(out)], capsys)
    assert code == 0
    with safe_open(str(out), framework="pt") as f:
        keys = set(f.keys())
        assert f.metadata()["mode"] == "noise"
    assert keys == {"w_plus"} | {f"noise_{i}" for i in range(gen.config.num_noise)}
