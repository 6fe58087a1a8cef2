"""The site's ISO 22400 elements over a window in one SQL query over the raw events: the baselines of
``bench_kpi_rollups``, as an analyst would write them for DuckDB and for PostgreSQL.

The query does the same work as the project's raw path (``analytics.kpi.compute_elements`` over every machine)
and gives the same sums: each state lasts until the machine's next event (of several at one instant the last
stored holds); the scheduled time comes from the plant's shift calendar, given as a table of disjoint intervals
with the scheduled seconds before each (``planned``), so that the scheduled time inside any span is a difference
of two look-ups of the cumulative function F(t):

- APT and ASUT: all the time in ``running`` and ``setup`` (inside or outside the schedule: outside it is overtime);
- PDOT: scheduled time in ``planned_stop`` or ``no_order``; ADET: scheduled time in ``down`` or ``idle``;
- overtime: time in ``running`` or ``setup`` outside the schedule; PBT = scheduled - PDOT + overtime;
- unknown: scheduled time before a machine's first state event;
- failures: runs of ``down`` whose first scheduled instant lies in the window;
- counts, PRU x PQ and the units without a PRU.

Times are seconds from the window's start (doubles keep microseconds at that scale), and ``planned`` holds the
scheduled intervals of the window (F(0) = 0): the benchmark's history starts with the window, so no state run
begins before it.  The look-up of F is an
``ASOF JOIN`` in DuckDB and an index look-up (``LATERAL ... LIMIT 1``) in PostgreSQL.
"""

from __future__ import annotations

from shopfloor.analytics.kpi import KpiElements

_STATES_AND_COUNTS = """
starts AS (
    SELECT machine_id, max(ts) AS t0 FROM events WHERE kind = 'state' AND ts <= 0 GROUP BY machine_id
),
sev AS (
    SELECT e.machine_id, e.id, e.ts, e.state FROM events e LEFT JOIN starts s ON s.machine_id = e.machine_id
    WHERE e.kind = 'state' AND e.ts < {w1} AND e.ts >= coalesce(s.t0, 0)
),
segs AS (
    SELECT machine_id, id, state, ts AS a_raw,
           coalesce(lead(ts) OVER (PARTITION BY machine_id ORDER BY ts, id), {w1}) AS b_raw
    FROM sev
),
ne AS (
    SELECT machine_id, id, state, a_raw, b_raw, greatest(a_raw, 0) AS a, least(b_raw, {w1}) AS b
    FROM segs WHERE b_raw > a_raw
),
flagged AS (
    SELECT ne.*, CASE WHEN coalesce(lag(state) OVER (PARTITION BY machine_id ORDER BY a_raw, id), '') <> state
                      THEN 1 ELSE 0 END AS new_run
    FROM ne
),
runs AS (
    SELECT flagged.*, sum(new_run) OVER (PARTITION BY machine_id ORDER BY a_raw, id ROWS UNBOUNDED PRECEDING) AS run
    FROM flagged
),
down_runs AS (
    SELECT machine_id, run, min(a_raw) AS r0, least(max(b_raw), {w1}) AS r1 FROM runs WHERE state = 'down'
    GROUP BY machine_id, run
),
firsts AS (
    SELECT m.machine_id, greatest(least(coalesce(min(e.ts), {w1}), {w1}), 0) AS t
    FROM scope m LEFT JOIN events e ON e.machine_id = m.machine_id AND e.kind = 'state' AND e.ts < {w1}
    GROUP BY m.machine_id
),
counts AS (
    SELECT e.kind, sum(e.quantity) AS q, sum(e.quantity * p.pru) AS ideal,
           sum(CASE WHEN p.pru IS NULL THEN e.quantity ELSE 0 END) AS without_pru
    FROM events e JOIN scope m ON m.machine_id = e.machine_id
    LEFT JOIN pru p ON p.machine_id = e.machine_id AND p.product = e.product
    WHERE e.kind <> 'state' AND e.ts >= 0 AND e.ts < {w1} AND e.quantity <> 0
    GROUP BY e.kind
)"""

_TOTALS = """
timed AS (
    SELECT sum(CASE WHEN state = 'running' THEN b - a ELSE 0 END) AS apt,
           sum(CASE WHEN state = 'setup' THEN b - a ELSE 0 END) AS asut,
           sum(CASE WHEN state IN ('planned_stop', 'no_order') THEN fb - fa ELSE 0 END) AS pdot,
           sum(CASE WHEN state IN ('down', 'idle') THEN fb - fa ELSE 0 END) AS adet,
           sum(CASE WHEN state = 'down' THEN fb - fa ELSE 0 END) AS down,
           sum(CASE WHEN state IN ('running', 'setup') THEN (b - a) - (fb - fa) ELSE 0 END) AS overtime
    FROM timed_spans
)
SELECT
    (SELECT count(*) FROM scope) * {scheduled} - coalesce(t.pdot, 0) + coalesce(t.overtime, 0) AS pbt_s,
    coalesce(t.apt, 0), coalesce(t.asut, 0), coalesce(t.adet, 0), coalesce(t.pdot, 0),
    (SELECT coalesce(sum(ft), 0) FROM unknown) AS unknown_s,
    coalesce(t.overtime, 0), coalesce(t.down, 0),
    (SELECT count(*) FROM failures WHERE fb >= 0 AND fb < {w1} AND fb < r1) AS failures,
    (SELECT coalesce(sum(q), 0) FROM counts) AS pq,
    (SELECT coalesce(sum(q), 0) FROM counts WHERE kind = 'good') AS gq,
    (SELECT coalesce(sum(q), 0) FROM counts WHERE kind = 'scrap') AS sq,
    (SELECT coalesce(sum(q), 0) FROM counts WHERE kind = 'rework') AS rq,
    (SELECT coalesce(sum(ideal), 0) FROM counts) AS ideal_s,
    (SELECT coalesce(sum(without_pru), 0) FROM counts) AS pq_without_pru
FROM timed t
"""


def duckdb_query(w1: float, scheduled: float) -> str:
    """``events(machine_id, id, ts, kind, state, quantity, product)``, ``planned(ps, pe, cum, next_ps)``,
    ``scope(machine_id)`` and ``pru(machine_id, product, pru)`` as DuckDB tables, times in seconds from the
    window's start; ``w1``: the window's end (already cut at now); ``scheduled``: F(w1) - F(0)."""
    f = "coalesce({p}.cum + least({t}, {p}.pe) - {p}.ps, 0)"
    first_busy = (
        "CASE WHEN p.ps IS NULL THEN (SELECT min(ps) FROM planned) WHEN d.r0 < p.pe THEN d.r0 ELSE p.next_ps END"
    )
    return (
        "WITH"
        + _STATES_AND_COUNTS.format(w1=w1)
        + f""",
timed_spans AS (
    SELECT n.state, n.a, n.b, {f.format(p="pa", t="n.a")} AS fa, {f.format(p="pb", t="n.b")} AS fb
    FROM ne n ASOF LEFT JOIN planned pa ON n.a >= pa.ps ASOF LEFT JOIN planned pb ON n.b >= pb.ps
),
unknown AS (SELECT {f.format(p="p", t="x.t")} AS ft FROM firsts x ASOF LEFT JOIN planned p ON x.t >= p.ps),
failures AS (
    SELECT {first_busy} AS fb, d.r1 FROM down_runs d ASOF LEFT JOIN planned p ON d.r0 >= p.ps
),"""
        + _TOTALS.format(w1=w1, scheduled=scheduled)
    )


def postgresql_query(w1: float, scheduled: float) -> str:
    """The same query for PostgreSQL: ``events`` is a view of the store's ``machine_events`` in seconds from the
    window's start, and ``planned``, ``scope`` and ``pru`` are temporary tables (``planned`` indexed on ``ps``)."""

    def f(t: str) -> str:
        return f"coalesce((SELECT cum + least({t}, pe) - ps FROM planned WHERE ps <= {t} ORDER BY ps DESC LIMIT 1), 0)"

    first_busy = (
        "coalesce((SELECT CASE WHEN d.r0 < pe THEN d.r0 ELSE next_ps END FROM planned WHERE ps <= d.r0"
        " ORDER BY ps DESC LIMIT 1), (SELECT min(ps) FROM planned))"
    )
    return (
        "WITH"
        + _STATES_AND_COUNTS.format(w1=w1)
        + f""",
timed_spans AS (SELECT n.state, n.a, n.b, {f("n.a")} AS fa, {f("n.b")} AS fb FROM ne n),
unknown AS (SELECT {f("x.t")} AS ft FROM firsts x),
failures AS (SELECT {first_busy} AS fb, d.r1 FROM down_runs d),"""
        + _TOTALS.format(w1=w1, scheduled=scheduled)
    )


def elements(row) -> KpiElements:
    names = [
        "pbt_s", "apt_s", "asut_s", "adet_s", "pdot_s", "unknown_s", "overtime_s", "down_s", "failures", "pq", "gq",
        "sq", "rq", "ideal_s", "pq_without_pru",
    ]  # fmt: skip
    return KpiElements(**{n: (float(v) if n.endswith("_s") else int(v)) for n, v in zip(names, row)})
