"""The search's decisions as pure functions, tested without a database or a process:
how long candidates train and when the deadline stops them (:mod:`.budget`), successive
halving rungs (:mod:`.pruning`), Pareto ranks and the leaderboard order (:mod:`.ranking`),
the Pareto front and its hypervolume (:mod:`.front`), which trial is ``best``
(:mod:`.select`), when to cross-validate (:mod:`.crossval`) and cost limits (:mod:`.limits`).
The dashboard and the benchmarks use these same functions, never copies.
"""
