"""In Debian's chromium: from an empty store and with the browser only, a site, a line, a machine, a product and
a shift are set up; the machine is connected to the project's simulator (OPC UA: browsing its address space and
picking nodes; Modbus: reading registers and choosing the word order from the side-by-side decodings); the
running ``shopfloor ingest`` picks the connection up without a restart, and the board shows the machine running
with its OEE.  Screenshots go to artefacts/screenshots/."""

import asyncio
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from playwright.sync_api import expect

from shopfloor.app import create_app
from shopfloor.connectors.modbus import RegisterSpec
from shopfloor.ingest.process import run_ingest
from shopfloor.settings import Settings
from shopfloor.simulator.modbus_server import ModbusPlantServer, free_port
from shopfloor.simulator.opcua_server import OpcUaPlantServer
from shopfloor.store.db import open_store
from shopfloor.store.plant import load_plant
from tests.conftest import PASSWORD
from tests.web.test_browser import TABLET, artefacts, browser  # noqa: F401 - the browser fixture

ZONE = "Asia/Seoul"


class Background:
    """An asyncio loop in a thread (a simulator server, the ingest), stopped at the end of the test."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tasks = []

    def run(self, coro, timeout=20):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self, coro):
        async def spawn():
            self.tasks.append(asyncio.create_task(coro))

        self.run(spawn())

    def stop(self):
        async def cancel():
            for t in self.tasks:
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

        self.run(cancel(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def empty_server(tmp_path):
    engine = open_store(str(tmp_path / "store.db"))
    app = create_app(Settings(db=str(tmp_path / "store.db")), engine)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    background = Background()
    yield f"http://127.0.0.1:{port}", engine, background, tmp_path
    background.stop()
    server.should_exit = True
    thread.join(10)
    engine.dispose()


def _shift_now() -> tuple[str, str]:
    """A shift running now at the site: from the last full hour to three hours later."""
    now = datetime.now(ZoneInfo(ZONE))
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return start.strftime("%H:%M"), (start + timedelta(hours=4)).strftime("%H:%M")


def _set_up_in_the_browser(page, base: str, machine: str, lang: str) -> None:
    page.goto(f"{base}/board")
    expect(page).to_have_url(f"{base}/setup")
    page.click(f"button.lang[value={lang}]")
    page.wait_for_selector(f"html[lang={lang}]")
    page.screenshot(path=str(artefacts() / f"setup-{lang}.png"), full_page=True)
    page.fill("input[name=site_code]", "ANSAN")
    page.fill("input[name=site_name]", "안산 공장")
    page.select_option("select[name=timezone]", ZONE)
    page.fill("input[name=line_code]", "PRESS")
    page.fill("input[name=line_name]", "프레스 라인")
    page.fill("input[name=machine_code]", machine)
    page.fill("input[name=machine_name]", "Press 1")
    start, end = _shift_now()
    page.fill("input[name=shift0_name]", "Now")
    page.fill("input[name=shift0_start]", start)
    page.fill("input[name=shift0_end]", end)
    for day in ("sat", "sun"):
        page.check(f"input[name=shift0_{day}]")
    page.fill("input[name=shift0_break_start]", "")
    page.fill("input[name=shift0_break_end]", "")
    page.fill("input[name=username]", "kim")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("form.setup button[type=submit]")
    expect(page).to_have_url(f"{base}/admin/plant")
    # A product with its ideal cycle time, on the plant page.
    form = page.locator("form[data-form=product]")
    form.locator("input[name=code]").fill("BRACKET")
    form.locator("input[name=ideal_cycle_s]").fill("0.4")  # a part every 0.5 s: 80 % performance
    form.locator("button[type=submit]").click()
    expect(page.locator("#product table")).to_contain_text("BRACKET")
    page.screenshot(path=str(artefacts() / f"plant-{lang}.png"), full_page=True)


def _start_ingest(engine, background, folder):
    with engine.connect() as conn:
        plant = load_plant(conn)
    background.start(run_ingest(engine, plant, folder / "buffer", worker="test", status_every_s=0.5, plant_every_s=0.5))


def _board_shows_running(page, base: str, machine: str, lang: str) -> None:
    deadline = time.monotonic() + 40
    while True:
        page.goto(f"{base}/board")
        tile = page.locator(f"#tile-{machine}")
        if tile.get_attribute("data-state") == "running" and any(
            c.isdigit() for c in tile.locator(".oee").inner_text()
        ):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"the board never showed {machine} running with an OEE: {tile.inner_html()}")
        time.sleep(1)
    page.screenshot(path=str(artefacts() / f"board-connected-{lang}.png"), full_page=True)


def test_a_new_plant_connected_over_opc_ua_from_the_browser(empty_server, browser):  # noqa: F811
    base, engine, background, folder = empty_server
    machine = "PRS-01"
    opcua = OpcUaPlantServer({machine: {"State": 0, "TotalCount": 0, "ScrapCount": 0, "force_kN": 0.0}})
    background.run(opcua.start())

    async def run_the_press():
        count = 0
        while True:
            count += 1
            await opcua.set(machine, "State", 1)
            await opcua.set(machine, "TotalCount", count)
            await opcua.set(machine, "force_kN", 80.0 + count % 5)
            await asyncio.sleep(0.5)

    background.start(run_the_press())
    page = browser.new_context(viewport=TABLET).new_page()
    _set_up_in_the_browser(page, base, machine, "ko")
    _start_ingest(engine, background, folder)  # running before the machine is connected

    page.goto(f"{base}/admin/connectors")
    page.click(f"a[href='/admin/connectors/new?machine={machine}']")
    page.select_option("select[name=protocol]", "opcua")
    page.fill("input[name=url]", opcua.url)
    page.click("#discover")
    tree = page.locator("table.tree")
    expect(tree).to_contain_text(machine)
    for name, role in (
        ("State", "state"),
        ("TotalCount", "total_count"),
        ("ScrapCount", "scrap_count"),
        ("force_kN", "process"),
    ):
        tree.locator("tr.var", has_text=f"{machine}.{name}").locator("select").select_option(role)
    page.select_option("select[name=product]", "BRACKET")
    page.click("#test")
    results = page.locator("#test-results")
    expect(results.locator("tr[data-role=state] .result")).to_have_text("가동")  # State 1 means running, in Korean
    page.screenshot(path=str(artefacts() / "connect-opcua-ko.png"), full_page=True)
    page.click("#save")
    expect(page).to_have_url(f"{base}/admin/connectors?done={machine}")
    expect(page.locator(f"#conn-{machine.lower()}-opcua .state")).to_contain_text("연결됨", timeout=20_000)
    page.screenshot(path=str(artefacts() / "connectors-ko.png"), full_page=True)
    _board_shows_running(page, base, machine, "ko")
    background.run(opcua.stop())


def test_a_new_plant_connected_over_modbus_with_the_word_order_chosen(empty_server, browser):  # noqa: F811
    base, engine, background, folder = empty_server
    machine = "PRS-02"
    layout = [
        RegisterSpec("State", "holding", 0, "uint16"),
        RegisterSpec("TotalCount", "holding", 1, "uint16"),
        RegisterSpec("ScrapCount", "holding", 2, "uint16"),
        RegisterSpec("Force", "holding", 10, "float32", word_order="little"),  # the PLC sends the low word first
    ]
    modbus = ModbusPlantServer({1: layout})
    background.run(modbus.start())

    async def run_the_press():
        count = 0
        while True:
            count += 1
            await modbus.set(1, "State", 1)
            await modbus.set(1, "TotalCount", count)
            await modbus.set(1, "Force", 1234.5)
            await asyncio.sleep(0.5)

    background.start(run_the_press())
    page = browser.new_context(viewport=TABLET).new_page()
    _set_up_in_the_browser(page, base, machine, "vi")
    _start_ingest(engine, background, folder)

    page.goto(f"{base}/admin/connectors/new?machine={machine}")
    page.select_option("select[name=protocol]", "modbus")
    page.fill("input[name=host]", "127.0.0.1")
    page.fill("input[name=port]", str(modbus.port))
    page.fill("input[name=count]", "14")
    page.click("#discover")
    row = page.locator("table.decoded tr[data-address='10']")
    # Side by side: only the low-word-first reading of registers 10-11 is the force the press shows.
    expect(row.locator("[data-decoding='float32 CDAB']")).to_have_text("1234.5")
    assert row.locator("[data-decoding='float32 ABCD']").inner_text() != "1234.5"
    row.locator("select[name^=as_]").select_option("float32 CDAB")
    row.locator("input[name^=name_]").fill("force_kN")
    row.locator("select[name^=role_]").select_option("process")
    for address, name, role in (
        (0, "State", "state"),
        (1, "TotalCount", "total_count"),
        (2, "ScrapCount", "scrap_count"),
    ):
        r = page.locator(f"table.decoded tr[data-address='{address}']")
        r.locator("input[name^=name_]").fill(name)
        r.locator("select[name^=role_]").select_option(role)
    page.select_option("select[name=product]", "BRACKET")
    page.click("#test")
    expect(page.locator("#test-results tr[data-role=process] .result")).to_have_text("1234.5")
    page.screenshot(path=str(artefacts() / "connect-modbus-vi.png"), full_page=True)
    page.click("#save")
    expect(page).to_have_url(f"{base}/admin/connectors?done={machine}")
    with engine.connect() as conn:
        regs = load_plant(conn).machine(machine).connector["registers"]
    assert {"tag": "force_kN", "table": "holding", "address": 10, "type": "float32", "word_order": "little"} in regs
    _board_shows_running(page, base, machine, "vi")
    background.run(modbus.stop())
