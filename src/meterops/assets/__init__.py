"""Assets: meters, communication modules, collectors, service points, programs, firmware."""
