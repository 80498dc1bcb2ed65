"""Third-party browser code, vendored from the npm registry as published (see README.md here).

A package only so the files ship inside the wheel and load with `importlib.resources`.
"""

__all__: list[str] = []
