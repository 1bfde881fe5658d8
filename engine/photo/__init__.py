"""Photos in: robust loading of users' image files (see :mod:`engine.photo.load`)."""

from .load import BACKGROUND, MAX_PIXELS, MIN_SIDE, PhotoResult, load_photo, load_photos

__all__ = ["BACKGROUND", "MAX_PIXELS", "MIN_SIDE", "PhotoResult", "load_photo", "load_photos"]
