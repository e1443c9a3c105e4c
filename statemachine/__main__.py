"""``python -m statemachine [--check]``: write ``statemachine/*.asl.json`` from their
description, or (``--check``) exit 1 if any file differs from what it would write."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from statemachine.workflows import WORKFLOWS

FOLDER = Path(__file__).resolve().parent


def rendered() -> dict[Path, str]:
    return {
        FOLDER / f"{name}.asl.json": json.dumps(describe(), indent=2) + "\n"
        for name, describe in WORKFLOWS.items()
    }


def main(argv: list[str]) -> int:
    stale = [
        path for path, text in rendered().items() if not path.exists() or path.read_text() != text
    ]
    if "--check" in argv:
        for path in stale:
            print(f"{path.name} is not what statemachine/workflows.py describes: run make asl")
        return 1 if stale else 0
    for path, text in rendered().items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
