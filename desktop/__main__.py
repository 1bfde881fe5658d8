"""``python -m desktop [MODEL]`` opens the studio; ``--self-test [--report FILE]`` runs the headless check."""

from __future__ import annotations

import sys

from desktop.app import main

sys.exit(main())
