import polars as pl
import pytest

from meterops.errors import DataContractError, MissingColumnsError
from meterops.kit.frames import check_frame, conform
from meterops.reads.schema import INTERVAL_READS, PARSED_INTERVAL_READS


def test_an_empty_contract_frame_satisfies_its_contract() -> None:
    check_frame(PARSED_INTERVAL_READS.empty(), PARSED_INTERVAL_READS)
    check_frame(INTERVAL_READS.empty().lazy(), INTERVAL_READS)


def test_missing_columns_are_listed_with_the_available_ones() -> None:
    frame = PARSED_INTERVAL_READS.empty().drop("value", "channel")
    with pytest.raises(MissingColumnsError) as caught:
        check_frame(frame, PARSED_INTERVAL_READS)
    assert caught.value.details["missing"] == ["channel", "value"]
    assert "serial_number" in caught.value.details["available"]


def test_wrong_dtypes_and_nulls_are_reported() -> None:
    frame = PARSED_INTERVAL_READS.empty().with_columns(pl.col("value").cast(pl.Float32))
    with pytest.raises(DataContractError, match="value: expected Float64, found Float32"):
        check_frame(frame, PARSED_INTERVAL_READS)
    nulls = pl.DataFrame(
        {c.name: [None] for c in PARSED_INTERVAL_READS}, schema=PARSED_INTERVAL_READS.schema
    )
    with pytest.raises(DataContractError, match="nulls"):
        check_frame(nulls, PARSED_INTERVAL_READS, check_nulls=True)


def test_conform_selects_and_casts_in_contract_order() -> None:
    frame = PARSED_INTERVAL_READS.empty().with_columns(
        pl.col("interval_s").cast(pl.Int64), pl.lit(1).alias("extra")
    )
    conformed = conform(frame.select(reversed(frame.columns)), PARSED_INTERVAL_READS)
    assert conformed.columns == PARSED_INTERVAL_READS.names
    assert conformed.schema == PARSED_INTERVAL_READS.schema
    with pytest.raises(MissingColumnsError):
        conform(frame.drop("value"), PARSED_INTERVAL_READS)
