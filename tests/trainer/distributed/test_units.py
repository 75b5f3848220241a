"""The pure parts of the distributed trainer, without processes: sharding, node settings,
announcements, failure translation, byte counting, error pickling."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from search_spaces import MLPSpec
from trainer import (
    DataSplits,
    DistributedTrialError,
    NonFiniteLossError,
    TrainConfig,
    TrainRequest,
    TrialTimeoutError,
)
from trainer.data import Batches
from trainer.distributed import failures, launch_trial
from trainer.distributed.channel import RankError, TrialAborted
from trainer.distributed.comm import CommCounter, skip_steps
from trainer.distributed.control import Announcement
from trainer.distributed.job import InitArgs
from trainer.distributed.nodes import node_settings, split_endpoint
from trainer.distributed.sharding import ShardedBatches
from trainer.distributed.worker import bind_device
from trainer.optim import validate_config

CPU = torch.device("cpu")


@pytest.mark.parametrize(("n", "batch", "world"), [(240, 24, 2), (240, 25, 2), (101, 10, 3)])
def test_shards_of_a_step_are_the_single_process_batch(n: int, batch: int, world: int) -> None:
    single = list(Batches(n, batch, seed=3, device=CPU)(epoch=2))
    ranks = [list(ShardedBatches(n, batch, 3, CPU, r, world).scaled(2)) for r in range(world)]
    kept = [b for b in single if len(b) >= world]  # a last batch smaller than world is dropped
    assert all(len(r) == len(kept) == ShardedBatches(n, batch, 3, CPU, 0, world).steps_per_epoch
               for r in ranks)
    for step, whole in enumerate(kept):
        pieces = [ranks[r][step] for r in range(world)]
        assert torch.equal(torch.cat([idx for idx, _ in pieces]), whole)
        # DDP averages the ranks' mean-loss gradients: every sample must weigh 1/len(whole)
        for idx, scale in pieces:
            assert scale / (world * len(idx)) == pytest.approx(1 / len(whole))


def test_single_process_batches_have_unit_scale() -> None:
    assert {scale for _, scale in Batches(50, 8, 0, CPU).scaled(1)} == {1.0}


def test_sharding_needs_a_sample_per_rank() -> None:
    with pytest.raises(ValueError, match="every rank needs samples"):
        ShardedBatches(100, 1, 0, CPU, 0, 2)


def test_node_settings() -> None:
    assert node_settings({}).nnodes == 1
    s = node_settings(
        {"AUTOML_NNODES": "2", "AUTOML_NODE_RANK": "1", "AUTOML_RDZV_ENDPOINT": "10.0.0.1:29400"}
    )
    assert (s.nnodes, s.node_rank, s.host, s.port) == (2, 1, "10.0.0.1", 29400)
    assert split_endpoint("[::1]:5") == ("::1", 5)
    with pytest.raises(ValueError, match="needs AUTOML_RDZV_ENDPOINT"):
        node_settings({"AUTOML_NNODES": "2"})
    with pytest.raises(ValueError, match="0 <= rank < nnodes"):
        node_settings({"AUTOML_NNODES": "2", "AUTOML_NODE_RANK": "2"})
    with pytest.raises(ValueError, match="expected host:port"):
        node_settings({"AUTOML_RDZV_ENDPOINT": "node0"})


def test_announcement_round_trip() -> None:
    ann = Announcement(seq=7, port=4242, nproc=2, init=InitArgs("gloo", 60.0, 1))
    assert Announcement.decode(ann.encode().encode()) == ann
    assert ann.run_id == "automl-trial-7"
    # The other nodes' ranks bind their GPU from it, as node 0's do.
    gpu = Announcement(8, 4243, 4, InitArgs("nccl", 30.0, 1, "cuda"))
    assert Announcement.decode(gpu.encode()) == gpu
    assert Announcement.decode(gpu.encode()).init.device == "cuda"


def test_each_rank_binds_the_gpu_of_its_local_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    # No GPU here: the CUDA runtime is the outside thing replaced (run for real by gpu_check.sh).
    bound: list[int] = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", bound.append)
    bind_device(InitArgs("gloo", 10.0, 1, "cpu"), 1)
    assert bound == []  # a CPU trial never touches CUDA
    bind_device(InitArgs("nccl", 10.0, 1, "cuda"), 1)
    assert bound == [torch.device("cuda", 1)]
    with pytest.raises(ValueError, match=r"trainer.nproc: local rank 2 has no GPU \(2 visible"):
        bind_device(InitArgs("nccl", 10.0, 1, "cuda"), 2)


def test_more_ranks_than_gpus_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    x, y = np.zeros((8, 4), np.float32), np.arange(8) % 2
    data = DataSplits(x, y, x, y, x, y, 2)
    cfg = TrainConfig(device="cuda", nproc=2, epochs=1)
    with pytest.raises(ValueError, match="trainer.nproc: 2 ranks need 2 GPUs on this machine, 1 "):
        spec = MLPSpec(input_shape=(4,), num_classes=2, hidden=(4,))
        launch_trial(TrainRequest(spec, None, cfg), data)


def test_errors_survive_pickling_with_their_fields() -> None:
    for exc in (
        NonFiniteLossError(2, 5, float("inf")),
        TrialTimeoutError(1.5, 2.0, 1, 3),
        DistributedTrialError(1, "ValueError", "bad\nthing"),
    ):
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc) and str(back) == str(exc)
        assert back.__dict__.keys() == exc.__dict__.keys()
    one_line = DistributedTrialError(1, "ValueError", "bad\nthing")
    assert str(one_line) == "rank 1: ValueError: bad thing"


def _err(rank: int, exc: BaseException) -> RankError:
    return RankError(rank, type(exc).__name__, str(exc), exc)


def test_the_root_cause_is_the_first_error_that_is_not_a_consequence() -> None:
    peer = RuntimeError("gloo: Connection closed by peer [127.0.0.1]:1234")
    errors = [_err(0, peer), _err(0, TrialAborted("x")), _err(1, ValueError("the real one"))]
    exc = failures.to_exception(RuntimeError("launch"), errors, range(2))
    assert isinstance(exc, DistributedTrialError)
    assert str(exc) == "rank 1: ValueError: the real one"


def test_pruning_errors_keep_their_type() -> None:
    diverged = NonFiniteLossError(1, 2, float("nan"))
    assert failures.to_exception(RuntimeError(), [_err(1, diverged)], range(2)) is diverged


def test_a_silent_rank_is_blamed_when_every_report_is_a_consequence() -> None:
    peer = RuntimeError("Connection reset by peer")
    exc = failures.to_exception(RuntimeError("launch"), [_err(0, peer)], range(2))
    assert isinstance(exc, DistributedTrialError) and exc.rank == 1
    assert exc.error_type == "ProcessDied"


def test_port_clash_detection() -> None:
    assert failures.is_port_clash(RuntimeError("bind: Address already in use"))
    assert not failures.is_port_clash(RuntimeError("timeout"))


def test_comm_counter_sums_the_buckets_of_a_step() -> None:
    counter = CommCounter()
    first, last = SimpleNamespace(is_last=lambda: False), SimpleNamespace(is_last=lambda: True)
    for bucket_bytes in (40, 30):  # two steps of two buckets; the last bucket closes a step
        counter.add(bucket_bytes, first)  # type: ignore[arg-type]
        counter.add(10, last)  # type: ignore[arg-type]
    assert counter.step_bytes == [50, 40] and counter.hook_calls == 4
    assert counter.bytes_per_step == 45.0


def test_powersgd_steady_state_skips_the_plain_steps() -> None:
    cfg = TrainConfig(comm_hook="powersgd", powersgd_start_iter=1)
    assert skip_steps(cfg) == 2  # PowerSGD's error feedback needs two plain steps
    counter = CommCounter(skip_steps=2)
    counter.step_bytes = [100, 100, 10, 10]
    assert counter.bytes_per_step == 10.0
    assert CommCounter(skip_steps=9).bytes_per_step is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("backend", "mpi"), ("comm_hook", "int8"), ("nproc", 0), ("timeout", 0),
        ("powersgd_rank", 0), ("bucket_cap_mb", -1),
    ],  # fmt: skip
)
def test_distributed_fields_are_validated(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        validate_config(TrainConfig(**{field: value}))  # type: ignore[arg-type]


def test_factories_must_be_module_level() -> None:
    request = TrainRequest(None, None, TrainConfig(), model_factory=lambda spec: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="module-level function"):
        request.check_picklable()
