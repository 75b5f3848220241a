"""Micro-batching: the batcher on its own (a fake model), then the app against unbatched
predictions of the same bundle."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from automl.serve.batching import MicroBatcher


def tagged(i: int, n: int) -> np.ndarray:
    """``n`` rows that name their request ``i`` and their row ``j``."""
    return np.array([[i, j] for j in range(n)], dtype=np.float64)


def test_every_caller_gets_exactly_its_rows_and_passes_stay_under_max() -> None:
    sizes: list[int] = []

    def run(x: np.ndarray) -> np.ndarray:
        time.sleep(0.002)  # so that requests pile up behind a pass
        return x * 10

    batcher = MicroBatcher(run, max_batch=16, wait_s=0.005, on_batch=sizes.append)
    counts = [1 + (i * 7) % 16 for i in range(200)]  # 1..16 rows, mixed
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda i: batcher.submit(tagged(i, counts[i])).result(10),
                                range(len(counts))))
    batcher.close()
    for i, out in enumerate(results):
        assert np.array_equal(out, tagged(i, counts[i]) * 10), i
    assert sum(sizes) == sum(counts) and max(sizes) <= 16
    assert len(sizes) < len(counts)  # several requests did share a pass


def test_a_failing_pass_fails_its_callers_only_and_the_thread_lives() -> None:
    def run(x: np.ndarray) -> np.ndarray:
        if (x < 0).any():
            raise ValueError("negative")
        return x

    batcher = MicroBatcher(run, max_batch=8, wait_s=0.0)
    with pytest.raises(ValueError, match="negative"):
        batcher.submit(-np.ones((2, 2))).result(5)
    assert np.array_equal(batcher.submit(np.ones((3, 2))).result(5), np.ones((3, 2)))
    with pytest.raises(ValueError, match="1..8 rows"):
        batcher.submit(np.ones((9, 2)))
    batcher.close()


def test_close_finishes_what_is_queued() -> None:
    gate = threading.Event()

    def run(x: np.ndarray) -> np.ndarray:
        gate.wait(5)
        return x

    batcher = MicroBatcher(run, max_batch=2, wait_s=0.0)
    futures = [batcher.submit(np.full((2, 1), i)) for i in range(4)]
    gate.set()
    batcher.close()
    assert [f.result(0)[0, 0] for f in futures] == [0, 1, 2, 3]


def test_adaptive_waits_for_announced_requests_only() -> None:
    sizes: list[int] = []
    batcher = MicroBatcher(lambda x: x, max_batch=64, wait_s=5.0, on_batch=sizes.append,
                           adaptive=True)
    t = time.monotonic()
    batcher.submit(np.ones((1, 2))).result(10)  # nobody else announced: no 5 s wait
    assert time.monotonic() - t < 2 and sizes == [1]

    tickets = [batcher.expect() for _ in range(3)]
    futures = [batcher.submit(np.full((2, 1), i), tickets[i]) for i in range(2)]
    time.sleep(0.2)
    assert not futures[0].done()  # the pass waits for the third announced request ...
    tickets[2].done()  # ... which gives up (a 422, say): the pass runs at once
    assert [f.result(2)[0, 0] for f in futures] == [0, 1] and sizes == [1, 4]
    batcher.close()


@pytest.mark.slow
def test_a_lone_request_does_not_wait_out_the_window(lab) -> None:  # noqa: ANN001
    import httpx

    from automl.serve.app import create_app

    app = create_app(lab.best, backend="onnx", batch_wait_ms=3000)

    async def main() -> float:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await client.post("/predict", json={"inputs": [[0.0] * 64]})
            t = time.monotonic()
            r = await client.post("/predict", json={"inputs": [[1.0] * 64]})
            assert r.status_code == 200
            return time.monotonic() - t

    assert asyncio.run(main()) < 1.5  # the ticket reached the batcher: no 3 s wait


@pytest.mark.slow
def test_app_batches_concurrent_requests_like_unbatched_predictions(lab) -> None:  # noqa: ANN001
    import httpx

    from automl.export.predictor import Predictor
    from automl.serve.app import create_app

    rng = np.random.default_rng(0)
    sizes = [1 + (i * 5) % 9 for i in range(48)]
    batches = [rng.uniform(0, 16, size=(n, 64)).round(3) for n in sizes]
    reference = Predictor(lab.best, "onnx", threads=1)
    app = create_app(lab.best, backend="onnx", max_batch=32, batch_wait_ms=20)

    async def main() -> list[Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            rs = await asyncio.gather(*(client.post("/predict", json={"inputs": b.tolist()})
                                        for b in batches))
            metrics = (await client.get("/metrics")).text
        return [*rs, metrics]

    *responses, metrics = asyncio.run(main())
    for b, r in zip(batches, responses, strict=True):
        assert r.status_code == 200, r.text
        want = reference.predict(b)
        assert r.json()["labels"] == want.labels
        assert np.allclose(r.json()["probabilities"], want.probabilities, atol=1e-5)
    from prometheus_client.parser import text_string_to_metric_families

    hist = {s.name: s.value for f in text_string_to_metric_families(metrics)
            if f.name == "automl_batch_size" for s in f.samples}
    # One warm-up pass is not counted; fewer passes than requests means requests were stacked.
    assert hist["automl_batch_size_sum"] == sum(sizes)
    assert hist["automl_batch_size_count"] < len(sizes)
