"""A persona's forms are checked when the class is defined: a mistake names what to fix."""

from __future__ import annotations

import pytest

from persona import DefinitionError, Persona, Turn, on
from persona.model.forms import Form, FormField, choice, day, multi, number, phone, text, yesno


def persona_with(*declared: Form, data: dict | None = None) -> type[Persona]:
    class Shop(Persona):
        name = "shop"
        states = ["new", "member"]
        transitions = [["join", "new", "member"]]
        forms = list(declared)

        @on.event("signed_up", data=data)
        async def signed_up(self, turn: Turn) -> None:
            await turn.trigger("join")

    return Shop


def signup(*fields: FormField, event: str = "signed_up", **kw) -> Form:
    return Form("signup", title="会员登记", fields=fields or (text("name", "姓名"),), event=event, **kw)


def test_a_sound_form_is_kept_on_the_class():
    cls = persona_with(signup(text("name", "姓名"), phone("mobile", "手机号")),
                       data={"name": str, "mobile?": str})
    assert [f.name for f in cls.forms] == ["signup"]
    assert cls.forms[0].lifetime == 7 * 86400


def test_an_event_without_a_handler_is_refused_with_the_close_name():
    with pytest.raises(DefinitionError, match=r"event 'signed_upp'.*did you mean 'signed_up'"):
        persona_with(signup(event="signed_upp"))


def test_a_field_the_event_requires_must_be_asked():
    with pytest.raises(DefinitionError, match=r"does not ask 'birthday', which event 'signed_up' requires"):
        persona_with(signup(text("name", "姓名")), data={"name": str, "birthday": str})


def test_a_required_event_field_cannot_be_optional_in_the_form():
    with pytest.raises(DefinitionError, match=r"'name' is optional.*make it required=True"):
        persona_with(signup(text("name", "姓名", required=False)), data={"name": str})


def test_a_field_of_the_wrong_type_for_the_event_is_refused():
    with pytest.raises(DefinitionError, match=r"'age' gives float, but event 'signed_up' declares it text"):
        persona_with(signup(number("age", "年龄")), data={"age": str})


def test_whole_numbers_fit_a_number_and_lists_fit_a_list():
    persona_with(signup(number("age", "年龄", integer=True), multi("days", "哪几天", {"1": "周一", "2": "周二"}),
                        yesno("ok", "同意吗"), day("birthday", "生日")),
                 data={"age": float, "days": list, "ok": bool, "birthday": str})


@pytest.mark.parametrize("make, message", [
    (lambda: choice("goal", "目标", {}), r"needs choices="),
    (lambda: text("goal", "目标", pattern="(", pattern_hint="格式不对"), r"pattern '\(' does not compile"),
    (lambda: text("code", "邀请码", pattern=r"\d{6}"), r"needs pattern_hint"),
    (lambda: number("age", "年龄", minimum=10, maximum=5), r"minimum 10 is above maximum 5"),
    (lambda: multi("days", "哪几天", {"1": "周一"}, maximum=3), r"maximum=3 but there are only 1 choices"),
    (lambda: text("Name", "姓名"), r"lower-case letters"),
    (lambda: text("name", " "), r"give it a label"),
    (lambda: FormField("name", "姓名", kind="colour"), r"kind 'colour' is not one of text, number"),
    (lambda: FormField("name", "姓名", choices={"a": "A"}), r"only choice and multi fields take choices"),
], ids=["no-choices", "bad-pattern", "no-hint", "min-max", "multi-max", "name", "label", "kind", "choices"])
def test_field_mistakes_say_what_to_fix(make, message):
    with pytest.raises(DefinitionError, match=message):
        make()


@pytest.mark.parametrize("kw, message", [
    ({"fields": ()}, r"needs fields"),
    ({"fields": (text("a", "甲"), text("a", "乙"))}, r"field 'a' appears twice"),
    ({"expires": "soon"}, r"expires='soon'"),
    ({"expires": 0}, r"must be a positive duration"),
    ({"title": ""}, r"give it a title"),
], ids=["no-fields", "twice", "expires", "zero", "title"])
def test_form_mistakes_say_what_to_fix(kw, message):
    base = {"name": "signup", "title": "会员登记", "fields": (text("name", "姓名"),), "event": "signed_up"}
    with pytest.raises(DefinitionError, match=message):
        Form(**{**base, **kw})


def test_two_forms_of_one_name_are_refused():
    with pytest.raises(DefinitionError, match=r"declares 'signup' twice"):
        persona_with(signup(), signup())


# -- reading what a browser posted -------------------------------------------------------------
FORM = signup(
    text("name", "姓名", max_length=4), number("age", "年龄", minimum=18, maximum=99, integer=True),
    choice("size", "尺码", {"s": "小", "m": "中"}), multi("days", "哪几天", {"1": "周一", "2": "周二", "3": "周三"},
                                                       minimum=1, maximum=2),
    day("birthday", "生日", required=False), phone("mobile", "手机号", required=False),
    yesno("news", "接收活动消息吗"), text("code", "邀请码", required=False, pattern=r"\d{6}",
                                     pattern_hint="邀请码是 6 位数字"))


def test_good_answers_become_the_events_data_with_their_types():
    answers = FORM.read({"name": ["小美"], "age": ["２８"], "size": ["m"], "days": ["3", "1"],
                         "birthday": ["1998-05-20"], "mobile": ["+86 138-1234-5678"], "news": ["no"],
                         "code": [""], "_token": ["x"]})
    assert answers.valid
    assert answers.data == {"name": "小美", "age": 28, "size": "m", "days": ["1", "3"], "birthday": "1998-05-20",
                            "mobile": "13812345678", "news": False}


def test_each_bad_answer_gets_a_chinese_message_of_its_own():
    answers = FORM.read({"name": ["一二三四五"], "age": ["17.5"], "size": ["xl"], "days": ["1", "2", "3"],
                         "birthday": ["5月20日"], "mobile": ["12345"], "code": ["12ab"]})
    assert not answers.valid
    assert answers.errors == {
        "name": "最多 4 个字（现在是 5 个）", "age": "请填整数", "size": "请从给出的选项里选", "days": "最多选 2 项",
        "birthday": "请按 年-月-日 填写日期，例如 1990-05-20", "mobile": "请填写 11 位手机号，例如 13812345678",
        "news": "请选择「接收活动消息吗」", "code": "邀请码是 6 位数字"}


def test_missing_required_answers_are_asked_for_by_their_label():
    answers = FORM.read({"age": ["abc"]})
    assert answers.errors["name"] == "请填写「姓名」"
    assert answers.errors["age"] == "请填一个数字"
    assert answers.errors["days"] == "请选择「哪几天」"
    assert "birthday" not in answers.errors and "mobile" not in answers.errors
