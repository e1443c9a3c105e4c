"""For every test process: botocore's service models are parsed once, not once per session,
and a client's class is built once per session and service (below).

Each boto3 session gets a botocore loader of its own, which parses a service's JSON model again
the first time a client of that service is made: Powertools' parameter providers make a
session each (and a unit test makes them afresh, as a cold start does), moto's mocks make
their own. That was hundreds of parses of the same files per run, a fifth of the unit tests'
time. Sessions share one loader here; the models are read-only files, and the loader's cache is
keyed by service and version, as within one session. What a test sees of botocore is unchanged.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

import botocore.client
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


# A boto3 client's class is built anew for every client (a method per operation: 20 to 30 ms
# for EC2's hundreds), although a session's handlers give the same class every time: built once
# per session and service here. The unit tests make several clients in every test, on one
# shared session.
_client_classes: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], type]] = (
    weakref.WeakKeyDictionary()
)
_create_client_class = botocore.client.ClientCreator._create_client_class


def _shared_client_class(creator: Any, service_name: str, service_model: Any) -> type:
    made = _client_classes.setdefault(creator._event_emitter, {})
    key = (service_name, service_model.api_version)
    if key not in made:
        made[key] = _create_client_class(creator, service_name, service_model)
    return made[key]


botocore.client.ClientCreator._create_client_class = _shared_client_class  # type: ignore[method-assign]


# The order test files are handed to pytest-xdist's workers (`make test`: `--dist loadfile
# --no-loadscope-reorder`, so this order is kept): the long ones first, so that at the end of
# a run the workers share out short files rather than one worker running a long one alone.
# A workflow or end-to-end file takes 10 to 130 s (an embedded AWS each, whole executions),
# most unit files a few seconds, an emulator file 10 to 20 s. xdist's own order (most tests
# first) handed out the one-test workflow files last. Within a tier the order is pytest's.
_FIRST_TO_LAST = ("workflow", "e2e", "unit", "emulator")


def pytest_collection_modifyitems(items: list[Any]) -> None:
    def tier(item: Any) -> int:
        folder = item.path.parent.name
        return _FIRST_TO_LAST.index(folder) if folder in _FIRST_TO_LAST else len(_FIRST_TO_LAST)

    items.sort(key=tier)  # stable: a file's tests stay together and in their order
