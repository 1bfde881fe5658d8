"""FFHQ face alignment (the NVlabs ffhq-dataset procedure) and the centred-crop fallback.

Procedure, for landmarks in pixel-index coordinates (pixel centres at integers):

1. eye centres = mean of landmarks 36-41 and 42-47, mouth corners = 48 and 54;
   ``eye_to_eye = eye_right - eye_left``, ``eye_to_mouth = mean(mouth corners) - mean(eyes)``.
2. ``x = eye_to_eye - R90(eye_to_mouth)`` normalised, times ``max(2 |eye_to_eye|, 1.8 |eye_to_mouth|)``;
   ``y = R90(x)``; ``c = mean(eyes) + 0.1 eye_to_mouth``; quad = [c-x-y, c-x+y, c+x+y, c+x-y]
   (NW, SW, SE, NE); ``qsize = 2 |x|``. ``R90(a, b) = (-b, a)``.
3. ``shrink = floor(qsize / output_size / 2)``; if > 1 the photo is Lanczos-reduced by it.
4. Crop to the quad's bounds plus ``border = max(rint(0.1 qsize), 3)``.
5. Where the quad leaves the photo, reflect-pad by ``max(pad, rint(0.3 qsize))``, blur the padding
   (Gaussian, sigma ``0.02 qsize``) and fade it toward the median colour.
6. PIL ``QUAD`` transform (bilinear) of ``quad + 0.5`` to ``transform_size``, Lanczos to ``output_size``.

The result keeps the quad in photo coordinates (continuous: pixel ``i`` spans ``[i, i + 1]``) that the
aligned image samples; it is a parallelogram, so aligned <-> photo is an exact affine map, which
:mod:`engine.alignment.paste` inverts for paste-back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from engine.jobs import CancelToken, ProgressFn, check_cancel, report

from .faces import MIN_EYE_DISTANCE, Face, FaceTooSmall, LandmarkDetector, NoFaceFound, detect_faces


@dataclass
class AlignedFace:
    """An aligned square crop and where it came from in the photo.

    ``quad``: [4, 2] corners NW, SW, SE, NE in photo coordinates (continuous), sampled by the crop's
    corners (0, 0), (0, S), (S, S), (S, 0). ``method``: ``"ffhq"`` or ``"centre-crop"``.
    """

    image: Image.Image
    quad: np.ndarray
    source_size: tuple[int, int]
    method: str = "ffhq"
    face: Face | None = None
    info: dict = field(default_factory=dict)

    @property
    def output_size(self) -> int:
        return self.image.width

    def aligned_to_photo(self, size: int | None = None) -> np.ndarray:
        """3x3 matrix: continuous (u, v, 1) in a ``size``-px aligned image -> photo (x, y, 1)."""
        s = float(size or self.output_size)
        q = np.asarray(self.quad, dtype=np.float64)
        u_axis, v_axis = (q[3] - q[0]) / s, (q[1] - q[0]) / s
        return np.array([[u_axis[0], v_axis[0], q[0, 0]],
                         [u_axis[1], v_axis[1], q[0, 1]],
                         [0.0, 0.0, 1.0]])

    def photo_to_aligned(self, size: int | None = None) -> np.ndarray:
        """The exact inverse of :meth:`aligned_to_photo`."""
        return np.linalg.inv(self.aligned_to_photo(size))

    def to_dict(self) -> dict:
        """JSON-ready description (no pixels) for saving next to an edit."""
        return {"method": self.method, "quad": np.asarray(self.quad).tolist(),
                "source_size": list(self.source_size), "output_size": self.output_size,
                "landmarks": None if self.face is None else self.face.landmarks.tolist()}

    @classmethod
    def from_dict(cls, data: dict, image: Image.Image) -> AlignedFace:
        """Rebuild from :meth:`to_dict` and the (edited or original) aligned image, e.g. for paste-back."""
        lm = data.get("landmarks")
        face = None
        if lm is not None:
            pts = np.asarray(lm, dtype=np.float64)
            face = Face(pts, (*pts.min(axis=0), *pts.max(axis=0)))
        return cls(image, np.asarray(data["quad"], dtype=np.float64), tuple(data["source_size"]),
                   data.get("method", "ffhq"), face)


def ffhq_quad(face: Face) -> tuple[np.ndarray, float]:
    """Step 1-2: the oriented quad (pixel-index coordinates, NW SW SE NE) and its side ``qsize``."""
    eye_avg = (face.eye_left + face.eye_right) / 2
    eye_to_eye = face.eye_right - face.eye_left
    eye_to_mouth = face.mouth_centre - eye_avg
    x = eye_to_eye - _r90(eye_to_mouth)
    x = x / np.hypot(*x)
    x = x * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = _r90(x)
    c = eye_avg + eye_to_mouth * 0.1
    quad = np.stack([c - x - y, c - x + y, c + x + y, c + x - y])
    return quad, float(np.hypot(*x) * 2)


def _r90(v: np.ndarray) -> np.ndarray:
    return np.array([-v[1], v[0]], dtype=np.float64)


def align_face(image: Image.Image, face: Face, output_size: int = 256, *, transform_size: int | None = None,
               enable_padding: bool = True, progress: ProgressFn | None = None,
               cancel: CancelToken | None = None) -> AlignedFace:
    """FFHQ-align ``face`` of ``image`` to an ``output_size`` square RGB crop.

    ``transform_size``: resolution of the QUAD resampling before the final Lanczos reduction; FFHQ used
    4096 for 1024, e4e's inference used 256 for 256. Default ``min(4 * output_size, 4096)``.
    Progress (job ``"align"``): one report per stage (shrink, pad, transform); a cancel, checked between
    stages, raises :class:`engine.jobs.Cancelled`.
    """
    if not face.alignable:
        raise FaceTooSmall(f"the face at {face.describe()} is too small to align: its eyes are "
                           f"{face.eye_distance:.0f} px apart, at least {MIN_EYE_DISTANCE:.0f} px are needed")
    transform_size = transform_size or max(output_size, min(4 * output_size, 4096))
    if transform_size < output_size:
        raise ValueError("transform_size must be at least output_size")
    img = image if image.mode == "RGB" else image.convert("RGB")
    source_size = img.size
    quad, qsize = ffhq_quad(face)

    # 3. Shrink.
    check_cancel(cancel, "align")
    report(progress, "align", 0, 3, "shrink")
    scale_back = np.array([1.0, 1.0])
    shrink = int(np.floor(qsize / output_size * 0.5))
    if shrink > 1:
        rsize = (int(np.rint(img.width / shrink)), int(np.rint(img.height / shrink)))
        scale_back = np.array([img.width / rsize[0], img.height / rsize[1]])
        img = img.resize(rsize, Image.LANCZOS)
        quad = quad / shrink
        qsize = qsize / shrink

    # 4. Crop.
    offset = np.zeros(2)  # processed-image coordinates + offset = shrunk-photo coordinates
    border = max(int(np.rint(qsize * 0.1)), 3)
    crop = _bounds(quad)
    crop = (max(crop[0] - border, 0), max(crop[1] - border, 0),
            min(crop[2] + border, img.width), min(crop[3] + border, img.height))
    if crop[2] - crop[0] < img.width or crop[3] - crop[1] < img.height:
        img = img.crop(crop)
        quad = quad - crop[0:2]
        offset += crop[0:2]

    # 5. Pad.
    check_cancel(cancel, "align")
    report(progress, "align", 1, 3, "pad")
    pad = _bounds(quad)
    pad = (max(-pad[0] + border, 0), max(-pad[1] + border, 0),
           max(pad[2] - img.width + border, 0), max(pad[3] - img.height + border, 0))
    if enable_padding and max(pad) > border - 4:
        pad = np.maximum(pad, int(np.rint(qsize * 0.3)))
        img = _pad_blur(img, pad, qsize)
        quad = quad + pad[:2]
        offset -= pad[:2]

    # 6. Transform.
    check_cancel(cancel, "align")
    report(progress, "align", 2, 3, "transform")
    out = img.transform((transform_size, transform_size), Image.QUAD, tuple((quad + 0.5).flatten()),
                        Image.BILINEAR)
    if output_size < transform_size:
        out = out.resize((output_size, output_size), Image.LANCZOS)
    report(progress, "align", 3, 3, "aligned")
    photo_quad = (quad + 0.5 + offset) * scale_back
    return AlignedFace(out, photo_quad, source_size, "ffhq", face,
                       {"qsize": qsize * float(np.mean(scale_back)), "shrink": shrink,
                        "transform_size": transform_size})


def _bounds(quad: np.ndarray) -> tuple[int, int, int, int]:
    return (int(np.floor(min(quad[:, 0]))), int(np.floor(min(quad[:, 1]))),
            int(np.ceil(max(quad[:, 0]))), int(np.ceil(max(quad[:, 1]))))


def _pad_blur(img: Image.Image, pad, qsize: float) -> Image.Image:
    """Reflect-pad, blur the padding and fade it toward the median colour (float maths, then rint).

    One colour plane and one band of rows at a time, so a big face (a 6000 px padded crop) needs two
    float planes at most, not several float copies of the whole image.
    """
    padded = np.pad(np.asarray(img), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), "reflect")
    h, w, channels = padded.shape
    x, y = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
    mask_x = 1.0 - np.minimum(x / pad[0], (w - 1 - x) / pad[2])
    mask_y = 1.0 - np.minimum(y / pad[1], (h - 1 - y) / pad[3])
    bands = [slice(r, min(r + 256, h)) for r in range(0, h, 256)]
    for c in range(channels):
        plane = padded[..., c].astype(np.float32)
        blurred = _blur_plane(plane, qsize * 0.02)
        for rows in bands:
            mask = np.maximum(mask_y[rows, None], mask_x[None, :])
            blurred[rows] -= plane[rows]
            blurred[rows] *= np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
            plane[rows] += blurred[rows]
        del blurred
        median = np.float32(np.median(plane))
        for rows in bands:
            mask = np.maximum(mask_y[rows, None], mask_x[None, :])
            band = plane[rows]
            band += (median - band) * np.clip(mask, 0.0, 1.0)
            padded[rows, :, c] = np.clip(np.rint(band), 0, 255)
    return Image.fromarray(padded, "RGB")


#: Above this sigma the blur runs on a box-reduced copy (see :func:`gaussian_blur`).
EXACT_BLUR_MAX_SIGMA = 8.0


def gaussian_blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur over the first two axes of an [H, W, C] array (float32 result).

    Up to :data:`EXACT_BLUR_MAX_SIGMA` it is the separable kernel of
    ``scipy.ndimage.gaussian_filter(a, [sigma, sigma, 0])`` (radius ``int(4 sigma + 0.5)``, half-sample
    symmetric edges). Larger sigmas (faces of several hundred px; sigma is 0.02 of the crop side) would
    cost minutes in numpy, so the image is box-reduced by ``k = sigma // 4``, blurred with the sigma that
    keeps the total variance, and bilinearly enlarged back: within a grey level of the exact result
    except in the outermost band, which alignment fades to the median colour anyway.
    """
    return np.stack([_blur_plane(a[..., c].astype(np.float32), sigma) for c in range(a.shape[2])], axis=-1)


def _blur_plane(plane: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return plane.copy()
    if sigma <= EXACT_BLUR_MAX_SIGMA:
        return _separable_gaussian(plane, sigma)
    k = int(sigma // 4)
    h, w = plane.shape
    # variance budget: box of width k ((k^2 - 1) / 12) + blur (k^2 s^2) + bilinear enlarge (k^2 / 6)
    small_sigma = float(np.sqrt(max(sigma**2 - (k**2 - 1) / 12 - k**2 / 6, 0.0))) / k
    rows, cols = np.arange(0, h, k), np.arange(0, w, k)  # box means, no full-size temporary
    sums = np.add.reduceat(np.add.reduceat(plane, rows, axis=0), cols, axis=1)
    small = (sums / np.outer(np.diff(rows, append=h), np.diff(cols, append=w))).astype(np.float32)
    blurred = np.pad(_separable_gaussian(small, small_sigma), 1, "edge")  # never sample outside
    # small pixel i covers [i k, (i + 1) k): enlarge by exactly k, then drop the edge pixel added above
    sh, sw = blurred.shape
    big = Image.fromarray(blurred, "F").resize((sw * k, sh * k), Image.BILINEAR)
    return np.asarray(big.crop((k, k, k + w, k + h)), np.float32).copy()


def _separable_gaussian(a: np.ndarray, sigma: float) -> np.ndarray:
    radius = int(4.0 * sigma + 0.5)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).astype(np.float32)
    out = a
    for axis in (0, 1):
        widths = [(0, 0)] * out.ndim
        widths[axis] = (radius, radius)
        padded = np.pad(out, widths, "symmetric")
        n = out.shape[axis]
        acc = np.zeros_like(out)
        for i, weight in enumerate(k):
            acc += weight * (padded[i:i + n] if axis == 0 else padded[:, i:i + n])
        out = acc
    return out


def align_largest_face(image: Image.Image, output_size: int = 256, *,
                       detector: LandmarkDetector | None = None, **kwargs) -> AlignedFace:
    """Detect faces and align the largest; :class:`NoFaceFound` when there is none."""
    faces = detect_faces(image, detector)
    if not faces:
        raise NoFaceFound("no face found in the photo; a centred square crop can be used instead")
    return align_face(image, faces[0], output_size, **kwargs)


def align_centre_crop(image: Image.Image, output_size: int | None = 256) -> AlignedFace:
    """The largest centred square (the fallback when no face is found, or an already aligned crop),
    Lanczos-resized to ``output_size``; ``None`` keeps its own pixels (no resampling)."""
    img = image if image.mode == "RGB" else image.convert("RGB")
    side = min(img.size)
    x0, y0 = (img.width - side) // 2, (img.height - side) // 2
    quad = np.array([[x0, y0], [x0, y0 + side], [x0 + side, y0 + side], [x0 + side, y0]], dtype=np.float64)
    out = img.crop((x0, y0, x0 + side, y0 + side))
    if output_size is not None and side != output_size:
        out = out.resize((output_size, output_size), Image.LANCZOS)
    return AlignedFace(out, quad, img.size, "centre-crop", None, {})
