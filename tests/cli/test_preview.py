"""``persona preview``: one script rendered for a sample customer, for content writers."""

from __future__ import annotations

import json

STARTER = "persona.scaffold.starter"


def test_a_script_for_a_sample_customer(cli, tmp_path):
    sample = tmp_path / "amy.json"
    sample.write_text(json.dumps({"state": "welcomed", "tags": {"source": "qrscene_poster"},
                                  "now": "2026-11-24 09:00"}), encoding="utf-8")
    done = cli("preview", STARTER, "welcome", "--customer", str(sample))
    assert done.returncode == 0, done.stderr
    text = ["你好，欢迎来到Starter！我是你的专属顾问，有问题随时发消息给我。", "谢谢你扫码找到我们～",
            "回复「价格」看看会员方案。"]
    size = len("\n".join(text).encode("utf-8"))
    assert done.stdout.splitlines() == [
        "script:   welcome",
        "kind:     text",
        "category: marketing",
        f"--- text ({size} bytes of 2048) ---",
        *text,
    ]


def test_variables_the_script_is_given_and_the_moment(cli, tmp_path):
    sample = tmp_path / "bob.json"
    sample.write_text(json.dumps({"state": "member", "plan": "gold"}), encoding="utf-8")
    done = cli("preview", STARTER, "thanks", "--customer", str(sample))
    assert done.returncode == 0, done.stderr
    assert "category: service" in done.stdout
    assert done.stdout.splitlines()[-1] == "欢迎加入！你的「gold」会员已开通，有任何问题随时找我。"

    done = cli("preview", "tests.core.shop", "day3", "--at", "2026-11-26 10:00")
    assert done.stdout.splitlines()[-1] == "认识三天啦，11月26日 周四。"

    done = cli("preview", STARTER, "thanks", "--var", "plan=\"silver\"", "--json")
    assert json.loads(done.stdout)["text"] == "欢迎加入！你的「silver」会员已开通，有任何问题随时找我。"


def test_news_fields_are_printed(cli, tmp_path):
    package = tmp_path / "cards"
    (package / "scripts").mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from persona import Persona, on\n\n\nclass Cards(Persona):\n    states = ['new']\n\n"
        "    @on.text()\n    def card(self, turn):\n        turn.say('sale', item={'name': '口红'})\n",
        encoding="utf-8")
    (package / "scripts" / "sale.j2").write_text(
        '{% set kind = "news" %}\n{% set title = item.name ~ "限时秒杀" %}\n'
        '{% set url = "https://shop.example.com/s/" ~ item.name|urlencode %}\n今晚八点开抢。\n',
        encoding="utf-8")
    done = cli("preview", "cards", "sale", "--var", 'item={"name": "口红"}', cwd=tmp_path, pythonpath=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == ["script:   sale", "kind:     news", "category: marketing"]
    assert sorted(lines[3:5]) == ["title:    口红限时秒杀", "url:      https://shop.example.com/s/%E5%8F%A3%E7%BA%A2"]
    assert lines[5:] == ["--- text (21 bytes) ---", "今晚八点开抢。"]


def test_a_missing_variable_says_which_and_where(cli):
    done = cli("preview", STARTER, "thanks", "--state", "member")
    assert done.returncode == 1
    assert done.stderr.strip() == "persona: scripts/thanks.j2 line 2: 'plan' is not defined for state 'member'"


def test_mistakes_in_the_request(cli, tmp_path):
    assert "is not a state of Starter" in cli("preview", STARTER, "welcome", "--state", "gone").stderr
    assert cli("preview", STARTER, "welcome", "--state", "gone").returncode == 2
    missing = cli("preview", STARTER, "wellcome")
    assert missing.returncode == 1 and "script 'wellcome' not found" in missing.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"state": ', encoding="utf-8")
    done = cli("preview", STARTER, "welcome", "--customer", str(broken))
    assert done.returncode == 2 and "not valid JSON" in done.stderr


def test_state_and_at_win_over_the_sample(cli, tmp_path):
    package = tmp_path / "moments"
    (package / "scripts").mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from persona import Persona, on\n\n\nclass Moments(Persona):\n    states = ['new', 'member']\n"
        "    transitions = [['join', 'new', 'member']]\n\n"
        "    @on.text()\n    async def hi(self, turn):\n        await turn.trigger('join')\n        turn.say('hi')\n",
        encoding="utf-8")
    (package / "scripts" / "hi.j2").write_text("{{ state }} {{ now|date_cn }} {{ now|time_cn }}", encoding="utf-8")
    sample = tmp_path / "s.json"
    sample.write_text(json.dumps({"state": "new", "now": "2026-11-24 09:00"}), encoding="utf-8")
    run = lambda *extra: cli("preview", "moments", "hi", "--customer", str(sample), *extra,  # noqa: E731
                             cwd=tmp_path, pythonpath=tmp_path)
    assert run().stdout.splitlines()[-1] == "new 11月24日 周二 09:00"
    assert run("--state", "member").stdout.splitlines()[-1] == "member 11月24日 周二 09:00"
    assert run("--at", "2026-12-01 20:30").stdout.splitlines()[-1] == "new 12月1日 周二 20:30"
    both = run("--state", "member", "--at", "2026-12-01 20:30")
    assert both.returncode == 0 and both.stdout.splitlines()[-1] == "member 12月1日 周二 20:30"


def test_without_a_sample_the_customer_is_built_from_the_persona(cli, tmp_path):
    package = tmp_path / "members"
    (package / "scripts").mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from persona import Persona, on\n\n\nclass Members(Persona):\n    states = ['new']\n\n"
        "    @on.text()\n    def hi(self, turn):\n        turn.set('nickname', turn.text)\n"
        "        turn.set('last_order_at', turn.now)\n        turn.set('spend', 0)\n"
        "        turn.tag('vip')\n        turn.incr('visits')\n        turn.say('hi')\n", encoding="utf-8")
    (package / "scripts" / "hi.j2").write_text(
        "{{ attrs.nickname }}，上次下单 {{ attrs.last_order_at|date_cn(weekday=False) }}，"
        "累计 {{ attrs.spend|money }}，第 {{ counters.visits }} 次来"
        "{% if customer.has('vip') %}，VIP{% endif %}", encoding="utf-8")
    done = cli("preview", "members", "hi", "--at", "2026-11-24 09:00", cwd=tmp_path, pythonpath=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "小美，上次下单 11月21日，累计 ¥199.00，第 1 次来，VIP"
