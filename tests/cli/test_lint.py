"""``persona lint``: real bots pass; every kind of mistake is reported at its file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


def test_the_three_bots_and_the_examples_pass(cli):
    done = cli("lint", "bots.xiaowanzi", "bots.fitness_coach", "bots.finance_secretary", "tests.core.shop",
               "persona.scaffold.starter")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "bots.xiaowanzi: ok: 0 errors" in done.stdout
    assert "bots.fitness_coach: ok: 0 errors" in done.stdout
    assert "bots.finance_secretary: ok: 0 errors" in done.stdout
    assert "error:" not in done.stdout


def test_an_unknown_bot_is_a_usage_error(cli):
    done = cli("lint", "no_such_bot")
    assert done.returncode == 2
    assert "cannot import bot 'no_such_bot'" in done.stderr


PERSONA = '''\
from __future__ import annotations

from persona import Persona, Turn, on


class Shaky(Persona):
    name = "shaky"
    states = ["new", "welcomed", "member", "vip"]
    transitions = [
        ["welcome", "new", "welcomed"],
        ["sign_up", ["new", "welcomed"], "member"],
    ]

    def context(self, turn: Turn) -> dict:
        return {"brand": "Shaky", **self.prices()}

    def prices(self) -> dict:
        return {"price": 99}

    @on.wechat("subscribe")
    async def arrived(self, turn: Turn) -> None:
        await turn.trigger("welcome")
        turn.say("welcome")
        self.offer(turn, "price")
        self.offer(turn, "pricelist")

    def offer(self, turn: Turn, script: str) -> None:
        turn.say(script, coupon="C1")

    @on.text("升级", states="welcomed")
    def upgrade_asked(self, turn: Turn) -> None:
        turn.say("upgrade")

    @on.event("signed_up")
    async def signed_up(self, turn: Turn) -> None:
        await turn.trigger("sign_upp")
        await turn.trigger("sign_up")
        turn.say("upgrade")
        turn.schedule("nudg", after=60)

    @on.timer("nudge", after="1d", state="welcomed")
    def nudge(self, turn: Turn) -> None:
        for script, extra in (("nudge", 1), ("later", 2)):
            turn.say(script, n=extra)
'''

SCRIPTS = {
    "welcome": "欢迎来到{{ brand }}！\n{{ coupon }}\n",
    "price": "现在{{ price|money }}，券 {{ coupon }}\n",
    # level is needed only in state member: fine where said in welcomed, missing after sign_up
    "upgrade": "{% if state == 'member' %}你的等级：{{ level }}{% else %}还不是会员{% endif %}\n",
    "nudge": "第 {{ n }} 次提醒 {{ customer.id }}\n",
    "orphan": "没人说我\n",
    "bad": "{% if %}\n",
    "long": "长" * 700 + "\n",
}


@pytest.fixture
def shaky(tmp_path: Path) -> Path:
    package = tmp_path / "shaky"
    (package / "scripts").mkdir(parents=True)
    (package / "__init__.py").write_text("from .persona import Shaky\n", encoding="utf-8")
    (package / "persona.py").write_text(PERSONA, encoding="utf-8")
    for name, text in SCRIPTS.items():
        (package / "scripts" / f"{name}.j2").write_text(text, encoding="utf-8")
    return tmp_path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_every_kind_of_mistake_is_reported_with_file_and_line(cli, shaky):
    done = cli("lint", "shaky", cwd=shaky, pythonpath=shaky)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout.splitlines()
    say_welcome = line_of(PERSONA, 'turn.say("welcome")')
    offer_say = line_of(PERSONA, "turn.say(script, coupon=")
    offer_missing = line_of(PERSONA, 'self.offer(turn, "pricelist")')
    signed_up_say = [i for i, line in enumerate(PERSONA.splitlines(), 1) if 'turn.say("upgrade")' in line][1]
    expected = [
        # a variable no caller gives, at the template line, naming where the script is said
        f"shaky/scripts/welcome.j2:2: error: 'coupon' is not given where this script is said at "
        f"shaky/persona.py:{say_welcome}",
        # the script name is followed through a helper to its callers
        f"shaky/persona.py:{offer_say}: error: script 'pricelist' is said here (from shaky/persona.py:"
        f"{offer_missing}) but shaky/scripts/pricelist.j2 does not exist; did you mean 'price'?",
        # state-aware: signed_up may leave the customer a member, and the member branch needs level
        f"shaky/scripts/upgrade.j2:1: error: 'level' is not given where this script is said at "
        f"shaky/persona.py:{signed_up_say};",
        f"shaky/persona.py:{line_of(PERSONA, 'sign_upp')}: error: trigger 'sign_upp' is not a transition of "
        "Shaky; did you mean 'sign_up'?",
        f"shaky/persona.py:{line_of(PERSONA, 'nudg')}: error: timer 'nudg' is scheduled but has no "
        "@on.timer('nudg') handler; did you mean 'nudge'?",
        f"shaky/persona.py:{line_of(PERSONA, 'states = [')}: error: state 'vip' cannot be reached from the "
        "initial state 'new'",
        "shaky/scripts/bad.j2:1: error: ",
        "shaky/scripts/long.j2:1: error: its longest branch has 2100 bytes of fixed text; WeChat allows 2048",
        "shaky/scripts/orphan.j2: warning: script 'orphan' is never said by the persona",
        f"shaky/persona.py:{line_of(PERSONA, 'turn.say(script, n=extra)')}: error: script 'later' is said here but "
        "shaky/scripts/later.j2 does not exist",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in out), f"missing: {start}\n" + done.stdout
    # where a script gets what it needs, nothing is reported: price and nudge get their variables,
    # and upgrade said in state welcomed does not need the member branch's level
    assert not any("price.j2" in line or "nudge.j2" in line for line in out), done.stdout
    upgrade_asked = line_of(PERSONA, "def upgrade_asked") + 1
    assert not any(f"persona.py:{upgrade_asked}" in line for line in out), done.stdout
    assert out[-1] == "shaky: failed: 9 errors, 4 warnings (7 scripts)"  # one: its proactive marketing


def test_a_bot_that_does_not_import_points_at_the_handler(cli, tmp_path):
    package = tmp_path / "typo"
    (package / "scripts").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent('''\
        from persona import Persona, on


        class Typo(Persona):
            states = ["new", "done"]
            transitions = [["finish", "new", "done"]]

            @on.event("paid", states="don")
            async def paid(self, turn):
                await turn.trigger("finish")
        '''), encoding="utf-8")
    done = cli("lint", "typo", cwd=tmp_path, pythonpath=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == (
        "typo/__init__.py:8: error: the bot does not import: Typo.paid: states= names unknown state 'don' "
        "(known: new, done)")


def test_warnings_fail_only_when_strict(cli, tmp_path):
    package = tmp_path / "quiet"
    (package / "scripts").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent('''\
        from persona import Persona, on


        class Quiet(Persona):
            states = ["new"]

            @on.text()
            def hello(self, turn):
                turn.say("hello", who="you")
        '''), encoding="utf-8")
    (package / "scripts" / "hello.j2").write_text("你好 {{ who }}\n", encoding="utf-8")
    (package / "scripts" / "unused.j2").write_text("{% set kind = 'news' %}{% set title = 't' %}x\n",
                                                   encoding="utf-8")
    done = cli("lint", "quiet", cwd=tmp_path, pythonpath=tmp_path)
    assert done.returncode == 0, done.stdout
    assert "quiet/scripts/unused.j2: warning: script 'unused' is never said by the persona" in done.stdout
    assert cli("lint", "--strict", "quiet", cwd=tmp_path, pythonpath=tmp_path).returncode == 1
    quiet = cli("lint", "-q", "quiet", cwd=tmp_path, pythonpath=tmp_path)
    assert quiet.returncode == 0 and quiet.stdout == ""


def test_a_script_only_a_broadcast_says_is_declared_not_warned(cli, tmp_path):
    package = tmp_path / "sale"
    (package / "scripts").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent('''\
        from persona import Persona


        class Sale(Persona):
            states = ["new"]
            broadcasts = frozenset({"flash"})
        '''), encoding="utf-8")
    (package / "scripts" / "flash.j2").write_text("限时特卖\n", encoding="utf-8")
    (package / "scripts" / "stale.j2").write_text("旧的\n", encoding="utf-8")
    done = cli("lint", "sale", cwd=tmp_path, pythonpath=tmp_path)
    assert done.returncode == 0, done.stdout
    assert "script 'stale' is never said" in done.stdout
    assert "'flash'" not in done.stdout

def test_the_checks_are_a_library_too():
    from persona.content.lint import lint

    report = lint("tests.core.shop")
    assert report.errors == [] and report.scripts == 7
    assert report.persona is not None and report.persona.name == "shop"


CLINIC = '''\
from persona import Persona, Policy, on


class Clinic(Persona):
    states = ["new", "booked"]
    transitions = [["book", "new", "booked"]]
    {policy}

    @on.wechat("subscribe")
    def followed(self, turn):
        turn.say("welcome")

    @on.event("booked")
    async def booked(self, turn):
        await turn.trigger("book")
        turn.say("booked", to="staff:front_desk")
        turn.schedule("reminder", after=86400)

    @on.timer("reminder")
    def remind(self, turn):
        turn.say("reminder", category="service")
'''


def _clinic(tmp_path, policy: str = "") -> None:
    package = tmp_path / "clinic"
    (package / "scripts").mkdir(parents=True)
    (package / "__init__.py").write_text(CLINIC.format(policy=policy), encoding="utf-8")
    for name in ("welcome", "booked", "reminder"):
        (package / "scripts" / f"{name}.j2").write_text("明天见\n", encoding="utf-8")
    (package / "scripts" / "notice.j2").write_text('{% set via = "template" %}提醒\n', encoding="utf-8")


def test_lint_warns_of_messages_no_channel_can_carry(cli, tmp_path):
    _clinic(tmp_path)
    done = cli("lint", "clinic", cwd=tmp_path, pythonpath=tmp_path)
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    proactive = next(line for line in lines if "'reminder'" in line)
    assert proactive.startswith("clinic/__init__.py:21: warning:")
    assert "48 h" in proactive and "Policy(fallback_template=" in proactive
    staff = next(line for line in lines if "to staff" in line)
    assert staff.startswith("clinic/__init__.py:16: warning:") and "WeCom" in staff
    assert not [line for line in lines if "'welcome'" in line]  # a reply to the follow reaches them


def test_a_fallback_template_answers_the_window_warning(cli, tmp_path):
    _clinic(tmp_path, policy='policy = Policy(fallback_template="notice")')
    done = cli("lint", "clinic", cwd=tmp_path, pythonpath=tmp_path)
    assert done.returncode == 0, done.stdout
    assert "48 h" not in done.stdout


FALLBACK = '''\
from __future__ import annotations

from persona import Persona, Policy, Turn, on


class Notices(Persona):
    name = "notices"
    states = ["new", "paid"]
    transitions = [["pay", "new", "paid"]]
    policy = Policy(fallback_template="notice")

    @on.event("paid")
    async def paid(self, turn: Turn) -> None:
        await turn.trigger("pay")
        turn.say("thanks", category="service")
'''


def test_the_fallback_template_is_checked_for_what_it_is_given(tmp_path: Path):
    """The fallback template is said with ``original`` only, in any state; a variable it uses
    under a state test is missing there too, and the finding names the policy, not states."""
    from persona.content.lint import lint

    package = tmp_path / "notices"
    (package / "scripts").mkdir(parents=True)
    (package / "__init__.py").write_text(FALLBACK, encoding="utf-8")
    (package / "scripts" / "thanks.j2").write_text("谢谢\n", encoding="utf-8")
    (package / "scripts" / "notice.j2").write_text(
        "{% set kind = 'template' %}{{ original.text }}{% if state == 'paid' %}{{ order }}{% endif %}\n",
        encoding="utf-8")
    import sys
    sys.path.insert(0, str(tmp_path))
    try:
        report = lint("notices")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("notices", None)
    missing = [p for p in report.errors if "'order' is not given" in p.message]
    assert len(missing) == 1, report.problems
    assert "(Policy.fallback_template)" in missing[0].message and "in state" not in missing[0].message
