"""reunite's core: types, config, ingest, the streaming runner, the batch and its outputs."""

from __future__ import annotations

import importlib.metadata

try:
    __version__ = importlib.metadata.version("reunite")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+src"
