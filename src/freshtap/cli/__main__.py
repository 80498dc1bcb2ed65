"""`python -m freshtap.cli`."""

from freshtap.cli import main

main()
