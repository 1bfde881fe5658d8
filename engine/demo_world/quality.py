"""Does a picture show the renderer face's features? Eye and mouth windows and their detail.

Pixel distances over the whole image are dominated by background, hair and skin; a blurry face
with no eyes or mouth can still score well. These figures look only inside small windows on the
two eyes and the mouth (the renderer's own landmarks), so they measure what makes a face a face.
"""

from __future__ import annotations

import numpy as np

from .faces import FaceParams, landmarks

Box = tuple[slice, slice]  # (rows, cols)

#: Half-width and half-height of each window, image-relative: the eye with its lid and lashes,
#: the mouth with its corners.
EYE_HALF, MOUTH_HALF = (0.07, 0.05), (0.11, 0.06)


def feature_boxes(p: FaceParams, size: int) -> list[Box]:
    """Windows on the left eye, the right eye and the mouth of face ``p`` in a ``size`` px image."""
    lm = landmarks(p)
    boxes = []
    for (x, y), (hw, hh) in ((lm.left_eye, EYE_HALF), (lm.right_eye, EYE_HALF), (lm.mouth, MOUTH_HALF)):
        boxes.append((slice(round((y - hh) * size), round((y + hh) * size) + 1),
                      slice(round((x - hw) * size), round((x + hw) * size) + 1)))
    return boxes


def seed_feature_boxes(seeds: list[int], size: int) -> list[list[Box]]:
    """:func:`feature_boxes` of the renderer face of each seed (``FaceParams.from_seed``)."""
    return [feature_boxes(FaceParams.from_seed(s), size) for s in seeds]


def feature_scores(fake: np.ndarray, real: np.ndarray, boxes: list[list[Box]]) -> tuple[float, float]:
    """(mean L1, mean detail ratio) inside the windows; images [N, H, W, 3] on one pixel scale.

    The detail ratio is the per-channel spatial standard deviation of ``fake`` over that of ``real``
    in each window: about 1 when the features are drawn as crisply as the renderer's, well below 1
    when they are smoothed into skin.
    """
    l1, ratio = [], []
    for f, r, face_boxes in zip(fake.astype(np.float32), real.astype(np.float32), boxes, strict=True):
        for rows, cols in face_boxes:
            fw, rw = f[rows, cols], r[rows, cols]
            l1.append(np.abs(fw - rw).mean())
            ratio.append(fw.std(axis=(0, 1)).mean() / max(rw.std(axis=(0, 1)).mean(), 1e-3))
    return float(np.mean(l1)), float(np.mean(ratio))
