"""Reason and defect codes of the plant file: codes of any script, names, groups, icons, colours, machines."""

import pytest

from shopfloor.actions.demo import sample_plant
from shopfloor.model.plant import Plant, PlantError
from shopfloor.model.reasons import reason_tree


def with_reasons(reasons) -> dict:
    doc = sample_plant().to_dict()
    doc["reasons"] = reasons
    return doc


def test_codes_of_any_script_with_their_names_round_trip():
    plant = Plant.from_dict(with_reasons({"downtime": [
        "MATERIAL_WAIT",
        {"code": "금형교체", "names": {"ko": "금형 교체", "th": "เปลี่ยนแม่พิมพ์"}, "group": "setup/mould", "icon": "🔧",
         "colour": "#1A73E8", "machines": ["MOULD", "CNC-01"]},
        {"code": "Đứt_dây", "names": {"vi": "Đứt dây"}},
    ], "defects": ["ฟองอากาศ"]}))  # fmt: skip
    assert plant.downtime_reasons == ("MATERIAL_WAIT", "금형교체", "Đứt_dây") and plant.defect_codes == ("ฟองอากาศ",)
    assert plant.reason_name("금형교체", "th") == "เปลี่ยนแม่พิมพ์" and plant.reason_name("금형교체", "vi") == "금형교체"
    assert [r.code for r in plant.reasons_for("downtime", "NC-02")] == ["MATERIAL_WAIT", "금형교체", "Đứt_dây"]
    assert [r.code for r in plant.reasons_for("downtime", "CNC-02")] == ["MATERIAL_WAIT", "Đứt_dây"]
    assert Plant.from_dict(plant.to_dict()).reason("금형교체") == plant.reason("금형교체")
    assert [g for g, _ in reason_tree(plant.reasons_for("downtime"))] == ["setup/mould", ""]


def test_every_problem_of_the_reasons_is_named_by_its_place():
    with pytest.raises(PlantError) as refused:
        Plant.from_dict(with_reasons({"downtime": [
            {"code": "A B"},
            {"code": "X", "names": {"xx": "?"}, "colour": "red", "machines": ["NOPE"], "icon": "123456789"},
            "DUP", "DUP",
        ], "other": []}))  # fmt: skip
    problems = refused.value.problems
    assert any(p.startswith("reasons.downtime[0].code:") for p in problems)
    assert any(p.startswith("reasons.downtime[1].names.xx: unknown language") for p in problems)
    assert any(p.startswith("reasons.downtime[1].colour:") for p in problems)
    assert any(p.startswith("reasons.downtime[1].icon:") for p in problems)
    assert any(p.startswith("reasons.downtime[1].machines: 'NOPE'") for p in problems)
    assert "reasons.downtime: a code appears twice" in problems and any(
        p.startswith("reasons.other:") for p in problems
    )
