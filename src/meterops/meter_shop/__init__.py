"""Meter shop: accuracy tests (ANSI C12.20), test-set imports, in-service testing programmes."""
