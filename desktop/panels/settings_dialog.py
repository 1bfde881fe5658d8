"""The Settings dialog: device, precision, preview size policy and library folder, kept in QSettings."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop import settings as studio_settings

PRECISION_TIPS = {"fp32": "fp32: full precision (works everywhere)", "fp16": "fp16: CUDA only",
                  "bf16": "bf16: CUDA, or CPUs with native bf16"}


class SettingsDialog(QDialog):
    """OK/Cancel/Apply over ``settings``; device and precision changes apply at the next start."""

    def __init__(self, settings, devices: list[str] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setAccessibleName("Settings")
        self.setWindowTitle("Settings")
        self.settings = settings
        self.device = QComboBox(self)
        self.device.setObjectName("settingsDevice")
        self.device.setAccessibleName("Device")
        self.device.setToolTip("Where models run: auto picks CUDA, then MPS, then the CPU")
        names = devices if devices is not None else studio_settings.available_devices()
        current = studio_settings.device(settings)
        if current not in names:
            names = names + [current]
        for n in names:
            self.device.addItem(n, n)
        self.precision = QComboBox(self)
        self.precision.setObjectName("settingsPrecision")
        self.precision.setAccessibleName("Precision")
        self.precision.setToolTip("Number format of the model weights; unsupported choices fall back with a message")
        for p in studio_settings.PRECISIONS:
            self.precision.addItem(PRECISION_TIPS[p], p)
        self.policy = QComboBox(self)
        self.policy.setObjectName("settingsPreviewPolicy")
        self.policy.setAccessibleName("Preview size policy")
        self.policy.setToolTip("How large previews are while you drag a slider or the blend puck")
        for key, text in studio_settings.PREVIEW_POLICIES.items():
            self.policy.addItem(text, key)
        self.folder = QLineEdit(self)
        self.folder.setObjectName("settingsLibraryFolder")
        self.folder.setAccessibleName("Library folder")
        self.folder.setPlaceholderText(f"default: {studio_settings.library_folder(_Empty())}")
        self.folder.setToolTip("Folder of the model library (empty: the default folder)")
        browse = QPushButton("Browse…", self)
        browse.setObjectName("settingsBrowse")
        browse.setAccessibleName("Browse for the library folder")
        browse.setToolTip("Choose the library folder")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Device", self.device)
        form.addRow("Precision", self.precision)
        form.addRow("Preview size", self.policy)
        form.addRow("Library folder", row)
        self.note = QLabel("Device and precision changes apply when the studio is restarted.", self)
        self.note.setObjectName("settingsNote")
        self.note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.Apply, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.note)
        lay.addWidget(self.buttons)
        self.load()

    def load(self) -> None:
        """Show the stored values."""
        s = self.settings
        self.device.setCurrentIndex(max(0, self.device.findData(studio_settings.device(s))))
        self.precision.setCurrentIndex(max(0, self.precision.findData(studio_settings.precision(s))))
        self.policy.setCurrentIndex(max(0, self.policy.findData(studio_settings.preview_policy(s))))
        self.folder.setText(str(s.value(studio_settings.LIBRARY_FOLDER_KEY, "") or ""))

    def apply(self) -> None:
        """Store the shown values; the library folder applies at once to this process."""
        studio_settings.save(self.settings, device_name=self.device.currentData(),
                             precision_name=self.precision.currentData(), policy=self.policy.currentData(),
                             folder=self.folder.text())
        studio_settings.apply_library_folder(self.settings)

    def accept(self) -> None:
        self.apply()
        super().accept()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Library folder", self.folder.text())
        if folder:
            self.folder.setText(folder)


class _Empty:
    """A settings stand-in with no values (to show the default library folder)."""

    def value(self, key, default=None):
        return default


def install_settings(window) -> QAction:
    """Add Tools → Settings… (Ctrl+,) to the studio window."""
    act = QAction("Settings…", window)
    act.setObjectName("actionSettings")
    act.setShortcut(QKeySequence("Ctrl+,"))
    act.setToolTip("Device, precision, preview size and library folder")

    def show() -> None:
        dlg = SettingsDialog(window.settings, parent=window)
        dlg.open()

    act.triggered.connect(show)
    window.add_menu_action("Tools", act)
    return act
