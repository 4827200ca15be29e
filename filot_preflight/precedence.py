"""Which value a service ends up with: the ranking behind `ValueStore.get` (see sources.py for the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filot_preflight.sources import Value


@dataclass(frozen=True)
class ServiceReader:
    """How one service reads its configuration (manifest `services[].reader` and `override`)."""

    reader: str = "python-dotenv"
    override: bool = False

    def first_file_wins(self) -> bool:
        """dotenv without override keeps the first file's value; Docker and override take the last."""
        return self.reader in ("node-dotenv", "python-dotenv") and not self.override


def visible(v: Value, service: str, sr: ServiceReader) -> bool:
    """Whether `service` reads `v` at all: a file value only through its own reader and its own or shared files."""
    if v.source != "file":
        return True  # the environment and Secrets Manager reach every service
    if v.service not in (None, service):
        return False
    return v.reader is None or v.reader == sr.reader


def rank(v: Value, service: str, sr: ServiceReader, pos: int) -> tuple[int, ...]:
    """Higher wins. Files below the environment unless override; own files above shared ones."""
    if v.source != "file":
        return (1 if not sr.override else 0, 1 if v.source == "aws" else 0, 0, pos)
    tier = 2 if sr.override else 0
    order = -v.file if sr.first_file_wins() and v.reader is not None else v.file
    return (tier, 1 if v.service == service else 0, order, pos)
