"""(a) Cold-start import time of each handler module against ``import boto3`` + one client.

Every measurement is a fresh interpreter with the function's Lambda-like environment; the
child times only the import (``time.perf_counter`` around it), so interpreter start-up is
excluded from both sides. Baseline and handler runs alternate (their order flips every
repetition to cancel drift) and medians are compared.

The baseline is the same code for every function (``import boto3`` and a client: nothing of
the function's own), so a function is not compared with its own handful of baseline runs (on a
shared machine one function's five could land anywhere from 0.8 to 1.3 times the others', and
its ratio with them) but with a pool: each round runs every function once beside a baseline
run, a handler run is divided by the median of its round's baseline runs (one per function,
taken within the same half minute, so a change of load during the run cancels out), and a
function's ratio is the median of its rounds' ratios.
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
_BASELINE_IMPORT = "import boto3\nboto3.client('apigateway', region_name='us-east-1')\n"
_BASELINE = (
    f"import time\nt = time.perf_counter()\n{_BASELINE_IMPORT}"
    "print((time.perf_counter() - t) * 1000)\n"
)
PROFILE_RUNS = 3  # -X importtime runs per function over target; the median one is shown


@dataclass
class ColdStart:
    function: FunctionSpec
    # the baseline runs of each round of the measurement, shared by all its functions
    rounds: list[list[float]]
    handler_ms: list[float] = field(default_factory=list)  # one per round
    baseline_ms: list[float] = field(default_factory=list)  # the ones beside this function
    why: importtime.Attribution | None = None
    importtime_total_ms: float = 0.0

    @property
    def handler_median(self) -> float:
        return statistics.median(self.handler_ms)

    @property
    def baseline_median(self) -> float:
        return statistics.median(ms for runs in self.rounds for ms in runs)

    @property
    def own_baseline_median(self) -> float:
        return statistics.median(self.baseline_ms)

    @property
    def ratio(self) -> float:
        return statistics.median(
            handler / statistics.median(baseline)
            for handler, baseline in zip(self.handler_ms, self.rounds, strict=True)
        )

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


def _importtime(
    code: str, function: FunctionSpec, env: dict[str, str]
) -> list[importtime.ImportLine]:
    answer = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env,
        cwd=function.code_dir,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return importtime.parse(answer.stderr)


def baseline_modules(function: FunctionSpec, env: dict[str, str]) -> frozenset[str]:
    """Every module the baseline imports (the same for every function)."""
    return frozenset(line.module for line in _importtime(_BASELINE_IMPORT, function, env))


def _profile(result: ColdStart, env: dict[str, str], baseline: frozenset[str]) -> None:
    runs: list[tuple[importtime.Attribution, float]] = []
    for _ in range(PROFILE_RUNS):
        lines = importtime.imported_by(
            _importtime(f"import {module(result.function)}", result.function, env),
            module(result.function),
        )
        attribution = importtime.attribute(lines, baseline, FIRST_PARTY)
        runs.append((attribution, importtime.total_ms(lines, module(result.function))))
    result.why = importtime.median_run([attribution for attribution, _ in runs])
    result.importtime_total_ms = next(total for a, total in runs if a is result.why)


def measure(
    functions: list[FunctionSpec], repeats: int, *, tracing: bool = True
) -> list[ColdStart]:
    rounds: list[list[float]] = []
    results = [ColdStart(function, rounds) for function in functions]
    envs = [environment(f, tracing=tracing) for f in functions]
    if results:  # warm-up, not counted: page cache and .pyc files
        _child(_BASELINE, results[0].function, envs[0])
    for result, env in zip(results, envs, strict=True):
        _child(_CANDIDATE, result.function, env)
    for repeat in range(repeats):
        rounds.append([])
        for result, env in zip(results, envs, strict=True):
            pair = [("baseline", _BASELINE), ("handler", _CANDIDATE)]
            for side, code in pair if repeat % 2 == 0 else reversed(pair):
                elapsed = _child(code, result.function, env)
                if side == "baseline":
                    result.baseline_ms.append(elapsed)
                    rounds[-1].append(elapsed)
                else:
                    result.handler_ms.append(elapsed)
    failing = [(r, env) for r, env in zip(results, envs, strict=True) if not r.passed]
    if failing:
        baseline = baseline_modules(failing[0][0].function, failing[0][1])
        for result, env in failing:
            _profile(result, env, baseline)
    return results


@dataclass
class TracerCost:
    """What Powertools Tracer would add to a cold start, measured after a handler's import
    (boto3, pydantic and Powertools already loaded): Tracer() with tracing on patches botocore
    through the X-Ray SDK, and the handler gets ``capture_lambda_handler``."""

    function: FunctionSpec
    added_ms: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.added_ms)


_TRACER = (
    "import importlib, sys, time\n"
    "importlib.import_module(sys.argv[1])\n"
    "t = time.perf_counter()\n"
    "from aws_lambda_powertools import Tracer\n"
    "tracer = Tracer()\n"
    "tracer.capture_lambda_handler(lambda event, context: None)\n"
    "elapsed = (time.perf_counter() - t) * 1000\n"
    "assert 'aws_xray_sdk.ext.botocore.patch' in sys.modules, 'botocore was not patched'\n"
    "print(elapsed)\n"
)


def measure_tracer(function: FunctionSpec, repeats: int) -> TracerCost:
    """Tracer's cost on ``function`` with Tracing: Active (the X-Ray SDK is in the toolchain,
    not in the layer)."""
    cost = TracerCost(function)
    env = environment(function, tracing=True)
    for _ in range(repeats):
        cost.added_ms.append(_child(_TRACER, function, env))
    return cost


def _trace_note(tracing: bool) -> str:
    return "unset (Tracing: Active, as on Lambda)" if tracing else "=true (as the emulator sets)"


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def report(results: list[ColdStart], repeats: int, tracing: bool) -> list[str]:
    runs = sum(len(r) for r in results[0].rounds) if results else 0
    lines = [
        f"(a) Cold-start import: handler module vs `import boto3` + boto3.client('apigateway'), "
        f"fresh interpreter each, median of {repeats}, alternating",
        f"    environment: template variables + Lambda runtime variables; "
        f"POWERTOOLS_TRACE_DISABLED {_trace_note(tracing)}",
        f"    baseline: all {runs} baseline runs, one beside each handler run; a ratio is the "
        f"median over the {repeats} rounds of a handler run / its round's median baseline "
        f"('own': the median of the baseline runs beside this function, to show the noise)",
        "",
        f"    {'function':<31} {'handler ms':>10} {'baseline ms':>11} {'own':>6} {'ratio':>6} "
        f"{'target':>7}  result",
    ]
    for r in results:
        lines.append(
            f"    {r.function.logical_id:<31} {r.handler_median:>10.1f} {r.baseline_median:>11.1f} "
            f"{r.own_baseline_median:>6.0f} {r.ratio:>5.2f}x {f'<={TARGET_RATIO}x':>7}  "
            f"{_verdict(r.passed)}"
        )
    failing = [r for r in results if not r.passed and r.why is not None]
    if failing:
        lines += [
            "",
            f"    Why (python -X importtime, the median of {PROFILE_RUNS} runs): exclusive (self) "
            "ms of the modules the baseline does not import, i.e. what the handler adds; what it "
            "imports that the baseline imports too (boto3, botocore, ...) is counted apart",
        ]
    for r in failing:
        assert r.why is not None
        why = r.why
        lines.append(
            f"    {r.function.logical_id} ({r.function.code_dir.name}/{module(r.function)}.py): "
            f"adds {why.added_ms:.0f} ms; {why.shared_ms:.0f} ms in modules the baseline "
            f"imports too ({r.importtime_total_ms:.0f} ms in all, under -X importtime)"
        )
        for rank, c in enumerate(why.entry_points, start=1):
            lines.append(f"      {rank}. {c.importer:<32} -> {c.module:<40} {c.added_ms:7.1f}")
        own = ", ".join(f"{name} {ms:.0f}" for name, ms in why.own)
        lines.append(f"      our modules' own time (ms): {own}")
        packages = ", ".join(f"{name} {ms:.0f}" for name, ms in why.packages)
        lines.append(f"      added time by package (ms): {packages}")
    return lines


def report_tracer(cost: TracerCost, baseline_ms: float) -> list[str]:
    return [
        f"(a) Powertools Tracer (not used; Tracing: Active needs no SDK): Tracer() and "
        f"capture_lambda_handler after {cost.function.logical_id}'s import, tracing on, "
        f"median of {len(cost.added_ms)}: +{cost.median:.0f} ms = "
        f"+{cost.median / baseline_ms:.2f}x of the baseline ({baseline_ms:.0f} ms)",
    ]
