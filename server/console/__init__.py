"""The merchant console: a web app served by the server at `/console` (plain HTML, CSS and ES modules).

`routes.py` serves the page and its assets and signs merchants in and out; `session.py` holds the
signed session cookie and the CSRF checks the API applies to cookie-authenticated writes.
"""

__all__: list[str] = []
