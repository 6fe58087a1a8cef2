"""The NC program a machine runs, as its control reports it, against the approved revision, on both stores: the
virtual plant's CNC machines report their program over OPC UA (CNC-01, CNC-02) and MTConnect (CNC-03, PROGRAM);
the ingest compares it with the NC program in force for the machine and raises a process alarm on a mismatch."""

import asyncio

from sqlalchemy import select

from shopfloor.actions import documents as docs
from shopfloor.actions.demo import sample_plant
from shopfloor.ingest.service import build_connectors
from shopfloor.ingest.writer import IngestWriter
from shopfloor.simulator.plant import VirtualPlant
from shopfloor.simulator.servers import ProtocolPlant, connected_plant
from shopfloor.store.plant import load_plant, save_plant
from shopfloor.store.schema import alarms, machines

A = "user:engineer"
CAD = "a" * 64


def _approved_program(engine, machine: str, program: str, revision: str = "1") -> None:
    code = f"NC-{machine}"
    if revision == "1":
        docs.create_document(engine, A, code=code, title=f"{machine} program", kind="nc_program", machine=machine,
                             design_ref="MD-7 core")  # fmt: skip
    docs.add_document_revision(engine, A, code, revision=revision, filename=f"{program}.nc", data=b"%\nM30\n%\n",
                               media_type="text/plain", design_revision="3", cad_sha256=CAD,
                               program_name=program)  # fmt: skip
    docs.approve_document_revision(engine, A, code, revision)


def _alarms(engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(machines.c.code, alarms.c.name)
            .join(machines, machines.c.id == alarms.c.machine_id)
            .where(alarms.c.rule == "nc_program")
            .order_by(alarms.c.id)
        ).all()
    out: dict[str, list[str]] = {}
    for code, name in rows:
        out.setdefault(code, []).append(name)
    return out


def test_a_program_other_than_the_approved_one_raises_an_alarm(engine, tmp_path):
    async def scenario():
        protocols = ProtocolPlant(VirtualPlant(sample_plant(), seed=3), None)
        await protocols.start()
        try:
            plant = connected_plant(sample_plant(), protocols)
            with engine.begin() as conn:
                save_plant(conn, plant, "test")
                plant = load_plant(conn)
            _approved_program(engine, "CNC-01", "O1001")  # what CNC-01 runs: no alarm
            _approved_program(engine, "CNC-02", "O2002")  # CNC-02 runs O1002 (OPC UA): alarm
            _approved_program(engine, "CNC-03", "O1003")  # CNC-03 runs O1003 (MTConnect) until it is changed
            writer = IngestWriter(engine, plant, tmp_path / "buffer", max_delay_s=0.05)
            await writer.start()
            connectors = [c for c in build_connectors(plant, writer.quarantine)
                          if c.status.protocol in ("opcua", "mtconnect")]  # fmt: skip
            tasks = [asyncio.create_task(protocols.copy_values())]
            tasks += [asyncio.create_task(c.run(writer.submit)) for c in connectors]
            try:
                for _ in range(400):
                    await asyncio.sleep(0.1)
                    if "CNC-02" in _alarms(engine):
                        break
                assert "CNC-03" not in _alarms(engine)
                # The operator loads another program on CNC-03: the MTConnect agent reports it.
                protocols.virtual.machines["CNC-03"].program = "O7777"
                for _ in range(400):
                    await asyncio.sleep(0.1)
                    if "CNC-03" in _alarms(engine):
                        break
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await writer.stop()
        finally:
            await protocols.stop()

    asyncio.run(asyncio.wait_for(scenario(), timeout=120))
    assert _alarms(engine) == {"CNC-02": ["program O1002"], "CNC-03": ["program O7777"]}
