"""The demo world: procedural faces (the "photo" domain) and the same faces in other domains."""

from .faces import N_PARAMS, FaceParams, Landmarks, build_scene, landmarks, render_photo, render_seed

__all__ = ["N_PARAMS", "FaceParams", "Landmarks", "build_scene", "landmarks", "render_photo", "render_seed"]
