"""The `invoices` group (see DESIGN.md)."""

assets: list = []
asset_checks: list = []
jobs: list = []
schedules: list = []
