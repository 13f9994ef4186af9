"""Run the loopback Avatar SDK sandbox from a checkout: ``python scripts/sandbox.py --help``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from avatar_importer.sandbox.server import main

if __name__ == "__main__":
    sys.exit(main())
