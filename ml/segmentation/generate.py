"""Synthetic transactions in the UCI "Online Retail" shape, with its quirks, at constant memory.

Rows are produced in chunks with vectorised numpy and written by pyarrow's CSV writer, so any number of
rows (hundreds of millions) costs the same memory. The only state carried between chunks is bounded: a
fixed customer pool, the invoice counter and a ring buffer of recent purchase lines that cancellations
are drawn from. The same arguments and seed give byte-identical files.

Quirk rates are calibrated on the real file (online_retail.csv.gz): ~25% of lines without CustomerID,
~1.7% cancellation lines, ~0.5% zero prices (stock adjustments included), ~1% exact duplicates (0.4% copied
lines plus identical lines drawn by chance), ~0.5% non-merchandise codes,
~0.25% stock adjustments, ~0.3% lowercase stock codes.
"""

from __future__ import annotations

import gzip
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from segmentation.errors import SegmentationError

COLUMNS = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
PART_ROWS = 2_000_000  # rows per part file in folder output: several parts let Spark read in parallel
N_PRODUCTS = 3_000
RING_SIZE = 65_536  # recent purchase lines kept for cancellations to point back to
FIRST_INVOICE = 536_365
START_MINUTE = int(np.datetime64("2010-12-01T00:00", "m").astype(np.int64))
SPAN_DAYS = 373  # 2010-12-01 .. 2011-12-09, as in the UCI file

# Row shares taken from the real file (see module docstring).
P_GUEST_INVOICE = 0.24  # whole invoices without CustomerID
P_LINE_MISSING_CUSTOMER = 0.012  # single lines missing the id on an invoice that carries it
P_CANCEL_INVOICE = 0.13
P_STOCK_ADJUSTMENT_INVOICE = 0.05
P_ADJUSTMENT_INVOICE = 0.002
P_ZERO_PRICE = 0.002
P_DUPLICATE = 0.004
P_NON_MERCHANDISE = 0.0055
P_LOWERCASE = 0.003
P_ALT_DATE_FORMAT = 0.06  # M/d/yyyy H:mm
P_SHORT_DATE_FORMAT = 0.03  # yyyy-MM-dd HH:mm
P_CUSTOMER_DOT_ZERO = 0.04  # 17850.0
P_REJECT_PER_REASON = 0.0004

NON_MERCHANDISE = [  # code, description, typical price, weight
    ("POST", "POSTAGE", 18.0, 0.45),
    ("DOT", "DOTCOM POSTAGE", 120.0, 0.2),
    ("M", "Manual", 2.5, 0.18),
    ("C2", "CARRIAGE", 50.0, 0.05),
    ("D", "Discount", 10.0, 0.03),
    ("S", "SAMPLES", 30.0, 0.03),
    ("BANK CHARGES", "Bank Charges", 15.0, 0.02),
    ("AMAZONFEE", "AMAZON FEE", 1500.0, 0.02),
    ("CRUK", "CRUK Commission", 20.0, 0.01),
    ("PADS", "PADS TO MATCH ALL CUSHIONS", 0.001, 0.01),
]
COUNTRIES = [
    "Germany", "France", "EIRE", "Spain", "Netherlands", "Belgium", "Switzerland", "Portugal",
    "Australia", "Norway", "Italy", "Channel Islands", "Finland", "Cyprus", "Sweden", "Austria",
    "Denmark", "Japan", "Poland", "USA",
]  # fmt: skip
STOCK_ADJUSTMENT_NOTES = ["damaged", "?", "check", "missing", "lost", "wet damaged", "found"]
QUANTITIES = np.array([1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 25, 36, 48, 72, 96, 100, 144])
QUANTITY_P = np.array([22, 12, 6, 5, 9, 3, 4, 16, 2, 2, 6, 2, 1.5, 2, 1, 1, 1, 1.5])
_WORDS_A = ["WHITE", "RED", "PINK", "BLUE", "VINTAGE", "RETRO", "REGENCY", "JUMBO", "SMALL", "LARGE",
            "HEART", "STAR", "FLORAL", "PAISLEY", "POLKADOT", "GREEN", "IVORY", "GLASS"]  # fmt: skip
_WORDS_B = ["HANGING", "METAL", "CERAMIC", "WOODEN", "PAPER", "FELT", "ENAMEL", "TIN", "LACE", "KNITTED"]
_WORDS_C = ["T-LIGHT HOLDER", "LANTERN", "CAKE TINS", "BAG", "MUG", "BUNTING", "CLOCK", "SIGN",
            "TEACUP", "NAPKINS", "DOORSTOP", "CUSHION COVER", "HOT WATER BOTTLE", "PHOTO FRAME",
            "STORAGE JAR"]  # fmt: skip


@dataclass
class _Catalogue:
    codes: pa.Array  # merchandise, then their lowercase twins, then non-merchandise
    descriptions: pa.Array
    prices: np.ndarray
    n_merch: int
    popularity_cdf: np.ndarray  # over the merchandise products
    lower_twin: np.ndarray  # product -> index of its lowercase twin, or -1
    non_merch_first: int
    non_merch_cdf: np.ndarray


def _catalogue(rng: np.random.Generator) -> _Catalogue:
    numbers = rng.choice(np.arange(10_000, 100_000), N_PRODUCTS, replace=False)
    suffixed = rng.random(N_PRODUCTS) < 0.25
    letters = np.array(list("ABCDEFG"))[rng.integers(0, 7, N_PRODUCTS)]
    codes = [f"{n}{s if f else ''}" for n, s, f in zip(numbers, letters, suffixed, strict=True)]
    a, b, c = (rng.integers(0, len(w), N_PRODUCTS) for w in (_WORDS_A, _WORDS_B, _WORDS_C))
    comma = rng.random(N_PRODUCTS) < 0.05  # some descriptions need CSV quoting
    descriptions = [
        f"{_WORDS_C[k]}, {_WORDS_A[i]} {_WORDS_B[j]}" if q else f"{_WORDS_A[i]} {_WORDS_B[j]} {_WORDS_C[k]}"
        for i, j, k, q in zip(a, b, c, comma, strict=True)
    ]
    prices = np.round(np.clip(rng.lognormal(np.log(2.5), 0.8, N_PRODUCTS), 0.1, 300), 2)
    twins = np.flatnonzero(suffixed)
    lower_twin = np.full(N_PRODUCTS, -1)
    lower_twin[twins] = N_PRODUCTS + np.arange(len(twins))
    all_codes = codes + [codes[i].lower() for i in twins] + [nm[0] for nm in NON_MERCHANDISE]
    all_desc = descriptions + [descriptions[i] for i in twins] + [nm[1] for nm in NON_MERCHANDISE]
    all_prices = np.concatenate([prices, prices[twins], [nm[2] for nm in NON_MERCHANDISE]])
    popularity = 1.0 / np.arange(1, N_PRODUCTS + 1) ** 0.8
    weights = np.array([nm[3] for nm in NON_MERCHANDISE])
    return _Catalogue(
        codes=pa.array(all_codes),
        descriptions=pa.array(all_desc),
        prices=all_prices,
        n_merch=N_PRODUCTS,
        popularity_cdf=np.cumsum(popularity) / popularity.sum(),
        lower_twin=lower_twin,
        non_merch_first=N_PRODUCTS + len(twins),
        non_merch_cdf=np.cumsum(weights) / weights.sum(),
    )


@dataclass
class _Customers:
    ids: np.ndarray
    cdf: np.ndarray  # Pareto activity: a few VIPs, many one-timers
    start: np.ndarray  # activity window in [0, 1] of the date range: gives a spread of recency
    end: np.ndarray
    country: np.ndarray  # index into the country list (0 = United Kingdom)


def _customers(rng: np.random.Generator, rows: int) -> _Customers:
    # A bounded pool; about one customer per 60 rows, so ~2/3 of them appear (UCI: 4,372 in 541,909 rows).
    n = int(np.clip(rows // 60, 50, 2_000_000))
    weight = np.minimum(rng.pareto(1.3, n), 150) + 0.05  # capped so no one customer dominates
    start = np.where(rng.random(n) < 0.35, 0.0, rng.random(n) * 0.95)
    churned = rng.random(n) < 0.4
    end = np.where(churned, start + (1 - start) * rng.random(n), 1.0)
    country = np.where(rng.random(n) < 0.89, 0, rng.integers(1, len(COUNTRIES) + 1, n))
    return _Customers(12_346 + np.arange(n), np.cumsum(weight) / weight.sum(), start, end, country)


class _Ring:
    """The last RING_SIZE purchase lines of known customers (customer, product, quantity, price, invoice)."""

    def __init__(self) -> None:
        self.cust = np.empty(0, np.int64)
        self.prod = np.empty(0, np.int64)
        self.qty = np.empty(0, np.int64)
        self.price = np.empty(0, np.float64)
        self.inv = np.empty(0, np.int64)

    def extend(self, cust, prod, qty, price, inv) -> None:  # noqa: ANN001 - numpy arrays
        self.cust = np.concatenate([self.cust, cust])[-RING_SIZE:]
        self.prod = np.concatenate([self.prod, prod])[-RING_SIZE:]
        self.qty = np.concatenate([self.qty, qty])[-RING_SIZE:]
        self.price = np.concatenate([self.price, price])[-RING_SIZE:]
        self.inv = np.concatenate([self.inv, inv])[-RING_SIZE:]


class _Generator:
    def __init__(self, rows: int, seed: int, with_rejects: bool) -> None:
        self.rows = rows
        self.with_rejects = with_rejects
        self.rng = np.random.default_rng(seed)
        self.catalogue = _catalogue(self.rng)
        self.customers = _customers(self.rng, rows)
        self.ring = _Ring()
        self.next_invoice = FIRST_INVOICE
        self.done = 0  # rows produced so far
        self.country_names = pa.array(["United Kingdom", *COUNTRIES])

    def chunk(self, n: int) -> pa.Table:
        rng, cat = self.rng, self.catalogue
        # ---- invoices: kind, size, start row, time
        kinds_list, sizes_list, total = [], [], 0
        while total < n:
            m = max(16, n // 12)
            kind = rng.choice(4, m, p=[
                1 - P_CANCEL_INVOICE - P_STOCK_ADJUSTMENT_INVOICE - P_ADJUSTMENT_INVOICE,
                P_CANCEL_INVOICE, P_STOCK_ADJUSTMENT_INVOICE, P_ADJUSTMENT_INVOICE,
            ])  # fmt: skip  # 0 purchase, 1 cancellation, 2 stock adjustment, 3 bad-debt adjustment
            size = np.where(
                kind == 0, rng.geometric(1 / 21, m), np.where(kind == 1, rng.geometric(1 / 2.4, m), 1)
            )
            kinds_list.append(kind)
            sizes_list.append(size)
            total += int(size.sum())
        kind, size = np.concatenate(kinds_list), np.concatenate(sizes_list)
        ends = np.cumsum(size)
        n_inv = int(np.searchsorted(ends, n)) + 1
        kind, size = kind[:n_inv], size[:n_inv].copy()
        size[-1] -= int(ends[n_inv - 1]) - n  # the last invoice is cut at the chunk's end
        if self.done == 0 and not (kind == 3).any() and n_inv > 2:
            kind[1], size[1] = 3, 1  # every output has at least one `A` adjustment...
            size[-1] += int(n - size.sum())  # ...and still exactly n rows
        inv_start = np.concatenate([[0], np.cumsum(size)[:-1]])
        inv_no = self.next_invoice + np.arange(n_inv)
        self.next_invoice += n_inv
        t = (self.done + inv_start + 0.5) / self.rows  # position in the date range, monotone in rows
        day_pos = t * SPAN_DAYS
        inv_minute = START_MINUTE + np.floor(day_pos) * 1440 + 7 * 60 + np.floor((day_pos % 1) * 13 * 60)
        guest = (kind == 0) & (rng.random(n_inv) < P_GUEST_INVOICE)
        inv_cust = self._pick_customers(t)
        inv_dot_zero = rng.random(n_inv) < P_CUSTOMER_DOT_ZERO
        u = rng.random(n_inv)
        inv_format = np.where(
            u < P_ALT_DATE_FORMAT, 1, np.where(u < P_ALT_DATE_FORMAT + P_SHORT_DATE_FORMAT, 2, 0)
        )
        guest_country = np.where(rng.random(n_inv) < 0.9, 0, rng.integers(1, len(COUNTRIES) + 1, n_inv))

        # ---- lines (everything first drawn as a purchase, then specialised by invoice kind)
        line_inv = np.repeat(np.arange(n_inv), size)
        lkind = kind[line_inv]
        prod = np.searchsorted(cat.popularity_cdf, rng.random(n))
        qty = rng.choice(QUANTITIES, n, p=QUANTITY_P / QUANTITY_P.sum())
        qty = np.where(rng.random(n) < 0.004, qty * rng.integers(10, 200, n), qty)  # rare bulk orders
        price = np.round(
            cat.prices[prod] * np.where(rng.random(n) < 0.1, 0.85, 1.0), 2
        )  # some wholesale prices
        cust = inv_cust[line_inv].copy()
        has_cust = ~guest[line_inv] & (lkind == 0)
        desc_override = np.full(n, -1)  # index into STOCK_ADJUSTMENT_NOTES, or -2 for an empty text

        # Cancellations copy consecutive lines of one earlier purchase invoice of a known customer.
        is_cand = has_cust
        cand_pos = np.flatnonzero(is_cand)
        pool_cust = np.concatenate([self.ring.cust, cust[cand_pos]])
        pool_prod = np.concatenate([self.ring.prod, prod[cand_pos]])
        pool_qty = np.concatenate([self.ring.qty, qty[cand_pos]])
        pool_price = np.concatenate([self.ring.price, price[cand_pos]])
        pool_inv = np.concatenate([self.ring.inv, inv_no[line_inv[cand_pos]]])
        c_inv = np.flatnonzero(kind == 1)
        available = len(self.ring.cust) + np.searchsorted(cand_pos, inv_start[c_inv])
        anchor = np.where(available > 0, (available * rng.random(len(c_inv))).astype(np.int64), -1)
        c_lines = np.flatnonzero(lkind == 1)
        c_of_line = np.searchsorted(c_inv, line_inv[c_lines])
        offset = c_lines - inv_start[line_inv[c_lines]]
        src = anchor[c_of_line] + offset
        ok = (anchor[c_of_line] >= 0) & (src < available[c_of_line])
        src = np.where(ok, src, 0)
        ok &= pool_inv[src] == pool_inv[np.maximum(anchor[c_of_line], 0)] if len(pool_inv) else ok
        mode = rng.random(len(c_lines))  # < .70 full, < .88 partial, else no earlier purchase
        ok &= mode < 0.88
        anchor_cust = np.where(anchor >= 0, pool_cust[np.maximum(anchor, 0)] if len(pool_cust) else 0, -1)
        line_cust = anchor_cust[c_of_line]
        cust[c_lines] = np.where(line_cust >= 0, line_cust, cust[c_lines])
        src_qty = pool_qty[src] if len(pool_qty) else np.ones(len(c_lines), np.int64)
        partial = (mode >= 0.70) & (src_qty > 1)
        cancel_qty = np.where(
            partial, 1 + (rng.random(len(c_lines)) * (src_qty - 1)).astype(np.int64), src_qty
        )
        prod[c_lines] = np.where(ok, pool_prod[src] if len(pool_prod) else 0, prod[c_lines])
        price[c_lines] = np.where(ok, pool_price[src] if len(pool_price) else 0, price[c_lines])
        qty[c_lines] = -np.where(ok, cancel_qty, qty[c_lines])

        # Stock adjustments: negative quantity, no customer, price 0, a note or nothing as description.
        s_lines = np.flatnonzero(lkind == 2)
        qty[s_lines] = -rng.integers(1, 100, len(s_lines))
        price[s_lines] = 0.0
        desc_override[s_lines] = rng.integers(-2, len(STOCK_ADJUSTMENT_NOTES), len(s_lines))
        # Bad-debt adjustments: code B, quantity 1, a large price (sometimes negative), no customer.
        a_lines = np.flatnonzero(lkind == 3)
        qty[a_lines] = 1
        price[a_lines] = np.round(rng.uniform(1000, 12000, len(a_lines)), 2) * np.where(
            rng.random(len(a_lines)) < 0.6, -1, 1
        )

        # Purchase-line quirks.
        p_lines = np.flatnonzero(lkind == 0)
        r = rng.random(len(p_lines))
        nm = p_lines[r < P_NON_MERCHANDISE]
        prod[nm] = cat.non_merch_first + np.searchsorted(cat.non_merch_cdf, rng.random(len(nm)))
        qty[nm] = 1
        price[nm] = cat.prices[prod[nm]]
        zero = p_lines[(r >= P_NON_MERCHANDISE) & (r < P_NON_MERCHANDISE + P_ZERO_PRICE)]
        price[zero] = 0.0
        desc_override[zero[rng.random(len(zero)) < 0.6]] = -2  # zero-price lines often lack a description
        twin = cat.lower_twin[np.minimum(prod, cat.n_merch - 1)]
        lower = (rng.random(n) < P_LOWERCASE / 0.25) & (prod < cat.n_merch) & (twin >= 0)
        prod = np.where(lower, twin, prod)
        line_customer = np.where(lkind == 1, True, has_cust)
        # Single lines missing the id on an invoice whose other lines carry it (exercises SPEC 3 fill-in).
        multi = size[line_inv] > 1
        line_customer &= ~(has_cust & multi & (rng.random(n) < P_LINE_MISSING_CUSTOMER))

        # Remember purchase lines for later cancellations (bounded).
        self.ring.extend(
            cust[cand_pos], prod[cand_pos], qty[cand_pos], price[cand_pos], inv_no[line_inv[cand_pos]]
        )

        # ---- text columns
        price = np.round(price, 3)
        prefix = np.where(kind == 1, "C", np.where(kind == 3, "A", ""))
        invoice = pc.binary_join_element_wise(pa.array(prefix), pc.cast(pa.array(inv_no), pa.string()), "")
        invoice = invoice.take(pa.array(line_inv))
        stock = cat.codes.take(pa.array(prod))
        desc = cat.descriptions.take(pa.array(prod))
        notes = pa.array([None, *STOCK_ADJUSTMENT_NOTES])
        desc = pc.if_else(
            pa.array(desc_override != -1), notes.take(pa.array(np.maximum(desc_override + 1, 0))), desc
        )
        a_desc = pa.array(np.where(lkind == 3, "Adjust bad debt", None), pa.string())
        desc = pc.coalesce(a_desc, desc)
        stock = pc.if_else(pa.array(lkind == 3), pa.scalar("B"), stock)
        cust_text = pc.cast(pa.array(self.customers.ids[cust]), pa.string())
        dot_zero = pa.array(inv_dot_zero[line_inv])
        cust_text = pc.if_else(dot_zero, pc.binary_join_element_wise(cust_text, ".0", ""), cust_text)
        cust_text = pc.if_else(pa.array(line_customer), cust_text, pa.scalar(None, pa.string()))
        country_idx = np.where(has_cust | (lkind == 1), self.customers.country[cust], guest_country[line_inv])
        country = self.country_names.take(pa.array(country_idx))
        # Dates are formatted once per invoice (strftime is the costliest step), then spread to lines.
        when = _format_dates(inv_minute.astype(np.int64), inv_format).take(pa.array(line_inv))
        columns = [invoice, stock, desc, pc.cast(pa.array(qty), pa.string()), when,
                   pc.cast(pa.array(price), pa.string()), cust_text, country]  # fmt: skip
        table = pa.Table.from_arrays(columns, names=COLUMNS)
        table = self._duplicates(table, n)
        if self.with_rejects:
            table = self._rejects(table, n)
        self.done += n
        return table

    def _pick_customers(self, t: np.ndarray) -> np.ndarray:
        """Customers by activity weight, redrawn (a few rounds) until active at time t."""
        c = self.customers
        pick = np.searchsorted(c.cdf, self.rng.random(len(t)))
        for _ in range(8):
            bad = (t < c.start[pick]) | (t > c.end[pick])
            if not bad.any():
                break
            pick[bad] = np.searchsorted(c.cdf, self.rng.random(int(bad.sum())))
        return np.minimum(pick, len(c.ids) - 1)

    def _duplicates(self, table: pa.Table, n: int) -> pa.Table:
        """~1% of rows become an exact copy of the row before (same invoice line printed twice)."""
        dup = self.rng.random(n) < P_DUPLICATE
        dup[0] = False
        index = np.arange(n)
        index = np.maximum.accumulate(np.where(dup, 0, index))  # a run of duplicates copies its first row
        return table.take(pa.array(index))

    def _rejects(self, table: pa.Table, n: int) -> pa.Table:
        """Rows that fail each reject reason of SPEC 2, in one disjoint set of rows per reason."""
        k = max(1, round(n * P_REJECT_PER_REASON))
        if n < 5 * k:
            return table
        rows = self.rng.choice(n, 5 * k, replace=False)
        bad = {  # column -> (rows, replacement values)
            "InvoiceNo": (rows[:k], [None]),
            "StockCode": (rows[k : 2 * k], [None]),
            "Quantity": (rows[2 * k : 3 * k], ["2.5", "abc"]),
            "InvoiceDate": (rows[3 * k : 4 * k], ["not a date"]),
            "UnitPrice": (rows[4 * k :], ["x1"]),
        }
        for name, (where, values) in bad.items():
            mask = np.zeros(n, bool)
            mask[where] = True
            choice = np.array(values, dtype=object)[np.arange(n) % len(values)]
            replacement = pa.array(np.where(mask, choice, None), pa.string())
            column = table.column(name)
            table = table.set_column(
                COLUMNS.index(name), name, pc.if_else(pa.array(mask), replacement, column.combine_chunks())
            )
        return table


def _format_dates(minutes: np.ndarray, fmt: np.ndarray) -> pa.Array:
    """Mostly yyyy-MM-dd HH:mm:ss; some M/d/yyyy H:mm and yyyy-MM-dd HH:mm, as found in UCI exports."""
    stamps = pa.array(minutes * 60, pa.timestamp("s"))
    iso = pc.strftime(stamps, format="%Y-%m-%d %H:%M:%S")
    short = pc.strftime(stamps, format="%Y-%m-%d %H:%M")
    as_text = lambda a: pc.cast(a, pa.string())  # noqa: E731
    us = pc.binary_join_element_wise(
        pc.binary_join_element_wise(
            as_text(pc.month(stamps)), as_text(pc.day(stamps)), as_text(pc.year(stamps)), "/"
        ),
        pc.binary_join_element_wise(
            as_text(pc.hour(stamps)), pc.utf8_lpad(as_text(pc.minute(stamps)), 2, "0"), ":"
        ),
        " ",
    )
    return pc.if_else(pa.array(fmt == 1), us, pc.if_else(pa.array(fmt == 2), short, iso))


def _open_sink(path: Path, stack: ExitStack) -> BinaryIO:
    raw = stack.enter_context(open(path, "wb"))  # noqa: SIM115 - closed by the stack
    if path.name.endswith(".gz"):
        # mtime=0 and no file name in the header keep the bytes identical from run to run; level 1 because
        # compression, not generation, is the bottleneck for big files.
        return stack.enter_context(
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0)
        )
    return raw


def generate(
    out: Path, *, rows: int, seed: int, with_rejects: bool = False, chunk_rows: int = 200_000
) -> Path:
    """Write `rows` synthetic rows to `out`: one file when it ends in .csv or .csv.gz, else a folder of
    part-NNNNN.csv.gz files of PART_ROWS rows each. Deterministic for given arguments."""
    if rows < 1:
        raise SegmentationError(f"rows must be at least 1, got {rows}")
    if chunk_rows < 1:
        raise SegmentationError(f"chunk_rows must be at least 1, got {chunk_rows}")
    out = Path(out)
    gen = _Generator(rows, seed, with_rejects)
    single = out.name.endswith((".csv", ".csv.gz"))
    if single:
        out.parent.mkdir(parents=True, exist_ok=True)
        parts = [(out, rows)]
    else:
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob("part-*.csv.gz"):
            stale.unlink()
        counts = [PART_ROWS] * (rows // PART_ROWS) + ([rows % PART_ROWS] if rows % PART_ROWS else [])
        parts = [(out / f"part-{i:05d}.csv.gz", c) for i, c in enumerate(counts)]
    options = pacsv.WriteOptions(quoting_style="needed")
    schema = pa.schema([pa.field(c, pa.string()) for c in COLUMNS])
    for path, count in parts:
        with ExitStack() as stack:
            writer = pacsv.CSVWriter(_open_sink(path, stack), schema, write_options=options)
            left = count
            while left > 0:
                n = min(chunk_rows, left)
                writer.write_table(gen.chunk(n))
                left -= n
            writer.close()
    return out
