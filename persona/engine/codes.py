"""渠道活码: the channel codes a bot made, kept in its store so every process and tool agrees.

A code is a channel (the name a customer's first touch is credited to) and how it brings
customers: on WeCom one 「联系我」 per staff member, each carrying the channel as its ``state``,
handed out in turn by the landing page under a daily cap per staff member (:mod:`.acquisition`);
on an Official Account one permanent QR code whose scene is the channel. Making a code calls the
platform first and keeps it only once every call succeeded (a failure part way deletes what was
made); removing one deletes its contact ways first, so nothing is left behind that still adds
customers to a channel persona no longer shows.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Callable

from ..errors import ChannelError, PersonaError
from ..store.base import KeyValue
from ..wechat.channels import codes as platform
from ..wechat.channels.router import Router

log = logging.getLogger(__name__)

KEY = "acquisition:codes"
LOCK = "acquisition:codes:lock"
CHANNEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,29}")
DEFAULT_CAP = 100  # adds per staff member per day; WeChat limits how many a member may take


class CodeError(PersonaError):
    """A code cannot be made or removed as asked; ``str()`` says what to change in English,
    ``zh`` in Chinese (the studio's)."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


class Rule(StrEnum):
    """How the landing picks the staff member whose code a visitor sees."""

    ROUND_ROBIN = "round-robin"  # each visitor the next member in the list
    FEWEST = "fewest"            # the member with the fewest adds today


class Platform(StrEnum):
    WECOM = "wecom"
    OFFICIAL = "mp"


@dataclass(frozen=True, slots=True)
class StaffCode:
    staff: str
    config_id: str
    qr_code: str


@dataclass(frozen=True)
class ChannelCode:
    """One channel's code: the staff it assigns to and by which rule, or its QR code."""

    channel: str
    platform: Platform
    staff: tuple[StaffCode, ...] = ()
    rule: Rule = Rule.ROUND_ROBIN
    cap: int = DEFAULT_CAP
    skip_verify: bool = True
    ticket: str = ""
    image: str = ""  # an Official Account code's picture URL
    created: float = 0.0
    by: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "platform": str(self.platform), "rule": str(self.rule)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "ChannelCode":
        return cls(str(raw["channel"]), Platform(raw["platform"]),
                   tuple(StaffCode(**s) for s in raw.get("staff") or ()), Rule(raw.get("rule", Rule.ROUND_ROBIN)),
                   int(raw.get("cap", DEFAULT_CAP)), bool(raw.get("skip_verify", True)), str(raw.get("ticket", "")),
                   str(raw.get("image", "")), float(raw.get("created", 0.0)), str(raw.get("by", "")))

    def picture(self, staff: str | None = None) -> str:
        """The URL of the QR picture for ``staff`` (an Official Account code has one)."""
        if self.platform is Platform.OFFICIAL:
            return self.image
        return next((s.qr_code for s in self.staff if s.staff == staff), "")


def check_channel(channel: str) -> str:
    """The channel name, or :class:`CodeError` saying what a name may be."""
    if not CHANNEL.fullmatch(channel or "") or channel.lower().startswith("qrscene_"):
        raise CodeError(f"channel {channel!r}: use 1 to 30 letters, digits, '_' or '-', starting with a letter "
                        "or digit (WeCom keeps at most 30 characters of a contact way's state)",
                        f"渠道名 {channel!r} 不能用：请用 1 到 30 个英文字母、数字、_ 或 -，以字母或数字开头"
                        "（企业微信的 state 最多 30 个字符）")
    return channel


def check_staff(staff: list[str]) -> list[str]:
    names = [s.strip() for s in staff if s.strip()]
    if not names:
        raise CodeError("name at least one staff member (their WeCom userid), e.g. --staff zhangsan,lisi",
                        "请至少填写一位员工（企业微信 userid），多位用逗号隔开，例如 zhangsan,lisi")
    if len(set(names)) != len(names):
        raise CodeError(f"a staff member is named twice: {', '.join(names)}", f"有员工重复填写了：{'、'.join(names)}")
    return names


async def load(store: KeyValue) -> list[ChannelCode]:
    """Every code the bot keeps, oldest first."""
    raw = await store.get(KEY)
    return [ChannelCode.from_dict(c) for c in json.loads(raw)] if raw else []


async def find(store: KeyValue, channel: str) -> ChannelCode | None:
    return next((c for c in await load(store) if c.channel == channel), None)


async def create(store: KeyValue, router: Router, channel: str, *, staff: list[str] | None = None,
                 official: bool = False, rule: Rule = Rule.ROUND_ROBIN, cap: int = DEFAULT_CAP,
                 skip_verify: bool = True, by: str = "", now: float = 0.0) -> ChannelCode:
    """Make the code on the platform, then keep it. Raises :class:`CodeError` for bad input or
    a channel that has a code already, ``ChannelError`` when the platform refuses."""
    check_channel(channel)
    if cap < 1:
        raise CodeError(f"--cap {cap}: a staff member takes at least 1 customer a day",
                        f"每人每天上限 {cap} 不行：至少为 1")
    if await find(store, channel) is not None:
        raise CodeError(f"channel {channel!r} has a code already: remove it first, or pick another name",
                        f"渠道 {channel} 已经有活码了：先删除它，或换一个渠道名")
    if official:
        if router.official is None:
            raise CodeError("an Official Account code needs WECHAT_APPID and WECHAT_APPSECRET",
                            "公众号二维码需要设置 WECHAT_APPID 和 WECHAT_APPSECRET")
        made = await platform.create_qrcode(router.official, channel)
        code = ChannelCode(channel, Platform.OFFICIAL, ticket=made.ticket, image=made.image, created=now, by=by)
    else:
        if router.wecom is None:
            raise CodeError("a WeCom code needs WECOM_CORPID and WECOM_SECRET (the app must be allowed 客户联系)",
                            "企业微信活码需要设置 WECOM_CORPID 和 WECOM_SECRET（应用需有客户联系权限）")
        names = check_staff(staff or [])
        ways: list[StaffCode] = []
        try:
            for name in names:
                way = await platform.add_contact_way(router.wecom, name, channel, skip_verify=skip_verify,
                                                     remark=f"渠道 {channel}")
                ways.append(StaffCode(name, way.config_id, way.qr_code))
        except ChannelError:
            for way_made in ways:  # nothing half made stays behind on WeCom
                try:
                    await platform.del_contact_way(router.wecom, way_made.config_id)
                except ChannelError as exc:
                    log.warning("channel %s: contact way %s of %s could not be deleted again: %s", channel,
                                way_made.config_id, way_made.staff, exc)
            raise
        code = ChannelCode(channel, Platform.WECOM, tuple(ways), rule, cap, skip_verify, created=now, by=by)
    await _change(store, lambda codes: [*codes, code])
    return code


async def remove(store: KeyValue, router: Router, channel: str) -> ChannelCode:
    """Delete the code's contact ways on WeCom, then forget it."""
    code = await find(store, channel)
    if code is None:
        raise CodeError(f"no code for channel {channel!r} (persona codes BOT list shows them)",
                        f"渠道 {channel} 没有活码（可能已被删除），请刷新页面")
    if code.platform is Platform.WECOM:
        if router.wecom is None:
            raise CodeError("removing a WeCom code needs WECOM_CORPID and WECOM_SECRET",
                            "删除企业微信活码需要设置 WECOM_CORPID 和 WECOM_SECRET")
        for way in code.staff:
            await platform.del_contact_way(router.wecom, way.config_id)
    await _change(store, lambda codes: [c for c in codes if c.channel != channel])
    return code


async def _change(store: KeyValue, edit: Callable[[list[ChannelCode]], list[ChannelCode]]) -> None:
    """Read, edit and write the codes under a short lock (two tools at once must not lose one)."""
    if not await store.set_if_absent(LOCK, "1", ttl=10):
        raise CodeError("another change to the codes is under way: try again in a few seconds",
                        "有人正在修改渠道活码，请过几秒再试")
    try:
        codes = edit(await load(store))
        await store.put(KEY, json.dumps([c.to_dict() for c in codes], ensure_ascii=False))
    finally:
        await store.delete(LOCK)
