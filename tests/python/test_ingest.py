"""Ingest into raw.transactions: formats, column names, line numbers, reloads and bad input (SPEC 1)."""

from __future__ import annotations

import datetime as dt
import gzip
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import ONLINE_RETAIL, ONLINE_RETAIL_II, require_file
from segmentation.ingest import TABLE, ingest_files
from segmentation.ingest.writer import source_file_in

UCI_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    data = text.encode(encoding)
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def _rows(spark, source_file: str) -> list:
    return spark.table(TABLE).where(source_file_in([source_file])).orderBy("_source_line").collect()


def _table_state(spark) -> list[tuple]:
    return sorted(
        (r["_source_file"], r["n"])
        for r in spark.sql(f"select _source_file, count(*) n from {TABLE} group by 1").collect()
    )


def test_csv_line_numbers_and_values(spark, tmp_path):
    path = _write(
        tmp_path / "lines.csv",
        f"{UCI_HEADER}\n"
        '536365,85123A,"WHITE HANGING HEART, T-LIGHT",6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n'
        "\n"  # a blank line is not a row but still counts as a physical line
        "536366,22633,,2,12/1/2010 8:28,1.85,,United Kingdom\n"
        'C536379,D,"say ""hi""",-1,2010-12-01 09:41:00,27.5,14527,France\n',
    )
    result = ingest_files(spark, [path])
    rows = _rows(spark, str(path))
    assert [r["_source_line"] for r in rows] == [2, 4, 5]
    assert rows[0]["description"] == "WHITE HANGING HEART, T-LIGHT"
    assert rows[0]["customer_id"] == "17850.0"
    assert rows[1]["invoice_date"] == "12/1/2010 8:28"
    assert rows[1]["customer_id"] in (None, "")  # empty stays empty/null, never invented
    assert rows[2]["description"] == 'say "hi"'
    assert rows[2]["quantity"] == "-1"
    assert rows[0]["_loaded_at"] is not None
    assert result.rows_per_file == {str(path): 3}
    assert "3 rows" in result.describe()


def test_line_numbers_when_spark_splits_a_plain_csv(spark, tmp_path):
    """A plain CSV is read in several partitions; line numbers must still be the physical lines."""
    body = "".join(f"{line},A,x,1,2011-01-01 10:00:00,1,1,UK\n" for line in range(2, 1_502))
    path = _write(tmp_path / "split.csv", f"{UCI_HEADER}\n{body}")
    key = "spark.sql.files.maxPartitionBytes"
    previous = spark.conf.get(key)
    spark.conf.set(key, "4096")  # ~60 KB file -> about 15 partitions
    try:
        assert spark.read.text(str(path)).rdd.getNumPartitions() > 5
        ingest_files(spark, [path])
    finally:
        spark.conf.set(key, previous)
    rows = _rows(spark, str(path))
    assert len(rows) == 1_500
    # Each row's invoice number was written as its own line number.
    assert all(int(r["invoice_no"]) == r["_source_line"] for r in rows)


def test_online_retail_ii_names_case_spaces_and_extra_columns(spark, tmp_path):
    ii = _write(
        tmp_path / "ii.csv.gz",
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "489434,85048,LED BOX,12,2009-12-01 07:45:00,6.95,13085,United Kingdom\n",
    )
    odd = _write(
        tmp_path / "odd.csv",
        "extra,country , INVOICE_NO,stock code,DESCRIPTION,quantity,invoice date,unit_price,customerid\n"
        "ignored,Spain,1,A1,d,3,2011-01-01 10:00:00,1.5,12347\n",
    )
    ingest_files(spark, [ii, odd])
    (row_ii,) = _rows(spark, str(ii))
    assert (row_ii["invoice_no"], row_ii["unit_price"], row_ii["customer_id"]) == ("489434", "6.95", "13085")
    (row_odd,) = _rows(spark, str(odd))
    assert row_odd["country"] == "Spain"
    assert row_odd["invoice_no"] == "1"
    assert row_odd["stock_code"] == "A1"
    assert "ignored" not in row_odd.asDict().values()


def test_reload_replaces_and_replace_all(spark, tmp_path):
    first = _write(
        tmp_path / "a.csv",
        f"{UCI_HEADER}\n1,A,x,1,2011-01-01 10:00:00,1,1,UK\n2,B,y,1,2011-01-01 10:00:00,1,1,UK\n",
    )
    other = _write(tmp_path / "b.csv", f"{UCI_HEADER}\n9,Z,z,1,2011-01-01 10:00:00,1,1,UK\n")
    ingest_files(spark, [first, other])
    ingest_files(spark, [first])  # loading again must not duplicate
    assert len(_rows(spark, str(first))) == 2
    _write(first, f"{UCI_HEADER}\n3,C,w,1,2011-01-01 10:00:00,1,1,UK\n")
    ingest_files(spark, [first])  # a changed file replaces its old rows; other files untouched
    assert [r["invoice_no"] for r in _rows(spark, str(first))] == ["3"]
    assert len(_rows(spark, str(other))) == 1
    result = ingest_files(spark, [other], replace_all=True)
    assert _table_state(spark) == [(str(other), 1)]
    assert result.total_rows == 1


def test_iso_8859_1_round_trips(spark, tmp_path):
    path = _write(
        tmp_path / "latin.csv",
        f"{UCI_HEADER}\n1,A,CAFÉ £5 VOUCHER,1,2011-01-01 10:00:00,5,1,Côte d'Ivoire\n",
        encoding="iso-8859-1",
    )
    ingest_files(spark, [path], encoding="ISO-8859-1")
    (row,) = _rows(spark, str(path))
    assert row["description"] == "CAFÉ £5 VOUCHER"
    assert row["country"] == "Côte d'Ivoire"
    assert row["_source_file"] == str(path)  # the original path, not the transcoded copy


def test_parquet_native_timestamp(spark, tmp_path):
    path = tmp_path / "native.parquet"
    table = pa.table(
        {
            "InvoiceNo": ["1", "2", "3"],
            "StockCode": ["A", "B", "C"],
            "Description": ["x", None, "z"],
            "Quantity": pa.array([6, -2, 1], pa.int64()),
            "InvoiceDate": pa.array([dt.datetime(2011, 1, 2, 3, 4, 5)] * 3, pa.timestamp("us")),
            "UnitPrice": [2.55, 18.0, 0.001],
            "CustomerID": [17850.0, None, 12347.0],
            "Country": ["UK", "UK", "France"],
        }
    )
    pq.write_table(table, path)
    ingest_files(spark, [path])
    rows = _rows(spark, str(path))
    assert [r["_source_line"] for r in rows] == [1, 2, 3]  # row number, documented
    assert rows[0]["invoice_date"] == "2011-01-02 03:04:05"
    assert rows[0]["quantity"] == "6" and rows[1]["quantity"] == "-2"
    assert rows[0]["unit_price"] == "2.55"
    # A whole float is written as its digits, as a CSV export would hold it (docs/spec_decisions.md).
    assert rows[0]["customer_id"] == "17850"
    assert rows[1]["customer_id"] is None


def test_xlsx_sheets_stacked(spark, tmp_path):
    import openpyxl

    path = tmp_path / "book.xlsx"
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Year 2009-2010"
    first.append(
        ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
    )
    first.append(
        ["489434", "85048", "LED BOX", 12, dt.datetime(2009, 12, 1, 7, 45), 6.95, 13085.0, "United Kingdom"]
    )
    first.append([None] * 8)  # an empty row: skipped, but numbering keeps Excel's rows
    first.append([489435, "22350", "CAT", 1, dt.datetime(2009, 12, 1, 7, 46), 2.1, None, "France"])
    second = book.create_sheet("Year 2010-2011")
    second.append(
        [
            "InvoiceNo",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
            "Country",
        ]
    )
    second.append(["C536379", "D", "Discount", -1, dt.datetime(2010, 12, 1, 9, 41), 27.5, 14527, "UK"])
    book.save(path)
    result = ingest_files(spark, [path])
    rows_1 = _rows(spark, f"{path}#Year 2009-2010")
    rows_2 = _rows(spark, f"{path}#Year 2010-2011")
    assert [r["_source_line"] for r in rows_1] == [2, 4]
    assert rows_1[0]["invoice_date"] == "2009-12-01 07:45:00"
    assert rows_1[0]["customer_id"] in ("13085", "13085.0")  # Excel may store 13085.0 as an integer
    assert rows_1[0]["unit_price"] == "6.95"
    assert rows_1[1]["invoice_no"] == "489435"
    assert [(r["invoice_no"], r["quantity"], r["_source_line"]) for r in rows_2] == [("C536379", "-1", 2)]
    assert result.total_rows == 3


def test_folder_of_files(spark, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    _write(folder / "p1.csv.gz", f"{UCI_HEADER}\n1,A,x,1,2011-01-01 10:00:00,1,1,UK\n")
    _write(
        folder / "p2.csv",
        f"{UCI_HEADER}\n2,B,x,1,2011-01-01 10:00:00,1,1,UK\n3,B,x,1,2011-01-01 10:00:00,1,1,UK\n",
    )
    (folder / "notes.txt").write_text("not data")
    result = ingest_files(spark, [folder])
    assert result.rows_per_file == {str(folder / "p1.csv.gz"): 1, str(folder / "p2.csv"): 2}


@pytest.mark.real_data
def test_real_online_retail(spark):
    path = require_file(ONLINE_RETAIL).resolve()  # the ingest records resolved paths (../shared may be a link)
    started = time.monotonic()
    result = ingest_files(spark, [path], replace_all=True)
    seconds = time.monotonic() - started
    print(f"ingest of {path.name}: {seconds:.1f} s")
    stats = spark.sql(
        "select count(*) n, max(_source_line) last, min(_source_line) first "
        f"from {TABLE} where concat(_source_file, '') = '{path}'"
    ).first()
    assert result.total_rows == 541_909
    assert (stats["n"], stats["first"], stats["last"]) == (541_909, 2, 541_910)
    # Line numbers are the physical lines: line 2 is the first row of the file.
    first = spark.sql(f"select * from {TABLE} where _source_line = 2").first()
    assert (first["invoice_no"], first["stock_code"], first["customer_id"]) == ("536365", "85123A", "17850")


@pytest.mark.real_data
def test_real_online_retail_ii_names(spark):
    path = require_file(ONLINE_RETAIL_II).resolve()
    result = ingest_files(spark, [path])
    assert result.rows_per_file[str(path)] == 525_461
    missing = spark.sql(
        f"select count(*) from {TABLE} where concat(_source_file, '') = '{path}' "
        "and (invoice_no is null or unit_price is null)"
    ).first()[0]
    assert missing == 0
