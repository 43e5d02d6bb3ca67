"""race-explorer: make cross-process races visible, repeatable and explainable."""

__version__ = "0.1.0"
