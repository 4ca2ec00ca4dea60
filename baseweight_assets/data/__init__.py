"""Raw loading (offline files or the Hub), pool rules, sampling, windows over long documents, contamination, checks.

Entry points: ``raw.load_raw``, ``prepare.prepare_task`` and the validators in ``checks``. What differs between
task kinds (how a canonical row becomes an example, how drawn questions become rows) is asked of the task's kind
(``baseweight_assets.tasks``).
"""
