"""Headless batch import of avatars from photos.

    blender -b -P scripts/batch_import.py -- --service sandbox --photo me.jpg --out me.blend
    python scripts/batch_import.py --service sandbox --photo me.jpg --out me.blend   # bpy wheel

Options: ``--help``. Exit code 0 only if every avatar was imported.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

try:
    import bpy  # noqa: F401
except ImportError:
    sys.exit("batch_import.py needs Blender: run it with `blender -b -P` or with a Python "
             "that has the bpy wheel (pip install bpy==4.2.23)")

from avatar_importer.blender.batch import run_from_command_line  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_from_command_line())
