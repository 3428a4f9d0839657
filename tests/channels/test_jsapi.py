"""The WeCom JS-SDK's ``agentConfig`` for a page in the chat toolbar (侧边栏): the signature by
WeCom's documented algorithm, the ticket from the API and shared like the access token."""

from __future__ import annotations

from persona.fakeapi import FakeWeChat
from persona.store import open_store
from persona.wechat.channels.wecom import WeComChannel, jsapi_signature


def test_the_signature_matches_the_documented_example():
    # the JS-SDK documentation's worked example (WeChat's and WeCom's share the algorithm)
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    assert jsapi_signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value") == (
        "0f9de62fce790f9a083d5c99e95740ceb90c27ed")
    # the part after '#' is not signed
    assert jsapi_signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value#x") == (
        "0f9de62fce790f9a083d5c99e95740ceb90c27ed")


async def test_agent_config_asks_for_the_ticket_once_and_signs_the_page():
    async with FakeWeChat() as fake:
        store = open_store("memory://", "-accounts")
        channel = WeComChannel(fake.base_url, fake.corpid, fake.corpsecret, fake.agentid, store)
        try:
            first = await channel.agent_config("https://studio.example.com/sidebar/xiaowanzi", nonce="n1",
                                               timestamp=1700000000)
            again = await channel.agent_config("https://studio.example.com/sidebar/xiaowanzi", nonce="n1",
                                               timestamp=1700000000)
        finally:
            await channel.close()
        [ticket] = fake.tickets.values()
        assert first == again == {"corpid": fake.corpid, "agentid": int(fake.agentid), "timestamp": 1700000000,
                                  "nonceStr": "n1", "signature": jsapi_signature(
                                      ticket, "n1", 1700000000, "https://studio.example.com/sidebar/xiaowanzi")}
        assert [p for p, _ in fake.calls].count("/cgi-bin/ticket/get") == 1  # cached in the store
