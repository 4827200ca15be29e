"""Locate data shipped with the package (templates, manifests) in a wheel or a source checkout."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_path(kind: str) -> Path:
    """Folder of packaged data `kind` ('templates' or 'manifests')."""
    packaged = _PKG / "_data" / kind
    if packaged.is_dir():
        return packaged
    # Editable install / source checkout: the folders sit at the repository root.
    return _PKG.parent / kind
