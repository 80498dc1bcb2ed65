"""firmware-mock package."""
