"""Loader errors: a model file that cannot be used names itself and the reason."""

from engine.errors import FileProblem


class ModelFileError(FileProblem):
    """A model, encoder or direction file that cannot be loaded."""
