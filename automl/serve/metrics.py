"""``GET /metrics`` for ``automl serve``: Prometheus counters and histograms, kept by a pure ASGI
middleware so that every response counts, the 413s of :class:`BodyLimit` included.

With ``--workers N`` each worker is its own process; ``automl serve`` then points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh temporary folder before the workers start, every worker
writes its values there, and ``/metrics`` (answered by whichever worker gets the scrape) sums
them over all workers (prometheus_client's multiprocess mode). Counters and histograms of a
worker that Uvicorn replaced stay in the sums (as they should); its share of the in-flight gauge
is dropped (``livesum`` counts live processes only).
"""

from __future__ import annotations

import os
import time

from automl.serve.limits import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PATHS = ("/predict", "/health", "/ready", "/metadata", "/metrics")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


def multiprocess() -> bool:
    """Whether the values live in ``PROMETHEUS_MULTIPROC_DIR`` (set before the import)."""
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    """The server's metrics, in a registry of their own (two apps in one process do not
    collide); :meth:`render` gives the text exposition format."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("automl_requests", "HTTP requests answered, by path and status.",
                                ["path", "status"], registry=r)
        self.errors = Counter("automl_request_errors", "Responses with status >= 400 (and "
                              "unhandled exceptions), by path and kind (client | server).",
                              ["path", "kind"], registry=r)
        self.latency = Histogram("automl_request_latency_seconds", "Time from the request to "
                                 "the end of its response, by path.", ["path"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.batch = Histogram("automl_batch_size", "Samples per forward pass (with "
                               "micro-batching, several requests share one).",
                               buckets=BATCH_BUCKETS, registry=r)
        self.in_flight = Gauge("automl_requests_in_flight", "Requests being handled now.",
                               multiprocess_mode="livesum", registry=r)

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of a scrape: this process, or every worker's files summed."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if multiprocess():
            from prometheus_client import multiprocess as mp

            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Count every HTTP request by path (unknown paths as ``other``: bounded label values) and
    the status it got, time it, and keep the in-flight gauge."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        label = path if path in PATHS else "other"
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        m = self.metrics
        m.in_flight.inc()
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        except Exception:
            status[0] = 500
            raise
        finally:
            m.in_flight.dec()
            m.latency.labels(label).observe(time.perf_counter() - start)
            m.requests.labels(label, str(status[0])).inc()
            if status[0] >= 400:
                m.errors.labels(label, "server" if status[0] >= 500 else "client").inc()

