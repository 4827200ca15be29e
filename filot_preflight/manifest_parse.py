"""Manifest text to data: JSON or YAML, duplicate keys rejected, errors naming the file and place."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from filot_preflight.errors import ManifestError


def parse(p: Path, text: str) -> Any:
    """The data in `text` (JSON if `p` ends in .json, else YAML); ManifestError says where it is broken."""
    if p.suffix.lower() == ".json":
        try:
            return json.loads(text, object_pairs_hook=_unique_pairs)
        except json.JSONDecodeError as e:
            raise ManifestError(f"{p}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
        except (ValueError, RecursionError) as e:  # duplicate key, deep nesting, an int of > 4300 digits
            raise ManifestError(f"{p}: invalid JSON: {short(e)}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - safe loader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark else "?"
        raise ManifestError(f"{p}:{where}: invalid YAML: {e.problem or e}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as e:
        raise ManifestError(f"{p}: invalid YAML: {short(e)}") from None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON objects reject duplicate keys, as the YAML loader does (json.loads would keep the last)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


# libyaml's parser where PyYAML has it (a manifest parses ~10x faster), the pure-Python one otherwise; the
# constructor, and so the duplicate-key rule and the error marks, are the same.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SAFE_LOADER):  # type: ignore[valid-type,misc]
    """SafeLoader that rejects duplicate keys: a silently overridden variable is a manifest bug."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        try:
            dup = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "unhashable key", key_node.start_mark
            ) from None
        if dup:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def short(e: BaseException) -> str:
    return re.sub(r"\s+", " ", str(e))[:200]
