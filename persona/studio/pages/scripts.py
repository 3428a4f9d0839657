"""Scripts: every script of a bot with where it is said and its live version; an editor with a
live preview and lint as the writer types; publish with a note, history with diffs, rollback,
A/B variants and their report.

Every change goes through :class:`persona.content.scripts.ScriptCatalog`, the code ``persona scripts``
uses: lint judges each publish and rollback there, so nothing published here bypasses it. The
running ``persona serve`` processes pick a new version up from the store within seconds.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from aiohttp import web

from ...clock import parse_duration
from ...model.customer import Customer
from ...errors import PersonaError, ScriptRejected
from ...content.scripts import ScriptCatalog, load_live
from ...content.scripts.failures import ScriptFailure, recent_failures
from ...content.scripts.report import Goal, script_report
from ...model.templates import DEFAULT_VARIANT, DEFAULT_WEIGHT, SUFFIX, LiveScript
from ...model.wording import ZH
from ..audit import Action
from ..charts import rates_over_time
from ..context import STUDIO, StudioBot
from ..masking import mask_text
from ..preview import Finding, baseline, findings, render as render_draft
from ..render import render
from ..roles import Permission, allows
from ..samples import GENERATED, Sample, from_file, generated, real, sample_files
from ..security import Route
from ..where import places

TIME = "%Y-%m-%d %H:%M"
MAX_TEXT = 64 * 1024
_BASELINES: dict[tuple[str, tuple[tuple[str, int], ...]], set[str]] = {}


def catalog(bot: StudioBot) -> ScriptCatalog:
    return ScriptCatalog(bot.cls, bot.store)  # type: ignore[arg-type]


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).strftime(TIME) if epoch else "-"


async def list_page(request: web.Request) -> web.StreamResponse:
    bot = request.app[STUDIO].bot(request.match_info["bot"])
    where = places(bot.cls)  # type: ignore[arg-type]  # mypy takes a class's __hash__ for its instances'
    rows = []
    for status in await catalog(bot).scripts():
        rows.append({"name": status.script, "version": status.version.number,
                     "author": status.version.author, "at": _when(status.version.at),
                     "variants": status.variants, "places": where.get(status.script, ())})
    return render(request, "scripts.html", bot=bot.name, rows=rows)


async def editor(request: web.Request, *, text: str | None = None, note: str = "",
                 problems: list[Finding] | None = None, refused: str = "", status: int = 200) -> web.Response:
    bot = request.app[STUDIO].bot(request.match_info["bot"])
    script = request.match_info["script"]
    cat = catalog(bot)
    try:
        history = await cat.history(script)
    except PersonaError as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    live = history[0].version
    if live.number == 0 and not (bot.cls.folder() / bot.cls.scripts_dir / f"{script}.j2").is_file():
        raise web.HTTPNotFound(text=f"{bot.name} has no script {script!r}")
    variant = request.query.get("variant", DEFAULT_VARIANT)
    current = _text_of(cat, live, variant)
    variants = [(v.name, v.weight) for v in live.variants] or [(DEFAULT_VARIANT, DEFAULT_WEIGHT)]
    report = None
    goal_text, within_text = request.query.get("goal", ""), request.query.get("within", "7d")
    report_error = ""
    if goal_text:
        try:
            report = await script_report(bot.store, script, Goal.parse(goal_text),
                                         parse_duration(within_text).total_seconds(), tz=bot.cls.timezone)
        except (PersonaError, ValueError) as exc:
            report_error = str(exc)
    failures = _failures(await recent_failures(bot.store, script), live.number,
                         personal=allows(request["account"].role, Permission.SEE_PERSONAL))
    return render(request, "script.html", status=status, bot=bot.name, script=script, live=live,
                  text=current if text is None else text, saved=current, variant=variant, variants=variants,
                  new_variant=variant not in dict(variants),
                  history=[{"number": h.version.number, "action": str(h.version.action), "author": h.version.author,
                            "at": _when(h.version.at), "note": h.version.note, "added": h.added,
                            "removed": h.removed, "diff": h.diff, "restores": h.version.restores}
                           for h in history],
                  places=places(bot.cls).get(script, ()),  # type: ignore[arg-type]  # mypy takes a class's __hash__ for its instances'
                  samples=sorted(sample_files(bot.cls)),
                  note=note, problems=problems or [], refused=refused,
                  notice=request.query.get("notice", ""), goal=goal_text, within=within_text,
                  report=report, report_error=report_error, failures=failures,
                  chart=rates_over_time(report.timeline) if report is not None else "",
                  failing=len({f["customer"] for f in failures if f["live"]}))


def _failures(failures: list[ScriptFailure], live: int, *, personal: bool) -> list[dict[str, Any]]:
    """The script's recent failures as rows, errors masked unless ``personal`` (an error may
    quote a customer's value)."""
    return [{"at": _when(f.at), "customer": f.customer, "version": f.fallback.version,
             "variant": f.fallback.variant, "used": f.fallback.used, "live": f.fallback.version == live,
             "error": f.fallback.error if personal else mask_text(f.fallback.error)} for f in failures]


def _text_of(cat: ScriptCatalog, version: Any, variant: str) -> str:
    found = version.variant(variant) if version.variants else None
    if found is not None:
        return str(found.text)
    first = version.variants[0].text if version.variants else None
    if first is not None:
        return str(first)
    path = cat.folder / f"{version.script}.j2"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


async def editor_get(request: web.Request) -> web.Response:
    return await editor(request)


async def _draft(request: web.Request) -> tuple[StudioBot, str, str, dict[str, Any], dict[str, LiveScript]]:
    bot = request.app[STUDIO].bot(request.match_info["bot"])
    script = request.match_info["script"]
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="send JSON: {\"text\": \"...\"}") from None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise web.HTTPBadRequest(text=f"\"text\" must be a string of at most {MAX_TEXT} characters")
    return bot, script, text, body, await load_live(bot.store)  # type: ignore[arg-type]


async def preview_api(request: web.Request) -> web.StreamResponse:
    """The draft rendered for a sample: {text, kind, fields, size, error, sample}."""
    bot, script, text, body, live = await _draft(request)
    sample, label = await _sample(request, bot, str(body.get("sample") or GENERATED), str(body.get("customer") or ""))
    if sample is None:
        return web.json_response({"error": label}, status=404)
    personal = allows(request["account"].role, Permission.SEE_PERSONAL)
    shown = render_draft(bot.cls, live, script, text, sample, personal=personal)
    return web.json_response({"text": shown.text, "kind": shown.kind, "category": shown.category,
                              "fields": shown.fields, "size": shown.size, "limit": shown.limit,
                              "error": shown.error, "placeholders": shown.placeholders,
                              "sample": label, "real": sample.real}, dumps=_dumps)


async def lint_api(request: web.Request) -> web.StreamResponse:
    """Lint's errors the draft brings, each with its line (lint's messages carry the "did you
    mean" for a misspelt variable, attribute or filter)."""
    bot, script, text, _, live = await _draft(request)
    key = (bot.name, tuple(sorted((name, s.version) for name, s in live.items())))
    if key not in _BASELINES:
        _BASELINES.clear()
        _BASELINES[key] = baseline(bot.cls, live)
    found = findings(bot.cls, live, script, text, _BASELINES[key])
    return web.json_response({"problems": [{"line": f.line, "message": f.message, "warning": f.warning}
                                           for f in found]}, dumps=_dumps)


async def _sample(request: web.Request, bot: StudioBot, name: str, customer_id: str) -> tuple[Sample | None, str]:
    if customer_id:
        if not allows(request["account"].role, Permission.PREVIEW_REAL):
            raise web.HTTPForbidden(text="your role cannot preview for a real customer")
        loaded = await bot.store.load(customer_id)
        if loaded.record is None:
            return None, f"找不到客户 {customer_id}"
        return real(Customer.load(customer_id, loaded.record, loaded.version)), f"真实客户 {customer_id}"
    files = sample_files(bot.cls)
    if name in files:
        return from_file(bot.cls, name, files[name]), f"示例 {name}"
    return generated(bot.cls), "生成的新客户"


async def publish(request: web.Request) -> web.StreamResponse:
    studio = request.app[STUDIO]
    bot = studio.bot(request.match_info["bot"])
    script = request.match_info["script"]
    form = await request.post()
    text, note = str(form.get("text", "")), str(form.get("note", "")).strip()
    variant = str(form.get("variant", "") or DEFAULT_VARIANT)
    raw_weight = str(form.get("weight", "")).strip()
    author = request["account"].name
    try:
        weight = float(raw_weight) if raw_weight else None
        if weight is not None and not math.isfinite(weight):
            raise ValueError(raw_weight)
    except ValueError:
        return await editor(request, text=text, note=note, refused=f"权重 {raw_weight!r} 不是数字", status=400)
    try:
        version = await catalog(bot).publish(script, text.replace("\r\n", "\n"), author=author, note=note,
                                             variant=variant, weight=weight)
    except ScriptRejected as exc:
        lines = findings_of(exc, script)
        return await editor(request, text=text, note=note, problems=lines, refused="lint 发现错误，没有发布",
                            status=422)
    except PersonaError as exc:
        return await editor(request, text=text, note=note, refused=str(exc), status=400)
    await studio.audit.record(author, Action.PUBLISH, f"{bot.name}/{script}", version=version.number,
                              variant=variant, note=note)
    raise web.HTTPSeeOther(f"/scripts/{bot.name}/{script}?variant={variant}&notice=published-{version.number}")


def findings_of(exc: ScriptRejected, script: str) -> list[Finding]:
    """A refusal's findings as the editor shows them: on their line when in ``script``, in Chinese."""
    if exc.findings:
        return [Finding(p.line or None, p.says(ZH)) if p.file.endswith(f"{script}{SUFFIX}") else Finding(None, p.text(ZH))
                for p in exc.findings]
    return [Finding(None, line) for line in exc.problems]


async def rollback(request: web.Request) -> web.StreamResponse:
    studio = request.app[STUDIO]
    bot = studio.bot(request.match_info["bot"])
    script = request.match_info["script"]
    form = await request.post()
    author = request["account"].name
    try:
        to = int(str(form.get("to", "")))
        version = await catalog(bot).rollback(script, to=to, author=author, note=str(form.get("note", "")).strip())
    except ValueError:
        return await editor(request, refused="回滚需要一个版本号", status=400)
    except ScriptRejected as exc:
        return await editor(request, problems=findings_of(exc, script), refused="那个版本今天通不过 lint，没有回滚",
                            status=422)
    except PersonaError as exc:
        return await editor(request, refused=str(exc), status=400)
    await studio.audit.record(author, Action.ROLLBACK, f"{bot.name}/{script}", version=version.number, to=to)
    raise web.HTTPSeeOther(f"/scripts/{bot.name}/{script}?notice=rolledback-{version.number}")


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


ROUTES = [
    Route("GET", "/scripts/{bot}", list_page, Permission.VIEW_SCRIPTS),
    Route("GET", "/scripts/{bot}/{script:[A-Za-z0-9_./-]+}", editor_get, Permission.VIEW_SCRIPTS),
    Route("POST", "/api/scripts/{bot}/{script:[A-Za-z0-9_./-]+}/preview", preview_api, Permission.VIEW_SCRIPTS),
    Route("POST", "/api/scripts/{bot}/{script:[A-Za-z0-9_./-]+}/lint", lint_api, Permission.VIEW_SCRIPTS),
    Route("POST", "/scripts/{bot}/{script:[A-Za-z0-9_./-]+}/publish", publish, Permission.PUBLISH_SCRIPTS),
    Route("POST", "/scripts/{bot}/{script:[A-Za-z0-9_./-]+}/rollback", rollback, Permission.PUBLISH_SCRIPTS),
]
