"""`kcc report` against the real metrics service on the real broker and store: three days of
traffic on every channel are published, the CLI fetches the figures over HTTP and writes the
report, whose structure is checked; then a headless Chromium renders it to a PNG that must
have the window's size and show the report (text, green and red bars), not a blank page."""

import asyncio
import os
import random
import shutil
import socket
import struct
import subprocess
import zlib
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import uvicorn

from kcc_cli.__main__ import main as kcc
from kcc_metrics.app import create_app
from kcc_metrics.settings import MetricsSettings
from kcc_shared.contracts import (
    CALL_EVENTS,
    CALLBACK_COMPLETED,
    CALLBACK_SCHEDULED,
    CONTACT_RECEIVED,
    CONTACT_RESOLVED,
    COUNTER_EVENTS,
    CallAbandoned,
    CallAbandonedData,
    CallAnswered,
    CallAnsweredData,
    CallbackCompleted,
    CallbackCompletedData,
    CallbackScheduled,
    CallbackScheduledData,
    CallEnded,
    CallEndedData,
    CallOffered,
    CallOfferedData,
    Channel,
    ContactReceived,
    ContactReceivedData,
    ContactResolved,
    ContactResolvedData,
    CounterVisit,
    CounterVisitData,
)
from kcc_shared.testing import credentials, running, unique

pytestmark = pytest.mark.integration

AMS = ZoneInfo("Europe/Amsterdam")
WINDOW = (1280, 3000)


def three_working_days() -> tuple[date, date]:
    """Tuesday to Thursday of a random October week of a past year (no Dutch holidays then),
    so a concurrent run's or an earlier run's events fall outside this run's period."""
    year = random.randint(1971, 2019)
    tuesday = date(year, 10, 1) + timedelta(days=(1 - date(year, 10, 1).weekday()) % 7 + 7 * random.randint(0, 3))
    return tuesday, tuesday + timedelta(days=2)


def scenario(first: date, tag: str) -> list[tuple[object, object]]:
    """Per day: two calls (one answered after 10 s, one abandoned after 40 s), two e-mails (one
    answered the same day, one never), a letter answered in three days, a social message answered
    in two hours, a web form answered by the KCC, a walk-in called after 10 minutes, and a
    call-back kept."""
    events: list[tuple[object, object]] = []

    def received(contact_id: str, channel: Channel, at: datetime, answer: datetime | None = None, outcome: str = "answered_in_kcc") -> None:
        events.append((ContactReceived.create(source="/tests", data=ContactReceivedData(contact_id=contact_id, channel=channel, received_at=at)), CONTACT_RECEIVED))
        if answer:
            events.append((ContactResolved.create(source="/tests", data=ContactResolvedData(contact_id=contact_id, channel=channel, outcome=outcome, resolved_at=answer)), CONTACT_RESOLVED))

    for d in range(3):
        day = first + timedelta(days=d)

        def at(hour: int, minute: int = 0) -> datetime:
            return datetime(day.year, day.month, day.day, hour, minute, tzinfo=AMS)

        answered, abandoned = f"{tag}-call-{d}-a", f"{tag}-call-{d}-b"
        for call_id in (answered, abandoned):
            events.append((CallOffered.create(source="/tests", data=CallOfferedData(call_id=call_id, dialled_number="14050", offered_at=at(9))), CALL_EVENTS))
            received(f"{call_id}-contact", Channel.TELEPHONE, at(9))
        events.append((CallAnswered.create(source="/tests", data=CallAnsweredData(call_id=answered, agent_id="a1", wait_s=10, answered_at=at(9) + timedelta(seconds=10))), CALL_EVENTS))
        events.append((CallEnded.create(source="/tests", data=CallEndedData(call_id=answered, talk_s=240, hold_s=0, wrap_up_s=60, ended_at=at(9, 5))), CALL_EVENTS))
        events.append((CallAbandoned.create(source="/tests", data=CallAbandonedData(call_id=abandoned, wait_s=40, abandoned_at=at(9) + timedelta(seconds=40))), CALL_EVENTS))

        received(f"{tag}-mail-{d}-a", Channel.EMAIL, at(10), at(15))
        received(f"{tag}-mail-{d}-b", Channel.EMAIL, at(10))
        received(f"{tag}-letter-{d}", Channel.LETTER, at(11), at(11) + timedelta(days=3), outcome="forwarded")
        received(f"{tag}-social-{d}", Channel.SOCIAL, at(12), at(14))
        received(f"{tag}-web-{d}", Channel.WEB, at(13), at(16))

        ticket = f"{tag}-t{d}"
        events.append((CounterVisit.create(source="/tests", data=CounterVisitData(ticket_id=ticket, location="stadhuis", stage="drawn", at=at(9), contact_id=f"{ticket}-contact")), COUNTER_EVENTS))
        events.append((CounterVisit.create(source="/tests", data=CounterVisitData(ticket_id=ticket, location="stadhuis", stage="called", at=at(9, 10))), COUNTER_EVENTS))
        received(f"{ticket}-contact", Channel.COUNTER, at(9))

        callback_id, deadline = f"{tag}-cb-{d}", at(17) + timedelta(days=1)
        events.append((CallbackScheduled.create(source="/tests", time=at(11), data=CallbackScheduledData(
            callback_id=callback_id, contact_id=f"{abandoned}-contact", department_id="belastingen",
            slot_start=at(14), slot_end=at(14, 30), deadline=deadline)), CALLBACK_SCHEDULED))
        events.append((CallbackCompleted.create(source="/tests", time=at(14, 10), data=CallbackCompletedData(
            callback_id=callback_id, contact_id=f"{abandoned}-contact", department_id="belastingen",
            completed_at=at(14, 10), completed_by="a2", deadline=deadline, within_deadline=True, attempts=1)), CALLBACK_COMPLETED))
    return events


# Over the three days (every deadline long past): value and whether the norm was met.
EXPECTED = {
    ("telephone", "offered"): (6.0, None),
    ("telephone", "abandonment_rate"): (0.5, False),
    ("telephone", "service_level_abandoned_short_met"): (0.5, False),
    ("email", "answered_in_time"): (0.5, False),
    ("letter", "answered_in_time"): (1.0, True),
    ("social", "answered_in_time"): (1.0, True),
    ("counter", "waiting_within_norm_walk_in"): (1.0, True),
    ("callback", "promises_kept"): (1.0, True),
}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: "Node | None") -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.text: list[str] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list["Node"]:
        found = []
        for child in self.children:
            if (tag is None or child.tag == tag) and (cls is None or cls in child.classes):
                found.append(child)
            found.extend(child.find_all(tag, cls))
        return found

    def all_text(self) -> str:
        return "".join(self.text) + "".join(child.all_text() for child in self.children)


class Tree(HTMLParser):
    VOID = {"meta", "link", "img", "br", "hr", "input", "source", "area", "base", "col", "embed", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.root = self.current = Node("#root", {}, None)
        self.style = ""

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text.append(data)
        if self.current.tag == "style":
            self.style += data


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit truecolour PNG, filters undone."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(r[i] for i in range(len(r)) if i % bpp < 3) for r in rows] if bpp == 4 else rows


def chromium() -> str:
    for name in (os.environ.get("KCC_CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    pytest.fail("no Chromium: `make install` installs Debian's chromium (deploy/local/ensure-chromium.sh)", pytrace=False)


def screenshot(html: Path, png: Path) -> None:
    subprocess.run(
        [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
            "--no-first-run", "--force-device-scale-factor=1", f"--user-data-dir={png.parent / 'chromium-profile'}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={png}", html.resolve().as_uri(),
        ],
        check=True, capture_output=True, timeout=180,
    )


def free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def eventually(probe, condition, *, timeout: float = 60.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await probe()
        if condition(result) or loop.time() > deadline:
            return result
        await asyncio.sleep(0.5)


def figures(body: dict) -> dict:
    return {(k["channel"], k["name"]): (k["value"], k["met"]) for k in body["kpis"]}


async def test_kcc_report_renders_every_channel_from_the_metrics_api(service_env, tmp_path, monkeypatch):
    first, last = three_working_days()
    service_env("metrics")
    # No token from the developer's shell: the CLI presents an operator's token, as configured here.
    for name in ("KCC_TOKEN", "KCC_METRICS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KCC_TOKEN_OPS", credentials().token(["ops"], subject="report-test"))
    app = create_app(MetricsSettings())
    out, png = tmp_path / "report.html", tmp_path / "report.png"
    async with running(app) as client:
        for event, topic in scenario(first, unique("report")):
            await app.state.infra.publisher.publish(event, topic=topic)

        async def whole_period() -> dict:
            return (await client.get("/v1/service-norms", params={"from": first.isoformat(), "to": last.isoformat()})).json()

        body = await eventually(whole_period, lambda b: all(figures(b).get(k) == v for k, v in EXPECTED.items()))
        assert {k: figures(body).get(k) for k in EXPECTED} == EXPECTED
        channels = (await client.get("/openapi.json")).json()["paths"]["/v1/service-norms"]["get"]["parameters"]
        channel_enum = next(p for p in channels if p["name"] == "channel")["schema"]["anyOf"][0]["enum"]
        per_channel = {
            c: (await client.get("/v1/service-norms", params={"from": first.isoformat(), "to": last.isoformat(), "channel": c})).json()["kpis"]
            for c in channel_enum
        }

        # The real CLI over real HTTP, with the app served by uvicorn next to its running lifespan.
        sock = free_socket()
        server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                await asyncio.sleep(0.05)
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            code = await asyncio.to_thread(
                kcc, ["report", "--from", first.isoformat(), "--to", last.isoformat(), "--metrics-url", url, "--out", str(out)]
            )
        finally:
            server.should_exit = True
            await serving
            sock.close()
    assert code == 0

    html = out.read_text(encoding="utf-8")
    tree = Tree()
    tree.feed(html)
    root = tree.root

    # Self-contained: no scripts, no external stylesheets, images, frames, fonts or links.
    for tag in ("script", "link", "img", "iframe", "object", "embed", "image", "use"):
        assert not root.find_all(tag), f"<{tag}> in the report"
    for node in root.find_all():
        for name, value in node.attrs.items():
            if name in ("href", "src", "xlink:href", "action", "srcset", "poster", "data"):
                assert value and value.startswith("#"), f"{node.tag} {name}={value!r} points outside the report"
    assert "url(" not in tree.style and "@import" not in tree.style and "@font-face" not in tree.style

    # One section per channel the API knows, each KPI with its value, norm and verdict.
    sections = {s.attrs["data-channel"]: s for s in root.find_all("section", "channel")}
    assert list(sections) == channel_enum
    for channel, kpis in per_channel.items():
        rows = {r.attrs["data-kpi"]: r for r in sections[channel].find_all("tr", "kpi")}
        assert set(rows) == {k["name"] for k in kpis}, channel
        for kpi in kpis:
            row = rows[kpi["name"]]
            cells = {cls: row.find_all("td", cls) for cls in ("value", "norm", "met")}
            assert all(len(found) == 1 for found in cells.values()), (channel, kpi["name"])
            verdict = cells["met"][0].all_text()
            expected = {True: "gehaald", False: "niet gehaald", None: "geen"}[kpi["met"]]
            assert expected in verdict, (channel, kpi["name"], verdict)
            assert ("niet gehaald" in verdict) == (kpi["met"] is False)
            if kpi["norm"] is None:
                assert cells["norm"][0].all_text() == "geen norm"
            if kpi["value"] is None:
                assert cells["value"][0].all_text() == "–"
    telephone = {r.attrs["data-kpi"]: r for r in sections["telephone"].find_all("tr", "kpi")}
    assert telephone["offered"].find_all("td", "value")[0].all_text() == "6"
    assert telephone["abandonment_rate"].find_all("td", "value")[0].all_text() == "50,0%"
    assert telephone["abandonment_rate"].find_all("td", "norm")[0].all_text().startswith("≤ 5,0%")
    email = {r.attrs["data-kpi"]: r for r in sections["email"].find_all("tr", "kpi")}
    assert email["answered_in_time"].find_all("td", "value")[0].all_text() == "50,0%"
    for channel, kpis in per_channel.items():
        met = sum(1 for k in kpis if k["met"] is True)
        measured = sum(1 for k in kpis if k["met"] is not None)
        (summary,) = sections[channel].find_all("p", "summary")
        if measured:
            assert summary.all_text() == f"{met} van de {measured} gemeten normen gehaald.", channel

    # Every chart is one inline SVG; a norms chart per channel with a measured norm and a trend
    # chart (three days) per KPI with a value.
    charts = root.find_all("figure", "chart")
    assert charts and all(len(c.find_all("svg")) == 1 for c in charts)
    assert len(root.find_all("svg")) == len(charts)
    for channel, kpis in per_channel.items():
        kinds = [c.attrs["data-chart"] for c in sections[channel].find_all("figure", "chart")]
        with_norm = [k for k in kpis if k["value"] is not None and k["norm"]]
        assert kinds.count("norms") == (1 if with_norm else 0), channel
        # Trend points are asked without a channel: each channel's own KPIs have a line.
        own = set(figures(body))
        assert kinds.count("trend") == sum(1 for k in kpis if k["value"] is not None and (k["channel"], k["name"]) in own), channel
        if channel == "telephone":
            assert kinds.count("trend") == 8  # every telephone KPI has a value on each of the three days
        if with_norm:
            norms_svg = next(c for c in sections[channel].find_all("figure", "chart") if c.attrs["data-chart"] == "norms").find_all("svg")[0]
            assert len(norms_svg.find_all("line")) == len(with_norm)  # one norm tick per KPI
    overview = root.find_all("section", "overview")[0]
    (mix,) = [c for c in overview.find_all("figure", "chart") if c.attrs["data-chart"] == "channel-mix"]
    assert len(mix.find_all("svg")[0].find_all("rect")) >= 3 * 5  # three days of five channels and more
    assert "Telefonie (6)" in mix.all_text() and "E-mail (6)" in mix.all_text()

    # Rendered by a real browser: the window's size, not blank, with the verdict colours on it.
    await asyncio.to_thread(screenshot, out, png)
    assert png.is_file()
    width, height, rows = decode_png(png.read_bytes())
    assert (width, height) == WINDOW
    pixels = [row[i:i + 3] for row in rows[::4] for i in range(0, len(row), 12)]
    assert len(set(pixels)) > 50, "the screenshot has almost no colours: blank page?"
    non_white = sum(1 for p in pixels if p != b"\xff\xff\xff") / len(pixels)
    assert 0.02 < non_white < 0.9, f"{non_white:.1%} of the page is not white"
    every_pixel = {row[i:i + 3] for row in rows for i in range(0, len(row), 3)}
    assert bytes.fromhex("2e7d32") in every_pixel, "no green (norm met) bar on the screenshot"
    assert bytes.fromhex("c62828") in every_pixel, "no red (norm missed) bar on the screenshot"

    artefacts = os.environ.get("KCC_TEST_ARTEFACTS")
    if artefacts:  # keep the report and its screenshot to look at
        Path(artefacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(artefacts) / "report.html")
        shutil.copy(png, Path(artefacts) / "report.png")
