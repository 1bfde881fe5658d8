"""A non-modal message strip inside a panel or dialog (errors and notes; never blocks the user)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

STYLES = {
    "error": "background:#fde2e1; color:#7a1010; border:1px solid #e8a3a0; border-radius:4px;",
    "warning": "background:#fff4d6; color:#6b4e00; border:1px solid #e8cf8a; border-radius:4px;",
    "info": "background:#e3f0fb; color:#0d3c61; border:1px solid #9cc3e6; border-radius:4px;",
}


class MessageBar(QFrame):
    """Shows one message with a close button; ``show_message`` replaces it. Emits ``messageShown(level, text)``."""

    messageShown = Signal(str, str)

    def __init__(self, parent: QWidget | None = None, name: str = "messageBar") -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setAccessibleName("Message")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(self)
        close.setObjectName(f"{name}Close")
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss this message")
        close.setAccessibleName("Dismiss message")
        close.clicked.connect(self.hide)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 3, 3, 3)
        lay.addWidget(self.label, 1)
        lay.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.level = ""
        self.hide()

    def text(self) -> str:
        return self.label.text()

    def show_message(self, text: str, level: str = "error", timeout_ms: int = 0) -> None:
        """Show ``text``; ``timeout_ms`` > 0 hides it after that long (errors stay until dismissed)."""
        self.level = level
        self.setStyleSheet(f"QFrame#{self.objectName()} {{{STYLES.get(level, STYLES['info'])}}}")
        self.label.setText(text)
        self.setToolTip(text)
        self.show()
        self._timer.stop()
        if timeout_ms > 0:
            self._timer.start(timeout_ms)
        self.messageShown.emit(level, text)
