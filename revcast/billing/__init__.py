"""Billing: pricing models (YAML rule sets) and the rating engine (usage -> UDR -> CDR -> bills, in DuckDB SQL)."""

from revcast.billing.pricing import PRODUCTION, PricingBook, PricingError, load_pricing, parse_pricing_model
from revcast.billing.rating import rate, rate_frame, write_rating

__all__ = [
    "PRODUCTION",
    "PricingBook",
    "PricingError",
    "load_pricing",
    "parse_pricing_model",
    "rate",
    "rate_frame",
    "write_rating",
]
