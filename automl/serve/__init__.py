"""``automl serve``: the HTTP model server (:mod:`.app`) with its request limits
(:mod:`.limits`), metadata (:mod:`.meta`), Prometheus metrics (:mod:`.metrics`), dynamic
micro-batching (:mod:`.batching`) and the process that runs it (:mod:`.run`).
"""
