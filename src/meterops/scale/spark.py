"""The Spark executor: the same pure jobs, per meter group, inside ``applyInArrow``.

:class:`SparkExecutor` reads the Parquet files of the read store's Delta tables itself (the
files of each table's current version, from :meth:`~meterops.reads.store.ReadStore.
table_files`; no Delta connector, no Maven download), keeps raw rows of source files that have
a commit marker (a semi-join with the ``_commits`` files: the store's visibility rule), limits
the three interval tables to the window, joins each row to its group (a broadcast of
:func:`~meterops.scale.groups.membership`), and runs, per group, inside
``groupBy("group_index").applyInArrow``: :func:`~meterops.reads.store.current_from_rows`
(the store's current-view rule) and then the job. Groups without any row get the job's output
for an empty frame, computed on the driver, so every group yields a frame, as with the other
executors.

:func:`spark_session` starts a local session that works offline (loopback only, no UI, UTC
session time zone, workers on this interpreter). On a cluster (Databricks), pass its session
instead; ``docs/scale.md`` says what the job needs there.

PySpark is the ``spark`` extra: it is imported when a session is made or a job runs, never at
module import. Pure module otherwise (polars, pyarrow, pure meterops modules); must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import polars as pl
import pyarrow as pa

from meterops.reads.store import ReadStore, Table, current_from_rows, stored_schema
from meterops.scale.executors import GroupJob, ReadWindow, check_output
from meterops.scale.groups import MeterGroup, membership

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

__all__ = ["OFFLINE_CONF", "SESSION_CONF", "SparkExecutor", "spark_ddl", "spark_session"]

SESSION_CONF: Final[Mapping[str, str]] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
"""Settings every session the executor uses needs: timestamps are UTC instants; Arrow."""

OFFLINE_CONF: Final[Mapping[str, str]] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
"""More settings of a ``local[N]`` session: loopback only, no UI (nothing is downloaded in
any case: no packages are configured)."""

_GROUP: Final = "group_index"
_PART: Final = "_part"
_INTERVAL_TABLES: Final = (Table.INTERVAL_READS, Table.INTERVAL_VERSIONS, Table.INTERVAL_FLAGS)
_PARTS: Final = {
    Table.INTERVAL_READS: "raw",
    Table.INTERVAL_VERSIONS: "versions",
    Table.INTERVAL_FLAGS: "flags",
}


_MIN_SPARK: Final = (4, 0)


def _require_spark() -> None:
    import pyspark  # the optional ``spark`` extra

    version = tuple(int(p) for p in pyspark.__version__.split(".")[:2] if p.isdigit())
    if version < _MIN_SPARK:
        msg = (
            f"PySpark {pyspark.__version__} is too old for the Spark executor: it needs "
            "applyInArrow and toArrow, PySpark 4.0 or later (Databricks Runtime 17 or later)"
        )
        raise ImportError(msg)


def spark_session(
    master: str = "local[2]", *, conf: Mapping[str, str] | None = None
) -> SparkSession:
    """A Spark session for the executor; offline and on loopback when ``master`` is local.

    With a local master, Python workers run on this interpreter. Nothing is downloaded: no
    JVM packages are set.

    Args:
        master: Spark master (``local[N]``: N cores of this machine).
        conf: More settings (e.g. ``spark.driver.memory``), over :data:`SESSION_CONF` (and
            :data:`OFFLINE_CONF` for a local master).

    Returns:
        The session (``getOrCreate``: an active one is reused).

    Raises:
        ImportError: PySpark is not installed (the ``spark`` extra) or older than 4.0.
    """
    _require_spark()
    from pyspark.sql import SparkSession  # the optional ``spark`` extra

    local = master == "local" or master.startswith("local[")
    settings = dict(SESSION_CONF)
    if local:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the JVM binds to loopback too
        settings.update(OFFLINE_CONF)
        cores = master.removeprefix("local[").removesuffix("]")
        if cores.isdigit():
            settings["spark.sql.shuffle.partitions"] = cores
    settings.update(conf or {})
    builder = SparkSession.builder.master(master).appName("meterops")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


_DDL: Final[Mapping[type[pl.DataType], str]] = {
    pl.Int64: "bigint",
    pl.Int32: "int",
    pl.Int16: "smallint",
    pl.Int8: "tinyint",
    pl.UInt32: "bigint",
    pl.UInt16: "int",
    pl.UInt8: "smallint",
    pl.Float64: "double",
    pl.Float32: "float",
    pl.String: "string",
    pl.Boolean: "boolean",
    pl.Date: "date",
}
_ARROW: Final[Mapping[str, pa.DataType]] = {
    "bigint": pa.int64(),
    "int": pa.int32(),
    "smallint": pa.int16(),
    "tinyint": pa.int8(),
    "double": pa.float64(),
    "float": pa.float32(),
    "string": pa.string(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def _spark_type(name: str, dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            msg = f"column {name!r}: naive datetimes are not supported; use UTC-aware ones"
            raise TypeError(msg)
        return "timestamp"
    spark = _DDL.get(type(dtype))
    if spark is None:
        msg = f"column {name!r}: {dtype} has no Spark type here"
        raise TypeError(msg)
    return spark


def spark_ddl(schema: pl.Schema) -> str:
    """A Spark DDL schema string for a Polars schema (unsigned integers widened).

    Examples:
        >>> spark_ddl(pl.Schema({"meter_id": pl.Int64(), "flags": pl.UInt32()}))
        '`meter_id` bigint, `flags` bigint'
    """
    return ", ".join(f"`{n}` {_spark_type(n, t)}" for n, t in schema.items())


def _arrow_schema(schema: pl.Schema) -> pa.Schema:
    return pa.schema([(n, _ARROW[_spark_type(n, t)]) for n, t in schema.items()])


def _physical(schema: pl.Schema) -> pl.Schema:
    widened: dict[type[pl.DataType], pl.DataType] = {
        pl.UInt32: pl.Int64(),
        pl.UInt16: pl.Int32(),
        pl.UInt8: pl.Int16(),
    }
    return pl.Schema({n: widened.get(type(t), t) for n, t in schema.items()})


def _part(frame: pl.DataFrame, table: Table) -> pl.DataFrame:
    rows = frame.filter(pl.col(_PART) == _PARTS[table])
    return rows.select(stored_schema(table).names()) if rows.height else pl.DataFrame()


class _GroupApply:
    """The function Spark runs per group: current view, then the job, as Arrow."""

    def __init__(self, fn: GroupJob) -> None:
        self.fn = fn
        self.output = pl.Schema({**_physical(fn.output_schema), _GROUP: pl.Int32()})
        self.arrow = _arrow_schema(self.output)

    def __call__(self, table: pa.Table) -> pa.Table:
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        group = int(frame[_GROUP][0])
        current = current_from_rows(
            _part(frame, Table.INTERVAL_READS),
            _part(frame, Table.INTERVAL_VERSIONS),
            _part(frame, Table.INTERVAL_FLAGS),
        )
        out = check_output(self.fn, self.fn(current))
        out = out.with_columns(pl.lit(group, pl.Int32).alias(_GROUP)).cast(self.output)
        return out.to_arrow().cast(self.arrow)


def _arrow_function(apply: _GroupApply) -> Callable[[pa.Table], pa.Table]:
    # A plain function with Arrow type hints: PySpark infers the UDF kind from them.
    def run_group(table: pa.Table) -> pa.Table:
        return apply(table)

    return run_group


class SparkExecutor:
    """Groups as Spark tasks (``groupBy(group).applyInArrow``) over the store's Parquet files.

    Args:
        session: The Spark session to use (a cluster's); None starts :func:`spark_session`
            with ``master`` on first use, stopped by :meth:`close`.
        master: Master of the session started when none is given.
        conf: More settings for that session.
    """

    def __init__(
        self,
        session: SparkSession | None = None,
        *,
        master: str = "local[2]",
        conf: Mapping[str, str] | None = None,
    ) -> None:
        self._session = session
        self._owned = False
        self.master = master
        self.conf = dict(conf or {})

    @property
    def session(self) -> SparkSession:
        """The session (started on first use when none was given)."""
        if self._session is None:
            self._session = spark_session(self.master, conf=self.conf)
            self._owned = True
        return self._session

    def close(self) -> None:
        """Stop the session if this executor started it."""
        if self._owned and self._session is not None:
            self._session.stop()
        self._session = None
        self._owned = False

    def __enter__(self) -> SparkExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _table(
        self, store: ReadStore, table: Table, source: ReadWindow | None = None
    ) -> SparkFrame | None:
        window = (
            {} if source is None else {"start_utc": source.start_utc, "end_utc": source.end_utc}
        )
        files = store.table_files(table, **window)
        if not files:
            return None
        return self.session.read.schema(spark_ddl(stored_schema(table))).parquet(*files)

    def grouped_rows(self, source: ReadWindow, groups: Sequence[MeterGroup]) -> SparkFrame:
        """The visible raw, version and flag rows of the window, each with its group index.

        One Spark frame: the union (by name) of the three interval tables, a ``_part`` column
        saying which table a row comes from and ``group_index``.
        """
        from pyspark.sql import functions as F  # noqa: N812 - the optional extra

        store = source.open()
        members = self.session.createDataFrame(membership(groups).to_arrow())
        first = min(g.first_meter_id for g in groups)
        last = max(g.last_meter_id for g in groups)
        commits = self._table(store, Table.COMMITS)
        parts: list[SparkFrame] = []
        for table in _INTERVAL_TABLES:
            frame = self._table(store, table, source)
            if frame is None:
                continue
            if table is Table.INTERVAL_READS:
                if commits is None:
                    continue
                visible = commits.select("source_file_id").distinct()
                frame = frame.join(F.broadcast(visible), "source_file_id", "left_semi")
            time = F.col("interval_start_utc")
            frame = frame.filter(
                (time >= F.lit(source.start_utc))
                & (time < F.lit(source.end_utc))
                & F.col("meter_id").between(first, last)
            )
            if source.channels is not None:
                frame = frame.filter(F.col("channel").isin(list(source.channels)))
            frame = frame.join(F.broadcast(members), "meter_id", "inner")
            parts.append(frame.withColumn(_PART, F.lit(_PARTS[table])))
        if not parts:
            return self.session.createDataFrame(
                [],
                f"{spark_ddl(stored_schema(Table.INTERVAL_READS))}, `{_GROUP}` int, "
                f"`{_PART}` string",
            )
        union = parts[0]
        for other in parts[1:]:
            union = union.unionByName(other, allowMissingColumns=True)
        return union

    def map_groups(
        self, fn: GroupJob, source: ReadWindow, groups: Sequence[MeterGroup]
    ) -> Iterator[pl.DataFrame]:
        """See :meth:`meterops.scale.executors.Executor.map_groups`.

        Needs PySpark 4.0 or later (``applyInArrow``). The whole output is collected on the
        driver (job outputs are small: flags, estimates, totals), then yielded per group in
        group order.
        """
        if not groups:
            return
        _require_spark()
        apply = _GroupApply(fn)
        rows = self.grouped_rows(source, groups)
        with warnings.catch_warnings():
            # PySpark warns about pandas versions it has not been tested with; Arrow is used.
            warnings.simplefilter("ignore", FutureWarning)
            result = rows.groupBy(_GROUP).applyInArrow(
                _arrow_function(apply), spark_ddl(apply.output)
            )
            collected = pl.from_arrow(result.toArrow())
        assert isinstance(collected, pl.DataFrame)
        by_group: dict[Any, pl.DataFrame] = {}
        if collected.height:
            by_group = collected.partition_by(_GROUP, as_dict=True, include_key=False)
        empty: pl.DataFrame | None = None
        for group in groups:
            out = by_group.get((group.index,))
            if out is None:
                if empty is None:
                    empty = check_output(fn, fn(current_from_rows(*(pl.DataFrame(),) * 3)))
                yield empty
            else:
                yield check_output(fn, out.cast(fn.output_schema))
