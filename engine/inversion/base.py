"""What every image -> W+ encoder offers, whatever its architecture."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from engine.errors import UserError


def pil_to_encoder_input(image: Image.Image, size: int) -> torch.Tensor:
    """The reference e4e transform: PIL bilinear resize to ``size`` (only when needed), ``ToTensor``,
    ``Normalize(0.5, 0.5)`` -> [1, 3, size, size] in [-1, 1]. A crop already at ``size`` goes in untouched."""
    img = image if image.mode == "RGB" else image.convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    x = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).float().div(255)
    return ((x - 0.5) / 0.5).unsqueeze(0)


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
        """W+ [B, num_ws, w_dim] of [B, 3, H, W] images in [-1, 1], on the encoder's device."""
        dev = next(self.parameters()).device
        return self.predict(self.prepare(images.to(dev, torch.float32)))

    def encode_image(self, image: Image.Image) -> torch.Tensor:
        """W+ [1, num_ws, w_dim] of a PIL crop, resized once from its own pixels (:func:`pil_to_encoder_input`)."""
        dev = next(self.parameters()).device
        return self.predict(pil_to_encoder_input(image, self.input_size).to(dev))

    def check_generator(self, num_ws: int, w_dim: int, model_name: str = "the model") -> None:
        """Raise a one-line :class:`UserError` unless this encoder's W+ fits the generator."""
        if (self.num_ws, self.w_dim) != (num_ws, w_dim):
            raise UserError(
                f"encoder {getattr(self, 'name', self.kind)} predicts W+ with {self.num_ws} rows of "
                f"{self.w_dim}, but {model_name} takes {num_ws} rows of {w_dim} "
                f"(a {2 ** (num_ws // 2 + 1)} px generator needs an encoder made for that size)")
