"""Validation, estimation and editing (VEE) of interval and register reads."""
