"""The pure core of the server: plain functions over frozen data, no I/O, `now` passed in."""
