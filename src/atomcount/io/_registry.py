"""File extension → reader lookup.

Every module in :mod:`atomcount.io.formats` is a plugin: it defines

* ``NAME`` (str): the format's name for messages,
* ``EXTENSIONS`` (tuple of str): lower-case extensions with the dot, e.g. ``(".dm3",)``,
* ``read(path: pathlib.Path) -> RawImage``.

Plugins are discovered by scanning that package, so adding a format means adding
one module there and touching nothing else.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from atomcount.core.errors import AtomcountError
from atomcount.io import formats


@lru_cache(maxsize=1)
def plugins() -> dict[str, ModuleType]:
    """Map each supported extension (lower case, with dot) to its plugin module."""
    table: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(formats.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{formats.__name__}.{info.name}")
        for ext in module.EXTENSIONS:
            if ext in table:
                raise RuntimeError(f"extension {ext} claimed by both {table[ext].__name__} and {module.__name__}")
            table[ext] = module
    return table


def supported_extensions() -> tuple[str, ...]:
    """Sorted extensions (with dot) that :func:`atomcount.io.read_image` reads."""
    return tuple(sorted(plugins()))


def plugin_for(path: Path) -> ModuleType:
    """Return the plugin module reading ``path``, chosen by its extension.

    Raises
    ------
    AtomcountError
        If no plugin handles the extension.
    """
    ext = path.suffix.lower()
    try:
        return plugins()[ext]
    except KeyError:
        shown = ext or "no extension"
        raise AtomcountError(f"{path}: unsupported file type ({shown}); "
                             f"atomcount reads {' '.join(supported_extensions())}") from None
