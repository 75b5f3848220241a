"""Starting ``automl serve``: check the options and the address (:mod:`.options`), load the
bundle once to name a bad one before anything binds, say what is served, then hand over to
Uvicorn (one process or ``workers``)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from automl.serve.app import CONFIG_ENV, MAX_BATCH, ServeConfig
from automl.serve.options import check_options

ROUTES = "POST /predict, GET /health /ready /metadata /metrics"


def startup_message(spec: dict[str, Any], cfg: ServeConfig, host: str, port: int,
                    workers: int) -> str:
    """What ``automl serve`` prints before Uvicorn starts; names from the spec are escaped so
    that a study called ``"\\x1b]0;..."`` cannot drive the terminal."""
    from automl.names import printable

    batching = ("off" if cfg.batch_wait_ms is None
                else f"up to {cfg.max_batch} samples within {cfg.batch_wait_ms:g} ms")
    where = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    return (f"serving study {printable(spec.get('study'))} trial {printable(spec.get('trial'))}"
            f" ({cfg.backend}{', int8' if cfg.quantized else ''}) on {printable(where)}: "
            f"{ROUTES}; {workers} worker{'s' if workers > 1 else ''}, micro-batching {batching}")


def serve(bundle: str | Path, host: str = "127.0.0.1", port: int = 8000, backend: str = "torch",
          quantized: bool = False, max_batch: int = MAX_BATCH, *,
          batch_wait_ms: float | None = None, workers: int = 1) -> None:
    """Run the server until interrupted (binds to localhost unless told otherwise)."""
    check_options(host, port, max_batch, workers, batch_wait_ms)  # before anything binds
    import uvicorn

    from automl.serve.app import load_predictor, table_row_bytes

    cfg = ServeConfig(str(Path(bundle).resolve()), backend, quantized, max_batch, batch_wait_ms)
    probe = load_predictor(cfg)  # a bad bundle is named here, once, before a worker starts
    cfg = ServeConfig(**{**asdict(cfg), "input_shape": tuple(probe.input_shape),
                         "row_bytes": table_row_bytes(probe.table)})
    sys.stderr.write(startup_message(probe.spec, cfg, host, port, workers) + "\n")
    del probe
    os.environ[CONFIG_ENV] = json.dumps(asdict(cfg))
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Set before any worker imports prometheus_client: each then writes its values here
        # and /metrics sums them over the workers.
        metrics_dir = tempfile.mkdtemp(prefix="automl-serve-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run("automl.serve.app:app_from_env", factory=True, host=host, port=port,
                    workers=workers, log_level="info")
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
