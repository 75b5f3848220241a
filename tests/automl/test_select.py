"""Which trial ``best``, ``knee`` and ``--pareto`` choose: pure functions over records."""

from __future__ import annotations

import pytest

from automl.export.errors import ExportError
from automl.policy.select import (
    best_trial,
    knee_trial,
    numbered_trial,
    pareto_trials,
    parse_choice,
    select,
)
from automl.storage.records import TrialRecord


def rec(number: int, val: float | None, flops: float | None, state: str = "COMPLETE",
        reason: str | None = None) -> TrialRecord:
    return TrialRecord(study="s", number=number, state=state, values=None, val_accuracy=val,
                       flops=flops, latency_ms=flops and flops / 1e6, reason=reason)


def test_best_breaks_accuracy_ties_by_cost_then_number() -> None:
    records = [rec(0, 1.0, 500), rec(1, 1.0, 100), rec(2, 0.99, 10), rec(3, 1.0, 100)]
    assert best_trial(records, "flops").number == 1  # equal accuracy: cheaper, then lower number
    assert best_trial(records, "latency_ms").number == 1
    # An unpriced trial never wins a tie against a priced one.
    assert best_trial([rec(0, 1.0, None), rec(1, 1.0, 5)], "flops").number == 1


def test_best_among_equals_is_the_leaderboard_s_first_row() -> None:
    from automl.policy.ranking import leaderboard_rows

    # Equal accuracy, no loss, no recent accuracy: the order among equals decides, and it is
    # the leaderboard's: the cheaper (a NaN cost counts as unpriced), then the lower number.
    records = [rec(3, 1.0, 100), rec(0, 1.0, float("nan")), rec(2, 1.0, 100), rec(1, 1.0, 500)]
    assert best_trial(records, "flops").number == 2
    assert leaderboard_rows(records, "flops")[0]["trial"] == 2
    assert [r.number for r in pareto_trials(records, "flops")] == [2, 3]


def test_accuracies_within_one_validation_sample_are_a_tie() -> None:
    from dataclasses import replace

    def r(number: int, val: float, flops: float, **kw: object) -> TrialRecord:
        return replace(rec(number, val, flops), val_samples=200, **kw)

    # 1.0 and 0.995 differ by one of 200 samples: tied, so the steadier wins; 0.99 is two
    # samples behind and loses however steady; equally steady, the higher accuracy wins.
    records = [r(0, 1.0, 300, val_recent=0.98), r(1, 0.995, 100, val_recent=0.99),
               r(2, 0.99, 10, val_recent=1.0)]
    assert best_trial(records, "flops").number == 1
    assert best_trial([replace(x, val_recent=0.99) for x in records], "flops").number == 0
    # Without the split's size, only exact ties count (as before it was recorded).
    assert best_trial([replace(x, val_samples=None) for x in records], "flops").number == 0
    # Cross-validated contenders are compared on their own figures, by the same rule.
    cv = [r(0, 1.0, 100, cv_accuracy=0.96, cv_samples=50),
          r(1, 1.0, 100, cv_accuracy=0.98, cv_samples=50),
          r(2, 1.0, 100, cv_accuracy=0.98, cv_samples=50), r(3, 1.0, 1)]
    assert best_trial(cv, "flops").number == 1  # 0.98 = 0.98: the lower number
    # Folds compare only candidates no candidate without folds leads on the holdout (whose
    # folds the clock did not allow): an early MLP's 0.58 is not set against a rocket's 0.90.
    early = [r(0, 0.62, 100, cv_accuracy=0.58, cv_samples=50), r(1, 0.90, 100), r(2, 0.90, 50)]
    assert best_trial(early, "flops").number == 2
    near = [r(0, 0.995, 100, cv_accuracy=0.99, cv_samples=50), r(1, 1.0, 100)]
    assert best_trial(near, "flops").number == 1  # led by one sample is led
    # Without the split's size, any holdout lead shuts the folds out, as before sizes were kept.
    unsized = [replace(x, val_samples=None) for x in near]
    assert best_trial(unsized, "flops").number == 1
    assert best_trial([replace(unsized[1], val_accuracy=0.995), unsized[0]], "flops").number == 0
    # On 6 validation samples one sample (0.167) is within the noise (0.30 at 0.833): a lead
    # that small does not shut out the cross-validated figures (ArrowHead, rocket's own
    # leave-one-out 0.833 against an MLP's folds 0.814 and a convnet without folds).
    six = [replace(x, val_samples=6) for x in (
        rec(0, 5 / 6, 100), rec(1, 4 / 6, 100), rec(2, 5 / 6, 100))]
    six[0] = replace(six[0], cv_accuracy=0.814, cv_samples=36)
    six[1] = replace(six[1], cv_accuracy=0.833, cv_samples=30, cv_folds=30)
    assert best_trial(six, "flops").number == 1
    # Two samples behind (0.333) is beyond the noise: the rocket is shut out.
    six[1] = replace(six[1], val_accuracy=3 / 6)
    assert best_trial(six, "flops").number == 0


def test_the_loss_never_breaks_a_tie() -> None:
    """A smoothed network and an unsmoothed one with the same predictions have the same
    accuracies; the unsmoothed one's lower validation loss (it is more confident) must not
    decide, nor the cross-validated loss: the cost and then the number do."""
    from dataclasses import replace

    smoothed = replace(rec(0, 1.0, 100), val_loss=0.30, val_recent=0.99, val_samples=200)
    plain = replace(rec(1, 1.0, 900), val_loss=0.02, val_recent=0.99, val_samples=200)
    assert best_trial([plain, smoothed], "flops").number == 0
    assert best_trial([replace(smoothed, flops=900), plain], "flops").number == 0  # number
    cv = [replace(smoothed, cv_accuracy=0.98, cv_loss=0.4, cv_samples=50),
          replace(plain, cv_accuracy=0.98, cv_loss=0.1, cv_samples=50)]
    assert best_trial(cv, "flops").number == 0
    # A higher accuracy still wins over a tie group whatever the cost.
    better = replace(rec(2, 1.0, 10_000), val_recent=1.0, val_samples=200, val_loss=0.5)
    assert best_trial([plain, smoothed, better], "flops").number == 2


def test_a_tie_goes_to_the_steadier_accuracy() -> None:
    from dataclasses import replace

    def r(number: int, val: float, recent: float | None, **kw: object) -> TrialRecord:
        return replace(rec(number, val, 100), val_samples=200, val_recent=recent, **kw)

    # All three reached 1.0; trial 0 held it over its last epochs, 1 touched it once;
    # 2 is one sample behind but steadiest: still tied, and it wins.
    records = [r(0, 1.0, 0.998), r(1, 1.0, 0.97), r(2, 0.995, 0.999)]
    assert best_trial(records, "flops").number == 2
    assert best_trial(records[:2], "flops").number == 0
    # Beyond the tie the recent figure does not count: two samples behind loses.
    assert best_trial([r(0, 1.0, 0.9), r(1, 0.99, 1.0)], "flops").number == 0
    # Trials stored without it (older studies, repeats): the higher accuracy, then the cost.
    assert best_trial([replace(x, val_recent=None) for x in records], "flops").number == 0


def test_recent_accuracy_is_the_mean_of_the_last_epochs() -> None:
    from automl.policy.ranking import RECENT_EPOCHS, recent_accuracy
    from trainer.types import EpochRecord

    def history(*accs: float) -> list[EpochRecord]:
        return [EpochRecord(epoch=i + 1, train_loss=0.1, val_accuracy=a, seconds=0.1)
                for i, a in enumerate(accs)]

    assert RECENT_EPOCHS == 3
    assert recent_accuracy(history(0.5, 0.9, 1.0, 0.8)) == pytest.approx(0.9)
    assert recent_accuracy(history(0.7)) == pytest.approx(0.7)
    assert recent_accuracy([]) is None


def test_best_ignores_test_accuracy_and_unfinished_trials() -> None:
    records = [rec(0, 0.9, 10), rec(1, None, 1, state="PRUNED"), rec(2, 0.95, 20, "FAIL")]
    assert best_trial(records).number == 0


def test_knee_is_the_elbow_of_the_front() -> None:
    # Accuracy rises steeply up to trial 1, then flattens while the cost keeps growing.
    records = [rec(0, 0.50, 10), rec(1, 0.95, 100), rec(2, 0.97, 10_000), rec(3, 0.60, 5_000)]
    assert knee_trial(records).number == 1
    # One or two front members: the most accurate one.
    assert knee_trial([rec(0, 0.5, 10), rec(1, 0.9, 100)]).number == 1
    assert knee_trial([rec(4, 0.5, 10)]).number == 4


def test_pareto_members_most_accurate_first() -> None:
    records = [rec(0, 0.50, 10), rec(1, 0.95, 100), rec(2, 0.97, 10_000), rec(3, 0.60, 5_000)]
    assert [r.number for r in pareto_trials(records)] == [2, 1, 0]
    assert [r.number for r in select(records, "best", pareto=True)] == [2, 1, 0]


def test_select_dispatch_and_parse() -> None:
    records = [rec(0, 0.5, 10), rec(1, 0.9, 100)]
    assert parse_choice("Best") == "best" and parse_choice("knee") == "knee"
    assert parse_choice(" 7") == 7
    with pytest.raises(ExportError, match="expected best, knee or a trial number"):
        parse_choice("first")
    assert select(records, 0)[0].number == 0
    assert select(records, "best")[0].number == 1
    assert select(records, "knee")[0].number == 1


def test_unknown_failed_and_empty_are_one_line_errors() -> None:
    records = [rec(0, 0.5, 10), rec(1, None, None, "FAIL", reason="ValueError: boom"),
               rec(2, None, 5, "PRUNED")]
    with pytest.raises(ExportError, match=r"study 's' has no trial 9 \(trials: 0-2\)"):
        numbered_trial(records, 9, "s")
    with pytest.raises(ExportError, match="trial 1 of study 's' is FAIL, not COMPLETE.*boom"):
        numbered_trial(records, 1, "s")
    with pytest.raises(ExportError, match="is PRUNED"):
        select(records, 2, study="s")
    with pytest.raises(ExportError, match=r"no completed trial with weights \(1 fail, 1 pruned\)"):
        best_trial(records[1:], study="s")
    for exc_fn in (lambda: knee_trial([], study="s"), lambda: pareto_trials([], study="s")):
        with pytest.raises(ExportError) as info:
            exc_fn()
        assert "\n" not in str(info.value)
