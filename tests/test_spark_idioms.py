"""Spark SQL idioms give Spark's answer: the value AND the type family Spark documents.

Each idiom is one expression, run as a product step runs: parsed and validated as Spark SQL
(`compile/sql.py`: the function allow-list, the refusals of `compile/spark_semantics.py`,
columns against the inputs' schemas), then by the engine. The expected values are the Spark
3.5 SQL reference's own examples (https://spark.apache.org/docs/3.5.0/api/sql/ , cited as
`api/sql#name`), or the rule the reference states, with Spark's defaults
(spark.sql.ansi.enabled=false) and the session time zone UTC. Where the reference's example
assumes another time zone, the source says how the value was converted.

The `engine` fixture runs one SELECT and returns (value, type family); a Spark engine joins
the suite by adding itself to ENGINES. Idioms that cannot be given Spark's meaning are refused
at validate (REFUSED), and the suite asserts the refusal.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import shutil
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import pyarrow as pa
import pytest
from sqlglot import exp

from mesh_platform.compile import sql as sqlmod
from mesh_platform.compile.functions import SPARK_UNMODELLED
from mesh_platform.compile.spark_semantics import NO_LOCAL_EQUIVALENT, REFUSED_FUNCTIONS
from mesh_platform.engine.duckdb import DuckDBEngine
from mesh_platform.engine.duckdb.translate import to_duckdb

# One row of typed columns (`t`) and one column of a group (`g`), as inputs of a step.
T = pa.table(
    {
        "d": pa.array([dt.date(2016, 7, 30)], pa.date32()),
        "ts": pa.array([dt.datetime(2015, 3, 5, 9, 32, 5, 359000)], pa.timestamp("us")),
        "i": pa.array([7], pa.int32()),
        "neg": pa.array([-7], pa.int32()),
        "z": pa.array([0], pa.int32()),
        "x": pa.array([2.5], pa.float64()),
        "dec": pa.array([Decimal("2.50")], pa.decimal128(10, 2)),
        "s": pa.array(["Spark SQL"], pa.string()),
        "n": pa.array([None], pa.int32()),
        "ns": pa.array([None], pa.string()),
    }
)
G = pa.table({"col": pa.array([None, 5, 5, 10], pa.int32())})
SCHEMAS = {
    "t": {
        "d": "date", "ts": "timestamp", "i": "int", "neg": "int", "z": "int", "x": "double",
        "dec": "decimal(10,2)", "s": "string", "n": "int", "ns": "string",
    },
    "g": {"col": "int"},
}  # fmt: skip


@dataclass(frozen=True)
class Idiom:
    """`expr` selected from `table` gives `value` of type `family`, as `source` documents."""

    expr: str
    value: object
    family: str
    source: str
    table: str = "t"


D = dt.date
TS = dt.datetime
IDIOMS = [
    # Casts
    Idiom("CAST(1.5 AS INT)", 1, "integer", "Cast: fractional to integral truncates toward 0"),
    Idiom("CAST(-1.5 AS INT)", -1, "integer", "Cast: fractional to integral truncates toward 0"),
    Idiom("CAST(x AS INT)", 2, "integer", "Cast: double 2.5 to int truncates"),
    Idiom("CAST(dec AS BIGINT)", 2, "integer", "Cast: decimal 2.50 to bigint truncates"),
    Idiom("CAST(3.99 AS SMALLINT)", 3, "integer", "Cast: fractional to integral truncates"),
    Idiom("CAST('1.9' AS INT)", 1, "integer", "Cast: string to int drops the fraction"),
    Idiom("CAST(' 12 ' AS INT)", 12, "integer", "Cast: string to int trims white space"),
    Idiom("CAST('abc' AS INT)", None, "integer", "Cast: invalid string is NULL (ANSI off)"),
    Idiom("CAST(true AS INT)", 1, "integer", "Cast: boolean true is 1"),
    Idiom("CAST('2016-07-30' AS DATE)", D(2016, 7, 30), "date", "Cast: string to date"),
    Idiom("CAST('true' AS BOOLEAN)", True, "boolean", "Cast: string 'true' to boolean"),
    Idiom("CAST(0 AS BOOLEAN)", False, "boolean", "Cast: numeric 0 is false"),
    Idiom("CAST(' yes ' AS BOOLEAN)", True, "boolean", "Cast: string to boolean trims"),
    Idiom("CAST('maybe' AS BOOLEAN)", None, "boolean", "Cast: other strings are NULL"),
    Idiom(
        "CAST(TIMESTAMP '2016-07-30 10:00:00' AS STRING)",
        "2016-07-30 10:00:00",
        "string",
        "Cast: timestamp to string, no zone offset",
    ),
    Idiom(
        "CAST('2016-07-30 10:00:00' AS TIMESTAMP)",
        TS(2016, 7, 30, 10),
        "timestamp",
        "Cast: string to timestamp (stored without a zone, as the lake's timestamps)",
    ),
    Idiom("CAST(d AS STRING)", "2016-07-30", "string", "Cast: date to string, ISO form"),
    # Date and time functions
    Idiom("dayofweek('2009-07-30')", 5, "integer", "api/sql#dayofweek (1 = Sunday)"),
    Idiom("dayofweek(DATE '1993-07-01')", 5, "integer", "api/sql#dayofweek: a Thursday"),
    Idiom("dayofweek(d)", 7, "integer", "api/sql#dayofweek: 2016-07-30 is a Saturday"),
    Idiom("weekday('2009-07-30')", 3, "integer", "api/sql#weekday (0 = Monday)"),
    Idiom("dayofyear('2016-04-09')", 100, "integer", "api/sql#dayofyear"),
    Idiom("date_add('2016-07-30', 1)", D(2016, 7, 31), "date", "api/sql#date_add"),
    Idiom("date_add(d, 3)", D(2016, 8, 2), "date", "api/sql#date_add: returns a date"),
    Idiom("date_sub('2016-07-30', 1)", D(2016, 7, 29), "date", "api/sql#date_sub"),
    Idiom("add_months('2016-08-31', 1)", D(2016, 9, 30), "date", "api/sql#add_months"),
    Idiom("add_months(d, -1)", D(2016, 6, 30), "date", "api/sql#add_months: returns a date"),
    Idiom("datediff('2009-07-31', '2009-07-30')", 1, "integer", "api/sql#datediff"),
    Idiom("datediff('2009-07-30', '2009-07-31')", -1, "integer", "api/sql#datediff"),
    Idiom(
        "months_between('1997-02-28 10:30:00', '1996-10-30')",
        3.94959677,
        "double",
        "api/sql#months_between",
    ),
    Idiom(
        "months_between('1997-02-28 10:30:00', '1996-10-30', false)",
        3.9495967741935485,
        "double",
        "api/sql#months_between",
    ),
    Idiom("last_day('2009-01-12')", D(2009, 1, 31), "date", "api/sql#last_day"),
    Idiom("trunc('2019-08-04', 'week')", D(2019, 7, 29), "date", "api/sql#trunc"),
    Idiom("trunc('2019-08-04', 'quarter')", D(2019, 7, 1), "date", "api/sql#trunc"),
    Idiom("trunc('2009-02-12', 'MM')", D(2009, 2, 1), "date", "api/sql#trunc"),
    Idiom("trunc('2015-10-27', 'YEAR')", D(2015, 1, 1), "date", "api/sql#trunc"),
    Idiom(
        "date_trunc('YEAR', '2015-03-05T09:32:05.359')",
        TS(2015, 1, 1),
        "timestamp",
        "api/sql#date_trunc",
    ),
    Idiom(
        "date_trunc('MM', '2015-03-05T09:32:05.359')",
        TS(2015, 3, 1),
        "timestamp",
        "api/sql#date_trunc",
    ),
    Idiom(
        "date_trunc('HOUR', '2015-03-05T09:32:05.359')",
        TS(2015, 3, 5, 9),
        "timestamp",
        "api/sql#date_trunc",
    ),
    Idiom("date_trunc('DD', ts)", TS(2015, 3, 5), "timestamp", "api/sql#date_trunc"),
    Idiom("year('2016-07-30')", 2016, "integer", "api/sql#year"),
    Idiom("extract(DOW FROM DATE '2009-07-30')", 5, "integer", "api/sql#extract: DOW 1 = Sunday"),
    Idiom(
        "extract(SECONDS FROM TIMESTAMP '2019-10-01 00:00:01.000001')",
        Decimal("1.000001"),
        "decimal",
        "api/sql#extract",
    ),
    Idiom(
        "date_part('SECONDS', TIMESTAMP '2019-10-01 00:00:01.000001')",
        Decimal("1.000001"),
        "decimal",
        "api/sql#date_part",
    ),
    Idiom("next_day('2015-01-14', 'TU')", D(2015, 1, 20), "date", "api/sql#next_day"),
    Idiom("date_from_unix_date(1)", D(1970, 1, 2), "date", "api/sql#date_from_unix_date"),
    Idiom(
        "from_utc_timestamp('2016-08-31', 'Asia/Seoul')",
        TS(2016, 8, 31, 9),
        "timestamp",
        "api/sql#from_utc_timestamp",
    ),
    Idiom(
        "to_utc_timestamp('2016-08-31', 'Asia/Seoul')",
        TS(2016, 8, 30, 15),
        "timestamp",
        "api/sql#to_utc_timestamp",
    ),
    Idiom("quarter('2016-08-31')", 3, "integer", "api/sql#quarter"),
    Idiom("month('2016-07-30')", 7, "integer", "api/sql#month"),
    Idiom("month('2016-07-30 10:00:00')", 7, "integer", "api/sql#month: of a timestamp text"),
    Idiom("year(s)", None, "integer", "a string that is not a date is NULL (ANSI off)"),
    Idiom("datediff(s, d)", None, "integer", "a string that is not a date is NULL (ANSI off)"),
    Idiom("weekofyear('2008-02-20')", 8, "integer", "api/sql#weekofyear"),
    Idiom("hour('2009-07-30 12:58:59')", 12, "integer", "api/sql#hour"),
    Idiom("date_format('2016-04-08', 'y')", "2016", "string", "api/sql#date_format"),
    Idiom(
        "date_format(ts, 'yyyy-MM-dd HH:mm:ss')",
        "2015-03-05 09:32:05",
        "string",
        "datetime patterns (sql-ref-datetime-pattern)",
    ),
    Idiom("date_format(d, 'EEEE, MMMM d')", "Saturday, July 30", "string", "datetime patterns"),
    Idiom("date_format(d, 'M/d/yy')", "7/30/16", "string", "datetime patterns: unpadded"),
    Idiom("date_format(ts, 'h:mm a')", "9:32 AM", "string", "datetime patterns: 12-hour"),
    Idiom("date_format(ts, 'HH:mm:ss.SSS')", "09:32:05.359", "string", "datetime patterns"),
    Idiom(
        "date_format(ts, 'yyyy-MM-dd\\'T\\'HH:mm')",
        "2015-03-05T09:32",
        "string",
        "datetime patterns: quoted text is literal",
    ),
    Idiom("date_format(d, 'D')", "212", "string", "datetime patterns: day of year"),
    Idiom(
        "from_unixtime(0, 'yyyy-MM-dd HH:mm:ss')",
        "1970-01-01 00:00:00",
        "string",
        "api/sql#from_unixtime: 1969-12-31 16:00:00 in America/Los_Angeles is 0 UTC",
    ),
    Idiom("to_timestamp('2016-12-31', 'yyyy-MM-dd')", TS(2016, 12, 31), "timestamp", "to_ts"),
    Idiom("to_timestamp('x', 'yyyy-MM-dd')", None, "timestamp", "unparsable text is NULL"),
    Idiom("to_date('7/3/2016', 'M/d/yyyy')", D(2016, 7, 3), "date", "datetime patterns"),
    Idiom("to_date('2009-07-30 04:17:52')", D(2009, 7, 30), "date", "api/sql#to_date"),
    Idiom("to_date('2016-12-31', 'yyyy-MM-dd')", D(2016, 12, 31), "date", "api/sql#to_date"),
    Idiom("to_date('31/12/2016', 'dd/MM/yyyy')", D(2016, 12, 31), "date", "datetime patterns"),
    Idiom(
        "unix_timestamp('2016-04-08', 'yyyy-MM-dd')",
        1460073600,
        "integer",
        "api/sql#unix_timestamp: 1460098800 in America/Los_Angeles (UTC-7), so 1460073600 in "
        "UTC; a bigint",
    ),
    Idiom(
        "to_unix_timestamp('2016-04-08', 'yyyy-MM-dd')",
        1460073600,
        "integer",
        "api/sql#to_unix_timestamp (pyspark: 1460098800 in America/Los_Angeles)",
    ),
    Idiom("unix_timestamp('x', 'yyyy-MM-dd')", None, "integer", "unparsable text is NULL"),
    # Integer division, modulo
    Idiom("3 div 2", 1, "integer", "api/sql#div"),
    Idiom("-7 div 2", -3, "integer", "api/sql#div: the integral part (toward 0)"),
    Idiom("dec div 1", 2, "integer", "api/sql#div: a decimal divides to a bigint"),
    Idiom("3 / 2", 1.5, "double", "api/sql#/ : always fractional"),
    Idiom("2L / 2L", 1.0, "double", "api/sql#/"),
    Idiom("'1.5' + 1", 2.5, "double", "type coercion: a string in arithmetic is a double"),
    Idiom("s || 1", "Spark SQL1", "string", "api/sql#||"),
    Idiom("factorial(5)", 120, "integer", "api/sql#factorial: a bigint"),
    Idiom("nanvl(cast('NaN' as double), 123)", 123.0, "double", "api/sql#nanvl"),
    # Decimal division (Spark's DecimalPrecision rule; an integer literal is a decimal of its own
    # digits): decimal(10,2) / 2 is a decimal(14,6), 1.0 / 3 a decimal(7,6). DuckDB: a double.
    Idiom("dec / 2", 1.25, "decimal", "decimal(10,2) / decimal(1,0) = decimal(14,6)"),
    Idiom("1.0 / 3", Decimal("0.333333"), "decimal", "decimal(2,1) / decimal(1,0) = (7,6)"),
    Idiom("dec / i", Decimal("0.3571428571429"), "decimal", "decimal(10,2) / int column = (21,13)"),
    Idiom("i / z", None, "double", "api/sql#/ : division by 0 is NULL (ANSI off)"),
    Idiom("i % z", None, "integer", "api/sql#% : modulo by 0 is NULL (ANSI off)"),
    Idiom("2 % 1.8", Decimal("0.2"), "decimal", "api/sql#%"),
    Idiom("-7 % 3", -1, "integer", "api/sql#% : the dividend's sign (Java remainder)"),
    Idiom("pmod(10, 3)", 1, "integer", "api/sql#pmod"),
    Idiom("pmod(-10, 3)", 2, "integer", "api/sql#pmod"),
    Idiom("pmod(neg, 3)", 2, "integer", "api/sql#pmod: always positive for n > 0"),
    # Strings
    Idiom("substring('Spark SQL', 5)", "k SQL", "string", "api/sql#substring"),
    Idiom("substring('Spark SQL', -3)", "SQL", "string", "api/sql#substring"),
    Idiom("substring('Spark SQL', 5, 1)", "k", "string", "api/sql#substring"),
    Idiom("substr(s, z, 2)", "Sp", "string", "substring: position 0 reads as 1"),
    Idiom("concat('Spark', 'SQL')", "SparkSQL", "string", "api/sql#concat"),
    Idiom("concat(s, ns)", None, "string", "api/sql#concat: NULL if any input is NULL"),
    Idiom("concat_ws(' ', 'Spark', 'SQL')", "Spark SQL", "string", "api/sql#concat_ws"),
    Idiom("concat_ws('/', 'foo', null, 'bar')", "foo/bar", "string", "api/sql#concat_ws"),
    Idiom("lpad('hi', 5, '??')", "???hi", "string", "api/sql#lpad"),
    Idiom("lpad('hi', 1, '??')", "h", "string", "api/sql#lpad"),
    Idiom("lpad('hi', 5)", "   hi", "string", "api/sql#lpad"),
    Idiom("rpad('hi', 5, '??')", "hi???", "string", "api/sql#rpad"),
    Idiom("instr('SparkSQL', 'SQL')", 6, "integer", "api/sql#instr"),
    Idiom("locate('bar', 'foobarbar')", 4, "integer", "api/sql#locate"),
    Idiom("locate('bar', 'foobarbar', 5)", 7, "integer", "api/sql#locate"),
    Idiom("split('oneAtwoBthreeC', '[ABC]')", ["one", "two", "three", ""], "array", "split"),
    Idiom(
        "split('oneAtwoBthreeC', '[ABC]', -1)",
        ["one", "two", "three", ""],
        "array",
        "api/sql#split",
    ),
    Idiom("regexp_extract('100-200', '(\\\\d+)-(\\\\d+)', 1)", "100", "string", "regexp_extract"),
    Idiom("substring_index('www.apache.org', '.', 2)", "www.apache", "string", "substring_index"),
    Idiom("substring_index('www.apache.org', '.', -2)", "apache.org", "string", "substring_index"),
    Idiom(
        "format_string('Hello World %d %s', 100, 'days')",
        "Hello World 100 days",
        "string",
        "api/sql#format_string",
    ),
    Idiom("regexp_replace('100-200', '(\\\\d+)', 'num')", "num-num", "string", "regexp_replace"),
    Idiom("initcap('sPark sql')", "Spark Sql", "string", "api/sql#initcap"),
    Idiom("trim('    SparkSQL   ')", "SparkSQL", "string", "api/sql#trim"),
    Idiom("trim(BOTH 'SL' FROM 'SSparkSQLS')", "parkSQ", "string", "api/sql#trim"),
    Idiom("trim(LEADING 'SL' FROM 'SSparkSQLS')", "parkSQLS", "string", "api/sql#trim"),
    Idiom("btrim('SSparkSQLS', 'SL')", "parkSQ", "string", "api/sql#btrim"),
    # Null handling
    Idiom("nvl(n, 2)", 2, "integer", "api/sql#nvl"),
    Idiom("nvl2(NULL, 2, 1)", 1, "integer", "api/sql#nvl2"),
    Idiom("coalesce(NULL, 1, NULL)", 1, "integer", "api/sql#coalesce"),
    Idiom("isnull(1)", False, "boolean", "api/sql#isnull"),
    Idiom("isnull(n)", True, "boolean", "api/sql#isnull"),
    Idiom("isnotnull(1)", True, "boolean", "api/sql#isnotnull"),
    Idiom("nullif(2, 2)", None, "integer", "api/sql#nullif"),
    Idiom("2 <=> 2", True, "boolean", "api/sql#<=>"),
    Idiom("NULL <=> NULL", True, "boolean", "api/sql#<=>"),
    Idiom("true <=> NULL", False, "boolean", "api/sql#<=>"),
    # Intervals keep a DATE a DATE
    Idiom("d + INTERVAL 3 DAYS", D(2016, 8, 2), "date", "date + day interval is a date"),
    Idiom("d + INTERVAL 3 MONTHS", D(2016, 10, 30), "date", "date + month interval is a date"),
    Idiom("d - INTERVAL 1 YEAR", D(2015, 7, 30), "date", "date - year interval is a date"),
    Idiom("DATE'2016-07-30' + INTERVAL 3 DAYS", D(2016, 8, 2), "date", "interval literal"),
    Idiom("ts + INTERVAL 1 DAY", TS(2015, 3, 6, 9, 32, 5, 359000), "timestamp", "stays a ts"),
    # Rounding
    Idiom("round(2.5, 0)", 3, "decimal", "api/sql#round (HALF_UP)"),
    Idiom("round(x, 0)", 3.0, "double", "api/sql#round: HALF_UP on a double too"),
    Idiom("round(-2.5)", -3, "decimal", "api/sql#round (HALF_UP, away from 0)"),
    Idiom("round(25, -1)", 30, "integer", "api/sql#round"),
    Idiom("bround(2.5, 0)", 2, "decimal", "api/sql#bround (HALF_EVEN)"),
    Idiom("bround(25, -1)", 20, "integer", "api/sql#bround"),
    Idiom("bround(x)", 2.0, "double", "api/sql#bround: HALF_EVEN on a double"),
    Idiom("ceil(-0.1)", 0, "decimal", "api/sql#ceil: decimal in, decimal out"),
    Idiom("ceil(5)", 5, "integer", "api/sql#ceil: a bigint"),
    Idiom("ceil(x)", 3, "integer", "api/sql#ceil: a double gives a bigint"),
    Idiom("ceil(3.1411, 3)", Decimal("3.142"), "decimal", "api/sql#ceil"),
    Idiom("floor(-0.1)", -1, "decimal", "api/sql#floor: decimal in, decimal out"),
    Idiom("floor(5)", 5, "integer", "api/sql#floor: a bigint"),
    Idiom("floor(x)", 2, "integer", "api/sql#floor: a double gives a bigint"),
    # Aggregates (g: NULL, 5, 5, 10)
    Idiom("count(DISTINCT col)", 2, "integer", "api/sql#count", "g"),
    Idiom("size(NULL)", -1, "integer", "api/sql#size: -1 for NULL by default"),
    Idiom("size(collect_list(n))", 0, "integer", "collect_list of only NULLs is []"),
    Idiom(
        "array_distinct(array(1, 2, 3, null, 3))",
        [1, 2, 3, None],
        "array",
        "api/sql#array_distinct: order kept, NULL kept",
    ),
    Idiom("size(collect_list(col))", 3, "integer", "api/sql#collect_list: NULLs skipped", "g"),
    Idiom("sum(col)", 20, "integer", "api/sql#sum: integers sum to a bigint", "g"),
    Idiom("avg(col)", 20 / 3, "double", "api/sql#avg", "g"),
    Idiom("count_if(col > 4)", 3, "integer", "api/sql#count_if: a bigint", "g"),
    Idiom("percentile(col, 0.5)", 5.0, "double", "api/sql#percentile: exact, a double", "g"),
    Idiom("percentile(col, 0.75)", 7.5, "double", "api/sql#percentile: interpolated", "g"),
    Idiom(
        "percentile(col, array(0.25, 0.75))",
        [5.0, 7.5],
        "array",
        "api/sql#percentile: an array of percentages",
        "g",
    ),
    Idiom("median(col)", 5.0, "double", "api/sql#median", "g"),
    Idiom("avg(dec)", Decimal("2.5"), "decimal", "avg of a decimal(10,2) is a decimal(14,6)"),
    # Spark built-ins sqlglot does not model (compile/functions.py SPARK_UNMODELLED)
    Idiom("arrays_overlap(array(1, 2, 3), array(3, 4, 5))", True, "boolean", "arrays_overlap"),
    Idiom("cardinality(array('b', 'd', 'c', 'a'))", 4, "integer", "api/sql#cardinality"),
    Idiom(
        "date_part('YEAR', TIMESTAMP '2019-08-12 01:00:00.123456')",
        2019,
        "integer",
        "api/sql#date_part",
    ),
    Idiom("datepart('MONTH', d)", 7, "integer", "api/sql#datepart"),
    Idiom("expm1(0)", 0.0, "double", "api/sql#expm1"),
    Idiom("log1p(0)", 0.0, "double", "api/sql#log1p"),
    Idiom("find_in_set('ab', 'abc,b,ab,c,def')", 3, "integer", "api/sql#find_in_set"),
    Idiom("make_date(2013, 7, 15)", D(2013, 7, 15), "date", "api/sql#make_date"),
    Idiom("map_values(map(1, 'a', 2, 'b'))", ["a", "b"], "array", "api/sql#map_values"),
    Idiom(
        "map_values(map_concat(map(1, 'a', 2, 'b'), map(3, 'c')))",
        ["a", "b", "c"],
        "array",
        "api/sql#map_concat: {1 -> a, 2 -> b, 3 -> c}",
    ),
    Idiom(
        "timestamp_millis(1230219000123)",
        TS(2008, 12, 25, 15, 30, 0, 123000),
        "timestamp",
        "api/sql#timestamp_millis: 07:30:00.123 in America/Los_Angeles (UTC-8) is 15:30 UTC",
    ),
    Idiom(
        "timestamp_seconds(1230219000)",
        TS(2008, 12, 25, 15, 30),
        "timestamp",
        "api/sql#timestamp_seconds: 07:30:00 in America/Los_Angeles is 15:30 UTC",
    ),
    Idiom(
        "url_decode('https%3A%2F%2Fspark.apache.org')",
        "https://spark.apache.org",
        "string",
        "api/sql#url_decode",
    ),
    Idiom("year(now()) >= 2024", True, "boolean", "api/sql#now"),
    Idiom("mean(col)", 20 / 3, "double", "api/sql#mean", "g"),
    Idiom("std(col)", math.sqrt(25 / 3), "double", "api/sql#std (sample)", "g"),
    Idiom("every(col > 4)", True, "boolean", "api/sql#every: NULLs ignored", "g"),
    Idiom("some(col > 9)", True, "boolean", "api/sql#some", "g"),
    Idiom("try_sum(col)", 20, "integer", "api/sql#try_sum", "g"),
    Idiom("try_avg(col)", 20 / 3, "double", "api/sql#try_avg", "g"),
]

# Edge cases without an example in the reference: the values Spark 3.5.9 gave (ANSI off, UTC).
SPARK_359 = "Spark 3.5.9"
IDIOMS += [
    Idiom("round(1.005D, 2)", 1.01, "double", f"round HALF_UP of the double's text; {SPARK_359}"),
    Idiom("round(2.675D, 2)", 2.68, "double", f"round HALF_UP of the double's text; {SPARK_359}"),
    Idiom("locate('bar', 'foobarbar', 0)", 0, "integer", f"locate: pos < 1 is 0; {SPARK_359}"),
    Idiom("substring('Spark', 2, -1)", "", "string", f"negative length: ''; {SPARK_359}"),
    Idiom("left('abc', -1)", "", "string", f"left: negative length: ''; {SPARK_359}"),
    Idiom("'a_c' LIKE 'a\\\\_c'", True, "boolean", "LIKE: backslash escapes by default"),
    Idiom("'abc' LIKE 'a\\\\_c'", False, "boolean", "LIKE: an escaped _ is a literal _"),
    Idiom("sign(-0.0)", 0.0, "double", f"signum is a double; {SPARK_359}"),
    Idiom("ln(0)", None, "double", f"ln of a value <= 0 is NULL; {SPARK_359}"),
    Idiom("log(10, 0)", None, "double", f"log of a value <= 0 is NULL; {SPARK_359}"),
    Idiom("date('2020-02-30')", None, "date", f"an impossible date is NULL; {SPARK_359}"),
    Idiom("to_date('2020-02-30')", None, "date", f"an impossible date is NULL; {SPARK_359}"),
    Idiom("make_date(2020, 2, 30)", None, "date", f"make_date: invalid is NULL; {SPARK_359}"),
    Idiom("reverse(array(1, 2, 3))", [3, 2, 1], "array", "api/sql#reverse of an array"),
    Idiom("replace('ABCabc', 'abc')", "ABC", "string", "api/sql#replace: the default is ''"),
    Idiom("add_months('2020-02-29', 12)", D(2021, 2, 28), "date", f"month end; {SPARK_359}"),
    Idiom(
        "ts + INTERVAL 90 MINUTES",
        TS(2015, 3, 5, 11, 2, 5, 359000),
        "timestamp",
        "timestamp + minutes stays a timestamp",
    ),
]

# Spark built-ins sqlglot models but DuckDB lacks, given Spark's meaning.
IDIOMS += [
    Idiom("negative(1)", -1, "integer", "api/sql#negative"),
    Idiom("rint(12.3456)", 12.0, "double", "api/sql#rint"),
    Idiom("sec(0)", 1.0, "double", "api/sql#sec"),
    Idiom("csc(1)", 1.1883951057781212, "double", "api/sql#csc"),
    Idiom("current_timezone()", "UTC", "string", "api/sql#current_timezone: the session's"),
    Idiom("try_add(1, 2)", 3, "integer", "api/sql#try_add"),
    Idiom("try_add(2147483647, 1)", None, "integer", "api/sql#try_add: NULL on overflow"),
    Idiom("try_subtract(-2147483648, 1)", None, "integer", "api/sql#try_subtract"),
    Idiom("try_multiply(2, 3)", 6, "integer", "api/sql#try_multiply"),
    Idiom("elt(1, 'scala', 'java')", "scala", "string", "api/sql#elt"),
    Idiom("elt(3, 'scala', 'java')", None, "string", "elt: out of range is NULL (ANSI off)"),
    Idiom(
        "regexp_substr('Steven Jones and Stephen Smith are the best players', 'Ste(v|ph)en')",
        "Steven",
        "string",
        "api/sql#regexp_substr",
    ),
    Idiom("regexp_substr('Steven Jones', 'Jeck')", None, "string", "api/sql#regexp_substr"),
]

# Idioms no engine gives Spark's meaning to: refused at validate, naming the function.
REFUSED = [
    ("split('oneAtwoBthreeC', '[ABC]', 2)", "split", "element_at"),
    ("split(s, ' ', i)", "split", "element_at"),
    ("trunc(d, s)", "trunc", "literal"),
    ("date_trunc('fortnight', ts)", "date_trunc", "one of"),
    ("crc32(s)", "crc32", "sha2"),
    ("xxhash64(s)", "xxhash64", "sha2"),
    ("array_union(array(1, 2), array(2, 3))", "array_union", "concat"),
    ("format_number(x, 2)", "format_number", "round"),
    ("soundex(s)", "soundex", "levenshtein"),
    ("parse_url('http://spark.apache.org/path?query=1', 'HOST')", "parse_url", "regexp_extract"),
    ("str_to_map('a:1,b:2', ',', ':')", "str_to_map", "split"),
    ("width_bucket(x, 0, 10, 5)", "width_bucket", "docs/spark-sql.md"),
    ("date_format(d, 'QQ')", "date_format", "quarter(d)"),
    ("date_format(ts, 'kk:mm')", "date_format", "H, h"),
    ("date_format(d, s)", "date_format", "literal"),
    ("to_date(s, 'yyyy \\'at\\' dd')", "to_date", "concat"),
]


class SqlEngine(Protocol):
    """What the suite needs of an engine: one SELECT, its single value and type family."""

    def select(self, sql: str) -> tuple[object, str]: ...


class LocalEngine:
    """The local engine's path of a SQL step: validate, translate, run on its connection."""

    def __init__(self) -> None:
        self.con = DuckDBEngine()._connect({"t": T, "g": G})

    def select(self, sql: str) -> tuple[object, str]:
        query = sqlmod.parse(sql)
        sqlmod.check_functions(query, sql)
        sqlmod.validate(query, sql, SCHEMAS)
        table = self.con.sql(to_duckdb(query, self.con)).to_arrow_table()
        return table.column(0)[0].as_py(), arrow_family(table.schema.types[0])


class SparkSessionEngine:
    """Spark itself, where pyspark is installed: the reference the expected values state.

    Spark 3.5.9 (local[1], ANSI off, session time zone UTC) gave every expected value and
    type family of IDIOMS; the refused idioms run there (they are refused for the local
    engine's sake).
    """

    def __init__(self) -> None:
        from pyspark.sql import SparkSession

        self.spark = (
            SparkSession.builder.master("local[1]")
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        for name, table in (("t", T), ("g", G)):
            ddl = ", ".join(f"{c} {t}" for c, t in SCHEMAS[name].items())
            rows = [tuple(r.values()) for r in table.to_pylist()]
            self.spark.createDataFrame(rows, schema=ddl).createOrReplaceTempView(name)

    def select(self, sql: str) -> tuple[object, str]:
        frame = self.spark.sql(sql)
        spark_type = frame.schema[0].dataType.simpleString()
        return frame.collect()[0][0], spark_family(spark_type)


def spark_family(spark_type: str) -> str:
    names = {"int": "integer", "bigint": "integer", "smallint": "integer", "tinyint": "integer"}
    names |= {"double": "double", "float": "double", "string": "string", "date": "date"}
    names |= {"boolean": "boolean", "timestamp": "timestamp", "timestamp_ntz": "timestamp"}
    for prefix, family in (("decimal", "decimal"), ("array", "array")):
        if spark_type.startswith(prefix):
            return family
    return names.get(spark_type, spark_type)


ENGINES: dict[str, type[SqlEngine]] = {"local": LocalEngine}
if importlib.util.find_spec("pyspark") is not None and shutil.which("java"):
    ENGINES["spark"] = SparkSessionEngine


def arrow_family(dtype: pa.DataType) -> str:
    """The type family of a result column, as it reaches the lake."""
    checks = [
        (pa.types.is_integer, "integer"),
        (pa.types.is_floating, "double"),
        (pa.types.is_decimal, "decimal"),
        (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), "string"),
        (pa.types.is_date, "date"),
        (pa.types.is_timestamp, "timestamp"),
        (pa.types.is_boolean, "boolean"),
        (lambda t: pa.types.is_list(t) or pa.types.is_large_list(t), "array"),
    ]
    return next((name for check, name in checks if check(dtype)), str(dtype))


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(name, marks=pytest.mark.spark if name == "spark" else ())
        for name in sorted(ENGINES)
    ],
)
def engine(request: pytest.FixtureRequest) -> SqlEngine:
    return ENGINES[request.param]()


@pytest.mark.parametrize("idiom", IDIOMS, ids=[i.expr for i in IDIOMS])
def test_an_idiom_gives_sparks_value_and_type(engine: SqlEngine, idiom: Idiom) -> None:
    value, family = engine.select(f"SELECT {idiom.expr} AS v FROM {idiom.table}")
    assert family == idiom.family, f"{idiom.expr}: {family}, Spark: {idiom.family}"
    if isinstance(idiom.value, float):
        assert value == pytest.approx(idiom.value, rel=1e-12), idiom.source
    else:
        assert value == idiom.value, idiom.source


@pytest.mark.parametrize(("expr", "name", "fix"), REFUSED, ids=[r[0] for r in REFUSED])
def test_an_idiom_without_sparks_meaning_is_refused(expr: str, name: str, fix: str) -> None:
    sql = f"SELECT a,\n  {expr} AS v\nFROM t"
    query = sqlmod.parse(sql)
    with pytest.raises(sqlmod.SqlProblem) as caught:
        sqlmod.check_functions(query, sql)
    assert caught.value.message.startswith(f"{name}()") or f"{name}(" in caught.value.message
    assert caught.value.line == 2
    assert caught.value.fix and fix in caught.value.fix


def test_the_refused_typed_builtins_are_still_sqlglot_classes() -> None:
    """A refusal by sqlglot class name would silently lapse if sqlglot renamed the class."""
    assert [name for name in NO_LOCAL_EQUIVALENT if not hasattr(exp, name)] == []


def test_every_unmodelled_spark_builtin_is_translated_or_refused() -> None:
    """A name added to the allow-list needs an idiom here, or a refusal."""
    covered = {name for name in SPARK_UNMODELLED if any(f"{name}(" in i.expr for i in IDIOMS)}
    assert SPARK_UNMODELLED - covered - set(REFUSED_FUNCTIONS) == set()


def test_the_translation_is_typed_by_the_step_inputs() -> None:
    """A DATE column plus an interval stays a DATE; a TIMESTAMP column stays a TIMESTAMP."""
    con = DuckDBEngine()._connect({"t": T})
    query = sqlmod.parse("SELECT d + INTERVAL 1 DAY AS a, ts + INTERVAL 1 DAY AS b FROM t")
    types = con.sql(to_duckdb(query, con)).to_arrow_table().schema.types
    assert [arrow_family(t) for t in types] == ["date", "timestamp"]
    untyped = con.sql(to_duckdb(query)).to_arrow_table().schema.types  # no connection: no types
    assert arrow_family(untyped[0]) == "timestamp"
