"""Start Lambda workers by forking processes that have already done the work of an init.

In AWS every execution environment initialises on a machine of its own, and its init phase is
not counted against the handler's timeout. On one small machine, thirty workers each importing
boto3, pydantic, Powertools and the handler from scratch (about 1.5 s of CPU apiece) starve
each other and push handlers past their timeouts, where AWS would not. So the init is done
once, in two steps, each kept as a process that forks the next:

* the **base** (``python lambda_zygote.py``, one per Lambda runtime) imports the libraries
  every function uses (``EMULATOR_PRELOAD``), with the function clock installed;
* for each function, the base forks a **function zygote**, which takes the function's
  environment, working directory and ``sys.path`` and runs the function's init
  (:func:`lambda_worker.prepare`: the handler's module);
* each **worker** (execution environment) is forked from its function's zygote and serves
  invocations (:func:`lambda_worker.serve`), sharing all of that copy-on-write.

The last step is what Lambda SnapStart does for Python: init once, start every execution
environment from that snapshot.

Protocol: ``SOCK_SEQPACKET`` sockets. The base's is in ``EMULATOR_ZYGOTE_FD``; a request is
``{"env", "cwd", "path"}`` carrying one descriptor, the new function zygote's own socket. A
function zygote's request carries three descriptors, the worker's stdin, stdout and stderr.
Both answer ``{"pid": N}``; a socket closed by the parent ends its zygote. Children are reaped
by the kernel (SIGCHLD ignored): the parent tells a dead one by its pid no longer existing.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same file, as mypy knows it
    from emulator.engine import lambda_worker
else:  # run as a script: the zygote's neighbour; prepare() takes this folder off sys.path
    import lambda_worker

_MAX_MESSAGE = 1 << 20


def _become_worker(handler: Any, fds: list[int]) -> None:
    """In a worker, forked from its function's zygote: its own stdio, then serve."""
    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - the process's stdio
    sys.stdout = open(1, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
    try:
        lambda_worker.serve(handler)
    finally:
        os._exit(0)


def _serve_forks(control: socket.socket, fds_per_request: int, child: Any) -> None:
    """Fork ``child(request, fds)`` for each request, answer its pid, until the socket closes."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        message, fds, _, _ = socket.recv_fds(control, _MAX_MESSAGE, fds_per_request)
        if not message:
            return
        pid = os.fork()
        if pid == 0:
            control.close()
            try:
                child(json.loads(message), list(fds))
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"pid": pid}).encode())


def _become_function_zygote(request: dict[str, Any], fds: list[int]) -> None:
    """In a function zygote, forked from the base: the function's environment and init."""
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.path[:0] = list(request["path"])
    sys.dont_write_bytecode = True
    control = socket.socket(fileno=fds[0])
    handler = lambda_worker.prepare()
    control.send(json.dumps({"ready": True}).encode())
    _serve_forks(control, 3, lambda _, worker_fds: _become_worker(handler, worker_fds))


def main() -> None:
    control = socket.socket(fileno=int(os.environ.pop("EMULATOR_ZYGOTE_FD")))
    lambda_worker.use_function_clock()
    for name in filter(None, os.environ.pop("EMULATOR_PRELOAD", "").split(",")):
        with contextlib.suppress(ImportError):  # a library the functions may not have
            importlib.import_module(name)
    control.send(json.dumps({"ready": True}).encode())
    _serve_forks(control, 1, _become_function_zygote)


if __name__ == "__main__":
    main()
