"""Controlled scheduling of the children at their checkpoints."""
