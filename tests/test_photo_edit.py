"""engine.pipeline.photo_edit: photo -> prepare (CPU) -> invert -> edit -> paste-back -> image + recipe."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY
from PIL import Image
from test_directions_helpers import styledomain_file

from engine.alignment import Face, NoFaceFound
from engine.checkpoints import load_generator
from engine.domains.blend import DirectionTerm
from engine.domains.direction import load_direction
from engine.errors import UserError
from engine.fileio import sha256_of
from engine.inversion import invert_photo
from engine.jobs import Cancelled, CancelToken
from engine.pipeline.edit import Edit, render_edit_image
from engine.pipeline.photo_edit import (
    NOTHING_TO_PASTE,
    alignment_size,
    finish_photo,
    invert_prepared,
    photo_edit,
    prepare_photo,
)
from engine.pipeline.recipe import Recipe

pytestmark = pytest.mark.usefixtures("one_thread")


def _face(cx: float, cy: float, scale: float) -> Face:
    """68 landmarks with eyes and mouth corners where a frontal face has them (the rest at the centre)."""
    pts = np.tile([cx, cy], (68, 1)).astype(float)
    pts[36:42] = [cx - 0.3 * scale, cy - 0.2 * scale]
    pts[42:48] = [cx + 0.3 * scale, cy - 0.2 * scale]
    pts[48] = [cx - 0.2 * scale, cy + 0.35 * scale]
    pts[54] = [cx + 0.2 * scale, cy + 0.35 * scale]
    return Face(pts, (cx - scale / 2, cy - scale / 2, cx + scale / 2, cy + scale / 2))


class FixedDetector:
    def __init__(self, faces):
        self.faces = faces

    def detect(self, image):
        return list(self.faces)


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)).save(path)
    return path


def test_aligned_input_keeps_its_own_pixels(photo):
    p = prepare_photo(photo, 32, aligned=True)
    assert p.crop.size == (90, 90)  # centre square at its own pixels, not resized to the model's 32 px
    assert np.array_equal(np.asarray(p.crop), np.asarray(Image.open(photo))[:, 15:105])
    assert p.face is None and p.alignment is None and p.face_index is None and p.aligned_input
    assert p.sha256 == sha256_of(photo) and p.photo.size == (120, 90)


def test_detection_picks_the_face_and_records_alignment(photo):
    det = FixedDetector([_face(40, 45, 40), _face(80, 45, 60)])
    p = prepare_photo(photo, 48, face_index=0, detector=det)
    assert p.crop.size == (48, 48) and p.face.method == "ffhq" and p.face_index == 0
    small = prepare_photo(photo, 48, face_index=1, detector=det)
    assert not np.allclose(small.face.quad, p.face.quad)
    rec = json.loads(json.dumps(p.alignment))
    assert rec["method"] == "ffhq" and rec["source_size"] == [120, 90] and rec["output_size"] == 48
    with pytest.raises(UserError, match="face 3 does not exist"):
        prepare_photo(photo, 48, face_index=2, detector=det)
    with pytest.raises(NoFaceFound):
        prepare_photo(photo, 48, detector=FixedDetector([]))
    fallback = prepare_photo(photo, 48, detector=FixedDetector([]), centre_crop_fallback=True)
    assert fallback.face.method == "centre-crop" and fallback.centre_crop and fallback.face_index is None


def test_prepare_reports_progress_and_honours_cancel(photo):
    seen = []
    prepare_photo(photo, 32, detector=FixedDetector([_face(60, 45, 40)]), progress=seen.append)
    assert [s.step for s in seen] == [1, 2, 3] and all(s.job == "prepare" and s.total == 3 for s in seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        prepare_photo(photo, 32, centre_crop=True, cancel=token)


def test_invert_prepared_matches_invert_photo(photo, rosinality_pt):
    loaded = load_generator(rosinality_pt)
    a = invert_prepared(prepare_photo(photo, alignment_size(loaded.generator), aligned=True), loaded,
                        encoder=False, steps=2)
    b = invert_photo(photo, loaded, encoder=False, steps=2, aligned=True)
    assert torch.equal(a.w_plus, b.w_plus)
    assert a.photo_sha256 == b.photo_sha256 and a.aligned_input and a.steps == 2


def test_photo_edit_result_recipe_and_paste_back(photo, rosinality_pt, tmp_path):
    loaded = load_generator(rosinality_pt)
    styledomain_file(tmp_path / "d.pt", TINY.channels, seed=3)
    edit = Edit((DirectionTerm(load_direction(tmp_path / "d.pt"), 0.8, "middle", str(tmp_path / "d.pt")),),
                strength=0.9)
    out = tmp_path / "sub" / "out.png"
    res = photo_edit(photo, loaded, edit, encoder=False, steps=1, centre_crop=True, paste_back=True,
                     recipe_relative_to=out)
    # the export is the photo with the edited face pasted back over the centred square
    assert res.image.size == (120, 90) and res.aligned.size == (32, 32)
    assert np.array_equal(np.asarray(res.image)[:, :10], np.asarray(Image.open(photo))[:, :10])
    assert not np.array_equal(np.asarray(res.image), np.asarray(Image.open(photo)))
    # the recipe reproduces the aligned edit from its inline latent
    r = Recipe.loads(res.recipe.dumps())
    w = torch.tensor(r.latent.w_plus)
    assert torch.equal(w, res.inversion.w_plus)
    assert np.array_equal(np.asarray(render_edit_image(loaded.generator, w, edit)), np.asarray(res.aligned))
    assert r.paste_back and r.source.photo_sha256 == sha256_of(photo)
    assert r.source.alignment["method"] == "centre-crop" and r.source.inversion["steps"] == 1
    assert r.directions[0].file == "../d.pt" and r.directions[0].layers == "middle"
    assert r.generator.file == "../" + rosinality_pt.name and r.strength == 0.9


def test_finish_photo_without_a_photo_around_the_face(photo):
    edited = Image.new("RGB", (32, 32), (10, 20, 30))
    assert finish_photo(prepare_photo(photo, 32, aligned=True), edited, paste_back=True) is edited
    centred = prepare_photo(photo, 32, centre_crop=True)
    assert finish_photo(centred, edited, paste_back=False) is edited
    assert finish_photo(centred, edited, paste_back=True).size == (120, 90)


def test_photo_edit_notes_and_cancel(photo, rosinality_pt):
    loaded = load_generator(rosinality_pt)
    res = photo_edit(photo, loaded, encoder=False, steps=0, aligned=True, paste_back=True)
    assert res.notes == (NOTHING_TO_PASTE,) and res.image.size == (32, 32)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        photo_edit(photo, loaded, encoder=False, steps=0, aligned=True, cancel=token)


def test_cancel_during_inversion(photo, rosinality_pt):
    loaded = load_generator(rosinality_pt)
    token = CancelToken()

    def stop_after_first_step(p):
        if p.job == "invert" and p.step >= 1:
            token.cancel()

    prepared = prepare_photo(photo, 32, aligned=True)
    seen = []
    res = invert_prepared(prepared, loaded, encoder=False, steps=6, cancel=token,
                          progress=lambda p: (seen.append(p), stop_after_first_step(p)))
    assert res.cancelled and res.steps < 6 and {p.job for p in seen} == {"invert"}
    assert any("loss" in p.values for p in seen)
    token = CancelToken()
    with pytest.raises(Cancelled):
        photo_edit(photo, loaded, encoder=False, steps=6, aligned=True, cancel=token, progress=stop_after_first_step)
