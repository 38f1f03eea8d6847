"""Outage detection from last-gasp and restore events, grouped up the grid."""
