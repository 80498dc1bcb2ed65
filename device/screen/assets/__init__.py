"""The door screen's page: plain HTML, CSS and JavaScript, committed as they are served (no build step).

A package only so the files ship inside the wheel and load with `importlib.resources`.
"""

__all__: list[str] = []
