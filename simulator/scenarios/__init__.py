"""Scenario files for `freshtap simulate --compare` (TOML)."""
