"""``meterops simulate`` writes the layout with a progress bar and prints the realism table."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from meterops.simulator.cli import register


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def root() -> None:
        """Test root."""

    return app


def test_simulate_writes_the_files_and_the_realism_table(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        _app(),
        [
            "simulate",
            "--scenario",
            "small_town",
            "--seed",
            "7",
            "--days",
            "2",
            "--service-points",
            "300",
            "--out",
            str(out),
            "--stats",
            "--rate",
            "theft_per_meter_year=0.5",
            "--events-format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "fleet" / "meters.csv").is_file()
    assert len(list((out / "headend").iterdir())) == 2
    assert (out / "headend" / "2026-07-01" / "events.csv").is_file()
    assert "residential kWh per" in result.output
    assert "complete meter-days" in result.output
    meta = json.loads((out / "simulation.json").read_text())
    assert meta["fault_rates"]["theft_per_meter_year"] == 0.5


def test_the_seed_is_required_and_bad_rates_are_named() -> None:
    missing = CliRunner().invoke(_app(), ["simulate", "--days", "1"])
    assert missing.exit_code != 0
    assert "--seed" in missing.output
    bad = CliRunner().invoke(_app(), ["simulate", "--seed", "1", "--rate", "nonsense=2"])
    assert bad.exit_code != 0
    assert "theft_per_meter_year" in str(bad.exception)


def test_without_out_it_simulates_and_reports_the_ground_truth() -> None:
    result = CliRunner().invoke(
        _app(), ["simulate", "--seed", "3", "--days", "1", "--service-points", "200", "--no-faults"]
    )
    assert result.exit_code == 0, result.output
    assert "ground-truth faults" in result.output


def test_frames_mode_writes_parquet_parts_instead_of_format_files(tmp_path: Path) -> None:
    import polars as pl

    out = tmp_path / "scale"
    result = CliRunner().invoke(
        _app(),
        [
            "simulate",
            "--seed",
            "2",
            "--days",
            "2",
            "--service-points",
            "300",
            "--out",
            str(out),
            "--frames",
        ],
    )
    assert result.exit_code == 0, result.output
    assert not (out / "headend").exists()
    day = out / "frames" / "2026-07-01"
    parts = sorted((day / "interval_reads").glob("part-*.parquet"))
    assert parts
    reads = pl.concat([pl.read_parquet(p) for p in parts])
    assert reads.height > 300 * 96
    assert (day / "events.parquet").is_file()
    assert (out / "frames" / "2026-07-02").is_dir()
    assert not (out / "frames" / "_day").exists()


def test_stats_work_when_the_reads_stream_as_frames(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(),
        [
            "simulate",
            "--seed",
            "4",
            "--days",
            "1",
            "--service-points",
            "250",
            "--out",
            str(tmp_path / "f"),
            "--frames",
            "--stats",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "complete meter-days" in result.output


def test_text_files_for_a_metro_are_refused_with_a_hint() -> None:
    result = CliRunner().invoke(
        _app(), ["simulate", "--scenario", "metro", "--seed", "1", "--out", "/nonexistent/metro"]
    )
    assert result.exit_code != 0
    assert "--frames" in str(result.exception)


def test_simulating_again_into_the_same_folder_replaces_the_days(tmp_path: Path) -> None:
    args = [
        "simulate",
        "--seed",
        "4",
        "--days",
        "1",
        "--service-points",
        "200",
        "--out",
        str(tmp_path / "again"),
        "--frames",
    ]
    first = CliRunner().invoke(_app(), args)
    second = CliRunner().invoke(_app(), args)
    assert first.exit_code == second.exit_code == 0, second.output
    assert list((tmp_path / "again" / "frames" / "2026-07-01" / "interval_reads").iterdir())
