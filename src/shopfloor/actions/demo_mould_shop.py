"""The demo's mould shop: moulds with their shots and where they are mounted, preventive maintenance plans (one
coming due), controlled documents with an NC program whose revision changed (design revision 3 -> 4), and the
skills its operations need with the operators' certifications (one expiring soon).

Written through the actions, as a person would, on the first start of the demo only (``has_mould_shop``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from shopfloor.actions import documents, maintenance, skills
from shopfloor.store.schema import moulds, users

ACTOR = "demo"
WORK_INSTRUCTION = """MOULD-CORE rough machining at NC-01 (work instruction rev B)
1. Check the set-up sheet: vice, zero point G54 on the core block's datum corner.
2. Load program O1001 from the DNC (approved revision only).
3. First piece: measure the core height 42.00 +/- 0.02 mm and record it.
"""


def has_mould_shop(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(moulds.c.id).limit(1)).first() is not None


def _program(text: str) -> bytes:
    return ("%\n" + text + "\nM30\n%\n").encode()


def load_mould_shop(engine: Engine, now: datetime) -> dict[str, Any]:
    """Moulds, plans, documents, NC programs and skills of the demo (nothing if they exist already)."""
    if has_mould_shop(engine):
        return {"loaded": False}
    week_ago = now - timedelta(days=7)
    # Moulds: the injection moulds made and maintained here; one is near the end of its life.
    maintenance.create_mould(engine, ACTOR, code="MD-CORE-01", name="Core insert mould 2-cav", cavities=2,
                             life_shots=500_000, initial_shots=180_000)  # fmt: skip
    maintenance.create_mould(engine, ACTOR, code="MD-CASE-04", name="Case mould 4-cav", cavities=4,
                             life_shots=300_000, initial_shots=287_500)  # fmt: skip
    maintenance.mount_mould(engine, ACTOR, "MD-CORE-01", machine="NC-01", at=week_ago)
    maintenance.mount_mould(engine, ACTOR, "MD-CASE-04", machine="NC-02", at=week_ago)
    # Plans: NC-01's monthly check is coming due (28 of 30 days), a run-hour plan, a shot plan of a mould.
    maintenance.create_maintenance_plan(
        engine, ACTOR, code="PM-NC01-M", name="NC-01 monthly: way lube, coolant, spindle runout", trigger="calendar",
        interval=30, warn_before=3, machine="NC-01", planned_minutes=90,
        checklist=["way lube level", "coolant concentration", "spindle runout < 3 um"],
        last_done_at=now - timedelta(days=28),
    )  # fmt: skip
    maintenance.create_maintenance_plan(
        engine, ACTOR, code="PM-NC02-H", name="NC-02 every 250 run hours: filters", trigger="run_hours", interval=250,
        warn_before=25, machine="NC-02", planned_minutes=60, checklist=["air filter", "coolant filter"],
        last_done_at=now - timedelta(days=30),
    )  # fmt: skip
    maintenance.create_maintenance_plan(
        engine, ACTOR, code="PM-MD04-S", name="Case mould: clean vents, check ejectors", trigger="shots",
        interval=50_000, warn_before=5_000, mould="MD-CASE-04", planned_minutes=120,
        checklist=["vents cleaned", "ejector pins checked"], last_done_at=week_ago,
    )  # fmt: skip
    # Documents: a work instruction for rough machining, and the core's NC program, revision 1 (design rev 3)
    # superseded yesterday by revision 2 (design rev 4).
    documents.create_document(engine, ACTOR, code="WI-CORE-10", title="Core insert: rough machining",
                              kind="work_instruction", item="MOULD-CORE", operation_seq=10)  # fmt: skip
    documents.add_document_revision(engine, ACTOR, "WI-CORE-10", revision="B", filename="WI-CORE-10-B.txt",
                                    data=WORK_INSTRUCTION.encode(), media_type="text/plain")  # fmt: skip
    documents.approve_document_revision(engine, ACTOR, "WI-CORE-10", "B", effective_from=week_ago)
    documents.create_document(engine, ACTOR, code="NC-CORE-10", title="Core insert rough (O1001)", kind="nc_program",
                              item="MOULD-CORE", machine="NC-01", design_ref="MD-CORE-01 core insert")  # fmt: skip
    for rev, design, effective in (("1", "3", week_ago), ("2", "4", now - timedelta(days=1))):
        cad = hashlib.sha256(f"MD-CORE-01 core insert CAD rev {design}".encode()).hexdigest()
        documents.add_document_revision(
            engine, ACTOR, "NC-CORE-10", revision=rev, filename=f"O1001-r{rev}.nc",
            data=_program(f"O1001 (CORE ROUGH, DESIGN REV {design})\nG90 G54 G00 X0 Y0"), media_type="text/plain",
            design_revision=design, cad_sha256=cad, program_name="O1001", note=f"made from design revision {design}",
        )  # fmt: skip
        documents.approve_document_revision(engine, ACTOR, "NC-CORE-10", rev, effective_from=effective)
    # The CNC line's controls report their programs: CNC-03's approved program is what it runs; CNC-01's approved
    # revision calls for O1011, while the control still runs O1001: a mismatch alarm on the board.
    for machine, program in (("CNC-03", "O1003"), ("CNC-01", "O1011")):
        code = f"NC-{machine}"
        documents.create_document(engine, ACTOR, code=code, title=f"{machine} program {program}", kind="nc_program",
                                  machine=machine, design_ref="TM-CASE fixture")  # fmt: skip
        documents.add_document_revision(
            engine, ACTOR, code, revision="1", filename=f"{program}.nc", data=_program(program),
            media_type="text/plain", design_revision="1",
            cad_sha256=hashlib.sha256(f"{machine} CAD".encode()).hexdigest(), program_name=program,
        )  # fmt: skip
        documents.approve_document_revision(engine, ACTOR, code, "1", effective_from=week_ago)
    # Skills: five-axis machining for the core's operations; kim certified, nguyen's certification expiring soon.
    skills.create_skill(engine, ACTOR, code="NC-5AX", name="5-axis NC machining")
    skills.create_skill(engine, ACTOR, code="MOULD-SETUP", name="Mould set-up")
    for seq in (10, 20):
        skills.require_skill(engine, ACTOR, item="MOULD-CORE", seq=seq, skill="NC-5AX")
    with engine.connect() as conn:
        people = set(conn.execute(select(users.c.username)).scalars())
    for username, skill, days in (("kim", "NC-5AX", 365), ("nguyen", "NC-5AX", 12), ("kim", "MOULD-SETUP", None)):
        if username in people:
            skills.certify_operator(engine, ACTOR, username, skill=skill,
                                    expires_at=now + timedelta(days=days) if days else None)  # fmt: skip
    return {"loaded": True, "moulds": 2, "plans": 3, "documents": 4}
