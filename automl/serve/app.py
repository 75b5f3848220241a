"""``automl serve``: a bundle behind FastAPI.

``POST /predict`` takes ``{"inputs": [sample, ...]}`` (each sample nested lists of the input
shape, or flat numbers) and returns labels and probabilities; ``GET /health`` (the process is
up), ``GET /ready`` (the model is loaded and has answered a warm-up prediction; 503 before),
``GET /metadata`` (an allow-listed part of the bundle's spec: no paths, no storage URL) and
``GET /metrics`` (Prometheus text format). A bad request gets a 4xx whose ``detail`` says what
was expected, and the server keeps serving. Bodies over the size limit get 413 whatever their
transfer encoding (:mod:`automl.serve.limits`).

With ``batch_wait_ms`` set, concurrent requests are stacked into one forward pass
(:mod:`automl.serve.batching`). ``--workers N`` runs N Uvicorn worker processes, each building
its app with :func:`app_from_env` from the settings in ``$AUTOML_SERVE_CONFIG``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request  # module level: FastAPI resolves annotations by name

from automl.export.errors import InputError
from automl.export.predictor import check_outputs

MAX_BATCH = 1024
BYTES_PER_NUMBER = 32  # generous: "-1.2345678901234567e-05, " is 25 characters
CONFIG_ENV = "AUTOML_SERVE_CONFIG"


class PredictRequest(BaseModel):
    """``POST /predict`` body (module level: FastAPI resolves the annotation by name)."""

    inputs: list[Any]


@dataclass(frozen=True)
class ServeConfig:
    """What one server process needs; JSON in ``$AUTOML_SERVE_CONFIG`` for the workers."""

    bundle: str
    backend: str = "torch"
    quantized: bool = False
    max_batch: int = MAX_BATCH
    batch_wait_ms: float | None = None  # None: no micro-batching
    input_shape: tuple[int, ...] | None = None  # known: the model loads in the background
    load_wait_s: float = 30.0  # how long /predict holds a request while the model loads
    row_bytes: int | None = None  # a table model's largest JSON row (table_row_bytes)


def max_body_bytes(input_shape: tuple[int, ...], max_batch: int, row_bytes: int | None = None
                   ) -> int:
    """The largest request body a batch of ``max_batch`` samples can need, as JSON (bytes:
    ``row_bytes`` per row for a table model, whose rows carry names and text)."""
    per_row = row_bytes or math.prod(input_shape) * BYTES_PER_NUMBER
    return max_batch * per_row + 65536


def table_row_bytes(table: dict[str, Any] | None) -> int | None:
    """A generous JSON size of one table row keyed by column name: each name, quoted, and
    its value (a number, or the column's longest level; 64 bytes of slack for a new one)."""
    if table is None:
        return None
    return sum(len(json.dumps(c["name"])) + 4 + max(BYTES_PER_NUMBER, 64 + max(
        (len(json.dumps(v)) for v in c["levels"]), default=0)) for c in table["columns"])


def load_predictor(cfg: ServeConfig) -> Any:
    """The bundle's :class:`Predictor`, one thread per process (a seam for the tests)."""
    from automl.export.predictor import Predictor

    return Predictor(cfg.bundle, cfg.backend, quantized=cfg.quantized, threads=1)


class Model:
    """The predictor once loaded and warmed up (``ready``), or why loading failed."""

    def __init__(self, cfg: ServeConfig, on_batch: Any) -> None:
        self.cfg, self.on_batch = cfg, on_batch
        self.ready = threading.Event()
        self.predictor: Any = None
        self.batcher: Any = None
        self.error: str | None = None
        # Without micro-batching requests still run one at a time, in arrival order, on one
        # thread (the model runs single-threaded): more cores are used with --workers.
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="automl-inference")

    def load(self, raise_errors: bool = False) -> None:
        import numpy as np

        from automl.names import printable

        try:
            p = load_predictor(self.cfg)
            p.predict_proba(np.zeros((1, *p.input_shape), dtype=np.float32),  # warm-up
                            check=False)
            if self.cfg.batch_wait_ms is not None:
                from automl.serve.batching import MicroBatcher

                # Unchecked: each request checks its own rows (add_predict_route).
                self.batcher = MicroBatcher(functools.partial(p.predict_proba, check=False),
                                            self.cfg.max_batch,
                                            self.cfg.batch_wait_ms / 1000, self.on_batch,
                                            adaptive=True)
            self.predictor = p
            self.ready.set()
        except Exception as exc:  # reported by /ready; /health stays up to say so
            if raise_errors:
                raise
            self.error = printable(f"{type(exc).__name__}: {exc}")


def create_app(bundle: str | Path, backend: str = "torch", *, quantized: bool = False,
               max_batch: int = MAX_BATCH, batch_wait_ms: float | None = None,
               input_shape: tuple[int, ...] | None = None, load_wait_s: float = 30.0) -> Any:
    """The ASGI app serving ``bundle``. Without ``input_shape`` the model is loaded (and warmed
    up) here and a bad bundle raises; with it, loading runs in a thread and ``/ready`` says
    503 until it is done (``/predict`` holds a request up to ``load_wait_s`` for it)."""
    from automl.serve.limits import BodyLimit
    from automl.serve.options import check_app_options

    check_app_options(max_batch, batch_wait_ms)  # a batch limit of -1 would refuse every request
    cfg = ServeConfig(str(bundle), backend, quantized, max_batch, batch_wait_ms,
                      tuple(input_shape) if input_shape else None, load_wait_s)
    from automl.serve.metrics import Metrics, MetricsMiddleware

    metrics = Metrics()
    model = Model(cfg, metrics.batch.observe)
    row_bytes = cfg.row_bytes
    if input_shape is None:
        model.load(raise_errors=True)  # a bad bundle: the Predictor's own one-line error
        input_shape = model.predictor.input_shape
        row_bytes = table_row_bytes(model.predictor.table)
    else:
        threading.Thread(target=model.load, name="automl-load", daemon=True).start()
    assert input_shape is not None
    app = build_routes(cfg, model, metrics, tuple(input_shape))
    if batch_wait_ms is not None:
        from automl.serve.batching import ExpectRequests

        app = ExpectRequests(app, lambda: model.batcher)
    limited = BodyLimit(app, max_body_bytes(tuple(input_shape), max_batch, row_bytes), max_batch)
    return MetricsMiddleware(limited, metrics)


def build_routes(cfg: ServeConfig, model: Model, metrics: Any, shape: tuple[int, ...]) -> Any:
    """The FastAPI app proper (routes and error handlers)."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response

    from automl.export.inputs import expected
    from automl.serve.meta import public_metadata

    want = expected(shape)

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield
        if model.batcher is not None:
            model.batcher.close()
        model.executor.shutdown(wait=True)

    app = FastAPI(title="automl model", version="1", lifespan=lifespan)

    def not_ready() -> JSONResponse:
        why = f"model failed to load: {model.error}" if model.error else "model is loading"
        return JSONResponse(status_code=503, content={"detail": why})

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={
            "detail": f'expected a JSON object {{"inputs": [...]}} holding {want}',
            "errors": jsonable(exc.errors())})

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "backend": cfg.backend, "quantized": cfg.quantized,
                "ready": model.ready.is_set() and model.error is None, "worker": os.getpid()}

    @app.get("/ready")
    def ready() -> Any:
        if not model.ready.is_set() or model.error:
            return not_ready()
        return {"status": "ready"}

    @app.get("/metadata")
    def metadata() -> Any:
        if not model.ready.is_set() or model.error:
            return not_ready()
        return {**public_metadata(model.predictor.spec), "serving": {
            "backend": cfg.backend, "quantized": cfg.quantized, "max_batch": cfg.max_batch,
            "batch_wait_ms": cfg.batch_wait_ms, "input": want}}

    @app.get("/metrics")
    def scrape() -> Response:
        body, ctype = metrics.render()
        return Response(body, media_type=ctype)

    add_predict_route(app, cfg, model, metrics, not_ready)
    return app


def add_predict_route(app: Any, cfg: ServeConfig, model: Model, metrics: Any,
                      not_ready: Any) -> None:
    """``POST /predict``: wait out start-up, refuse what is over the limits, then predict on the
    batcher or the one inference thread."""
    from fastapi.responses import JSONResponse

    from automl.serve.batching import TICKET

    def direct(x: Any) -> Any:
        metrics.batch.observe(len(x))
        return model.predictor.predict_proba(x, check=False)

    @app.post("/predict")
    async def predict(body: PredictRequest, request: Request) -> Any:
        import asyncio

        waited = 0.0
        while not model.ready.is_set() and not model.error and waited < cfg.load_wait_s:
            # Starting up (or one worker of several still loading): hold the request a moment
            # rather than fail it; /ready says 503 meanwhile.
            await asyncio.sleep(0.05)
            waited += 0.05
        if not model.ready.is_set() or model.error:
            return not_ready()
        n = len(body.inputs)
        if n > cfg.max_batch:
            return JSONResponse(status_code=413, content={
                "detail": f"batch of {n} samples is over the limit of {cfg.max_batch}; split it"})
        try:
            x = model.predictor.batch(body.inputs)
        except InputError as exc:
            return JSONResponse(status_code=422, content={"detail": str(exc)})
        if model.batcher is not None:
            ticket = request.scope.get(TICKET)
            probs = await asyncio.wrap_future(model.batcher.submit(x, ticket))
        else:  # off the event loop, on the one inference thread (first come, first served)
            probs = await asyncio.get_running_loop().run_in_executor(model.executor, direct, x)
        try:
            check_outputs(probs)  # this request's own rows
        except InputError as exc:
            return JSONResponse(status_code=422, content={"detail": str(exc)})
        classes = model.predictor.classes
        # A JSONResponse skips FastAPI's jsonable_encoder walk over every probability.
        return JSONResponse({"labels": [classes[i] for i in probs.argmax(axis=1)],
                             "probabilities": probs.tolist(), "classes": classes})


def jsonable(errors: Any) -> Any:
    """Pydantic error entries without the raw input (it may be huge, or hold NaN)."""
    return [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors]


def app_from_env() -> Any:
    """Uvicorn's app factory (``automl.serve.app:app_from_env``): one per worker process."""
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise RuntimeError(f"${CONFIG_ENV} is not set; start the server with automl serve")
    cfg = ServeConfig(**json.loads(raw))
    return create_app(cfg.bundle, cfg.backend, quantized=cfg.quantized,
                      max_batch=cfg.max_batch, batch_wait_ms=cfg.batch_wait_ms,
                      input_shape=tuple(cfg.input_shape) if cfg.input_shape else None,
                      load_wait_s=cfg.load_wait_s)
