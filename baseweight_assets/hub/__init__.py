"""Hugging Face Hub sync for benchmark artifacts (pure, no dagster).

``layout`` says where an artifact lives on the Hub, ``cards`` writes model/dataset cards from metadata,
``targets`` talks to the Hub (``HubTarget`` over ``HfApi``) or to a local folder (``LocalDirTarget``, same
interface and compare-and-swap commits, for tests and air-gapped mirrors), ``records`` keeps the sync record
that says which materialization a copy is (on the Hub and on disk), ``errors`` splits failures into transient,
conflict and permanent, and ``sync.HubSync`` pushes one partition per commit and pulls a partition that is
missing locally, verifying it first.
"""
