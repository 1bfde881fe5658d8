"""Dock panels and dialogs of the studio: domains, blend pad, adapt, batch export, models, settings."""

from desktop.panels.install import install

__all__ = ["install"]
