"""A pre-imported parent for the suite's ``automl`` processes (:func:`cli_kit.run_cli`).

Run as a script by :mod:`cli_kit`, once per test worker: it imports what every ``automl``
command imports (torch and ``torch._dynamo``, which every optimizer pulls in, Optuna,
SQLAlchemy, the CLI), then reads one JSON request per line on stdin and forks a child for it.
The child is a real process of its own (its own pid, exit code, signals, streams, working
folder and environment), started in ~10 ms instead of the 3-4 s of CPU a fresh interpreter
spends on those imports. Replies, one JSON line each on stdout: ``{"pid": ...}`` once the
child runs, ``{"code": ...}`` when it has ended (``-N`` if signal N ended it, as
``subprocess`` reports). Nothing here has started a thread before a fork: the child is safe
to run torch. The zygote ends when its stdin closes.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import optuna  # noqa: E402,F401
import sqlalchemy  # noqa: E402,F401
import torch  # noqa: E402,F401
import torch._dynamo  # noqa: E402,F401
import torch.nn.parallel  # noqa: E402,F401

import automl  # noqa: E402
import automl.cli.app  # noqa: E402
import automl.cli.entry  # noqa: E402


def child(req: dict) -> None:
    """In the forked child: the request's folder, environment, argv and streams, then the
    console script's entry point, which leaves by ``os._exit``."""
    try:
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                                (1, req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                (2, req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
            os.dup2(os.open(path, flags, 0o600), fd)
        # As `python -m automl` sets them (click names the program from both).
        sys.argv = [os.path.join(os.path.dirname(automl.__file__), "__main__.py"), *req["args"]]
        sys.modules["__main__"].__package__ = "automl"
        automl.cli.app.COMMAND_STARTED = time.monotonic()  # read once per process at import
        automl.cli.entry.main()
    except BaseException:  # noqa: BLE001 - the entry point leaves by os._exit; this is a bug
        traceback.print_exc()
        sys.stderr.flush()
    os._exit(99)


def serve() -> None:
    for line in sys.stdin:
        req = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            child(req)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    serve()
