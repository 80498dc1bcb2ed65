"""The console's page: HTML, CSS and ES modules, committed as they are served (no build step).

A package only so the files ship inside the wheel and load with `importlib.resources`.
"""

__all__: list[str] = []
