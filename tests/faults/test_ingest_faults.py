"""Faults injected into the real parts while values stream in: the `shopfloor ingest` process killed (SIGKILL)
or stopped (SIGTERM) and started again, the broker stopped for 20 s, PostgreSQL stopped for 10 s, the disk
buffer's disk full, and all of them together.  Each scenario runs its own PostgreSQL cluster and Mosquitto
broker (see ``harness``), counts the values sent, acknowledged by the broker and stored, and requires that
nothing acknowledged is lost and nothing is stored twice."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.faults.harness import Rig, count

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None, reason="needs the mosquitto broker binary")


def _check(result, fault_table) -> None:
    fault_table.append(result)
    assert result.lost == 0 and result.duplicated == 0, result
    assert result.stored >= result.acknowledged > 0, result


def _run(scenario: str, faults, fault_table, seconds: float, rate: float = 100.0, buffer_dir: Path | None = None):
    rig = Rig(buffer_dir)
    try:
        rig.ingest.start()
        rig.wait_online()
        rig.publisher.start(rate)
        started = time.monotonic()
        faults(rig)
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        rig.publisher.stop()
        rig.settle()
        code = rig.ingest.signal(signal.SIGTERM)
        assert code == 0, f"shopfloor ingest ended with {code} on SIGTERM:\n{rig.log_tail()}"
        assert rig.left_unacknowledged() == 0, "SIGTERM left messages received but not acknowledged"
        result = count(rig.pg.url, scenario, rig.publisher, rig.ingest.exit_codes)
        print(rig.log_tail())
        _check(result, fault_table)
        return result, rig
    finally:
        rig.close()


def _kill_and_restart(rig: Rig, signum: int = signal.SIGKILL, pause: float = 0.5) -> int:
    code = rig.ingest.signal(signum)
    time.sleep(pause)
    rig.ingest.start()
    return code


def test_sigkill_of_the_ingest_loses_and_doubles_nothing(fault_table):
    """Short: one SIGKILL of `shopfloor ingest` while values stream in; the broker delivers again what was
    not acknowledged, and the restarted ingest decodes it with the births it committed."""

    def faults(rig):
        time.sleep(3)
        _kill_and_restart(rig)

    _run("kill -9 (short)", faults, fault_table, seconds=8)


@pytest.mark.slow
def test_sigkill_twice(fault_table):
    def faults(rig):
        for _ in range(2):
            time.sleep(5)
            _kill_and_restart(rig)

    _run("kill -9 x2", faults, fault_table, seconds=20)


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_loses_nothing(fault_table):
    def faults(rig):
        time.sleep(5)
        code = _kill_and_restart(rig, signal.SIGTERM)
        assert code == 0

    _run("SIGTERM", faults, fault_table, seconds=15)


@pytest.mark.slow
def test_broker_stopped_for_20_s(fault_table):
    def faults(rig):
        time.sleep(5)
        rig.broker.stop()
        time.sleep(20)
        rig.broker.start()

    _run("broker stop 20 s", faults, fault_table, seconds=40)


@pytest.mark.slow
def test_postgresql_stopped_for_10_s(fault_table):
    def faults(rig):
        time.sleep(5)
        rig.pg.stop()
        time.sleep(10)
        rig.pg.start()

    _run("PostgreSQL stop 10 s and restart", faults, fault_table, seconds=30)


@pytest.mark.slow
def test_buffer_disk_full_while_the_store_is_away_and_the_ingest_restarted(fault_table, tiny_disk):
    def faults(rig):
        time.sleep(3)
        rig.pg.stop()
        time.sleep(12)  # the buffer's disk fills: the ingest stops acknowledging, the broker keeps the rest
        _kill_and_restart(rig, signal.SIGKILL)
        time.sleep(5)
        rig.pg.start()

    _run("full buffer disk (+ kill -9)", faults, fault_table, seconds=35, buffer_dir=tiny_disk / "buffer")


@pytest.mark.slow
def test_all_faults_together(fault_table, tiny_disk):
    def faults(rig):
        time.sleep(3)
        _kill_and_restart(rig)
        time.sleep(3)
        rig.pg.stop()
        time.sleep(5)
        rig.broker.stop()
        _kill_and_restart(rig, signal.SIGTERM)
        time.sleep(10)
        rig.broker.start()
        time.sleep(5)
        rig.pg.start()
        time.sleep(3)
        _kill_and_restart(rig)

    _run("all together", faults, fault_table, seconds=45, buffer_dir=tiny_disk / "buffer")
