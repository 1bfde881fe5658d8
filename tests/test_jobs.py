"""Progress and cancel on the long operations of loading, alignment, inversion, encoder training and morph.

Every operation reports :class:`engine.jobs.Progress` values and honours a :class:`CancelToken` within one
step; cancel latency is measured on the shipped demo model (issue 9, section 1: <= 1 s).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image
from test_alignment import synthetic_face

from engine.alignment import align_face, detect_faces
from engine.checkpoints import load_generator, save_native
from engine.inversion import invert_image, invert_photo
from engine.inversion.encoder_training import EncoderTrainingSettings, train_encoder
from engine.inversion.small_encoder import SmallEncoderConfig
from engine.jobs import Cancelled, CancelToken, Progress
from engine.pipeline.images import to_pil
from engine.resources import resources_dir

pytestmark = pytest.mark.usefixtures("one_thread")


def cancelled_token() -> CancelToken:
    t = CancelToken()
    t.cancel()
    return t


def test_load_generator_reports_bytes_and_cancels(tmp_path, tiny_generator):
    path = tmp_path / "g.safetensors"
    save_native(tiny_generator, path)
    seen: list[Progress] = []
    loaded = load_generator(path, progress=seen.append)
    hashed = [p for p in seen if p.message.startswith("hashing")]
    assert hashed and hashed[-1].step == hashed[-1].total == path.stat().st_size
    assert seen[-1].fraction == 1.0 and {p.job for p in seen} == {"load"}
    assert loaded.sha256
    with pytest.raises(Cancelled):
        load_generator(path, cancel=cancelled_token())


def test_alignment_reports_stages_and_cancels():
    y, x = np.mgrid[:256, :256]
    photo = Image.fromarray(np.stack([x, y, (x + y) // 2], -1).astype(np.uint8))
    face = synthetic_face((100, 110), (156, 110), (108, 170), (148, 170))
    seen: list[Progress] = []
    align_face(photo, face, 64, progress=seen.append)
    assert [p.step for p in seen] == [0, 1, 2, 3] and seen[-1].fraction == 1.0
    with pytest.raises(Cancelled):
        align_face(photo, face, 64, cancel=cancelled_token())

    class Fixed:
        def detect(self, image):
            return [face]

    with pytest.raises(Cancelled):
        detect_faces(photo, Fixed(), cancel=cancelled_token())
    got: list[Progress] = []
    assert len(detect_faces(photo, Fixed(), progress=got.append)) == 1 and got[-1].fraction == 1.0


def test_invert_photo_reports_and_cancel_before_work_raises(tmp_path, tiny_generator):
    photo = tmp_path / "face.png"
    g = tiny_generator
    with torch.no_grad():
        to_pil(g.synthesize(g.styles(g.w_avg.expand(1, g.num_ws, -1)), "const"), 64).save(photo)
    seen: list[Progress] = []
    res = invert_photo(photo, tiny_generator, False, 3, aligned=True, progress=seen.append)
    assert {p.job for p in seen} == {"invert"} and not res.cancelled
    steps = [p for p in seen if "loss" in p.values]
    assert [p.step for p in steps] == [1, 2, 3] and all(p.total == 3 for p in steps)
    assert seen[-1].fraction == 1.0 and "psnr" in seen[-1].values
    with pytest.raises(Cancelled):
        invert_photo(photo, tiny_generator, False, 3, aligned=True, cancel=cancelled_token())


def _cancel_after_first(report_job: str, delay: float = 0.1):
    """A progress callback that, on the first step of ``report_job``, cancels ``delay`` s later from a thread."""
    token, stamp = CancelToken(), {}

    def fire() -> None:
        stamp["cancelled_at"] = time.perf_counter()
        token.cancel()

    def progress(p: Progress) -> None:
        if p.step >= 1 and "timer" not in stamp and p.job == report_job:
            stamp["timer"] = threading.Timer(delay, fire)
            stamp["timer"].start()

    return token, stamp, progress


@pytest.fixture(scope="module")
def demo():
    path = resources_dir() / "models" / "demo-faces-64.safetensors"
    if not path.is_file():
        pytest.skip("demo model not shipped in this checkout")
    return load_generator(path)


def test_inversion_cancel_latency_on_the_demo_model(demo):
    gen = demo.generator
    with torch.no_grad():
        target = gen.synthesize(gen.styles(gen.w_avg.expand(1, gen.num_ws, -1)), "const")
    token, stamp, progress = _cancel_after_first("invert")
    res = invert_image(target, demo, None, steps=100_000, progress=progress, cancel=token)
    latency = time.perf_counter() - stamp["cancelled_at"]
    assert res.cancelled and 1 <= res.steps < 100_000 and res.w_plus.shape == (gen.num_ws, gen.config.style_dim)
    print(f"inversion cancel latency {latency:.3f} s")
    assert latency <= 1.0, f"inversion took {latency:.2f} s to honour a cancel"


def test_encoder_training_cancel_latency_on_the_demo_model(demo):
    gen = demo.generator
    cfg = SmallEncoderConfig(input_size=64, num_ws=gen.num_ws, w_dim=gen.config.style_dim)
    token, stamp, progress = _cancel_after_first("train-encoder")
    _, summary = train_encoder(gen, cfg, EncoderTrainingSettings(steps=100_000, batch=4), progress, token)
    latency = time.perf_counter() - stamp["cancelled_at"]
    assert summary["cancelled"] and 1 <= summary["steps_done"] < 100_000
    print(f"encoder training cancel latency {latency:.3f} s")
    assert latency <= 1.0, f"encoder training took {latency:.2f} s to honour a cancel"
