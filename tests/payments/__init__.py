"""The payments lane."""
