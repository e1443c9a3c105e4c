"""Parse ``python -X importtime`` output and say which imports a handler adds to the baseline.

Each line is ``import time: <self us> | <cumulative us> | <indent><module>``; a module's
parent is the nearest earlier line with a smaller indent (Python prints children first).

Cumulative time charges a module for everything imported first below it: whichever of our
modules happens to import boto3 first would be charged for all of botocore, which the baseline
(``import boto3`` and a client) pays for just the same. So the time attributed here is
exclusive (each module's self time, counted once) and only that of the modules the baseline
does not import: what the handler adds. What it imports that the baseline imports too is
reported apart, as one figure.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection
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
    """One edge from our code (handler or layer) into a third-party package, charged with
    the self time of the modules below it that the baseline does not import."""

    importer: str
    module: str
    added_ms: float


@dataclass(frozen=True)
class Attribution:
    """Where one handler's import time goes, exclusive and net of the baseline."""

    added_ms: float  # self time of the modules the baseline does not import
    shared_ms: float  # self time of the modules the baseline imports too (already paid there)
    entry_points: list[Contributor]  # our imports of third-party code, by what they add
    own: list[tuple[str, float]]  # our modules by self time (class bodies, models, ...)
    packages: list[tuple[str, float]]  # top-level packages by the self time they add


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


def _first_party(module: str | None, first_party: Collection[str]) -> bool:
    return module is not None and module.split(".")[0] in first_party


def _subtree(lines: list[ImportLine], index: int) -> list[ImportLine]:
    """The line at ``index`` and every import made below it (printed just before it)."""
    start = index
    while start > 0 and lines[start - 1].depth > lines[index].depth:
        start -= 1
    return lines[start : index + 1]


def _top(totals: dict[str, float], top: int) -> list[tuple[str, float]]:
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)[:top]


def attribute(
    lines: list[ImportLine],
    baseline_modules: Collection[str],
    first_party: Collection[str],
    top: int = 5,
) -> Attribution:
    """What a handler's import adds to the baseline's, attributed exclusively.

    Entry points are the imports of third-party modules made directly by our modules; each is
    charged the self time of the modules below it that the baseline does not import, so they
    add up, and each names the line of ours that would have to become lazy to save its cost.
    """
    baseline = frozenset(baseline_modules)
    added = [line for line in lines if line.module not in baseline]
    edges = [
        Contributor(
            line.parent or "?",
            line.module,
            sum(m.self_us for m in _subtree(lines, index) if m.module not in baseline) / 1000,
        )
        for index, line in enumerate(lines)
        if _first_party(line.parent, first_party)
        and not _first_party(line.module, first_party)
        and line.module not in baseline
    ]
    packages: dict[str, float] = defaultdict(float)
    for line in added:
        packages[line.package] += line.self_us / 1000
    own = {
        line.module: line.self_us / 1000 for line in lines if _first_party(line.module, first_party)
    }
    return Attribution(
        added_ms=sum(line.self_us for line in added) / 1000,
        shared_ms=sum(line.self_us for line in lines if line.module in baseline) / 1000,
        entry_points=sorted(edges, key=lambda edge: edge.added_ms, reverse=True)[:top],
        own=_top(own, top),
        packages=_top(packages, top),
    )


def median_run(runs: list[Attribution]) -> Attribution:
    """The run whose added time is the median one (runs are noisy; one run stays consistent)."""
    middle = statistics.median_low(run.added_ms for run in runs)
    return next(run for run in runs if run.added_ms == middle)


def total_ms(lines: list[ImportLine], module: str) -> float:
    return next((line.cumulative_us / 1000 for line in lines if line.module == module), 0.0)


def imported_by(lines: list[ImportLine], module: str) -> list[ImportLine]:
    """``module``'s line and the imports below it: not the interpreter's own start-up."""
    index = next((i for i, line in enumerate(lines) if line.module == module), None)
    return _subtree(lines, index) if index is not None else lines
