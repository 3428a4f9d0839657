"""Which API carries which message, for each way a bot can be configured."""

from __future__ import annotations

import pytest

from persona import Message
from persona.wechat.channels import Route, RouteError, Router

MP = {"WECHAT_APPID": "wx1", "WECHAT_APPSECRET": "s"}
WECOM = {"WECOM_CORPID": "ww1", "WECOM_SECRET": "s", "WECOM_AGENTID": "1000002"}


@pytest.fixture
def both(memstore) -> Router:
    return Router.from_env({**MP, **WECOM}, memstore)


def test_from_env_reads_credentials_and_api_hosts(memstore):
    router = Router.from_env({**MP, **WECOM, "WECOM_KF_ID": "wkA", "WECHAT_API_BASE": "http://127.0.0.1:1/"},
                             memstore)
    assert router.configured == ["mp", "wecom"]
    assert router.official.base_url == "http://127.0.0.1:1" and router.official.api.trace
    assert router.wecom.base_url == "https://qyapi.weixin.qq.com" and not router.wecom.api.trace
    assert router.wecom.agentid == 1000002 and router.wecom.kf_id == "wkA"
    assert router.official.http is router.wecom.http, "one HTTP session for the process"
    assert Router.from_env({}, memstore).configured == []


@pytest.mark.parametrize("message,user,code,expected", [
    (Message("text", "hi"), "oAlice", None, Route("mp_custom", "oAlice")),
    (Message("text", "hi", via="kf"), "oAlice", None, Route("mp_custom", "oAlice")),
    (Message("text", via="template"), "oAlice", None, Route("mp_template", "oAlice")),
    (Message("text", "hi", to="user:oBob"), "oAlice", None, Route("mp_custom", "oBob")),
    (Message("text", "hi"), "wmAmy", "WC1", Route("wecom_welcome", "wmAmy")),
    (Message("text", "hi"), "wmAmy", None, Route("wecom_mass", "wmAmy")),
    (Message("text", "hi", via="mass"), "oAlice", None, Route("wecom_mass", "oAlice")),
    (Message("text", "hi", via="welcome"), "wmAmy", "WC1", Route("wecom_welcome", "wmAmy")),
    (Message("text", "hi", fields={"open_kfid": "wk1"}), "wmAmy", None, Route("wecom_kf", "wmAmy")),
    (Message("text", "hi", to="staff:zhangsan"), "oAlice", "WC1", Route("wecom_app", "zhangsan")),
    # a customer group takes a mass message its owner confirms; appchat reaches only the app's chats
    (Message("text", "hi", to="group:wrG"), "oAlice", None, Route("wecom_mass", "wrG")),
    (Message("text", "hi", to="group:wrA", via="appchat"), "oAlice", None, Route("wecom_appchat", "wrA")),
    (Message("text", "hi", to="staff_group:wrS", via="group"), "oAlice", None, Route("wecom_appchat", "wrS")),
    (Message("text", "hi", to="group:wrG", via="mass", fields={"sender": "z"}), "oAlice", None,
     Route("wecom_mass", "wrG")),
])
def test_routes_with_both_accounts(both, message, user, code, expected):
    assert both.route(message, user, welcome_code=code) == expected


def test_the_payloads_platform_hint_wins_over_the_id(both):
    assert both.route(Message("text", "hi"), "alice", platform="wecom") == Route("wecom_mass", "alice")
    assert both.route(Message("text", "hi"), "wmAmy", platform="mp") == Route("mp_custom", "wmAmy")


def test_a_wecom_only_bot_treats_every_customer_as_an_external_contact(memstore):
    router = Router.from_env({**WECOM, "WECOM_KF_ID": "wkA"}, memstore)
    assert router.route(Message("text", "hi"), "alice") == Route("wecom_kf", "alice")
    with pytest.raises(RouteError, match="WECHAT_APPID"):
        router.route(Message("text", via="template", script="order_shipped"), "alice")


@pytest.mark.parametrize("message,needs", [
    (Message("text", "x", to="staff:zhangsan", script="staff_alert"), "WECOM_CORPID"),
    (Message("text", "x", to="staff_group:wrS"), "WECOM_CORPID"),
    (Message("text", "x", via="mass"), "WECOM_CORPID"),
])
def test_an_official_account_only_bot_says_what_to_configure(memstore, message, needs):
    router = Router.from_env(MP, memstore)
    with pytest.raises(RouteError) as err:
        router.route(message, "oAlice")
    assert needs in str(err.value) and not err.value.retryable
    if message.script:
        assert message.script in str(err.value)


@pytest.mark.parametrize("message,code,words", [
    (Message("text", "x", via="welcome"), None, "no welcome code"),
    (Message("text", "x", via="kf"), None, "WECOM_KF_ID"),
    (Message("text", "x", to="fax:123"), None, "unknown address"),
    (Message("text", "x", to="staff:z", via="template"), None, "cannot reach a staff member"),
    (Message("text", "x", via="carrier_pigeon"), None, "cannot reach a customer"),
])
def test_unroutable_messages_are_permanent_errors_that_say_why(both, message, code, words):
    with pytest.raises(RouteError, match=words):
        both.route(message, "wmAmy", welcome_code=code)
