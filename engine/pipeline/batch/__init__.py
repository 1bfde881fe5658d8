"""Batch export: one recipe applied to many photos, into one folder, resumably (``styledomain batch``).

Entry point: :func:`run_batch` -> :class:`BatchReport`. Modules: ``inputs`` (which files), ``naming``
(output names), ``manifest`` (what is finished; journal + atomic manifest), ``pipeline`` (the overlapped,
bounded three-stage executor), ``stages`` (photo -> aligned crop -> W+ -> edit -> file), ``writers``
(PNG/JPEG/WebP bytes, atomic writes), ``bench`` (``styledomain bench --tasks batch``).
"""

from .api import BatchReport, run_batch
from .inputs import IMAGE_SUFFIXES, InputFile, discover_inputs
from .manifest import JOURNAL_NAME, MANIFEST_NAME, Manifest
from .naming import DEFAULT_TEMPLATE, NameTemplate
from .stages import BatchSettings
from .writers import FORMATS

__all__ = ["DEFAULT_TEMPLATE", "FORMATS", "IMAGE_SUFFIXES", "JOURNAL_NAME", "MANIFEST_NAME", "BatchReport",
           "BatchSettings", "InputFile", "Manifest", "NameTemplate", "discover_inputs", "run_batch"]
