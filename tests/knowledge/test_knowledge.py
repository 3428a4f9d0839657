"""A bot's knowledge: faq.yaml is checked like a script, retrieval finds paraphrases offline,
answers render for the customer, and the suggest command keeps its contract."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from persona.model.customer import Customer
from persona.errors import KnowledgeError
from persona.content.knowledge import Index, Source, Suggester, load_knowledge, read_faq
from persona.content.knowledge.retrieval import grams, words
from persona.content.lint import lint
from bots.finance_secretary import persona as finance
from bots.xiaowanzi import Xiaowanzi
from benchmarks import suggest as bench


@pytest.mark.parametrize("text, line, message", [
    ("- id: a\n  q: [x]\n  a: y\n- id: a\n  q: [z]\n  a: w\n", 4, "used twice"),
    ("- id: a\n  q: [x]\n  a: y\n  answer: z\n", 1, "unknown key 'answer'"),
    ("- id: a\n  q: []\n  a: y\n", 1, "q must be"),
    ("- id: 'a b'\n  q: [x]\n  a: y\n", 1, "must be a word"),
    ("- id: a\n  q: [x\n  a: y\n", 3, "not valid YAML"),
    ("id: a\n", 1, "must be a list"),
])
def test_a_malformed_faq_names_the_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "faq.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        read_faq(path)
    assert caught.value.line == line and message in str(caught.value) and str(path) in str(caught.value)


def test_segmentation_drops_particles_and_grams_bridge_synonyms():
    assert words("口红会不会掉色呢？") == ["口红", "不会", "掉色"]
    assert set(grams("邮费")) & set(grams("运费")) == {"费"}


def test_the_bm25_ranking_prefers_the_entry_whose_words_were_asked():
    index = Index(read_faq(Xiaowanzi.folder() / "faq.yaml"))
    [(first, score), *_] = index.search("退款一般几天能到账")
    assert first.id == "refund_time" and 0 < score <= 1
    assert len(index.search("完全无关的话题", 3)) == 3  # three, even when nothing matches well
    assert Index([]).search("任何") == []


@pytest.mark.parametrize("bot", bench.BOTS)
def test_each_bots_paraphrases_are_found_in_the_top_three_at_least_90_percent(bot):
    result = bench.measure(bot)  # also refuses paraphrases copied from faq.yaml
    assert result.questions >= 60
    assert result.top3 >= bench.TARGET_TOP3, result.misses


async def test_answers_render_with_the_customers_own_variables():
    persona = finance.FinanceSecretary()
    suggester = Suggester(persona, load_knowledge(persona.folder()))
    rich = Customer("wm_li", "active", counters={"points": 120})
    [best, *_] = await suggester.suggest("帮我查查积分余额", customer=rich)
    assert (best.faq, best.source) == ("points_balance", Source.FAQ) and "120 积分" in best.text
    [blank, *_] = await suggester.suggest("帮我查查积分余额")
    assert "0 积分" in blank.text


def _broken_bot(tmp_path, faq: str) -> type:
    (tmp_path / "faq.yaml").write_text(faq, encoding="utf-8")

    class Broken(Xiaowanzi):
        scripts_dir = str(Xiaowanzi.folder() / "scripts")
        faq_file = str(tmp_path / "faq.yaml")

    return Broken


def test_lint_reports_answers_that_do_not_render_or_are_too_long_and_confusable_questions(tmp_path):
    bot = _broken_bot(tmp_path, "- id: typo\n  q: [券怎么用]\n  a: '{{ grop.name }}'\n"
                                "- id: long\n  q: [很长的回答]\n  a: '" + "字" * 700 + "'\n"
                                "- id: twin\n  q: [券怎么用]\n  a: 好的\n")
    messages = [(p.severity, p.line, p.message) for p in lint(bot).problems if p.file.endswith("faq.yaml")]
    assert any(s == "error" and line == 1 and "grop" in m for s, line, m in messages)
    assert any(s == "error" and line == 4 and "2100 bytes" in m for s, line, m in messages)
    assert any(s == "warning" and line == 7 and "also in typo" in m for s, line, m in messages)


def test_lint_reports_a_faq_that_does_not_parse(tmp_path):
    bot = _broken_bot(tmp_path, "- id: a\n  q: [x\n")
    [problem] = [p for p in lint(bot).problems if p.file.endswith("faq.yaml")]
    assert problem.severity == "error" and problem.line == 3 and "YAML" in problem.message


def test_the_three_bots_knowledge_passes_lint():
    for bot in bench.BOTS:
        report = lint(f"bots.{bot}")
        assert not [p for p in report.problems if p.file.endswith("faq.yaml")], bot


def _persona(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "persona", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_suggest_prints_three_candidates_as_the_json_contract_says(tmp_path):
    done = _persona("suggest", "bots.xiaowanzi", "寄到新疆要运费吗", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [sorted(c) for c in out["candidates"]] == [["faq", "score", "source", "text"]] * 3
    assert "shipping_fee" in [c["faq"] for c in out["candidates"]]
    assert {c["source"] for c in out["candidates"]} == {"faq"}
    scores = [c["score"] for c in out["candidates"]]
    assert scores == sorted(scores, reverse=True)
    own = tmp_path / "faq.yaml"
    own.write_text("- id: only\n  q: [营业时间]\n  a: 每天十点到十点\n", encoding="utf-8")
    done = _persona("suggest", "bots.xiaowanzi", "几点开门", "--faq", str(own), "--json")
    assert [c["faq"] for c in json.loads(done.stdout)["candidates"]] == ["only"]  # fewer: the FAQ has one


def test_suggest_for_an_unknown_customer_or_a_missing_faq_says_so(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    done = _persona("suggest", "bots.xiaowanzi", "运费", "--user", "nobody", "--store", url)
    assert done.returncode == 1 and "no customer 'nobody'" in done.stdout
    done = _persona("suggest", "bots.xiaowanzi", "运费", "--faq", str(tmp_path / "none.yaml"))
    assert done.returncode == 2 and "no such file" in done.stderr
