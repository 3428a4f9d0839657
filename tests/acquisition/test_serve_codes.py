"""A code brings a customer to a running ``persona serve``: the landing it serves hands out
the code, WeCom's encrypted add-contact callback reaches it over real HTTP, the welcome goes
out through the gate and WeCom's welcome API, and the customer is stored credited to the
channel and assigned to the staff member they added."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from persona.model.customer import Customer
from persona.store import open_store
from persona.wechat.fake.callbacks import CallbackTarget
from tests.acquisition.conftest import AES_KEY, TOKEN, environ
from tests.cli.conftest import run_persona
from tests.service.test_serve import free_port, start, stop, wait_healthy


async def test_a_code_brings_a_customer_to_a_running_persona_serve(tmp_path, fake) -> None:
    url = f"sqlite:///{tmp_path}/persona.db"
    made = await asyncio.to_thread(run_persona, "codes", "bots.xiaowanzi", "create", "parcel_lipstick", "--staff",
                                   "zhangsan", "--store", url, env=environ(fake))
    assert made.returncode == 0, made.stderr
    port = free_port()
    proc = start("codes", port, url, "--spool", str(tmp_path / "spool.db"), bots=("bots.xiaowanzi",),
                 env_extra=environ(fake))
    try:
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, port, proc)
            async with http.get(f"http://127.0.0.1:{port}/c/xiaowanzi/parcel_lipstick", allow_redirects=False) as r:
                assert r.status == 302
                [way] = [w for w in fake.contact_ways.values() if w.qr_code == r.headers["Location"]]
            target = CallbackTarget(f"http://127.0.0.1:{port}/wechat/xiaowanzi", TOKEN, fake.corpid, AES_KEY)
            assert await fake.scan_contact_way(way.config_id, "wmAmy", target) == ("zhangsan", 200)
            deadline = time.monotonic() + 15
            while not fake.messages(api="welcome", to="wmAmy") and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        [welcome, *_] = fake.messages(api="welcome", to="wmAmy")
        assert welcome.script == "welcome"
    finally:
        log = stop(proc)
    assert "Traceback" not in log, log
    store = open_store(url, "xiaowanzi")
    try:
        amy = await Customer.read(store, "wmAmy")
    finally:
        await store.close()
    assert (amy.attrs["channel"], amy.attrs["follow_user"], amy.state) == ("parcel_lipstick", "zhangsan", "welcomed")
