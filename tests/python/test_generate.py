"""The synthetic generator: determinism, exact row counts, folder output, quirk rates, bounded memory.
Pure Python (no Spark): files are read back with the csv module."""

from __future__ import annotations

import csv
import gzip
import io
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from segmentation.generate import COLUMNS, generate

NON_MERCHANDISE = {"POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "B"}


def _read(path: Path) -> list[list[str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == COLUMNS
    return rows[1:]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> list[list[str]]:
    path = tmp_path_factory.mktemp("gen") / "s.csv.gz"
    generate(path, rows=60_000, seed=11, with_rejects=True, chunk_rows=25_000)
    return _read(path)


def test_deterministic_for_a_seed(tmp_path):
    a = generate(tmp_path / "a.csv.gz", rows=5_000, seed=3, chunk_rows=1_500)
    b = generate(tmp_path / "b.csv.gz", rows=5_000, seed=3, chunk_rows=1_500)
    c = generate(tmp_path / "c.csv.gz", rows=5_000, seed=4, chunk_rows=1_500)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


@pytest.mark.parametrize("rows", [1, 7, 1_001])
def test_exact_row_count_plain_csv(tmp_path, rows):
    path = generate(tmp_path / "x.csv", rows=rows, seed=1, chunk_rows=300)
    assert len(_read(path)) == rows


def test_folder_output_is_part_files(tmp_path, monkeypatch):
    import segmentation.generate as gen

    monkeypatch.setattr(gen, "PART_ROWS", 1_000)  # small parts so the test stays fast
    out = generate(tmp_path / "parts", rows=2_500, seed=5, chunk_rows=400)
    parts = sorted(out.glob("part-*.csv.gz"))
    assert [p.name for p in parts] == ["part-00000.csv.gz", "part-00001.csv.gz", "part-00002.csv.gz"]
    counts = [len(_read(p)) for p in parts]
    assert counts == [1_000, 1_000, 500]
    # Invoice numbers continue across parts (state carries over): no invoice restarts at the first number.
    first_invoices = [_read(p)[0][0] for p in parts]
    assert len(set(first_invoices)) == 3


def test_quirk_rates(sample):
    n = len(sample)
    share = lambda predicate: sum(1 for r in sample if predicate(r)) / n  # noqa: E731
    assert 0.2 <= share(lambda r: r[6] == "") <= 0.3
    assert 0.01 <= share(lambda r: r[0].startswith("C")) <= 0.03
    assert 0.002 <= share(lambda r: r[5] in ("0", "0.0")) <= 0.01
    assert 0.003 <= share(lambda r: r[1].upper() in NON_MERCHANDISE) <= 0.01
    assert 0.001 <= share(lambda r: r[1] != r[1].upper()) <= 0.006
    assert 0.02 <= share(lambda r: "/" in r[4]) <= 0.1
    assert 0.01 <= share(lambda r: r[6].endswith(".0")) <= 0.06
    assert any(r[0].startswith("A") for r in sample)
    stock_adjustments = [
        r for r in sample if r[0][:1].isdigit() and r[3].lstrip("-").isdigit() and int(r[3]) < 0
    ]
    assert stock_adjustments and all(r[6] == "" for r in stock_adjustments)
    duplicates = n - len({tuple(r) for r in sample})
    assert 0.004 <= duplicates / n <= 0.02


def test_rejects_present_per_reason(sample):
    assert sum(r[0] == "" for r in sample) >= 1
    assert sum(r[1] == "" for r in sample) >= 1
    assert {r[3] for r in sample} >= {"2.5", "abc"}
    assert sum(r[4] == "not a date" for r in sample) >= 1
    assert sum(r[5] == "x1" for r in sample) >= 1


def test_customers_invoices_and_cancellations(sample):
    valid = [r for r in sample if r[0] and r[1] and r[3].lstrip("-").isdigit()]
    purchases = [r for r in valid if r[0][:1].isdigit() and int(r[3]) > 0 and r[6]]
    invoices_per_customer = Counter()
    for customer, _invoice in {(r[6].removesuffix(".0"), r[0]) for r in purchases}:
        invoices_per_customer[customer] += 1
    counts = sorted(invoices_per_customer.values())
    assert counts.count(1) / len(counts) > 0.2  # many one-timers
    assert counts[-1] >= 10 * counts[len(counts) // 2]  # some VIPs
    # Invoices have several lines; some lines miss the id on an invoice that carries it.
    lines = Counter(r[0] for r in valid)
    assert sum(lines.values()) / len(lines) > 5
    ids_by_invoice: dict[str, set[str]] = {}
    for r in valid:
        ids_by_invoice.setdefault(r[0], set()).add(r[6])
    assert sum(1 for ids in ids_by_invoice.values() if "" in ids and len(ids) > 1) >= 5
    # Cancellations: units cancelled vs. units bought earlier by the same customer and stock code.
    bought: Counter = Counter()
    fates: Counter = Counter()
    for r in valid:  # file order is time order
        key = (r[6].removesuffix(".0"), r[1].upper())
        quantity = int(r[3])
        if r[0].startswith("C") and r[6]:
            fates["full" if bought[key] >= -quantity else "partial" if bought[key] > 0 else "none"] += 1
            bought[key] += quantity
        elif r[0][:1].isdigit() and quantity > 0 and r[6]:
            bought[key] += quantity
    total = sum(fates.values())
    assert fates["full"] / total > 0.6
    assert fates["none"] / total > 0.03


def test_dates_span_about_a_year(sample):
    iso = sorted(r[4] for r in sample if r[4][:4].isdigit() and len(r[4]) == 19)
    assert iso[0].startswith("2010-12-01")
    assert iso[-1] >= "2011-11-30"


def test_memory_stays_bounded(tmp_path):
    """1e6 rows in small chunks: peak RSS growth stays far below what holding the rows would need."""
    script = (
        "import resource, sys; from pathlib import Path; from segmentation.generate import generate\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"generate(Path(r'{tmp_path / 'big.csv.gz'}'), rows=1_000_000, seed=2, chunk_rows=50_000)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    growth_mib = int(
        subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    )
    size_mib = (tmp_path / "big.csv.gz").stat().st_size / 2**20
    with gzip.open(tmp_path / "big.csv.gz", "rt") as handle:
        assert sum(1 for _ in io.TextIOWrapper(handle.buffer)) == 1_000_001
    # The uncompressed CSV is ~90 MiB; a non-streaming writer would need several times that.
    assert growth_mib < 150, f"peak RSS grew by {growth_mib} MiB (output {size_mib:.0f} MiB gz)"
