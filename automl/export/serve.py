"""``automl serve``: a bundle behind FastAPI.

``POST /predict`` takes ``{"inputs": [sample, ...]}`` (each sample nested lists of the input
shape, or flat numbers) and returns labels and probabilities; ``GET /health``; ``GET /metadata``
(the bundle's spec: architecture, metrics, costs). A bad request gets a 4xx whose ``detail``
says what was expected, and the server keeps serving.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from automl.export.errors import InputError

MAX_BATCH = 1024
BYTES_PER_NUMBER = 32  # generous: "-1.2345678901234567e-05, " is 25 characters


class PredictRequest(BaseModel):
    """``POST /predict`` body (module level: FastAPI resolves the annotation by name)."""

    inputs: list[Any]


def create_app(bundle: str | Path, backend: str = "torch", *, quantized: bool = False,
               max_batch: int = MAX_BATCH) -> Any:
    """The FastAPI app serving ``bundle`` (the model is loaded once, here)."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    from automl.export.inputs import expected
    from automl.export.predictor import Predictor

    predictor = Predictor(bundle, backend, quantized=quantized, threads=1)
    spec = predictor.spec
    want = expected(predictor.input_shape)
    max_bytes = max_batch * math.prod(predictor.input_shape) * BYTES_PER_NUMBER + 65536

    app = FastAPI(title=f"automl model: {spec.get('study')} / trial {spec.get('trial')}",
                  version=str(spec.get("versions", {}).get("automl", "")))

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Any) -> Any:
        # Refuse a huge body before parsing it: JSON decoding is what would exhaust memory.
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > max_bytes:
            return JSONResponse(status_code=413, content={
                "detail": f"request body of {size} bytes is over {max_bytes}; send at most "
                          f"{max_batch} samples per request"})
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={
            "detail": f'expected a JSON object {{"inputs": [...]}} holding {want}',
            "errors": jsonable(exc.errors())})

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "backend": backend, "quantized": quantized}

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        return {**spec, "serving": {"backend": backend, "quantized": quantized,
                                    "max_batch": max_batch, "input": want}}

    @app.post("/predict")
    def predict(body: PredictRequest) -> Any:  # sync: runs in the threadpool, off the loop
        n = len(body.inputs)
        if n > max_batch:
            return JSONResponse(status_code=413, content={
                "detail": f"batch of {n} samples is over the limit of {max_batch}; split it"})
        try:
            out = predictor.predict(body.inputs)
        except InputError as exc:
            return JSONResponse(status_code=422, content={"detail": str(exc)})
        return {"labels": out.labels, "probabilities": out.probabilities.tolist(),
                "classes": out.classes}

    return app


def jsonable(errors: Any) -> Any:
    """Pydantic error entries without the raw input (it may be huge, or hold NaN)."""
    return [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors]


def serve(bundle: str | Path, host: str = "127.0.0.1", port: int = 8000, backend: str = "torch",
          quantized: bool = False, max_batch: int = MAX_BATCH) -> None:
    """Run the app with Uvicorn until interrupted (binds to localhost unless told otherwise)."""
    import uvicorn

    app = create_app(bundle, backend, quantized=quantized, max_batch=max_batch)
    uvicorn.run(app, host=host, port=port, log_level="info")
