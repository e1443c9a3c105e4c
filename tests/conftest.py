"""For every test process: botocore's service models are parsed once, not once per session.

Each boto3 session gets a botocore loader of its own, which parses a service's JSON model again
the first time a client of that service is made: Powertools' parameter providers make a
session each (and a unit test makes them afresh, as a cold start does), moto's mocks make
their own. That was hundreds of parses of the same files per run, a fifth of the unit tests'
time. Sessions share one loader here; the models are read-only files, and the loader's cache is
keyed by service and version, as within one session. What a test sees of botocore is unchanged.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.loaders
import botocore.session


class _Paths(list[str]):
    """The shared loader's search paths: boto3 adds its own folder once per session."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@functools.cache
def _shared_loader(search_path_string: str | None = None) -> Any:
    loader = botocore.loaders.create_loader(search_path_string)
    loader._search_paths = _Paths(loader._search_paths)
    return loader


botocore.session.create_loader = _shared_loader  # type: ignore[attr-defined]


# The order files are handed to pytest-xdist's workers (``--dist loadfile`` takes them in
# collection order): the workflow and end-to-end files, a minute or so each, first; the unit
# files, many and short, last, to fill in while the long ones end. Collected the other way
# round (alphabetically), the longest files started last and the run ended on one worker.
_ORDER = ("tests/workflow/", "tests/e2e/", "tests/emulator/", "tests/unit/")


def pytest_collection_modifyitems(items: list[Any]) -> None:
    def rank(item: Any) -> int:
        path = item.nodeid
        return next((n for n, folder in enumerate(_ORDER) if path.startswith(folder)), 0)

    items.sort(key=rank)  # stable: within a folder, the order pytest collected
