"""Deterministic sample-data generator for the landing zone (all domains' raw formats, with injected bad rows)."""

from revcast.generate.landing import DOMAINS, MANIFEST, PROFILES, GenerationSummary, generate_landing

__all__ = ["DOMAINS", "MANIFEST", "PROFILES", "GenerationSummary", "generate_landing"]
