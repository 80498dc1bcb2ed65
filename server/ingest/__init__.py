"""Ingest: fridge messages from the broker into the database, each `(fridge_id, seq)` applied once."""
