"""Start Lambda workers by forking one process that has the runtime's libraries imported.

In AWS every execution environment initialises on a machine of its own, and its init phase is
not counted against the handler's timeout. On one small machine, thirty workers each importing
boto3, pydantic and Powertools from scratch (about 1.5 s of CPU apiece) starve each other and
push handlers past their timeouts, where AWS would not. So :mod:`emulator.lambda_runtime`
starts this script once; it imports those libraries (the ``EMULATOR_PRELOAD`` modules) with
the function clock installed, and forks a worker for each request: the worker shares the
imported libraries copy-on-write, sets the function's own environment, working directory and
``sys.path``, imports the handler and serves invocations (:func:`lambda_worker.main`).

Protocol: a ``SOCK_SEQPACKET`` socket, its file descriptor in ``EMULATOR_ZYGOTE_FD``. Each
request is one JSON message (``env``, ``cwd``, ``path``) carrying three file descriptors (the
worker's stdin, stdout and stderr); the answer is ``{"pid": N}``. The parent's end closing
ends the zygote. Workers are reaped by the kernel (SIGCHLD ignored), so the parent tells a dead
worker by its pid no longer existing.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

_MAX_MESSAGE = 1 << 20

HERE = str(Path(__file__).resolve().parent)
# The worker module is the zygote's own neighbour; functions must not see this folder.
import lambda_worker  # noqa: E402  (imported from the script's folder, before it is removed)

sys.path[:] = [p for p in sys.path if p and str(Path(p).resolve()) != HERE]


def _become_worker(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: the function's stdio, environment, folder and path; then serve."""
    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.path[:0] = list(request["path"])
    sys.dont_write_bytecode = True
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - the process's stdio
    sys.stdout = open(1, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
    try:
        lambda_worker.main()
    finally:
        os._exit(0)


def main() -> None:
    control = socket.socket(fileno=int(os.environ.pop("EMULATOR_ZYGOTE_FD")))
    lambda_worker.use_function_clock()
    for name in filter(None, os.environ.pop("EMULATOR_PRELOAD", "").split(",")):
        with contextlib.suppress(ImportError):  # a library the functions may not have
            importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    control.send(json.dumps({"ready": True}).encode())
    while True:
        message, fds, _, _ = socket.recv_fds(control, _MAX_MESSAGE, 3)
        if not message:
            return
        pid = os.fork()
        if pid == 0:
            control.close()
            _become_worker(json.loads(message), list(fds))
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"pid": pid}).encode())


if __name__ == "__main__":
    main()
