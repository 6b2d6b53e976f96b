"""generate_landing: write every domain's raw sample files into a landing zone, plus _manifest.json."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from revcast.generate._common import DomainResult, domain_rng, write_bytes
from revcast.generate.bas import generate_bas
from revcast.generate.invoices import generate_invoices
from revcast.generate.pricing import generate_pricing
from revcast.generate.subscriptions import generate_subscriptions
from revcast.generate.usage import generate_usage

DOMAINS = ("usage", "bas", "invoices", "subscriptions", "pricing")
# "kind": smooth, dense series (the demo). "hard": invoices and usage like a real retailer's or SaaS's:
# intermittent small countries, one dominant country and key account, level shifts, year-end peaks, spiky days,
# intermittent accounts. Other domains are the same in both.
PROFILES = ("kind", "hard")
MANIFEST = "_manifest.json"


@dataclass(frozen=True)
class GenerationSummary:
    """What a generation wrote: files per domain, rows per source, injected bad rows and flagged (valid) rows by kind."""

    files: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    bad_rows: dict[str, dict[str, int]] = field(default_factory=dict)
    flagged_rows: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def files_written(self) -> int:
        """Data files written (the manifest not included)."""
        return sum(self.files.values())

    def bad_share(self, source: str) -> float:
        """Injected bad rows over all rows of a source."""
        return sum(self.bad_rows.get(source, {}).values()) / max(self.rows.get(source, 0), 1)


def generate_landing(
    out: Path,
    *,
    seed: int = 42,
    accounts: int = 500,
    start: date = date(2021, 1, 1),
    end: date = date(2023, 12, 31),
    bad_share: float = 0.005,
    domains: Sequence[str] = DOMAINS,
    profile: str = "kind",
    progress: Callable[[str, int, int], None] | None = None,
) -> GenerationSummary:
    """Generate the raw sample landing zone under `out` (deterministic for the parameters) and write _manifest.json.

    `progress(domain, done, total)` is called before each domain starts (done = domains finished so far)."""
    unknown = sorted(set(domains) - set(DOMAINS))
    if unknown:
        raise ValueError(f"unknown domains {unknown}; choose from {list(DOMAINS)}")
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if not 0.0 <= bad_share <= 0.25:
        raise ValueError("bad_share must be between 0 and 0.25")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {list(PROFILES)}")
    out = Path(out)
    results: dict[str, DomainResult] = {}
    chosen = [d for d in DOMAINS if d in domains]
    for done, domain in enumerate(chosen):
        if progress is not None:
            progress(domain, done, len(chosen))
        args = (out, domain_rng(seed, domain), accounts, start, end, bad_share)
        if domain == "usage":
            results[domain] = generate_usage(*args, profile=profile)
        elif domain == "bas":
            results[domain] = generate_bas(*args)
        elif domain == "invoices":
            results[domain] = generate_invoices(*args, profile=profile)
        elif domain == "subscriptions":
            results[domain] = generate_subscriptions(*args)
        else:
            results[domain] = generate_pricing(out)
    summary = GenerationSummary(
        files={d: len(r.files) for d, r in results.items()},
        rows={s: n for r in results.values() for s, n in r.rows.items()},
        bad_rows={s: dict(sorted(c.items())) for r in results.values() for s, c in r.bad.items()},
        flagged_rows={s: dict(sorted(c.items())) for r in results.values() for s, c in r.flagged.items()},
    )
    manifest = {
        "generator": "revcast.generate",
        "parameters": {
            "seed": seed,
            "accounts": accounts,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "bad_share": bad_share,
            "domains": [d for d in DOMAINS if d in domains],
        }  # fmt: skip
        | ({"profile": profile} if profile != "kind" else {}),  # the kind manifest stays byte-identical
        "summary": asdict(summary),
        "bad_rows_by_file": {f: c for r in results.values() for f, c in r.bad_by_file.items()},
        "files": sorted(f for r in results.values() for f in r.files),
    }
    write_bytes(out / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return summary
