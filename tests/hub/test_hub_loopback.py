"""A hub served over HTTPS on loopback (a certificate made for 127.0.0.1) and two factory installations with their
own stores: each computes a month's KPIs from its events, signs them and pushes them with its token; a sponsor sees
its partner only; a tampered or replayed report is refused with the reason; a withdrawn consent hides the data."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shopfloor.actions.hub_share import monthly_kpis, push, signed_report
from shopfloor.app import create_app
from shopfloor.errors import HubRefusedReport, HubUnreachable
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.funding import Rule
from shopfloor.model.plant import Plant
from shopfloor.model.signing import generate_key
from shopfloor.settings import Settings
from shopfloor.store import accounts
from shopfloor.store import hub as store
from shopfloor.store.db import open_store
from shopfloor.store.events import append_events
from shopfloor.store.plant import load_plant, save_plant

PASSWORD = "hub-password-123"
PLANT = {
    "site": {"code": "S", "name": "Factory", "timezone": "UTC"},
    "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{"code": "M1"}]}]}],
    "products": [{"code": "P", "ideal_cycle_s": 60}],
    "calendar": {"shifts": [{"name": "Day", "start": "06:00", "end": "14:00"}]},
}


def _certificate(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "hub.crt", tmp_path / "hub.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_file, key_file


def _factory_store(path, good: int, scrap: int):
    """A factory installation: its plant and a month of production (March 2026, the 2nd to the 6th)."""
    engine = open_store(str(path))
    with engine.begin() as conn:
        save_plant(conn, Plant.from_dict(PLANT), "t")
        events = []
        for day in range(2, 7):
            t = dt.datetime(2026, 3, day, 6, tzinfo=dt.timezone.utc)
            events += [
                StateChange(t, "M1", MachineState.RUNNING),
                CountEvent(t + dt.timedelta(hours=2), "M1", CountKind.GOOD, good, product="P"),
                CountEvent(t + dt.timedelta(hours=3), "M1", CountKind.SCRAP, scrap, product="P", reason="X"),
                StateChange(t + dt.timedelta(hours=8), "M1", MachineState.IDLE),
            ]
        append_events(conn, events)
    return engine


@pytest.fixture
def https_hub(tmp_path):
    engine = open_store(str(tmp_path / "hub.db"))
    keys, tokens = {}, {}
    with engine.begin() as conn:
        store.add_organisation(conn, "PO", "Program office", "office")
        for sponsor in ("SP-A", "SP-B"):
            store.add_organisation(conn, sponsor, sponsor, "sponsor")
        store.add_program(conn, "SF", "Smart factory")
        store.set_rule(
            conn,
            Rule.from_dict(
                {
                    "type": "basic",
                    "year": 2026,
                    "effective_from": "2026-01-01",
                    "parties": {"state": {"max_pct": 30}, "sponsor": {"min_pct": 30}, "sme": {}},
                },
                "SF",
            ),
        )
        for factory, sponsor in (("FAC-1", "SP-A"), ("FAC-2", "SP-B")):
            pem, public = generate_key()
            keys[factory] = pem
            store.add_organisation(conn, factory, factory, "factory", public)
            spec = {"code": f"P-{factory}", "program": "SF", "year": 2026, "type": "basic", "factory": factory}
            spec |= {"sponsor": sponsor, "budget": 100, "shares": {"state": 30, "sponsor": 30, "sme": 40}}
            spec |= {"agreed_on": dt.date(2026, 2, 1)}
            store.add_project(conn, spec | {"baseline": {"ppm": 50_000}})
            user = accounts.create_user(conn, factory.lower(), "factory", password=PASSWORD, organisation=factory)
            tokens[factory] = accounts.create_api_token(conn, user, "push")
        accounts.create_user(conn, "spa", "sponsor", password=PASSWORD, organisation="SP-A")
    cert, key = _certificate(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Settings(hub=True, secure=True), engine=engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                           ssl_certfile=str(cert), ssl_keyfile=str(key)))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"https://127.0.0.1:{port}", str(cert), keys, tokens
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.mark.usefixtures("rollup_units")
def test_two_factories_push_signed_months_and_the_sponsor_sees_its_partner_only(https_hub, tmp_path):
    url, cafile, keys, tokens = https_hub
    figures = {}
    for factory, (good, scrap) in (("FAC-1", (950, 50)), ("FAC-2", (990, 10))):
        engine = _factory_store(tmp_path / f"{factory}.db", good, scrap)
        with engine.connect() as conn:
            figures[factory] = monthly_kpis(conn, load_plant(conn), "2026-03", ["ppm", "output_per_hour"])
        engine.dispose()
    assert figures["FAC-1"].kpis["ppm"] == pytest.approx(50_000)
    assert figures["FAC-2"].kpis["ppm"] == pytest.approx(10_000)
    # The history starts on the 2nd at 06:00 UTC: March is partial, with data for 29 d 18 h of its 31 days.
    assert figures["FAC-1"].partial
    assert figures["FAC-1"].coverage["from"] == "2026-03-02T06:00:00+00:00"
    assert figures["FAC-1"].coverage["fraction"] == pytest.approx((29 * 24 + 18) / (31 * 24), abs=1e-6)

    def client(headers):
        return httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=cafile), headers=headers)

    sponsors = {"FAC-1": "SP-A", "FAC-2": "SP-B"}
    for factory, sponsor in sponsors.items():
        with client({"Authorization": f"Bearer {tokens[factory]}"}) as c:
            assert (
                c.post(
                    "/api/v1/hub/consents",
                    json={
                        "sponsor": sponsor,
                        "kpis": ["ppm", "output_per_hour"],
                        "text_version": store.CONSENT_TEXT_VERSION,
                    },
                ).status_code
                == 201
            )
        envelope = signed_report(keys[factory], factory, sponsor, "2026-03", figures[factory])
        assert envelope["payload"]["partial"] is True and envelope["payload"]["coverage"]["fraction"] < 1
        assert push(url, tokens[factory], envelope, verify=cafile)["period"] == "2026-03"
        with pytest.raises(HubRefusedReport) as replayed:
            push(url, tokens[factory], envelope, verify=cafile)
        assert (replayed.value.params["status"], replayed.value.params["refusal"]) == (409, "hub.report_replayed")
    tampered = signed_report(keys["FAC-1"], "FAC-1", "SP-A", "2026-04", {"ppm": 40_000.0})
    tampered["payload"]["kpis"]["ppm"] = 4_000.0
    with pytest.raises(HubRefusedReport) as refused:
        push(url, tokens["FAC-1"], tampered, verify=cafile)
    assert (refused.value.params["status"], refused.value.params["refusal"]) == (422, "hub.signature_refused")
    with pytest.raises(HubUnreachable):
        push(url, tokens["FAC-1"], tampered)  # the hub's certificate is not trusted without its CA

    with client({}) as sponsor:
        r = sponsor.post("/api/v1/auth/login", json={"username": "spa", "password": PASSWORD})
        sponsor.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        seen = sponsor.get("/api/v1/hub/outcomes").json()
        assert [(o["factory"], o["kpis"]["ppm"]) for o in seen] == [("FAC-1", pytest.approx(50_000))]
        (row,) = sponsor.get("/api/v1/hub/dashboard").json()
        assert row["project"] == "P-FAC-1" and row["kpis"]["ppm"]["improvement_pct"] == pytest.approx(0.0)
        assert row["latest"] == {"period": "2026-03", "partial": True, "received_at": seen[0]["received_at"]}
        with client({"Authorization": f"Bearer {tokens['FAC-1']}"}) as factory:
            cid = factory.get("/api/v1/hub/consents").json()[0]["id"]
            assert factory.post(f"/api/v1/hub/consents/{cid}/withdraw").status_code == 200
        assert sponsor.get("/api/v1/hub/outcomes").json() == []
