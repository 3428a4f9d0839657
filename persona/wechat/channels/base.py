"""What every outbound channel shares: one HTTP session, the access-token dance and the
mapping of WeChat's answers to :class:`~persona.errors.ChannelError`.

WeChat and WeCom answer almost everything with HTTP 200 and ``{"errcode": ..., "errmsg": ...}``;
what matters is which errcodes may be retried, which mean "refresh the token", and which mean
the message can never go (and must not be tried again, or the account gets flagged).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import mimetypes
import os
import abc
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, ClassVar, Sequence

import aiohttp

from ...clock import Clock
from ...errors import ChannelError
from ...model.messages import Message
from ...store.base import KeyValue
from .tokens import TokenCache

log = logging.getLogger(__name__)

#: The token was replaced or ran out: refresh once and try the call again.
TOKEN_CODES = frozenset({40001, 40014, 42001})
#: The platform is busy or throttling: the same call later will probably work.
RETRYABLE_CODES = frozenset({-1, 45009, 45011, 45033, 45035})
#: Names the script and kind of each bubble of a call, for local fakes and proxies.
TRACE_HEADER = "X-Persona-Messages"
#: Temporary media stay valid on the platform for three days; reuse them a bit less than that.
MEDIA_TTL = 3 * 86400 - 3600
#: the largest temporary media each platform takes, by kind (both: image 10 MB, voice 2 MB,
#: video 10 MB, file 20 MB; a thumb 64 KB): bigger is refused before it is read whole or uploaded
MEDIA_LIMITS = {"image": 10 << 20, "voice": 2 << 20, "video": 10 << 20, "file": 20 << 20, "thumb": 64 << 10}
#: the kinds that must be a picture, and how a picture's first bytes look (png, jpeg, gif, bmp)
PICTURE_KINDS = frozenset({"image", "thumb"})
PICTURE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")

HINTS: dict[int, str] = {
    40003: "the id does not belong to this account (wrong openid / userid, or another appid's customer)",
    40013: "the appid / corpid is wrong: check WECHAT_APPID or WECOM_CORPID",
    40125: "the app secret is wrong: check WECHAT_APPSECRET",
    40164: "this server's IP is not on the account's IP whitelist: add it in the platform console",
    60020: "this server's IP is not on the app's trusted IP list: add it in the WeCom admin console",
    43004: "the customer has unsubscribed from the Official Account",
    45015: "the customer's 48-hour window has passed: wait for them to write again, or send a "
           "template message for a service notice",
    45047: "the customer-service message budget for this 48-hour window is spent",
    48001: "the account has no permission for this API (check its verification and the API's grant)",
    41096: "the welcome code expired: a welcome message must go within 20 s of the add event",
    95000: "the WeCom customer-service account (open_kfid) is wrong: check WECOM_KF_ID",
}


@dataclass(slots=True)
class SendResult:
    """What a successful send returned.

    ``pending`` is True for a WeCom mass message: it reaches the customer only after the staff
    member confirms it in their app. ``note`` explains a send that was deliberately skipped
    (``welcome_code_used``).
    """

    api: str
    msgid: str | None = None
    pending: bool = False
    note: str = ""


class RouteError(ChannelError):
    """No configured channel can carry this message; the configuration must change."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class Paced(ChannelError):
    """Held back by our own pacing (not a failure): try again at ``until`` (clock seconds)."""

    def __init__(self, message: str, until: float) -> None:
        super().__init__(message, retryable=True)
        self.until = until


class HttpSession:
    """One ``aiohttp.ClientSession`` shared by every channel of a process, opened on first use
    (a session must be created inside the running event loop)."""

    def __init__(self, timeout: float = 10.0, session: aiohttp.ClientSession | None = None) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owned = session is None

    async def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300))
            self._owned = True
        return self._session

    async def close(self) -> None:
        if self._session is not None and self._owned and not self._session.closed:
            await self._session.close()
        self._session = None


FormFactory = Callable[[], aiohttp.FormData]


class ApiClient:
    """Calls one account's API: adds the token, refreshes it once on 40001/42001, maps errors."""

    def __init__(self, label: str, base_url: str, http: HttpSession, tokens: TokenCache, *,
                 trace: bool = False) -> None:
        self.label = label
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.tokens = tokens
        self.trace = trace

    async def fetch(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """An unauthenticated GET (the token endpoints); errcodes raise like any call."""
        data = await self._request("GET", path, params=params)
        code = _errcode(data)
        if code:
            error = self.error(path, data)
            if code in TOKEN_CODES:  # on a token endpoint 40001 means a wrong secret
                error = ChannelError(f"{error} — the secret is wrong: check WECHAT_APPSECRET / WECOM_SECRET",
                                     code=code, retryable=False)
            raise error
        return data

    async def call(self, path: str, body: dict[str, Any] | None = None, *, form: FormFactory | None = None,
                   params: dict[str, str] | None = None, trace: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
        """POST ``body`` (JSON) or ``form()`` (multipart) to ``path`` with the access token.

        ``trace`` describes the persona messages the call carries (see :func:`trace_entry`);
        with ``self.trace`` on (local fakes only) it travels in a header.
        Raises ChannelError for any errcode except 41051, which is returned to the caller.
        """
        headers = {"Content-Type": "application/json; charset=utf-8"} if form is None else {}
        if self.trace and trace:
            headers[TRACE_HEADER] = json.dumps(list(trace), separators=(",", ":"))
        return await self._authorized(path, lambda token: self._post(path, token, body, form, params, headers))

    async def query(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """GET ``path`` with the access token (the read APIs: user info, external contacts)."""
        return await self._authorized(
            path, lambda token: self._request("GET", path, params={"access_token": token, **params}))

    async def _authorized(self, path: str, send: Callable[[str], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        """``send(token)``, once more with a fresh token on 40001/42001; errcodes raise."""
        token = await self.tokens.get()
        data = await send(token)
        code = _errcode(data)
        if code in TOKEN_CODES:
            log.info("%s %s: errcode %s, refreshing the access token", self.label, path, code)
            token = await self.tokens.refresh(stale=token)
            data = await send(token)
            code = _errcode(data)
        if code and code != 41051:
            raise self.error(path, data)
        return data

    async def _post(self, path: str, token: str, body: dict[str, Any] | None, form: FormFactory | None,
                    params: dict[str, str] | None, headers: dict[str, str]) -> dict[str, Any]:
        query = {"access_token": token, **(params or {})}
        if form is not None:
            return await self._request("POST", path, params=query, data=form(), headers=headers)
        raw = json.dumps(body or {}, ensure_ascii=False).encode("utf-8")  # WeChat shows \u escapes verbatim
        return await self._request("POST", path, params=query, data=raw, headers=headers)

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        session = await self.http.get()
        url = self.base_url + path
        try:
            async with session.request(method, url, **kwargs) as resp:
                raw = await resp.read()
                status = resp.status
        except asyncio.TimeoutError:
            raise ChannelError(f"{self.label} {path}: no answer within {self.http.timeout.total:g} s",
                               retryable=True) from None
        except aiohttp.ClientError as exc:
            raise ChannelError(f"{self.label} {path}: {type(exc).__name__}: {exc}", retryable=True) from None
        if status >= 500 or status == 429:
            raise ChannelError(f"{self.label} {path}: HTTP {status}", retryable=True)
        if status >= 400:
            raise ChannelError(f"{self.label} {path}: HTTP {status} (is the API base URL right? {self.base_url})",
                               retryable=False)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ChannelError(f"{self.label} {path}: the answer is not JSON ({raw[:80]!r})", retryable=True) from None
        if not isinstance(data, dict):
            raise ChannelError(f"{self.label} {path}: unexpected answer {raw[:80]!r}", retryable=True)
        return data

    def error(self, path: str, data: dict[str, Any]) -> ChannelError:
        code = _errcode(data)
        text = f"{self.label} {path}: errcode {code} {data.get('errmsg', '')}".rstrip()
        hint = HINTS.get(code)
        if hint:
            text = f"{text} — {hint}"
        retryable = code in RETRYABLE_CODES or code in TOKEN_CODES
        return ChannelError(text, code=code, retryable=retryable)


def _errcode(data: dict[str, Any]) -> int:
    try:
        return int(data.get("errcode", 0) or 0)
    except (TypeError, ValueError):
        return -1


class MediaCache:
    """Uploads an image (a file path or an http(s) URL) once and reuses its media_id for days,
    across processes, so a share image sent to many customers is uploaded once."""

    def __init__(self, client: ApiClient, store: KeyValue, prefix: str) -> None:
        self.client = client
        self.store = store
        self.prefix = prefix

    async def media_id(self, source: str, kind: str = "image") -> str:
        key = f"{self.prefix}:{kind}:{hashlib.sha1(source.encode('utf-8')).hexdigest()}"
        cached = await self.store.get(key)
        if cached:
            return cached
        data, filename = await self._read(source, kind)
        media_id = await self.upload(data, filename, kind)
        await self.store.put(key, media_id, ttl=MEDIA_TTL)
        return media_id

    async def upload(self, data: bytes, filename: str, kind: str = "image") -> str:
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"

        def form() -> aiohttp.FormData:
            f = aiohttp.FormData()
            f.add_field("media", data, filename=filename, content_type=content_type)
            return f

        answer = await self.client.call("/cgi-bin/media/upload", form=form, params={"type": kind})
        media_id = answer.get("media_id")
        if not media_id:
            raise ChannelError(f"{self.client.label} media upload of {filename}: no media_id in the answer",
                               retryable=True)
        return str(media_id)

    async def _read(self, source: str, kind: str) -> tuple[bytes, str]:
        """The bytes of ``source`` and a file name for them; a source too big for the platform, or
        a URL that answers something other than a picture for a picture, is a permanent error."""
        limit = MEDIA_LIMITS.get(kind, MEDIA_LIMITS["file"])
        if source.startswith(("http://", "https://")):
            session = await self.client.http.get()
            try:
                async with session.get(source) as resp:
                    if resp.status >= 400:
                        raise ChannelError(f"fetching {source}: HTTP {resp.status}", retryable=resp.status >= 500)
                    said = resp.headers.get("Content-Type", "").partition(";")[0].strip().lower()
                    if kind in PICTURE_KINDS and said.startswith(("text/", "application/json")):  # a page, not a file
                        raise ChannelError(f"fetching {source}: it is {said}, not a picture", retryable=False)
                    data = await _read_at_most(resp.content, limit + 1)
            except aiohttp.ClientError as exc:
                raise ChannelError(f"fetching {source}: {exc}", retryable=True) from None
            name = source.rsplit("/", 1)[-1].split("?", 1)[0] or "image.jpg"
        else:
            try:
                data = await asyncio.to_thread(_read_file, source, limit + 1)
            except OSError as exc:
                raise ChannelError(f"media {source!r} cannot be read: {exc.strerror or exc}", retryable=False) from None
            name = os.path.basename(source)
        if len(data) > limit:
            raise ChannelError(f"media {source!r} is over the platform's {limit >> 10} KB for {kind}: make it smaller",
                               retryable=False)
        if kind in PICTURE_KINDS and not data.startswith(PICTURE_MAGIC):
            raise ChannelError(f"media {source!r} is not a picture (png, jpeg, gif or bmp): its first bytes are "
                               f"{data[:8]!r}", retryable=False)
        return data, name


class Channel(abc.ABC):
    """What the Official Account and WeCom channels share: one HTTP session (theirs or a shared
    one), a store-backed access token, the API client and the media cache.

    A subclass checks its credentials, then calls this constructor with its account, and says
    how its account gets a token in :meth:`_token_request`.
    """

    platform: ClassVar[str]
    """``mp`` or ``wecom``: which customers the router gives this channel."""

    thumb_fields: ClassVar[tuple[str, ...]] = ("thumb_media_id",)
    """Message fields that may carry a card image's media_id already uploaded; replace to
    accept the platform's other names for it."""

    def __init__(self, label: str, base_url: str, default_base: str, store: KeyValue, account: str, *,
                 clock: Clock | None = None, http: "HttpSession | None" = None, timeout: float = 10.0,
                 token_margin: float = 300.0, trace: bool | None = None, token_store: KeyValue | None = None) -> None:
        """``label`` names the account in errors; ``account`` keys its token and media in the
        store (its token in ``token_store`` when given); calls to any host but ``default_base``
        (a local fake) are traced unless ``trace`` says otherwise."""
        self.store = store
        self.base_url = base_url.rstrip("/")
        self._own_http = http is None
        self.http = http or HttpSession(timeout)
        # bots on one appid/corpid must hold one token: each new one invalidates the last, so
        # ``persona serve`` passes one store namespace (``ACCOUNTS_NAMESPACE``) to all its bots
        self.tokens = TokenCache(token_store or store, f"token:{account}", self._fetch_token, clock=clock,
                                 margin=token_margin)
        self.api = ApiClient(label, self.base_url, self.http, self.tokens,
                             trace=self.base_url != default_base if trace is None else trace)
        self.media = MediaCache(self.api, store, f"media:{account}")

    @property
    def clock(self) -> Clock:
        return self.tokens.clock

    def bind_clock(self, clock: Clock) -> None:
        """Use ``clock`` for token expiry and pacing (the deliverer's clock, fake in a simulation)."""
        self.tokens.clock = clock

    @abc.abstractmethod
    def _token_request(self) -> tuple[str, dict[str, str]]:
        """The path and query that grant this account an access token (the answer carries
        ``access_token`` and ``expires_in``, as both platforms give it)."""

    async def image_id(self, message: Message) -> str:
        """The media_id of a message's image: its ``media_id`` field, or its ``media`` (a file
        path or URL) uploaded once and reused."""
        return await self._media_id(message, ("media_id",), "media", "an image file path or URL")

    async def thumb_id(self, message: Message) -> str:
        """The media_id of a card's image: one of :attr:`thumb_fields`, or its ``thumb`` uploaded."""
        return await self._media_id(message, self.thumb_fields, "thumb", "a card image file path or URL")

    async def _media_id(self, message: Message, given: tuple[str, ...], source: str, what: str) -> str:
        fields = message.fields
        for key in given:
            if fields.get(key):
                return str(fields[key])
        return await self.media.media_id(str(need(fields, source, message.kind, what)))

    async def _fetch_token(self) -> tuple[str, float]:
        data = await self.api.fetch(*self._token_request())
        return str(data["access_token"]), float(data.get("expires_in", 7200))

    async def upload_media(self, data: bytes, filename: str, kind: str = "image") -> str:
        """Upload temporary media (valid three days); returns its media_id."""
        return await self.media.upload(data, filename, kind)

    async def close(self) -> None:
        if self._own_http:
            await self.http.close()


async def _read_at_most(body: aiohttp.StreamReader, most: int) -> bytes:
    """Up to ``most`` bytes of a response body, however the server chunks it."""
    parts: list[bytes] = []
    left = most
    while left > 0:
        part = await body.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _read_file(path: str, most: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(most)


def trace_entry(message: Message, recipient: str | None, *, parts: Sequence[int] = (0,),
                text: tuple[int, int] | None = None) -> dict[str, Any]:
    """How one persona message maps onto a call: its script, kind and address, the indexes of
    the bubbles (text first, then attachments) it became, and the span of its words in the
    text bubble when several messages share one (a welcome)."""
    to = message.to if message.to and not message.to.startswith("user:") else recipient
    entry: dict[str, Any] = {"script": message.script, "kind": message.kind, "parts": list(parts)}
    if to:
        entry["to"] = to
    if text is not None:
        entry["text"] = list(text)
    return entry


def need(fields: dict[str, Any], key: str, kind: str, what: str) -> Any:
    """A field a message kind cannot go without, or a permanent error saying which script to fix."""
    value = fields.get(key)
    if value in (None, ""):
        raise ChannelError(f"a {kind} message needs the field {key!r} ({what}); set it in the script "
                           f"with {{% set {key} = ... %}}", retryable=False)
    return value


def client_id(key: str | None) -> str | None:
    """A platform-safe idempotency id (≤ 32 chars of [0-9a-f]) for an outbox item id."""
    if not key:
        return None
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:32]
