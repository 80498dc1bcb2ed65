"""Social posting: channels (each with its own formatting rules, limits and disclosure) and what the
outbox relay needs to post an approved review exactly once. See docs/social.md."""
