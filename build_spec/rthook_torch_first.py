"""PyInstaller runtime hook for StyleDomain Studio: import torch before anything loads a Qt library.

Custom runtime hooks run before PyInstaller's own, and PyInstaller's PySide6 hook imports ``PySide6.QtCore``
(it registers an embedded ``qt.conf``) before the entry script starts. On Windows, torch >= 2.9 imported after
Qt's DLLs fails with WinError 1114 on ``c10.dll``, so ``studio_main.py``'s own ``import torch`` would come too
late. This hook gives the windowed build null standard streams first (torch's import may warn), imports torch,
and leaves the times in ``sys._styledomain_marks`` for ``--startup-report``. The same order on every platform.
"""


def _torch_first() -> None:
    import os
    import sys
    import time

    entered = time.time()
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # lives as long as the app
    import torch  # noqa: F401

    sys._styledomain_marks = {"rthook_entered": entered, "torch_imported": time.time()}


_torch_first()
del _torch_first
