"""The data-efficiency curve: metric vs number of labelled examples N for LoRA cells trained under several
seeds, the fitted curve, N* (fewest labels for non-inferiority to the best API cell) with its bootstrap CI,
the break-even surface over (N, daily volume) and a one-sentence verdict. ``build.build_curve`` is the entry
point; everything here is pure (no Dagster, no I/O).
"""
