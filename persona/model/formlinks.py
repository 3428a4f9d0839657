"""Signed links to a persona's forms: who may answer which form, until when.

A link names the bot, the form and the customer and carries an expiry and an HMAC-SHA256 of
all four under the brand's secret (``PERSONA_FORM_SECRET``, else ``PERSONA_EVENT_SECRET``), so
nobody can answer a form as another customer, for another form, or after the link expired,
without the secret. The link is the whole credential: the form page sets no cookie, so a page
elsewhere cannot submit in a customer's name without already holding their link.

Each rendered page also carries a token (a random nonce and its HMAC, bound to the same link):
a POST must come from a page persona served, and the nonce is the submission's dedupe key, so
pressing 提交 twice (or a browser re-posting on refresh) makes one event.

Scripts build links with ``{{ form_link("questionnaire") }}`` (:func:`link_for`, bound to the
customer of the turn). Without a configured :class:`FormLinks` a served bot refuses to render
such a script rather than send a link nobody can open; lint and previews use
:meth:`FormLinks.preview`, whose links show their shape and open nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from ..errors import FormLinkError, TemplateError
from .forms import Form, form_named

if TYPE_CHECKING:
    from .turn import Turn

#: where ``persona serve`` answers form links (``/forms/{bot}/{form}``)
PATH = "/forms"
#: what a preview link is signed with: no real link ever verifies against it
_PREVIEW = "preview"


@dataclass(frozen=True)
class FormLinks:
    """Builds and checks the signed links of one bot's forms."""

    secret: bytes
    base_url: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "FormLinks | None":
        """From ``PERSONA_PUBLIC_URL`` (where customers reach ``persona serve``) and
        ``PERSONA_FORM_SECRET`` (else ``PERSONA_EVENT_SECRET``); None unless both are set."""
        base = (environ.get("PERSONA_PUBLIC_URL") or "").strip().rstrip("/")
        secret = environ.get("PERSONA_FORM_SECRET") or environ.get("PERSONA_EVENT_SECRET") or ""
        return cls(secret.encode(), base) if base and secret else None

    @classmethod
    def preview(cls) -> "FormLinks":
        """Links for lint, previews and the studio: the right shape, never a working link."""
        return cls(b"", "https://forms.example.invalid")

    def _sign(self, *parts: str) -> str:
        if not self.secret:
            return _PREVIEW
        return hmac.new(self.secret, "\n".join(parts).encode(), hashlib.sha256).hexdigest()

    def path(self, bot: str, form: str) -> str:
        return f"{PATH}/{quote(bot, safe='')}/{quote(form, safe='')}"

    def url(self, bot: str, form: Form, user: str, now: float) -> str:
        """The link ``user`` opens to answer ``form``; good for ``form.lifetime`` from ``now``."""
        expires = str(math.ceil(now + form.lifetime))
        query = urlencode({"u": user, "e": expires, "s": self._sign("link", bot, form.name, user, expires)})
        return f"{self.base_url}{self.path(bot, form.name)}?{query}"

    def verify(self, bot: str, form: str, query: Mapping[str, str], now: float) -> str:
        """The customer a link is for; :class:`FormLinkError` when it was not signed by us for this
        bot and form, or has expired (checked after the signature: an altered expiry is forged)."""
        user, expires, given = query.get("u", ""), query.get("e", ""), query.get("s", "")
        if not (self.secret and user and expires.isdigit() and given):
            raise FormLinkError("the link is incomplete or was not signed here")
        expected = self._sign("link", bot, form, user, expires)
        if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
            raise FormLinkError("the link's signature does not match")
        if int(expires) <= now:
            raise FormLinkError("the link has expired", expired=True)
        return user

    def token(self, bot: str, form: str, user: str) -> str:
        """A fresh per-page token: ``<nonce>.<signature>``."""
        nonce = secrets.token_urlsafe(12)
        return f"{nonce}.{self._sign('page', bot, form, user, nonce)}"

    def nonce(self, bot: str, form: str, user: str, token: str) -> str | None:
        """The nonce of a token this link's page carried; None for anything else."""
        nonce, _, given = token.partition(".")
        if not (self.secret and nonce and given):
            return None
        expected = self._sign("page", bot, form, user, nonce)
        return nonce if hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")) else None


def link_for(turn: "Turn", name: str) -> str:
    """``{{ form_link("questionnaire") }}``: the customer's signed link to one of the persona's forms."""
    persona = type(turn.persona)
    form = form_named(persona, name)
    if form is None:
        known = ", ".join(f.name for f in persona.forms) or "none"
        raise TemplateError(f"form_link({name!r}): {persona.__name__} declares no form {name!r} (forms: {known})",
                            variable="form_link")
    links = turn.persona.form_links
    if links is None:
        raise TemplateError(f"form_link({name!r}): set PERSONA_PUBLIC_URL (where customers reach persona serve) "
                            "and PERSONA_FORM_SECRET (or PERSONA_EVENT_SECRET) to send form links",
                            variable="form_link")
    return links.url(persona.name, form, turn.customer.id, turn.now)
