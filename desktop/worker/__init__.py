"""The studio's GPU-owner worker thread (see :mod:`desktop.worker.client` for the GUI-side API)."""

from .client import WorkerClient
from .requests import DeltaSpec, DirectionSpec, JobProgress, PreviewRequest, PreviewResult, RenderSpec
from .worker import JobContext

__all__ = ["DeltaSpec", "DirectionSpec", "JobContext", "JobProgress", "PreviewRequest", "PreviewResult",
           "RenderSpec", "WorkerClient"]
