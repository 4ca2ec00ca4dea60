"""Baseweight Bench: fine-tune a small open model or call a frontier API?

Pure logic lives in the subpackages (config, data, prompting, training, inference,
scoring, cost, report); Dagster wiring lives only in ``defs/`` and ``definitions.py``.
"""

__version__ = "0.1.0"
