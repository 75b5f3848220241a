"""The ``rocket`` family: MiniRocket features under a trained linear head.

MiniRocket (Dempster, Schmidt and Webb 2021, "MiniRocket: A Very Fast (Almost) Deterministic
Transform for Time Series Classification") convolves a series with 84 fixed length-9 kernels at
exponentially spaced dilations and keeps, per kernel, dilation and bias, the proportion of
positive values (PPV). The biases are quantiles of the convolution output on training examples.
Here the transform is a frozen layer (:class:`RocketFeatures`, buffers only) and the head is a
norm, dropout and a Linear layer. Before training, :meth:`SearchNet.fit_to_data` fits the
biases on training series and sets the head to MiniRocket's own classifier, a ridge fit in
closed form (:mod:`search_spaces.arch.ridge`); the trainer then refines the head like any other
network, with the searched loss, optimizer and learning rate (GunPoint, 50 training series:
99.3 % test accuracy from the ridge fit alone; heads trained from random weights 89-100 %).

The biases (and the series view kept) are saved with the weights. Under ``torch.distributed``
every rank fits them on the same series (rank 0's broadcast besides); without ``fit_to_data``,
on the first training batch. Trial parameters: ``n_features`` (a choice), ``norm``, ``dropout``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from search_spaces._fields import as_choices, choices_of, ints_from, set_field
from search_spaces.arch.blocks import centred_shift, one_channel, register_series_affine
from search_spaces.arch.feature_cache import FeatureCache
from search_spaces.arch.mlp import sample_dropout
from search_spaces.arch.net import ARCH_BUILDERS, ArchBuilder, HeldOut, SearchNet, has_lone_class
from search_spaces.arch.ridge import RidgeFit, fit_linear_head
from search_spaces.arch.rocket_plan import KERNEL_LENGTH, channel_mask, kernels, rocket_plan
from search_spaces.arch.specs import NORMS, ROCKET_KERNELS, RocketSpec
from search_spaces.base import ARCH_SPACES, InputInfo, TrialLike

RIDGE_MAX_SAMPLES = 2048  # the head's ridge fit: an n x n eigendecomposition, 2.7 s at 2048
FIT_CHUNK = 128  # series per transform call in fit_to_data (bounds its memory)
TRANSFORM_CHUNK = 32  # series per pass of the transform, eager on the CPU (cache-sized) ...
# ... and at most this many convolution outputs per pass: past about 5M, each elementwise op
# page-faults a fresh buffer (128 x 2,000 steps, 10k features: 21.6 s at 32 a pass, 1.7 at 6).
CHUNK_ELEMENTS = 2**20
VIEW_MIN_OFFSET = 1e-3  # |m / s| below which the centred and shipped views are one
_PHI = (math.sqrt(5) - 1) / 2  # quantile levels follow the golden-ratio sequence (MiniRocket)


def _tracing() -> bool:
    """Under an export or a compiler the batch is symbolic: no chunking by its size."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


class RocketFeatures(nn.Module):
    """``(N, C, L)`` or ``(N, L)`` -> ``(N, 84 * sum(per_dilation))`` PPV features; no weights."""

    weight: torch.Tensor
    mask: torch.Tensor
    fitted: torch.Tensor

    def __init__(self, spec: RocketSpec) -> None:
        super().__init__()
        self.channels = spec.in_channels
        self.dilations = spec.dilations
        self.reread = register_series_affine(self, spec.input_scale, spec.input_shift)
        self._shipped, self._view = spec.input_shift, spec.series_view  # see views()
        # Every buffer is saved, the fixed ones too (a few KB): a bundle is rebuilt on the meta
        # device and then given its tensors, so a buffer left out would stay without data.
        self.register_buffer("weight", kernels().unsqueeze(1).repeat(self.channels, 1, 1))
        self.register_buffer("mask", channel_mask(self.channels)[None, :, :, None])
        for i, q in enumerate(spec.per_dilation):
            levels = torch.tensor([((j + 1) * _PHI) % 1 for j in range(q)])
            self.register_buffer(f"levels{i}", levels)
            self.register_buffer(f"bias{i}", torch.zeros(ROCKET_KERNELS, q))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self._cache = FeatureCache()
        # Set by fit_to_data (the trainer's data-dependent start), cleared by a state load
        # (the trainer loads the kept epoch before scoring the test split): in between, the
        # validation split's features are reused across epochs like the training batches'.
        self._in_training_run = False

    def _conv(self, x: torch.Tensor, dilation: int) -> torch.Tensor:
        pad = (KERNEL_LENGTH // 2) * dilation
        y = F.conv1d(x, self.weight.to(x.dtype), padding=pad, dilation=dilation,
                     groups=self.channels)
        if self.channels == 1:
            return y
        y = y.view(x.shape[0], self.channels, ROCKET_KERNELS, -1)
        return (y * self.mask.to(y.dtype)).sum(1)

    def _should_fit(self, x: torch.Tensor) -> bool:
        return (self.training and torch.is_grad_enabled() and not x.is_meta
                and not bool(self.fitted))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = one_channel(x, 1, self if self.reread else None)
        if self._should_fit(x):
            self._fit_biases(x)
            return self._transform(x)
        if not self._cacheable(x):
            return self._transform(x)
        return self._cache.lookup(x, self._transform)

    def views(self) -> list[torch.Tensor]:
        """The shifts :func:`_fit_rocket` chooses between (``spec.series_view``: ``best``),
        centred (the default) last: as shipped, ``x / s``, where that differs from
        ``(x - m) / s`` by more than :data:`VIEW_MIN_OFFSET` (the kernels sum to zero: the two
        differ only at a series' ends, where the convolution pads it with zeros)."""
        if not self.reread:
            return []
        centred = centred_shift(self._shipped).to(self.get_buffer("shift").device)
        offset = abs(math.fsum(self._shipped) / len(self._shipped))
        shipped = torch.tensor(self._shipped, dtype=torch.float32, device=centred.device)
        if offset <= VIEW_MIN_OFFSET or self._view == "centred":
            return [centred]
        return [shipped] if self._view == "shipped" else [shipped, centred]

    @torch.no_grad()
    def fit_to_data(self, x: torch.Tensor) -> torch.Tensor:
        """Fit the biases on ``x`` (one series per kernel, the first 84: the caller shuffles)
        and return the features of all of ``x``, computed in chunks (and kept in the training
        cache on the CPU)."""
        x = one_channel(x, 1, self if self.reread else None)
        self._fit_biases(x[:ROCKET_KERNELS])
        self._in_training_run = True
        compute = (lambda c: self._cache.lookup(c, self._transform)) \
            if x.device.type == "cpu" else self._transform
        return torch.cat([compute(chunk) for chunk in x.split(FIT_CHUNK)])

    @torch.no_grad()
    def remember(self, x: torch.Tensor, features: torch.Tensor) -> None:
        """Empty the training cache and keep ``features``, those :meth:`fit_to_data` gave for
        ``x`` with the biases and view the stem holds again (:func:`_fit_rocket`)."""
        self._cache.clear()
        if x.device.type == "cpu":  # all missing: computed as the features given
            x = one_channel(x, 1, self if self.reread else None)
            self._cache.lookup(x, lambda _: features)

    @torch.no_grad()
    def _fit_biases(self, x: torch.Tensor) -> None:
        """Fit every bias on ``x`` ``(N, C, L)``: convolutions only, no features (at 2,000
        steps, computing the PPV of the fitting series too made the fit 7 s instead of 1 s of
        a 52-series lead-in). The cache is emptied: features from earlier biases no longer
        hold."""
        self._cache.clear()
        for i, dilation in enumerate(self.dilations):
            self._fit(self._conv(x, dilation), getattr(self, f"bias{i}"),
                      getattr(self, f"levels{i}"))
        self.fitted.fill_(True)

    def _cacheable(self, x: torch.Tensor) -> bool:
        """Training steps on the CPU reuse a sample's features, and so does the evaluation of
        each epoch within a training run (between :meth:`fit_to_data` and the load of the kept
        state); serving, latency runs, exports and mixed precision always compute them."""
        reuse = (self.training and torch.is_grad_enabled()) or self._in_training_run
        return (reuse and x.device.type == "cpu"
                and not x.requires_grad and not torch.is_autocast_enabled("cpu")
                and not _tracing())

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        per_series = self.channels * ROCKET_KERNELS * x.shape[-1]
        chunk = max(1, min(TRANSFORM_CHUNK, CHUNK_ELEMENTS // per_series))
        if x.device.type == "cpu" and not _tracing() and len(x) > chunk:
            return torch.cat([self._transform(c) for c in x.split(chunk)])
        features = []
        for i, dilation in enumerate(self.dilations):
            y = self._conv(x, dilation)
            bias = getattr(self, f"bias{i}")
            # PPV, one bias at a time: sign(y - b) clamped at 0 is 1 exactly where y > b. The
            # same figures as comparing with every bias at once, 3-4x faster on the CPU (no
            # (N, 84, L, biases) boolean tensor); the same ops export to ONNX.
            features.append(torch.stack([torch.sign(y - bias[:, j, None]).clamp(min=0).mean(-1)
                                         for j in range(bias.shape[1])], -1).flatten(1))
        return torch.cat(features, 1)

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        self._cache.clear()  # other biases, other features
        self._in_training_run = False
        super()._load_from_state_dict(*args, **kwargs)

    @torch.no_grad()
    def _fit(self, y: torch.Tensor, bias: torch.Tensor, levels: torch.Tensor) -> None:
        """Each kernel's biases: quantiles of its output on one example of the batch."""
        kernels = torch.arange(ROCKET_KERNELS, device=y.device)
        examples = y[kernels % y.shape[0], kernels].float()  # (84, L)
        bias.copy_(torch.quantile(examples, levels.to(examples), dim=1).T)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.broadcast(bias, 0)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, dilations={self.dilations}"


def _rocket(spec: RocketSpec) -> tuple[nn.Module, list[nn.Module], nn.Module]:
    n = spec.n_features
    norm = nn.BatchNorm1d(n) if spec.norm == "batch" else nn.Identity()
    head = nn.Sequential(norm, nn.Dropout(spec.dropout), nn.Linear(n, spec.num_classes))
    return RocketFeatures(spec), [], head


def _fit_rocket(net: SearchNet, x: torch.Tensor, y: torch.Tensor) -> HeldOut:
    """Biases from the training series, then the head's ridge fit on at most
    ``RIDGE_MAX_SAMPLES`` of them (torch's seeded RNG draws which); their leave-one-out. Where
    the series read centred and as shipped differ (:meth:`RocketFeatures.views`), both are
    fitted and the better leave-one-out accuracy is kept (a tie: centred). Neither wins
    everywhere (ridge alone, 3 seeds, PickupGesture: 83.3 % centred, 87.3 % as shipped;
    benchmarks/signal_scaling.py), so the data decide; not where a class has a single series.
    Each view is transformed once: a fit kept from before the last is put back, its features
    into the training cache."""
    rows = torch.randperm(len(x))[:RIDGE_MAX_SAMPLES].to(x.device)
    stem, head = net.stem, net.head
    assert isinstance(stem, RocketFeatures) and isinstance(head, nn.Sequential)
    xs, ys = x[rows], y[rows]
    views: list[torch.Tensor | None] = [*stem.views()] or [None]
    if len(views) > 1 and has_lone_class(ys):  # no evidence to choose by: one transform
        views = views[-1:]
    fits, saved = [], []
    for i, view in enumerate(views):
        fit, features = _fit_view(net, xs, ys, view)
        fits.append(fit)
        if i < len(views) - 1:  # the last one's fit is what the network holds
            saved.append(({k: v.clone() for k, v in stem.named_buffers() if v.ndim},
                          {k: v.clone() for k, v in head.state_dict().items()}, features))
    scores = torch.tensor([float((f.loo_pred == ys).float().mean()) for f in fits])
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.broadcast(scores, 0)  # every rank keeps rank 0's view
    keep = len(fits) - 1 - int(scores.flip(0).argmax())  # the last of the best: centred on ties
    if keep < len(saved):
        buffers, head_state, features = saved[keep]
        for k, v in buffers.items():
            stem.get_buffer(k).copy_(v)
        head.load_state_dict(head_state)
        stem.remember(xs, features)
    return HeldOut(fits[keep].loo_pred, ys)


def as_fitted(spec: Any, state: Mapping[str, torch.Tensor]) -> Any:
    """``spec`` with the view its fitted weights ``state`` read series with, for a refit on
    more data: the trial's choice stays (a second transform is not in the refit's estimate)."""
    shift = state.get("stem.shift")
    if not isinstance(spec, RocketSpec) or spec.series_view != "best" or shift is None:
        return spec
    shipped = abs(float(shift.double().mean())) > VIEW_MIN_OFFSET / 2
    return dataclasses.replace(spec, series_view="shipped" if shipped else "centred")


def _fit_view(net: SearchNet, x: torch.Tensor, y: torch.Tensor, shift: torch.Tensor | None
              ) -> tuple[RidgeFit, torch.Tensor]:
    """Fit the biases and the head's ridge with the stem reading series with ``shift``; the
    fit and the features of ``x`` it was fitted on."""
    if shift is not None:
        net.stem.get_buffer("shift").copy_(shift)
    features = net.stem.fit_to_data(x)  # type: ignore[operator]
    return fit_linear_head(net.head, features, y, net.spec.num_classes), features  # type: ignore[arg-type,union-attr]


# Layers: the Linear head; the transform holds no weights (its convolutions are functional).
ARCH_BUILDERS.register("rocket")(ArchBuilder(_rocket, lambda spec: 1, _fit_rocket,
                                             fitted_head=True))


@dataclass(frozen=True)
class RocketOptions:
    """Bounds of the ``rocket`` space: transform sizes (about). 10,000 is MiniRocket's own
    size and the family's strong default (``search_spaces.arch.auto.STRONG_PICKS``)."""

    features: tuple[int, ...] = (1000, 2500, 5000, 10000)
    norms: tuple[str, ...] = NORMS
    dropout_max: float = 0.3

    def __post_init__(self) -> None:
        set_field(self, "features",
                  as_choices(None, "features", self.features, ints_from(ROCKET_KERNELS)))
        set_field(self, "norms", as_choices(None, "norms", self.norms, choices_of(NORMS)))


@ARCH_SPACES.register("rocket", options=RocketOptions)
def rocket_space(trial: TrialLike, info: InputInfo, options: RocketOptions | None = None
                 ) -> RocketSpec:
    """Sample MiniRocket features + linear head for series ``(L,)`` or ``(C, L)``."""
    o = options or RocketOptions()
    if len(info.shape) not in (1, 2):
        raise ValueError(f"rocket: needs samples of shape (L,) or (C, L), got {info.shape}")
    dilations, per = rocket_plan(info.shape[-1], trial.suggest_categorical("n_features",
                                                                             o.features))
    scale, shift = info.series_affine or ((), ())
    return RocketSpec(
        input_shape=info.shape,
        num_classes=info.num_classes,
        dilations=dilations,
        per_dilation=per,
        norm=trial.suggest_categorical("norm", o.norms),
        dropout=sample_dropout(trial, o.dropout_max),
        input_scale=scale,
        input_shift=shift,
    )
