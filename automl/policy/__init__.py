"""The search's decisions as pure functions, tested without a database or a process:
how long candidates train and when the deadline stops them (:mod:`.budget`), successive
halving rungs (:mod:`.pruning`), Pareto ranks, hypervolume and the leaderboard order
(:mod:`.ranking`), which trial is ``best`` (:mod:`.select`), when to cross-validate
(:mod:`.crossval`) and cost limits (:mod:`.limits`).
"""
