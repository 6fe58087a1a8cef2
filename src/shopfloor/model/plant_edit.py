"""One change of the plant made on a page (add a line, rename a machine, add a Saturday shift), applied to the
plant document: the result is read again by ``Plant.from_dict``, the same reader as the YAML import, so a page can
make no plant a file could not.

``edit(doc, kind, key, values, new=...)`` returns a new document; ``values`` None removes the entity ``key``.
Pure: no I/O.
"""

from __future__ import annotations

import copy
from typing import Any

from shopfloor.errors import PlantEntityExists, PlantEntityInUse, PlantEntityUnknown

KINDS = ("site", "area", "line", "machine", "product", "shift", "holiday", "extra_shift", "connector")


def edit(doc: dict[str, Any], kind: str, key: str, values: dict[str, Any] | None, *, new: bool = False) -> dict:
    """The plant document with one entity of ``kind`` (named ``key``) saved with ``values`` or removed (None).
    ``new``: the entity must not exist yet (an "add" form), else it must exist unless it is saved."""
    out = copy.deepcopy(doc)
    if kind not in KINDS:
        raise PlantEntityUnknown(kind=kind, code=key)
    if kind == "site":
        out["site"] = {**out["site"], **(values or {})}
        return out
    if kind in ("area", "line", "machine"):
        _structure(out, kind, key, values, new)
        return out
    if kind == "product":
        _listed(out.setdefault("products", []), "code", kind, key, values, new)
        return out
    if kind == "connector":
        _listed(out.setdefault("connectors", []), "name", kind, key, values, new)
        if not out["connectors"]:
            out.pop("connectors")
        return out
    calendar = out.setdefault("calendar", {})
    if kind == "shift":
        _listed(calendar.setdefault("shifts", []), "name", kind, key, values, new)
    elif kind == "holiday":
        days = [str(d) for d in calendar.setdefault("holidays", [])]
        if values is None:
            if key not in days:
                raise PlantEntityUnknown(kind=kind, code=key)
            days.remove(key)
        elif key in days:
            raise PlantEntityExists(kind=kind, code=key)
        else:
            days.append(key)
        calendar["holidays"] = sorted(days)
    else:  # extra_shift: keyed by "date/name"
        extras = calendar.setdefault("extra_shifts", [])
        for e in extras:
            e["key"] = f"{e.get('date')}/{e.get('name')}"
        _listed(extras, "key", kind, key, None if values is None else {**values, "key": key}, new)
        for e in extras:
            e.pop("key", None)
        if not extras:
            calendar.pop("extra_shifts")
    return out


def _listed(items: list[dict], field: str, kind: str, key: str, values: dict | None, new: bool) -> None:
    at = next((i for i, item in enumerate(items) if str(item.get(field)) == key), None)
    if values is None:
        if at is None:
            raise PlantEntityUnknown(kind=kind, code=key)
        del items[at]
    elif at is None:
        items.append({field: key, **values})
    elif new:
        raise PlantEntityExists(kind=kind, code=key)
    else:
        items[at] = {**items[at], **values, field: key}


def _structure(doc: dict[str, Any], kind: str, key: str, values: dict | None, new: bool) -> None:
    """Areas hold lines, lines hold machines; a line or machine may move to another parent (``area``, ``line``)."""
    areas = doc.setdefault("areas", [])
    if kind == "area":
        at = next((a for a in areas if a.get("code") == key), None)
        if values is None:
            if at is None:
                raise PlantEntityUnknown(kind=kind, code=key)
            if at.get("lines"):
                raise PlantEntityInUse(kind=kind, code=key, holds=", ".join(ln.get("code") for ln in at["lines"]))
            areas.remove(at)
        else:
            _listed(areas, "code", kind, key, {"lines": [], **values} if at is None else values, new)
        return
    lines = [(a, ln) for a in areas for ln in a.get("lines") or []]
    if kind == "line":
        found = next(((a, ln) for a, ln in lines if ln.get("code") == key), None)
        if found is not None and new:
            raise PlantEntityExists(kind=kind, code=key)
        if values is None:
            if found is None:
                raise PlantEntityUnknown(kind=kind, code=key)
            if found[1].get("machines"):
                holds = ", ".join(m.get("code") for m in found[1]["machines"])
                raise PlantEntityInUse(kind=kind, code=key, holds=holds)
            found[0]["lines"].remove(found[1])
            return
        values = dict(values)
        area_code = values.pop("area", None) or (found[0]["code"] if found else None)
        area = next((a for a in areas if a.get("code") == area_code), None)
        if area is None:
            raise PlantEntityUnknown(kind="area", code=str(area_code))
        line = found[1] if found else {"code": key, "machines": []}
        line.update(values)
        if found is not None and found[0] is not area:
            found[0]["lines"].remove(line)
        if found is None or found[0] is not area:
            area.setdefault("lines", []).append(line)
        return
    machines = [(ln, m) for _, ln in lines for m in ln.get("machines") or []]
    found_m = next(((ln, m) for ln, m in machines if m.get("code") == key), None)
    if found_m is not None and new:
        raise PlantEntityExists(kind=kind, code=key)
    if values is None:
        if found_m is None:
            raise PlantEntityUnknown(kind=kind, code=key)
        found_m[0]["machines"].remove(found_m[1])
        for p in doc.get("products") or []:  # its own cycle times go with it
            (p.get("cycle_by_machine") or {}).pop(key, None)
        return
    values = dict(values)
    line_code = values.pop("line", None) or (found_m[0]["code"] if found_m else None)
    target = next((ln for _, ln in lines if ln.get("code") == line_code), None)
    if target is None:
        raise PlantEntityUnknown(kind="line", code=str(line_code))
    machine = found_m[1] if found_m else {"code": key}
    for field, value in values.items():
        if value in (None, "") and field in ("type", "connector", "tags"):
            machine.pop(field, None)
        else:
            machine[field] = value
    if found_m is not None and found_m[0] is not target:
        found_m[0]["machines"].remove(machine)
    if found_m is None or found_m[0] is not target:
        target.setdefault("machines", []).append(machine)
