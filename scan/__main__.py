"""``python -m scan``: translate ``template.yaml`` with SAM's own translator (as the embedded
AWS's stack deployer does: ``sam validate`` cannot hand the result over), write it to
``.aws-sam/scan/template.json``, and run checkov (pinned in uv.lock's ``scan`` group, in
``.venv-scan``) on it.

It fails when a check fails that ``scan/checkov-skips.txt`` does not list, when a listed check
has no reason, or when a listed check no longer applies to anything (so the list never
outgrows what it excuses). Prints the checks run, passed, failed and skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from emulator.engine.stack import REPO_ROOT, load_template, transform

SKIPS_FILE = REPO_ROOT / "scan" / "checkov-skips.txt"
TRANSLATED = REPO_ROOT / ".aws-sam" / "scan" / "template.json"
CHECKOV = REPO_ROOT / ".venv-scan" / "bin" / "checkov"


def read_skips(path: Path = SKIPS_FILE) -> dict[str, str]:
    """``{check id: reason}``: one ``CKV_... reason`` a line; a line starting with ``#`` is a
    comment."""
    skips: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = "" if line.lstrip().startswith("#") else line.strip()
        if not text:
            continue
        check, _, reason = text.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{path}:{number}: {check} is skipped without a reason")
        skips[check] = reason.strip()
    return skips


def translated_template() -> dict[str, Any]:
    """The CloudFormation SAM makes of template.yaml (local code as placeholder S3 URIs)."""
    cfn, _ = transform(
        load_template(REPO_ROOT / "template.yaml"),
        REPO_ROOT,
        "private-api-provisioner",
        "us-east-1",
        {},
    )
    return cfn


def run_checkov(template: Path) -> dict[str, Any]:
    """checkov's JSON report on the template: every check, passed and failed."""
    arguments = ["--file", str(template), "--framework", "cloudformation"]
    arguments += ["--output", "json", "--compact", "--skip-download"]
    completed = subprocess.run(
        [str(CHECKOV), *arguments], capture_output=True, text=True, check=False
    )
    if not completed.stdout.strip():
        raise SystemExit(f"checkov said nothing (exit {completed.returncode}): {completed.stderr}")
    report: dict[str, Any] | list[dict[str, Any]] = json.loads(completed.stdout)
    return report[0] if isinstance(report, list) else report


def main() -> int:
    skips = read_skips()
    TRANSLATED.parent.mkdir(parents=True, exist_ok=True)
    TRANSLATED.write_text(json.dumps(translated_template(), indent=1), encoding="utf-8")
    results = run_checkov(TRANSLATED).get("results", {})
    passed, failed = results.get("passed_checks", []), results.get("failed_checks", [])
    excused = [c for c in failed if c["check_id"] in skips]
    unexcused = [c for c in failed if c["check_id"] not in skips]
    stale = sorted(set(skips) - {c["check_id"] for c in failed})
    ran = {c["check_id"] for c in passed + failed}
    print(
        f"checkov on the translated template: {len(ran)} checks run over "
        f"{len(passed) + len(failed)} resource findings: {len(passed)} passed, "
        f"{len(excused)} failed and skipped ({len(skips)} checks in {SKIPS_FILE.name}), "
        f"{len(unexcused)} failed"
    )
    for check_id in sorted({c["check_id"] for c in excused}):
        print(f"  skipped {check_id}: {skips[check_id]}")
    for check in unexcused:
        print(f"  FAILED {check['check_id']} {check['check_name']}: {check['resource']}")
    for check_id in stale:
        print(f"  {check_id} is listed in {SKIPS_FILE.name} but fails nowhere: remove it")
    return 1 if unexcused or stale else 0


if __name__ == "__main__":
    sys.exit(main())
