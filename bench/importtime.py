"""Parse ``python -X importtime`` output and say which imports dominate.

Each line is ``import time: <self us> | <cumulative us> | <indent><module>``; a module's
parent is the nearest earlier line with a smaller indent (Python prints children first).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

_PREFIX = "import time:"


@dataclass(frozen=True)
class ImportLine:
    module: str
    self_us: int
    cumulative_us: int
    depth: int
    parent: str | None

    @property
    def package(self) -> str:
        return self.module.split(".")[0]


@dataclass(frozen=True)
class Contributor:
    """One edge from our code (handler or layer) into a third-party package."""

    importer: str
    module: str
    cumulative_ms: float


def parse(stderr: str) -> list[ImportLine]:
    raw: list[tuple[int, int, int, str]] = []
    for line in stderr.splitlines():
        if not line.startswith(_PREFIX) or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line[len(_PREFIX) :].split("|", 2)
        depth = (len(name) - len(name.lstrip(" "))) // 2
        raw.append((int(self_us), int(cumulative_us), depth, name.strip()))
    # children are printed before their parent: walk backwards to find each one's parent
    parents: list[str | None] = [None] * len(raw)
    stack: list[tuple[int, str]] = []
    for index in range(len(raw) - 1, -1, -1):
        _, _, depth, name = raw[index]
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[index] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return [
        ImportLine(name, self_us, cumulative_us, depth, parents[index])
        for index, (self_us, cumulative_us, depth, name) in enumerate(raw)
    ]


def _first_party(module: str | None, first_party: frozenset[str]) -> bool:
    return module is not None and module.split(".")[0] in first_party


def entry_points(
    lines: list[ImportLine], first_party: frozenset[str], top: int = 5
) -> list[Contributor]:
    """Imports of third-party modules made directly by our modules, costliest first.

    These do not nest (third-party code never imports ours), so they add up, and each one
    names the line of ours that would have to become lazy to save its cost.
    """
    edges = [
        Contributor(line.parent or "?", line.module, line.cumulative_us / 1000)
        for line in lines
        if _first_party(line.parent, first_party) and not _first_party(line.module, first_party)
    ]
    return sorted(edges, key=lambda edge: edge.cumulative_ms, reverse=True)[:top]


def package_self_times(lines: list[ImportLine], top: int = 5) -> list[tuple[str, float]]:
    """Top-level packages by the summed self time of their modules (exclusive, in ms)."""
    totals: dict[str, float] = defaultdict(float)
    for line in lines:
        totals[line.package] += line.self_us / 1000
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)[:top]


def total_ms(lines: list[ImportLine], module: str) -> float:
    return next((line.cumulative_us / 1000 for line in lines if line.module == module), 0.0)
