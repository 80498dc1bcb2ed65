"""Application services: every write goes through one of these, never `session.add` in a route."""
