"""``python -m desktop``: until the studio window exists, run the headless CLI demo."""

from __future__ import annotations

import sys

from desktop.headless_demo import main

sys.exit(main())
