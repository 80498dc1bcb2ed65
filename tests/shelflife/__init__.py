"""Shelf-life lane: reference data, model rules and properties, run-out, public API."""
