"""Personal fields masked for roles that do not need them."""

from __future__ import annotations

from persona.studio.masking import mask_fields, mask_text, mask_value
from persona.studio.roles import Permission, Role, allows


def test_phone_numbers_and_emails_in_free_text_are_masked():
    assert mask_text("我的手机是13812345678，快递到了吗") == "我的手机是138****5678，快递到了吗"
    assert mask_text("+86 13912345678") == "+86 139****5678"
    assert mask_text("amy.w@example.com") == "a****@example.com"
    assert mask_text("订单 20261123000123456") == "订单 20261123000123456"  # not a phone number


def test_personal_keys_are_masked_whatever_their_value():
    assert mask_value("name", "王小美") == "王****"
    assert mask_value("phone", "13812345678") == "138****5678"
    assert mask_fields({"source": "parcel", "address": "上海市徐汇区"}) == {"source": "parcel", "address": "上****"}
    assert mask_value("contact", {"phone": "13812345678"}) == "****"


def test_only_agents_see_personal_fields():
    assert [r for r in Role if allows(r, Permission.SEE_PERSONAL)] == [Role.AGENT]
