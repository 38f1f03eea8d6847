"""High-bill investigations: what changed between two billing periods, and why.

A weather-normalised comparison of two billing periods, checks that separate a meter or billing
problem from a change in use, and the customer letter.

Pure core: ``weather`` (temperature files, degree days), ``normalize`` (eemeter daily model with
a degree-day regression fallback), ``usage`` (daily use, baseload, EV charging and solar export
from interval reads), ``compare`` (what changed between two periods), ``checks`` (estimation
share, TOU program, multiplier, crossed meters, accuracy test), ``verdict`` and ``letter``
(sentences, chart, HTML context and PDF). Adapters: ``repository``, ``service``, ``cli``,
``api``, ``pages``.
"""
