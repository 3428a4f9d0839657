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
    assert done.stdout.splitlines() == [
        "script:   welcome",
        "kind:     text",
        "category: marketing",
        f"--- text ({len('你好，欢迎来到Starter！我是你的专属顾问，有问题随时发消息给我。'.encode()) + len('谢谢你扫码找到我们～'.encode()) + len('回复「价格」看看会员方案。'.encode()) + 2} bytes of 2048) ---",
        "你好，欢迎来到Starter！我是你的专属顾问，有问题随时发消息给我。",
        "谢谢你扫码找到我们～",
        "回复「价格」看看会员方案。",
    ]


def test_variables_the_script_is_given_and_the_moment(cli, tmp_path):
    sample = tmp_path / "bob.json"
    sample.write_text(json.dumps({"state": "member", "plan": "gold"}), encoding="utf-8")
    done = cli("preview", STARTER, "thanks", "--customer", str(sample))
    assert done.returncode == 0, done.stderr
    assert "category: service" in done.stdout
    assert done.stdout.splitlines()[-1] == "欢迎加入！你的「gold」会员已开通，有任何问题随时找我。"

    done = cli("preview", STARTER, "nudge", "--at", "2026-11-24 09:00")
    assert done.stdout.splitlines()[-1].startswith("11月24日 周二，还在考虑吗？会员方案 ¥199.00/年")

    done = cli("preview", STARTER, "thanks", "--var", "plan=\"silver\"", "--json")
    assert json.loads(done.stdout)["text"] == "欢迎加入！你的「silver」会员已开通，有任何问题随时找我。"


def test_news_fields_are_printed(cli, tmp_path):
    done = cli("preview", "bots.xiaowanzi", "second_pitch", "--state", "welcomed", "--var",
               'pitched={"name": "口红", "blurb": "好看", "price": 89, "url": "https://x/p"}', "--var",
               'offer={"title": "券", "rule": "满79减20", "valid_days": 7, "url": "https://x/c", "code": "LIP20"}')
    assert done.returncode == 0, done.stderr
    assert "kind:     news" in done.stdout
    assert any(line.startswith("title:") for line in done.stdout.splitlines())


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
