"""Billing determinants: TOU energy by period, maximum demand, net metering, register comparison."""
