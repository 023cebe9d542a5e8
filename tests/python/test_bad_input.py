"""Bad input, table-driven: one small file (or option) per case, run through the real `segmentation` command
in this process (typer's runner; the command reuses the test session's SparkSession), with the expected
exit code, the expected one-line message, and a check that raw.transactions holds exactly what it held
before. Cases that load fine check what they loaded.

The value cases that staging decides (repeated header, negative price, odd customer ids) are checked end to
end in test_value_cases_reach_staging_as_an_analyst_expects: one file with all of them, through the ingest
and the staging model, with the fates adding up record by record.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from segmentation.cli import app
from segmentation.ingest import TABLE

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def row(i: int, description: str = "x") -> str:
    return f"{536000 + i},A{i % 7},{description},1,2011-01-0{1 + i % 8} 10:00:00,1.5,{12000 + i % 50},UK"


def rows(n: int) -> str:
    return "".join(row(i) + "\n" for i in range(n))


def write(path: Path, text: str | bytes) -> Path:
    data = text.encode("utf-8") if isinstance(text, str) else text
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def truncated_gzip(path: Path) -> Path:
    whole = gzip.compress(f"{HEADER}\n{rows(5_000)}".encode())
    path.write_bytes(whole[: len(whole) * 2 // 3])  # a valid header and first thousand lines, then cut
    return path


def latin1_at(line: int) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        lines = [row(i) for i in range(line + 10)]
        lines[line - 2] = row(line, description="VOUCHER \u00a35")  # file line `line` (the header is line 1)
        return write(folder / f"latin1_line{line}.csv", f"{HEADER}\n" + "\n".join(lines) + "\n").with_suffix(
            ".csv"
        )

    def encode(folder: Path) -> Path:
        path = make(folder)
        path.write_bytes(path.read_text(encoding="utf-8").encode("iso-8859-1"))
        return path

    return encode


def parquet_numeric_invoices(folder: Path) -> Path:
    path = folder / "numeric.parquet"
    pq.write_table(
        pa.table(
            {
                "InvoiceNo": pa.array([536365.0, 536366.0], pa.float64()),
                "StockCode": ["A", "B"],
                "Description": ["x", "y"],
                "Quantity": [6, 2],
                "InvoiceDate": pa.array([dt.datetime(2011, 1, 2, 3, 4, 5)] * 2, pa.timestamp("us")),
                "UnitPrice": [2.55, 18.0],
                "CustomerID": [17850.0, 12606.0],
                "Country": ["UK", "UK"],
            }
        ),
        path,
    )
    return path


def workbook(folder: Path) -> Path:
    import openpyxl

    path = folder / "book.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append([536365, "A", "x", 6, dt.datetime(2011, 1, 2, 3, 4), 2.55, 17850, "UK"])
    book.save(path)
    return path


def mixed_folder(folder: Path) -> Path:
    target = folder / "mixed"
    target.mkdir()
    write(target / "a.csv", f"{HEADER}\n{rows(2)}")
    write(target / "b.csv.gz", f"{HEADER}\n{rows(3)}")
    parquet_numeric_invoices(target)
    workbook(target)
    (target / "notes.txt").write_text("not data")
    return target


@dataclass
class Case:
    name: str
    make: Callable[[Path], Path | None]  # the input file (None: the case is an option, not a file)
    args: Callable[[Path | None], list[str]]
    exit_code: int
    message: str  # a regex the output must match (the one-line error, or what the load says)
    loaded: dict[str, int] = field(default_factory=dict)  # file name -> rows, for cases that load


def ingest(path: Path | None, *extra: str) -> list[str]:
    return ["ingest", str(path), *extra]


CASES = [
    Case("empty file", lambda d: write(d / "empty.csv", ""), ingest, 2, r"empty\.csv: empty file \(no header row\)"),
    Case("header only", lambda d: write(d / "header.csv", HEADER + "\n"), ingest, 2, r"header\.csv: empty file"),
    Case(
        "missing column",
        lambda d: write(d / "no_price.csv", HEADER.replace(",UnitPrice", "") + "\n1,A,x,1,2011-01-01 10:00,1,UK\n"),
        ingest,
        2,
        r"no_price\.csv: missing required column\(s\) UnitPrice \(unit_price\)",
    ),
    Case(
        "semicolon delimiter",
        lambda d: write(d / "semi.csv", HEADER.replace(",", ";") + "\n" + rows(2).replace(",", ";")),
        ingest,
        2,
        r"semi\.csv: the header is separated by ';', not commas",
    ),
    Case("unknown format", lambda d: write(d / "data.json", "{}"), ingest, 2, r"data\.json: unknown format"),
    Case("missing file", lambda d: d / "nowhere.csv", ingest, 2, r"nowhere\.csv: no such file or folder"),
    Case(
        "truncated gzip",
        lambda d: truncated_gzip(d / "cut.csv.gz"),
        ingest,
        2,
        r"cut\.csv\.gz: the file is truncated or not a valid gzip file",
    ),
    Case(
        "wrong encoding at line 6",
        latin1_at(6),
        ingest,
        2,
        r"latin1_line6\.csv: line 6 is not valid utf-8; pass the file's encoding, e.g. --encoding ISO-8859-1",
    ),
    Case(
        "wrong encoding at line 1,501",
        latin1_at(1_501),
        ingest,
        2,
        r"latin1_line1501\.csv: line 1501 is not valid utf-8; pass the file's encoding",
    ),
    Case(
        "the same file with its encoding",
        latin1_at(1_501),
        lambda p: ingest(p, "--encoding", "ISO-8859-1"),
        0,
        r"1,511  .*latin1_line1501\.csv",
        {"latin1_line1501.csv": 1_511},
    ),
    Case(
        "unterminated quote",
        lambda d: write(d / "open_quote.csv", f'{HEADER}\n{rows(3)}536999,A,"never closed,1,2011-01-01 10:00,1,1,UK\n'),
        ingest,
        2,
        r"open_quote\.csv: line 5: a quoted field is never closed",
    ),
    Case(
        "hostile header names",
        lambda d: write(
            d / "hostile.csv",
            "'; drop table raw.transactions; --,${jndi:ldap://x},"
            + "x" * 500
            + ",\u202eecirP\n1,2,3,4\n",
        ),
        ingest,
        2,
        r"hostile\.csv: missing required column\(s\) InvoiceNo .*; the header has \"'; drop table raw",
    ),
    Case(
        "hostile file name",
        lambda d: write(d / "bad\nname;rm -rf.csv", f"{HEADER}\n{rows(2)}"),
        ingest,
        0,
        r"2 rows from 1 source",
        {"bad\nname;rm -rf.csv": 2},
    ),
    Case(
        "a record spanning lines (RFC 4180)",
        lambda d: write(
            d / "multiline.csv", f'{HEADER}\n{row(1)}\n536999,A,"two\nlines",1,2011-01-01 10:00,1,1,UK\n{row(2)}\n'
        ),
        ingest,
        0,
        r"3 rows from 1 source",
        {"multiline.csv": 3},
    ),
    Case(
        "Parquet with numeric invoice numbers",
        parquet_numeric_invoices,
        ingest,
        0,
        r"2 rows from 1 source",
        {"numeric.parquet": 2},
    ),
    Case("Excel workbook", workbook, ingest, 0, r"1 rows from 1 source", {"book.xlsx#Sheet": 1}),
    Case(
        "folder of mixed files",
        mixed_folder,
        ingest,
        0,
        r"8 rows from 4 source",
        {"a.csv": 2, "b.csv.gz": 3, "numeric.parquet": 2, "book.xlsx#Sheet": 1},
    ),
    Case("--k out of range", lambda d: None, lambda p: ["run", "--k", "99"], 2, r"k must be between 2 and 50, got 99"),
    Case(
        "injected --as-of-date",
        lambda d: None,
        lambda p: ["run", "--as-of-date", "2011-12-10'; drop table raw.transactions; --"],
        2,
        r"--as-of-date must be YYYY-MM-DD, got \"2011-12-10'; drop table",
    ),
    Case(
        "impossible --as-of-date",
        lambda d: None,
        lambda p: ["run", "--as-of-date", "2011-02-30"],
        2,
        r"--as-of-date 2011-02-30 is not a calendar date",
    ),
    Case(
        "run on a missing file",
        lambda d: d / "nowhere.csv",
        lambda p: ["run", "--data", str(p)],
        2,
        r"nowhere\.csv: no such file or folder",
    ),
]


def _state(spark) -> list[tuple]:
    if not spark.catalog.tableExists(TABLE):
        return []
    return sorted(
        tuple(r)
        for r in spark.sql(
            f"select _source_file, count(*), sum(_source_line), max(_loaded_at) from {TABLE} group by 1"
        ).collect()
    )


@pytest.fixture(scope="module")
def baseline(spark, tmp_path_factory):
    """raw.transactions holding 2,000 rows of one file before every case."""
    from segmentation.ingest import ingest_files

    path = write(tmp_path_factory.mktemp("baseline") / "baseline.csv", f"{HEADER}\n{rows(2_000)}")
    ingest_files(spark, [path], replace_all=True)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(spark, baseline, tmp_path, case: Case):
    from segmentation.ingest import ingest_files

    ingest_files(spark, [baseline], replace_all=True)
    before = _state(spark)
    assert sum(r[1] for r in before) == 2_000
    path = case.make(tmp_path)
    result = CliRunner().invoke(app, case.args(path))
    output = result.output.strip()
    assert result.exit_code == case.exit_code, output
    assert re.search(case.message, output), output
    if case.exit_code != 0:
        assert len(output.splitlines()) == 1, output  # one line, no traceback
        assert output.startswith("error: ")
        assert _state(spark) == before, "a failed command changed raw.transactions"
        return
    after = {Path(name).name: n for name, n, *_ in _state(spark)}
    for name, expected in case.loaded.items():
        assert after.get(name) == expected, after
    assert after.get("baseline.csv") == 2_000  # loading other files keeps the baseline's rows


def test_a_record_spanning_lines_keeps_its_text_and_first_line(spark, tmp_path):
    from segmentation.ingest import ingest_files
    from segmentation.ingest.writer import source_file_in

    path = write(
        tmp_path / "multi.csv",
        f'{HEADER}\n{row(1)}\n536999,A,"two\n\nlines, and a ""quote""",1,2011-01-01 10:00,1,1,UK\n{row(2)}\n',
    )
    ingest_files(spark, [path])
    found = spark.table(TABLE).where(source_file_in([str(path)])).orderBy("_source_line").collect()
    assert [r["_source_line"] for r in found] == [2, 3, 6]
    assert found[1]["description"] == 'two\n\nlines, and a "quote"'
    assert found[2]["invoice_no"] == str(536000 + 2)


def test_parquet_numbers_are_their_digits(spark, tmp_path):
    from segmentation.ingest import ingest_files
    from segmentation.ingest.writer import source_file_in

    path = parquet_numeric_invoices(tmp_path)
    ingest_files(spark, [path])
    found = spark.table(TABLE).where(source_file_in([str(path)])).orderBy("_source_line").collect()
    assert [(r["invoice_no"], r["customer_id"], r["quantity"], r["unit_price"]) for r in found] == [
        ("536365", "17850", "6", "2.55"),
        ("536366", "12606", "2", "18"),
    ]


def test_value_cases_reach_staging_as_an_analyst_expects(spark, settings, tmp_path):
    """One file with every value case of issue 24, through the ingest and dbt's staging model: each record
    gets the fate an analyst expects, and raw = rejected + duplicate + kept counts records, not lines."""
    from segmentation.dbt import run_dbt
    from segmentation.ingest import ingest_files

    path = write(
        tmp_path / "values.csv",
        f"{HEADER}\n"
        "536365,A,x,1,2011-01-01 10:00,2.5,17850,UK\n"  # line 2: kept
        f"{HEADER}\n"  # line 3: a header repeated mid-file
        "536366,A,x,1,2011-01-01 10:00,-2.5,17850,UK\n"  # 4: negative price on a purchase
        "C536367,A,x,-1,2011-01-01 11:00,-2.5,17850,UK\n"  # 5: a cancellation with a negative price is kept
        "536368,A,x,1,2011-01-01 10:00,2.5,12345.5,UK\n"  # 6: a customer id that is not whole
        "536369,A,x,1,2011-01-01 10:00,2.5,1.2345E4,UK\n"  # 7: 12345 in scientific notation
        '536370,A,"a description\nover two lines",1,2011-01-01 10:00,2.5,17850,UK\n'  # 8-9: one record
        "536365,A,x,1,2011-01-01 10:00,2.5,17850.0,UK\n",  # 10: a duplicate of line 2
    )
    ingest_files(spark, [path], replace_all=True)
    assert run_dbt(settings, ["run", "--select", "stg_online_retail__transaction_lines"]).success
    staged = {
        r["_source_line"]: (r["row_fate"], r["reject_reason"], r["customer_id"])
        for r in spark.table("staging.stg_online_retail__transaction_lines").collect()
    }
    assert staged == {
        2: ("kept", None, "17850"),
        3: ("rejected", "repeated_header", "CustomerID"),
        4: ("rejected", "negative_unit_price", "17850"),
        5: ("kept", None, "17850"),
        6: ("rejected", "bad_customer_id", None),
        7: ("kept", None, "12345"),
        8: ("kept", None, "17850"),
        10: ("duplicate", None, "17850"),
    }
    assert spark.table(TABLE).count() == len(staged) == 8  # 9 data lines, 8 records
