"""The anchor of ``search_efficiency.py``: the Optuna + PyTorch loop a user writes by hand."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.suite import SUITE

VAL_FRACTION = 0.15


def hand_loop(name: str, seed: int, budget: float, t0: float, epochs: int,
              asha: bool) -> dict[str, Any]:
    """The loop on the suite's set ``name``."""
    return loop_on_arrays(SUITE[name].kind, SUITE[name].load(), seed, budget, t0, epochs, asha)


def loop_on_arrays(kind: str, arrays: Any, seed: int, budget: float, t0: float, epochs: int,
                   asha: bool) -> dict[str, Any]:
    """What a user writes by hand: Optuna TPE over small nets, a fixed number of Adam epochs,
    on ``arrays`` = ``(x, y, x_test, y_test)`` of ``kind`` (tabular, sequence or image)."""
    # long: the plain Optuna + PyTorch loop a user would write by hand, the anchor the search is
    # compared with; kept as one readable function on purpose.
    import optuna
    import torch
    import torch.nn.functional as F
    from sklearn.model_selection import train_test_split
    from torch import nn

    from trainer.cost import count_flops  # the project's counting, so FLOPs compare

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    x, y, x_test, y_test = arrays
    # A stratified split needs a validation sample of every class: a user with few samples per
    # class (and scikit-learn's error) raises the fraction to that.
    n_classes = len(set(y.tolist()))
    x, x_val, y, y_val = train_test_split(x, y, test_size=max(VAL_FRACTION, n_classes / len(y)),
                                          stratify=y, random_state=seed)
    mean, std = x.mean(0), x.std(0) + 1e-6

    def tensor(a: Any) -> torch.Tensor:
        a = torch.from_numpy((a - mean) / std)
        return a[:, None] if kind == "sequence" else a  # Conv1d wants (N, C, L)

    xt, xv, xs = tensor(x), tensor(x_val), tensor(x_test)
    yt, yv, ys = (torch.from_numpy(a) for a in (y, y_val, y_test))
    n_classes, records = int(y.max()) + 1, []

    def make_model(trial: optuna.Trial) -> nn.Module:
        depth = trial.suggest_int("depth", 1, 3)
        if kind == "tabular":
            width = trial.suggest_categorical("width", [64, 128, 256, 512])
            dims = [xt.shape[1]] + [width] * depth
            layers: list[nn.Module] = []
            for a, b in zip(dims, dims[1:], strict=False):
                layers += [nn.Linear(a, b), nn.ReLU()]
            return nn.Sequential(*layers, nn.Linear(width, n_classes))
        width = trial.suggest_categorical("width", [16, 32, 64])
        two_d = kind == "image"
        conv, norm = (nn.Conv2d, nn.BatchNorm2d) if two_d else (nn.Conv1d, nn.BatchNorm1d)
        k = 3 if two_d else trial.suggest_categorical("kernel", [3, 5, 7])
        layers, c = [], xt.shape[1]
        for _ in range(depth):
            layers += [conv(c, width, k, padding=k // 2), norm(width), nn.ReLU()]
            c = width
        pool = nn.AdaptiveAvgPool2d(1) if two_d else nn.AdaptiveAvgPool1d(1)
        return nn.Sequential(*layers, pool, nn.Flatten(), nn.Linear(width, n_classes))

    @torch.no_grad()
    def evaluate(model: nn.Module, xe: torch.Tensor, ye: torch.Tensor) -> tuple[float, float]:
        model.eval()
        out = model(xe)
        return (out.argmax(1) == ye).float().mean().item(), F.cross_entropy(out, ye).item()

    def objective(trial: optuna.Trial) -> float:
        torch.manual_seed(seed * 100_000 + trial.number)  # before the weights are drawn
        model = make_model(trial)
        lr = trial.suggest_float("lr", 1e-4, 1e-2, log=True)
        batch_size = trial.suggest_categorical("batch_size", [16, 32, 64, 128])
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        family = "mlp" if kind == "tabular" else "cnn2d" if kind == "image" else "cnn1d"
        rec: dict[str, Any] = {"number": trial.number, "state": "COMPLETE", "family": family}
        for epoch in range(epochs):
            model.train()
            for idx in torch.randperm(len(yt)).split(batch_size):
                loss = F.cross_entropy(model(xt[idx]), yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            if asha:
                val_acc, val_loss = evaluate(model, xv, yv)
                trial.report(val_acc, epoch)
                if trial.should_prune():
                    rec.update(state="PRUNED", epochs=epoch + 1)
                    break
        val_acc, val_loss = evaluate(model, xv, yv)
        rec.update(val_accuracy=val_acc, val_loss=val_loss, t=time.time() - t0,
                   test_accuracy=evaluate(model, xs, ys)[0],
                   flops=count_flops(model, tuple(xt.shape[1:])))
        records.append(rec)
        if rec["state"] == "PRUNED":
            raise optuna.TrialPruned()
        return val_acc

    pruner = optuna.pruners.SuccessiveHalvingPruner() if asha else optuna.pruners.NopPruner()
    study = optuna.create_study(direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, timeout=budget)  # stops starting trials at T, as a user would
    return {"trials": records}
