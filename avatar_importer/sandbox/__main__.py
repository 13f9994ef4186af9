"""``python -m avatar_importer.sandbox``: run the loopback sandbox until Ctrl+C."""

from __future__ import annotations

import sys

from .server import main

if __name__ == "__main__":
    sys.exit(main())
