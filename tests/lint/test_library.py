"""内容库: items checked when kept (fields, https addresses, 风控), shaped for sendChatMessage,
the shipped file linted, the store's copy taking over once writers change it."""

from __future__ import annotations

import pytest

from persona.content import library
from persona.model.persona import load_persona
from persona.store import open_store
from tests.conftest import BotPackage

XIAOWANZI = load_persona("bots.xiaowanzi")


@pytest.mark.parametrize("raw, says", [
    ({"kind": "video", "title": "x"}, "choose text, image, link or miniprogram"),
    ({"kind": "image", "title": "图"}, "an item of kind image needs picture"),
    ({"kind": "image", "title": "图", "picture": "../../pyproject.toml"}, "or a picture file"),
    ({"kind": "image", "title": "图", "picture": "media/missing.png"}, "or a picture file"),
    ({"kind": "image", "title": "图", "picture": "persona.py"}, r"or a picture file \(png, jpg\) in the bot's"),
    ({"kind": "text", "title": " "}, "needs a title"),
    ({"kind": "link", "title": "券"}, "an item of kind link needs url"),
    ({"kind": "miniprogram", "title": "订单", "appid": "wx1"}, "needs page"),
    ({"kind": "link", "title": "券", "url": "http://shop.example.com"}, "give an https:// address"),
    ({"kind": "text", "title": "功效", "text": "三天根治痘痘"}, r"根治 is a forbidden word \(risk.yaml\)"),
])
def test_an_item_that_cannot_be_kept_says_why(raw, says):
    with pytest.raises(library.LibraryError, match=says):
        library.item(raw, XIAOWANZI)


def test_each_kind_is_the_message_sendchatmessage_takes():
    link = library.item({"kind": "link", "title": "新人礼包", "url": "https://s.example/c", "description": "减 10 元",
                         "picture": "https://s.example/p.png"}, XIAOWANZI)
    assert link.chat_message() == {"msgtype": "news", "news": {"link": "https://s.example/c", "title": "新人礼包",
                                                               "desc": "减 10 元", "imgUrl": "https://s.example/p.png"}}
    card = library.item({"kind": "miniprogram", "title": "订单", "appid": "wx1", "page": "pages/o"}, XIAOWANZI)
    assert card.chat_message()["miniprogram"] == {"appid": "wx1", "title": "订单", "imgUrl": "", "page": "pages/o"}
    assert library.item({"kind": "text", "title": "t", "text": "你好"}, XIAOWANZI).chat_message() == {
        "msgtype": "text", "text": {"content": "你好"}}
    picture = library.item({"kind": "image", "title": "退货三步", "picture": "media/return_steps.png"}, XIAOWANZI)
    assert picture.chat_message("MEDIA1") == {"msgtype": "image", "image": {"mediaId": "MEDIA1"}}
    assert library.source(picture, XIAOWANZI) == str(XIAOWANZI.folder().resolve() / "media" / "return_steps.png")
    with pytest.raises(ValueError, match="upload it first"):
        picture.chat_message()


async def test_the_store_copy_takes_over_from_the_shipped_file():
    store = open_store("memory://", "xiaowanzi")
    shipped = await library.load(store, XIAOWANZI)
    assert [i.title for i in shipped] == ["新人礼包", "完美日记小程序 · 我的订单", "退货地址", "退货三步（图）"]
    assert await library.load(store, XIAOWANZI) == shipped  # the same ids on every read: items are named by them
    await library.save(store, [i for i in shipped if i.id != shipped[2].id])  # the studio removes a shipped item
    assert [i.title for i in await library.load(store, XIAOWANZI)] == ["新人礼包", "完美日记小程序 · 我的订单", "退货三步（图）"]


def test_a_broken_shipped_library_fails_lint(tmp_path, monkeypatch):
    package = BotPackage(tmp_path, "libbot", "from persona import Persona\n\n\nclass Libbot(Persona):\n"
                         "    states = ['new']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = package.lint_errors({"library.yaml": "- kind: link\n  title: 券\n  url: http://x\n"})
    assert found == ["the content library: url 'http://x': give an https:// address"]


def test_the_studio_hears_a_library_refusal_in_chinese():
    with pytest.raises(library.LibraryError) as refused:
        library.item({"kind": "link", "title": "券"}, XIAOWANZI)
    assert refused.value.text("zh") == "link 类型的内容还缺：url"
