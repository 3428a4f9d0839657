"""The platform calls behind a channel code: WeCom's 「联系我」 (``externalcontact/add_contact_way``
and friends) and the Official Account's permanent parametric QR code (``qrcode/create``).

A 「联系我」 is made per staff member (type 1, a QR code: scene 2) carrying the channel as its
``state``, which WeCom hands back in the add-contact callback; an Official Account code is a
``QR_LIMIT_STR_SCENE`` whose scene is the channel (the follow event's EventKey is
``qrscene_<channel>``). WeChat cannot delete a permanent QR code: it is only forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from ...errors import ChannelError
from .wechat import DEFAULT_BASE as WECHAT_DEFAULT_BASE
from .wechat import OfficialAccountChannel
from .wecom import WeComChannel

#: where WeChat shows a QR code's picture (another host than its API)
SHOW_QR_BASE = "https://mp.weixin.qq.com"
STATE_LIMIT = 30
WAY_GONE = 40058  # WeCom's answer for a config_id it does not know (deleted already)


@dataclass(frozen=True, slots=True)
class ContactWay:
    """One 「联系我」 made: its id (to change or delete it) and its QR code's picture URL."""

    config_id: str
    qr_code: str


@dataclass(frozen=True, slots=True)
class QrCode:
    """A permanent Official Account QR code: its ticket and the URL of its picture."""

    ticket: str
    image: str


async def add_contact_way(channel: WeComChannel, staff: str, state: str, *, skip_verify: bool = True,
                          remark: str = "") -> ContactWay:
    """A single-member QR 「联系我」 for ``staff`` whose adds carry ``state``."""
    if len(state) > STATE_LIMIT:
        raise ChannelError(f"a contact way's state is at most {STATE_LIMIT} characters: {state!r}", retryable=False)
    answer = await channel.api.call("/cgi-bin/externalcontact/add_contact_way", {
        "type": 1, "scene": 2, "state": state, "user": [staff], "skip_verify": skip_verify, "remark": remark[:30]})
    config_id, qr_code = str(answer.get("config_id") or ""), str(answer.get("qr_code") or "")
    if not config_id or not qr_code:
        raise ChannelError(f"WeCom made a contact way for {staff} without a config_id or QR code", retryable=False)
    return ContactWay(config_id, qr_code)


async def del_contact_way(channel: WeComChannel, config_id: str) -> None:
    """Delete the way (its QR code stops working); one WeCom no longer knows is gone already."""
    try:
        await channel.api.call("/cgi-bin/externalcontact/del_contact_way", {"config_id": config_id})
    except ChannelError as exc:
        if exc.code != WAY_GONE:
            raise


async def create_qrcode(channel: OfficialAccountChannel, scene: str) -> QrCode:
    """A permanent QR code whose follow and scan events carry ``scene``."""
    answer = await channel.api.call("/cgi-bin/qrcode/create", {
        "action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}})
    ticket = str(answer.get("ticket") or "")
    if not ticket:
        raise ChannelError("WeChat made a QR code without a ticket", retryable=False)
    base = SHOW_QR_BASE if channel.base_url == WECHAT_DEFAULT_BASE else channel.base_url
    return QrCode(ticket, f"{base}/cgi-bin/showqrcode?ticket={quote(ticket, safe='')}")
