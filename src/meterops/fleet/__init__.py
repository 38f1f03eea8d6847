"""Bulk fleet import: documented CSV files for the asset, grid, account and workforce model."""
