"""Raw loading (offline files or the Hub), sampling, splits, CUAD windows, contamination, checks.

Entry points: ``raw.load_raw``, ``prepare.prepare_task`` and the validators in ``checks``.
"""
