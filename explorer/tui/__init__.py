"""The Textual app: live panes, watched state, invariants as they break, and replay.

Only this package may import textual (tests/tui enforces it). `model` and
`history` are plain Python so they can be tested without a terminal.
"""
