"""Registration in one place: an ordered class list, torn down in reverse.

``unregister`` stops every worker thread and removes every timer, so disabling and
re-enabling the add-on in one session leaves nothing behind.
"""

from __future__ import annotations

import bpy

from . import compat, runtime
from .animation import operators as animate_ops
from .importing.file_import import CLASSES as FILE_IMPORT_CLASSES
from .importing.file_import import register_menus, unregister_menus
from .library import backup as library_backup
from .ui import browse, browse_ops, catalogue, library_ops, operators, panel, prefs, props
from .ui.animate_panel import CLASSES as ANIMATE_PANEL_CLASSES
from .ui.report_ops import CLASSES as REPORT_CLASSES

CLASSES: tuple[type, ...] = (
    prefs.AVATAR_IMPORTER_AP_preferences,
    props.AVATAR_IMPORTER_PG_options,
    *operators.CLASSES,
    *browse_ops.CLASSES,
    *library_ops.CLASSES,
    *panel.CLASSES,
    *FILE_IMPORT_CLASSES,
    *REPORT_CLASSES,
    *animate_ops.CLASSES,
    *ANIMATE_PANEL_CLASSES,
)


def register() -> None:
    compat.ensure_numpy_bool_alias()
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    props.register_props()
    animate_ops.register_props()
    catalogue.load_cached()
    runtime.TICK_HOOKS.append(browse.watch_tick)
    register_menus()  # File > Import, File > External Data: after their operators


def unregister() -> None:
    unregister_menus()
    runtime.TICK_HOOKS.clear()
    runtime.shutdown()
    browse.reset()
    library_backup.reset()
    catalogue.reset()
    props.unregister_props()
    animate_ops.unregister_props()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
