"""(a) Cold-start import time of each handler module against ``import boto3`` + one client.

Every measurement is a fresh interpreter with the function's Lambda-like environment; the
child times only the import (``time.perf_counter`` around it), so interpreter start-up is
excluded from both sides. Baseline and handler runs alternate (their order flips every
repetition to cancel drift) and medians are compared.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from dataclasses import dataclass, field

from bench import importtime
from emulator.engine.lambda_runtime import FunctionSpec, lambda_environment
from emulator.engine.runtime import EmbeddedAws

TARGET_RATIO = 1.2  # every function
TARGET_MEDIAN_RATIO = 1.1  # the median over the functions
REGION = "us-east-1"
FIRST_PARTY = frozenset({"app", "provisioner"})

_CANDIDATE = (
    "import importlib, sys, time\n"
    "t = time.perf_counter()\n"
    "importlib.import_module(sys.argv[1])\n"
    "print((time.perf_counter() - t) * 1000)\n"
)
_BASELINE = (
    "import time\n"
    "t = time.perf_counter()\n"
    "import boto3\n"
    "boto3.client('apigateway', region_name='us-east-1')\n"
    "print((time.perf_counter() - t) * 1000)\n"
)


@dataclass
class ColdStart:
    function: FunctionSpec
    handler_ms: list[float] = field(default_factory=list)
    baseline_ms: list[float] = field(default_factory=list)
    contributors: list[importtime.Contributor] = field(default_factory=list)
    packages: list[tuple[str, float]] = field(default_factory=list)
    importtime_total_ms: float = 0.0

    @property
    def handler_median(self) -> float:
        return statistics.median(self.handler_ms)

    @property
    def baseline_median(self) -> float:
        return statistics.median(self.baseline_ms)

    @property
    def ratio(self) -> float:
        return self.handler_median / self.baseline_median

    @property
    def passed(self) -> bool:
        return self.ratio <= TARGET_RATIO


def template_functions() -> list[FunctionSpec]:
    """Every function of ``template.yaml`` in template order, as the emulator reads it
    (deployed once into an embedded AWS, so code, layers and environment are resolved)."""
    with EmbeddedAws(region=REGION) as aws:
        assert aws.stack is not None
        order = list(aws.stack.template.get("Resources") or {})
        return sorted(aws.stack.functions.values(), key=lambda f: order.index(f.logical_id))


def module(function: FunctionSpec) -> str:
    return function.handler.rpartition(".")[0]


def environment(function: FunctionSpec, *, tracing: bool = True) -> dict[str, str]:
    """What the python3.13 runtime gives the function at init (no per-invocation variables).

    With ``tracing`` (the template's ``Tracing: Active``) POWERTOOLS_TRACE_DISABLED is left
    unset, as on Lambda; the embedded runtime sets it to ``true``.
    """
    if tracing:
        extra = {
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        }
    else:
        extra = {"POWERTOOLS_TRACE_DISABLED": "true"}
    return lambda_environment(function, REGION, extra)


def _child(code: str, function: FunctionSpec, env: dict[str, str], *extra: str) -> float:
    answer = subprocess.run(
        [sys.executable, *extra, "-c", code, module(function)],
        env=env,
        cwd=function.code_dir,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"{function.logical_id}: child failed:\n{answer.stderr[-2000:]}")
    return float(answer.stdout.strip().splitlines()[-1])


def _profile(result: ColdStart, env: dict[str, str]) -> None:
    answer = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module(result.function)}"],
        env=env,
        cwd=result.function.code_dir,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lines = importtime.parse(answer.stderr)
    result.contributors = importtime.entry_points(lines, FIRST_PARTY)
    result.packages = importtime.package_self_times(lines)
    result.importtime_total_ms = importtime.total_ms(lines, module(result.function))


def measure(
    functions: list[FunctionSpec], repeats: int, *, tracing: bool = True
) -> list[ColdStart]:
    results = [ColdStart(function) for function in functions]
    envs = [environment(f, tracing=tracing) for f in functions]
    if results:  # warm-up, not counted: page cache and .pyc files
        _child(_BASELINE, results[0].function, envs[0])
    for result, env in zip(results, envs, strict=True):
        _child(_CANDIDATE, result.function, env)
    for repeat in range(repeats):
        for result, env in zip(results, envs, strict=True):
            pair = [("baseline", _BASELINE), ("handler", _CANDIDATE)]
            for side, code in pair if repeat % 2 == 0 else reversed(pair):
                elapsed = _child(code, result.function, env)
                (result.baseline_ms if side == "baseline" else result.handler_ms).append(elapsed)
    for result, env in zip(results, envs, strict=True):
        if not result.passed:
            _profile(result, env)
    return results


def _trace_note(tracing: bool) -> str:
    return "unset (Tracing: Active, as on Lambda)" if tracing else "=true (as the emulator sets)"


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def report(results: list[ColdStart], repeats: int, tracing: bool) -> list[str]:
    lines = [
        f"(a) Cold-start import: handler module vs `import boto3` + boto3.client('apigateway'), "
        f"fresh interpreter each, median of {repeats}, alternating",
        f"    environment: template variables + Lambda runtime variables; "
        f"POWERTOOLS_TRACE_DISABLED {_trace_note(tracing)}",
        "",
        f"    {'function':<26} {'handler ms':>10} {'baseline ms':>11} {'ratio':>6} "
        f"{'target':>7}  result",
    ]
    for r in results:
        lines.append(
            f"    {r.function.logical_id:<26} {r.handler_median:>10.1f} {r.baseline_median:>11.1f} "
            f"{r.ratio:>5.2f}x {f'<={TARGET_RATIO}x':>7}  {_verdict(r.passed)}"
        )
    failing = [r for r in results if not r.passed]
    if failing:
        lines += ["", "    Why (python -X importtime, one run each; ms are cumulative per import):"]
    for r in failing:
        lines.append(
            f"    {r.function.logical_id} ({r.function.code_dir.name}/{module(r.function)}.py, "
            f"{r.importtime_total_ms:.0f} ms under -X importtime)"
        )
        for rank, c in enumerate(r.contributors, start=1):
            lines.append(f"      {rank}. {c.importer:<32} -> {c.module:<40} {c.cumulative_ms:7.1f}")
        packages = ", ".join(f"{name} {ms:.0f}" for name, ms in r.packages)
        lines.append(f"      exclusive time by package (ms): {packages}")
    return lines
