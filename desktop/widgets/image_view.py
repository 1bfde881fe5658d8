"""A label that shows an image (QImage, PIL image or [3, H, W] tensor in [-1, 1]) scaled to fit, smoothly."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


def to_qimage(image: Any) -> QImage | None:
    """QImage from a QImage, a PIL image or a CPU tensor [3, H, W] in [-1, 1]; None when not an image."""
    if image is None:
        return None
    if isinstance(image, QImage):
        return image
    if hasattr(image, "dim") and hasattr(image, "clamp"):  # a torch tensor, without importing torch here
        from engine.pipeline.images import to_pil

        image = to_pil(image.unsqueeze(0) if image.dim() == 3 else image)
    if hasattr(image, "convert") and hasattr(image, "tobytes"):
        rgb = image.convert("RGB")
        data = rgb.tobytes()
        return QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888).copy()
    return None


class ImageView(QLabel):
    """Keeps the source image and rescales it on resize (HiDPI aware)."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None, name: str = "imageView") -> None:
        super().__init__(placeholder, parent)
        self.setObjectName(name)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(64, 64)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setWordWrap(True)
        self._image: QImage | None = None

    def sizeHint(self) -> QSize:
        return QSize(200, 200)

    def image(self) -> QImage | None:
        return self._image

    def set_image(self, image: Any) -> bool:
        img = to_qimage(image)
        if img is None or img.isNull():
            return False
        self._image = img
        self._rescale()
        return True

    def clear_image(self, placeholder: str = "") -> None:
        self._image = None
        self.setPixmap(QPixmap())
        self.setText(placeholder)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._image is None:
            return
        ratio = self.devicePixelRatioF()
        target = self.contentsRect().size() * ratio
        pix = QPixmap.fromImage(self._image).scaled(target, Qt.AspectRatioMode.KeepAspectRatio,
                                                    Qt.TransformationMode.SmoothTransformation)
        pix.setDevicePixelRatio(ratio)
        self.setPixmap(pix)
