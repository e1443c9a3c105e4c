"""``python -m bench``: (a) cold-start imports, (b) end-to-end overhead, (c) cost, (d) a burst of
requests under API Gateway's rate limits, paced and not; one run."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence

from bench import burst, coldstart, provisioning


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--repeats", type=int, default=9, help="runs per side for (a)")
    parser.add_argument("--provisionings", type=int, default=3, help="sequential runs for (b)")
    parser.add_argument("--poll-interval", type=int, default=2, help="PollIntervalSeconds")
    parser.add_argument("--pending-seconds", type=float, default=4.0, help="VpcLink PENDING")
    parser.add_argument(
        "--trace-disabled",
        action="store_true",
        help="(a) with POWERTOOLS_TRACE_DISABLED=true, as the emulator runs handlers",
    )
    parser.add_argument(
        "--burst", type=int, default=50, metavar="N", help="requests put at once for (d)"
    )
    parser.add_argument(
        "--burst-pending-seconds",
        type=float,
        default=180.0,
        help="VpcLink PENDING for (d), on the emulated clock (AWS: typically 2-4 minutes)",
    )
    parser.add_argument(
        "--burst-poll-interval", type=int, default=15, help="PollIntervalSeconds for (d)"
    )
    parser.add_argument(
        "--burst-paced-only", action="store_true", help="(d) without the pacing-off comparison"
    )
    parser.add_argument("--skip-coldstart", action="store_true")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-burst", action="store_true")
    return parser.parse_args(argv)


def _summary_coldstart(results: list[coldstart.ColdStart]) -> str:
    worst = max(results, key=lambda r: r.ratio)
    failing = sum(1 for r in results if not r.passed)
    ratios = statistics.median(r.ratio for r in results)
    over = [f"{failing}/{len(results)} functions over"] if failing else []
    if ratios > coldstart.TARGET_MEDIAN_RATIO:
        over.append("median over")
    verdict = "PASS" if not over else f"FAIL ({', '.join(over)})"
    return (
        f"(a) cold-start import ratio: median {ratios:.2f}x (target <= "
        f"{coldstart.TARGET_MEDIAN_RATIO}x), worst {worst.ratio:.2f}x "
        f"({worst.function.logical_id}), target <= {coldstart.TARGET_RATIO}x each: {verdict}"
    )


def _summary_e2e(result: provisioning.E2eResult) -> list[str]:
    overheads = result.overheads
    worst = f"{max(overheads):.2f} s" if overheads else "n/a"
    median = f"{statistics.median(overheads):.2f} s" if overheads else "n/a"
    runs = result.runs
    transitions = statistics.median(r.transitions for r in runs)
    invocations = statistics.median(len(r.invocations) for r in runs)
    cost = statistics.median(r.cost for r in runs)
    cold = sum(1 for r in runs for i in r.invocations if i.cold_start)
    return [
        f"(b) end-to-end overhead after AVAILABLE: median {median}, worst {worst}, "
        f"target <= {result.target:g} s (poll {result.poll_interval} s + 2 s): "
        f"{'PASS' if result.passed else 'FAIL'}",
        f"(c) per provisioning (median of {len(runs)}): {transitions:g} state transitions = "
        f"${cost:.6f} (${cost * 1000:.2f} per 1,000 provisionings), {invocations:g} Lambda "
        f"invocations; {cold} cold starts over all {len(runs)} runs",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    began = time.monotonic()
    load_before = os.getloadavg()[0]
    summary: list[str] = []
    failed = False
    if not args.skip_coldstart:
        functions = coldstart.template_functions()
        results = coldstart.measure(functions, args.repeats, tracing=not args.trace_disabled)
        print(
            "\n".join(coldstart.report(results, args.repeats, not args.trace_disabled)), flush=True
        )
        print(flush=True)
        if not args.trace_disabled and results:
            tracer = coldstart.measure_tracer(functions[0], args.repeats)
            print("\n".join(coldstart.report_tracer(tracer, results[0].baseline_median)))
            print(flush=True)
        summary.append(_summary_coldstart(results))
        failed |= not all(r.passed for r in results)
        failed |= statistics.median(r.ratio for r in results) > coldstart.TARGET_MEDIAN_RATIO
    if not args.skip_e2e:
        try:
            e2e = provisioning.measure(args.provisionings, args.poll_interval, args.pending_seconds)
        except Exception as exc:  # the stack under test is broken: say so, keep the summary
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:400]
            print(f"(b)/(c) not measured: the provisioning could not run: {reason}\n")
            summary.append(f"(b)/(c) not measured: {reason[:160]}")
            failed = True
        else:
            print("\n".join(provisioning.report_overhead(e2e)))
            print()
            print("\n".join(provisioning.report_counts(e2e)))
            print()
            summary.extend(_summary_e2e(e2e))
            failed |= not e2e.passed
    if not args.skip_burst:
        try:
            result = burst.measure(
                args.burst,
                link_seconds=args.burst_pending_seconds,
                poll_interval=args.burst_poll_interval,
                compare=not args.burst_paced_only,
            )
        except Exception as exc:  # the stack under test is broken: say so, keep the summary
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:400]
            print(f"(d) not measured: the burst could not run: {reason}\n")
            summary.append(f"(d) not measured: {reason[:160]}")
            failed = True
        else:
            print("\n".join(burst.report(result)))
            print()
            summary.append(burst.summary(result))
            failed |= not result.paced.passed
    print("=" * 100)
    print("SUMMARY")
    print("\n".join(summary))
    print(
        f"bench took {time.monotonic() - began:.0f} s; 1-min load average {load_before:.1f} at "
        f"start, {os.getloadavg()[0]:.1f} at end, on {os.cpu_count()} CPUs (other work on the "
        f"machine makes timings noisy); exit status {int(failed)}"
    )
    print("=" * 100)
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
