"""Hugging Face Hub sync for benchmark artifacts (pure, no dagster).

``layout`` says where an artifact lives on the Hub, ``cards`` writes model/dataset cards from metadata,
``targets`` talks to the Hub (``HubTarget`` over ``HfApi``) or to a local folder (``LocalDirTarget``,
same interface, for tests and air-gapped mirrors), and ``sync.HubSync`` pushes one partition per commit
and pulls a partition that is missing locally.
"""
