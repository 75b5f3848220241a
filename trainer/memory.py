"""Peak tensor memory of a stretch of training, on CUDA and on CPU.

On CUDA the caching allocator already keeps the statistic (``max_memory_allocated``). On CPU
there is no allocator statistic, and ``tracemalloc`` sees Python objects, not tensor storages.
Saved-tensor hooks were the first idea, but they are blind to exactly what activation
checkpointing changes: ``torch.utils.checkpoint`` pushes its own innermost saved-tensor hooks,
so activations saved inside a checkpointed region, and those recomputed during backward, never
reach an outer hook (measured on 64 conv blocks, sqrt checkpointing: the hooks saw 2.0 MB where
8.3 MB were alive). So on CPU the meter sits one level lower, as a ``TorchDispatchMode``: it sees
every ATen op that runs while it is active -- forward, backward, recomputation, optimizer -- and
follows each newly allocated storage until it is freed. On the ``meta`` device, where tensors have
sizes but no memory, the same meter counts what a step *would* allocate
(:mod:`trainer.memory_estimate`).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

_MB = 2**20


class PeakMemoryMeter:
    """Peak tensor memory of the code run inside ``with meter:``, reported in MB.

    ``resident`` names the tensors already alive that belong to what is measured -- typically
    the model's parameters and buffers; the reported peak is ``resident`` bytes plus the most
    bytes that the measured code held at once on top of them. Other tensors alive before the
    meter started (the data set, say) are not counted.

    * **CUDA**: ``torch.cuda.max_memory_allocated`` minus what was allocated when the meter was
      first entered, plus the ``resident`` bytes.
    * **CPU**: every storage created by an ATen op while the meter is active is counted from
      its creation until it is freed: activations saved for backward (also inside checkpointed
      regions), activations recomputed by checkpointing during backward, temporaries,
      gradients, optimizer state. Views and in-place results share a storage and are counted
      once. Memory that no ATen op allocates (a ``torch.from_numpy`` buffer, allocator slack)
      is not seen, nor are ops run by other threads. The dispatch mode costs Python time per
      op (a 64-block conv net stepped ~35% slower), so measure a few steps, not a whole run.

    The meter may be entered several times (one training step at a time); storages created in
    an earlier window (optimizer state) stay counted until they are freed, and the peak is the
    maximum over all windows.
    """

    def __init__(
        self, device: str | torch.device = "cpu", resident: Iterable[torch.Tensor] = ()
    ) -> None:
        self.device = torch.device(device)
        self._live: dict[tuple[str, int], int] = {}  # (device, storage data_ptr) -> bytes
        self._current = 0
        self._peak = 0
        self._cuda_base: int | None = None
        self._active = False
        self._mode: _AllocationTracker | None = None
        for tensor in resident:
            self._track(tensor)
        self._resident = self._current
        self._peak = self._current

    @property
    def peak_bytes(self) -> int:
        """Highest tensor memory seen so far, in bytes."""
        return self._peak

    @property
    def peak_mb(self) -> float:
        """Highest tensor memory seen so far, in MiB."""
        return self._peak / _MB

    def __enter__(self) -> PeakMemoryMeter:
        if self._active:
            raise RuntimeError("PeakMemoryMeter is already active")
        self._active = True
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            if self._cuda_base is None:
                self._cuda_base = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._mode = _AllocationTracker(self)
            self._mode.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._active = False
        mode, self._mode = self._mode, None
        if mode is not None:
            mode.__exit__(exc_type, exc, tb)
        if self.device.type == "cuda" and self._cuda_base is not None:
            torch.cuda.synchronize(self.device)
            grown = torch.cuda.max_memory_allocated(self.device) - self._cuda_base
            self._peak = max(self._peak, self._resident + grown)

    def _track(self, tensor: torch.Tensor) -> None:
        if tensor.device.type != self.device.type:
            return
        try:
            storage = tensor.untyped_storage()
        except (RuntimeError, NotImplementedError):  # sparse / nested tensors: no plain storage
            return
        # A meta storage has no address (every data_ptr is 0): it is told apart by its Python
        # object, which torch keeps, one per storage, for as long as the storage lives.
        ptr = storage.data_ptr()
        key = (str(tensor.device), ptr if ptr or tensor.device.type != "meta" else id(storage))
        nbytes = storage.nbytes()
        if nbytes == 0 or key in self._live:
            return
        self._live[key] = nbytes
        self._current += nbytes
        self._peak = max(self._peak, self._current)
        # torch keeps a storage's Python object alive as long as the C++ storage lives (saved in
        # a graph, held by a view ...), so this fires exactly when the memory is released.
        weakref.finalize(storage, self._release, key)

    def _release(self, key: tuple[str, int]) -> None:
        self._current -= self._live.pop(key, 0)


class _AllocationTracker(TorchDispatchMode):
    """Hands every freshly allocated op result to the meter."""

    def __init__(self, meter: PeakMemoryMeter) -> None:
        super().__init__()
        self._meter = meter

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        returns = getattr(getattr(func, "_schema", None), "returns", None)
        if returns is None:
            fresh = tree_leaves(out)
        else:
            # Returns with alias info are views or in-place results: no new memory. Skipping
            # them also keeps a slice of an uncounted tensor (the data set) out of the total.
            values = () if not returns else (out,) if len(returns) == 1 else tuple(out)
            fresh = [
                leaf
                for ret, value in zip(returns, values, strict=True)
                if ret.alias_info is None
                for leaf in tree_leaves(value)
            ]
        for leaf in fresh:
            if isinstance(leaf, torch.Tensor):
                self._meter._track(leaf)
        return out
