"""Search control: how one search runs, start to end, with side effects.

* :mod:`.run` - the order of a search (checks, database, workers, loop, report);
* :mod:`.controller` - open or resume the Optuna study, then the loop;
* :mod:`.loop` - the worker loop: claim a trial, run it with a heartbeat, tell Optuna;
* :mod:`.objective` - one trial: sample, answer repeats, check limits, train, store;
* :mod:`.cheap_start`, :mod:`.dedup`, :mod:`.samplers`, :mod:`.interrupts`,
  :mod:`.reporting` - the pieces those use.

The decisions they apply (epochs, rungs, ties, folds, limits) are pure functions in
:mod:`automl.policy`.
"""
