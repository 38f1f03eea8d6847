"""Diagnose before the truck rolls: exceptions, root-cause verdicts with evidence, cohorts."""
