"""The ``automl`` command line: the console script (:mod:`.entry`), the command table
(:mod:`.app`, :mod:`.read`, :mod:`.export`, :mod:`.dashboard`, :mod:`.db`), what people see
(:mod:`.render`, :mod:`.progress`) and the README's table of study-file keys
(:mod:`.config_doc`). Every command is a few lines over :mod:`automl.api`.

Importing this package is cheap: ``automl --help`` never imports torch.
"""
