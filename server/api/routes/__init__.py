"""One module per resource; each route is thin and calls a service."""
