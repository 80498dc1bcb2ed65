"""The HTTP API (`/api/v1`), its dependencies and its problem+json errors."""
