"""``PeakMemoryMeter``: what it counts, and that checkpointing shows up in it."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import _get_current_dispatch_mode
from trainer_helpers import ResidualStack, cross_entropy, make_splits

from trainer import PeakMemoryMeter, TrainConfig, train

MB = 2**20
BATCH, CHANNELS, SIDE = 16, 4, 8
ACT = BATCH * CHANNELS * SIDE * SIDE * 4  # bytes of one block's output


def _peak_of_one_step(model: nn.Module) -> tuple[int, int]:
    torch.manual_seed(0)
    x, y = torch.randn(BATCH, 1, SIDE, SIDE), torch.randint(0, 3, (BATCH,))
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    with PeakMemoryMeter("cpu", resident=model.parameters()) as meter:
        nn.functional.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return meter.peak_bytes, params


def test_fresh_storages_are_counted_until_freed() -> None:
    with PeakMemoryMeter() as meter:
        a = torch.empty(MB, dtype=torch.uint8)
        del a
        b = torch.empty(MB // 2, dtype=torch.uint8)
    assert meter.peak_bytes == MB  # b reused nothing: a was released first
    kept = b
    with meter:  # a second window: b is still alive and still counted
        c = torch.empty(MB, dtype=torch.uint8)
    assert meter.peak_bytes == MB // 2 + MB
    assert meter.peak_mb == pytest.approx(1.5)
    del kept, c


def test_views_and_untracked_tensors_cost_nothing() -> None:
    data = torch.zeros(MB, dtype=torch.uint8)  # allocated before the meter: not counted
    with PeakMemoryMeter() as meter:
        view = data[10:]
        view.add_(1)  # in place
    assert meter.peak_bytes == 0


def test_residents_are_counted_from_the_start() -> None:
    model = nn.Linear(100, 100)
    meter = PeakMemoryMeter(resident=model.parameters())
    assert meter.peak_bytes == (100 * 100 + 100) * 4


def test_meter_is_removed_on_error_and_not_reentrant() -> None:
    meter = PeakMemoryMeter()
    with pytest.raises(KeyError), meter:
        raise KeyError("boom")
    assert _get_current_dispatch_mode() is None
    with meter, pytest.raises(RuntimeError, match="already active"), meter:
        pass
    assert _get_current_dispatch_mode() is None


def test_checkpointing_lowers_the_peak_and_recomputation_is_seen() -> None:
    peaks = {}
    for mode in ("none", "blocks", "sqrt"):
        model = ResidualStack(depth=64, channels=CHANNELS)
        model.checkpointing = mode
        peak, params = _peak_of_one_step(model)
        peaks[mode] = peak - params  # activations and gradients
    # Without checkpointing each block keeps two outputs (relu and sum) for backward.
    assert peaks["none"] >= 128 * ACT
    # One checkpoint per block keeps the 64 block inputs.
    assert 64 * ACT <= peaks["blocks"] < 0.6 * peaks["none"]
    # sqrt keeps 8 segment inputs; during backward one segment of 8 blocks is recomputed and
    # alive at once. A meter blind to recomputation would report about 8 ACT here.
    assert 8 * ACT + 16 * ACT <= peaks["sqrt"] < 0.5 * peaks["blocks"]


def test_train_reports_a_lower_peak_with_checkpointing() -> None:
    data = make_splits(n=100, features=64, image=True)

    def peak(mode: str) -> float:
        cfg = TrainConfig(epochs=1, batch_size=BATCH, checkpointing=mode, latency_repeats=0)
        result = train(
            None,
            None,
            data,
            cfg,
            model_factory=lambda s: ResidualStack(64),
            loss_factory=cross_entropy,
        )
        assert result.peak_memory_mb is not None
        return result.peak_memory_mb

    none, sqrt = peak("none"), peak("sqrt")
    assert sqrt > 0 and sqrt < 0.5 * none


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_meter_uses_the_allocator_statistics() -> None:
    model = nn.Linear(256, 256).cuda()
    with PeakMemoryMeter("cuda", resident=model.parameters()) as meter:
        x = torch.empty(MB, dtype=torch.uint8, device="cuda")
        del x
    assert meter.peak_bytes >= MB + (256 * 256 + 256) * 4
