"""Run the benchmarks and print one table: ``python -m benchmarks [area ...] [--quick]``."""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.harness import BenchContext, Figure, machine_description

ROOT = Path(__file__).resolve().parent


def _modules(selected: list[str]) -> list[str]:
    names = sorted(p.stem for p in ROOT.glob("bench_*.py"))
    if selected:
        wanted = {f"bench_{s.removeprefix('bench_')}" for s in selected}
        unknown = wanted - set(names)
        if unknown:
            sys.exit(f"unknown benchmark(s) {sorted(unknown)}; available: {names}")
        names = [n for n in names if n in wanted]
    return names


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:,.2f} M"
    if magnitude >= 1e4:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:,.1f}"
    return f"{value:,.3g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("areas", nargs="*", help="benchmark modules to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="reduced sizes (smoke run)")
    args = parser.parse_args()

    shared = ROOT.parent.parent / "shared" / "data"
    console = Console(width=None if sys.stdout.isatty() else 180)
    console.print(f"[bold]meterops benchmarks[/] on {machine_description()}")
    figures: list[Figure] = []
    failed: list[str] = []
    for name in _modules(args.areas):
        workdir = Path(tempfile.mkdtemp(prefix=f"meterops-{name}-"))
        console.print(f"→ {name} …")
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            context = BenchContext(workdir, shared if shared.is_dir() else None, args.quick)
            figures.extend(module.run(context))
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            failed.append(name)
            console.print(traceback.format_exc(), style="red")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        console.print(f"  done in {time.perf_counter() - started:.1f} s")

    table = Table(title="meterops figures (baselines measured in the same run)")
    for column in ("area", "figure", "value", "unit", "baseline", "ratio", "goal", "met"):
        table.add_column(column, overflow="fold")
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "NO")
        ratio = f"{f.ratio:,.2f}×" if f.ratio is not None else ""
        baseline = f"{_fmt(f.baseline)} ({f.baseline_name})" if f.baseline is not None else ""
        name = f.name + (f"\n[dim]{f.note}[/]" if f.note else "")
        table.add_row(f.area, name, _fmt(f.value), f.unit, baseline, ratio, f.goal or "", met)
    console.print(table)
    if failed:
        console.print(f"[red]benchmarks that failed to run: {failed}[/]")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
