"""One botocore data loader for the whole process: each service model and endpoint file parsed once.

Each checker builds its own botocore session (its own credentials, profile, region), but the JSON
files they parse are the same. botocore caches them per loader, so the sessions share one
(`shared_loader`), which also fixes two costs of botocore's own loader in a run like ours:

- the checkers create their clients at the same moment, and an empty cache let two threads parse the
  same files side by side (two secretsmanager clients took 0.2 s of CPU, one 0.07 s): the loader's
  cached entry points run under one lock;
- the first model of each kind listed all ~450 services (~1,300 stat calls, 20-30 ms) only to test that
  the one asked for exists: that test now looks at the one service.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

_lock = threading.Lock()
_loader: Any = None


def shared_loader() -> Any:
    """The process's botocore data loader (AWS_DATA_PATH honoured, as botocore's own sessions do)."""
    global _loader
    with _lock:
        if _loader is None:
            _loader = _loader_class()(os.environ.get("AWS_DATA_PATH"))
        return _loader


def _loader_class() -> type:
    # Built on first use, so that importing this module does not import botocore.
    from botocore.exceptions import DataNotFoundError
    from botocore.loaders import Loader

    class SharedLoader(Loader):  # type: ignore[misc]
        """botocore's Loader, thread-safe for a shared cache, with a lazy list of known services."""

        def __init__(self, search_path_string: str | None) -> None:
            paths = [os.path.expanduser(os.path.expandvars(p)) for p in search_path_string.split(os.pathsep)] \
                if search_path_string else []
            super().__init__(extra_search_paths=paths)
            self._shared_lock = threading.RLock()

        def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
            with self._shared_lock:
                return super().load_service_model(service_name, type_name, api_version)

        def load_data_with_path(self, name: str) -> Any:
            with self._shared_lock:
                return super().load_data_with_path(name)

        def load_data(self, name: str) -> Any:
            with self._shared_lock:
                return super().load_data(name)

        def list_available_services(self, type_name: str) -> Sequence[str]:  # type: ignore[override]
            return ServiceNames(self, type_name, DataNotFoundError)

        def all_services(self, type_name: str) -> list[str]:
            """botocore's own full listing (cached by the loader)."""
            with self._shared_lock:
                return list(Loader.list_available_services(self, type_name))

        def has_service(self, service_name: str, type_name: str, not_found: type[Exception]) -> bool:
            """Whether one service has a `type_name` file in some API version (what the listing tests)."""
            try:
                with self._shared_lock:
                    return bool(self.list_api_versions(service_name, type_name))
            except not_found:
                return False

    return SharedLoader


class ServiceNames(Sequence[str]):
    """The services with a `type_name` model: `in` looks at one service, the full list is built only
    when iterated (botocore iterates it only to name the known services in an UnknownServiceError)."""

    def __init__(self, loader: Any, type_name: str, not_found: type[Exception]) -> None:
        self._loader, self._type, self._not_found = loader, type_name, not_found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and "/" not in name and name not in ("", ".", "..") \
            and self._loader.has_service(name, self._type, self._not_found)

    def _all(self) -> list[str]:
        return self._loader.all_services(self._type)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __getitem__(self, i: Any) -> Any:
        return self._all()[i]
