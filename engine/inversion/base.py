"""What every image -> W+ encoder offers, whatever its architecture."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import UserError


class LatentEncoder(nn.Module):
    """Base for encoders: ``encode(images in [-1, 1]) -> W+ [B, num_ws, w_dim]``.

    Subclasses set ``input_size``, ``num_ws``, ``w_dim``, ``kind`` and implement ``predict`` on
    images already resized to ``input_size``.
    """

    kind = "encoder"
    input_size: int
    num_ws: int
    w_dim: int

    def predict(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Resize [B, 3, H, W] images to the encoder's input (area/antialiased bilinear)."""
        if images.shape[-1] == self.input_size and images.shape[-2] == self.input_size:
            return images
        return F.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear",
                             align_corners=False, antialias=True)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        dev = next(self.parameters()).device
        return self.predict(self.prepare(images.to(dev, torch.float32)))

    def check_generator(self, num_ws: int, w_dim: int, model_name: str = "the model") -> None:
        """Raise a one-line :class:`UserError` unless this encoder's W+ fits the generator."""
        if (self.num_ws, self.w_dim) != (num_ws, w_dim):
            raise UserError(
                f"encoder {getattr(self, 'name', self.kind)} predicts W+ with {self.num_ws} rows of "
                f"{self.w_dim}, but {model_name} takes {num_ws} rows of {w_dim} "
                f"(a {2 ** (num_ws // 2 + 1)} px generator needs an encoder made for that size)")
