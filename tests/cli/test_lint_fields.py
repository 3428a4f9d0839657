"""What writers get wrong: misspelt customer fields, filters and variables, caught by lint with
"did you mean"; an undefined value reaching a filter named at render time; ``lint --vars``."""

from __future__ import annotations

import importlib

import pytest

from persona.model.customer import Customer
from persona.errors import TemplateError
from persona.model.inputs import BusinessEvent
from persona.content.lint import ERROR, WARNING, lint, variables
from persona.model.turn import Turn
from tests.conftest import BotPackage

PERSONA = '''\
from persona import Persona, Turn, on


class Club(Persona):
    states = ["new", "member"]
    transitions = [["join", "new", "member"]]
    attributes = frozenset({"birthday"})

    @on.text("join")
    async def joined(self, turn: Turn) -> None:
        await turn.trigger("join")
        turn.set("last_visit", turn.now)
        turn.tag("source", "poster")
        turn.incr("visits")
        turn.customer.attrs["level"] = "gold"
        turn.say("welcome", offer="券")

    @on.event("profile")
    def profile(self, turn: Turn) -> None:
        for key, value in turn.data.items():
            turn.set(key, value)
        turn.say("hello")
'''


@pytest.fixture
def club(tmp_path, monkeypatch):
    """A bot package written to disk: ``write(script=text, ...)`` then ``lint``/import it."""
    package = BotPackage(tmp_path, "club", PERSONA)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield lambda **scripts: package.write({"welcome": "欢迎 {{ offer }}", "hello": "你好", **scripts})
    package.forget()


def found(report, severity=None) -> list[str]:
    return [f"{p.file.rsplit('/', 1)[-1]}:{p.line}: {p.message}" for p in report.problems
            if severity is None or p.severity == severity]


def test_fields_the_persona_sets_declares_or_the_framework_sets_pass(club):
    bot = club(welcome="""\
        {{ offer }} {{ attrs.last_visit|date_cn }} {{ attrs["level"] }} {{ attrs.birthday }}
        {{ tags.source }} {% if customer.has("source") %}{{ counters.visits }}{% endif %}
        {{ customer.id }} {{ customer.attrs.get("platform") }} {% if "opted_out" in tags %}{% endif %}
        {{ attrs.items()|list }}""")
    report = lint(bot)
    assert found(report) == []


def test_a_misspelt_field_is_an_error_with_did_you_mean(club):
    bot = club(welcome="""\
        {{ offer }}
        {{ attrs.last_vist|date_cn }}
        {{ customer.idd }}
        {{ tags.sorce }} {{ counters.vists }}""")
    errors = found(lint(bot), ERROR)
    assert "welcome.j2:3: 'customer.idd': a customer has no field 'idd'; did you mean 'id'?" in errors
    assert "welcome.j2:4: 'tags.sorce' is never set by Club; did you mean 'source'?" in errors
    assert "welcome.j2:4: 'counters.vists' is never set by Club; did you mean 'visits'?" in errors
    # attrs: the persona also sets names it computes (turn.set(key, ...)), so only a warning
    warnings = found(lint(bot), WARNING)
    assert any(w.startswith("welcome.j2:2: 'attrs.last_vist' is never set by Club; did you mean 'last_visit'?")
               for w in warnings), warnings


def test_an_unknown_field_nobody_sets_is_a_warning_saying_how_to_declare_it(club):
    bot = club(hello="{{ tags.vip_level }} {{ attrs.favourite_colour }}")
    report = lint(bot)
    assert found(report, ERROR) == []
    [tag, attr] = sorted(found(report, WARNING), key=lambda w: "attrs" in w)
    assert "'tags.vip_level' is never set by Club" in tag and "Club.tag_names" in tag
    assert "'attrs.favourite_colour' is never set by Club" in attr and "Club.attributes" in attr


def test_a_script_s_own_variable_named_like_a_field_is_not_checked(club):
    bot = club(hello='{% set attrs = {"x": 1} %}{{ attrs.x }} {% for tags in [1] %}{{ tags }}{% endfor %}')
    assert found(lint(bot)) == []


def test_did_you_mean_for_filters_and_variables(club):
    bot = club(welcome="{{ ofer }}", hello="{{ now|time_cm }}")
    errors = found(lint(bot), ERROR)
    assert "hello.j2:1: No filter named 'time_cm'; did you mean 'time_cn'?" in errors
    assert any(e.startswith("welcome.j2:1: 'ofer' is not given where this script is said")
               and e.endswith("did you mean 'offer'? (or pass ofer=... there)") for e in errors), errors


def test_an_undefined_value_reaching_a_filter_names_script_line_and_variable(club):
    bot = club(hello="你好\n上次来是 {{ attrs.last_vist|date_cn }}")
    persona = importlib.import_module(bot).Club()
    turn = Turn(persona, Customer("u1", "member"), BusinessEvent(user="u1", name="profile"), 1_800_000_000)
    with pytest.raises(TemplateError) as caught:
        turn.render("hello")
    error = caught.value
    assert (error.template, error.line, error.variable) == ("hello", 2, "attrs.last_vist")
    assert str(error) == ("scripts/hello.j2 line 2: 'attrs.last_vist' is not defined (given to the filter "
                          "date_cn) for state 'member'")
    assert not isinstance(error.__cause__, TypeError)


def test_lint_vars_lists_each_script_s_variables_and_where_it_is_said(club, cli, tmp_path):
    bot = club(welcome="{{ offer }} {{ attrs.level }} {{ now|date_cn }}")
    report, listing = variables(bot)
    assert report.errors == []
    entry = {e.script: e for e in listing}["welcome"]
    assert entry.uses == ("attrs", "now", "offer") and entry.fields == ("attrs.level",)
    [site] = entry.sites
    assert site.given == frozenset({"offer"}) and site.file.endswith("__init__.py") and site.line == 16
    done = cli("lint", bot, "--vars", cwd=tmp_path, pythonpath=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "every script of" in out and "attrs, counters, customer, data, form_link, now, state, tags" in out
    block = out[out.index("\nwelcome.j2"):]
    assert "uses:            attrs, now, offer" in block and "customer fields: attrs.level" in block
    assert "__init__.py:16 with: offer" in block


def test_the_three_bots_read_only_fields_they_set():
    for bot in ("bots.xiaowanzi", "bots.fitness_coach", "bots.finance_secretary"):
        report = lint(bot)
        assert [p for p in report.problems if "is never set by" in p.message or "has no field" in p.message] == []
