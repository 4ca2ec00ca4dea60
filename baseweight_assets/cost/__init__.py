"""Cost per query, cost per 1,000 correct answers, 12-month TCO and break-even volumes.

Every price comes from ``configs/pricing.yaml`` (``PricingConfig``); nothing here holds a price constant.
"""
