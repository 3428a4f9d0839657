"""The 健身问卷, served by persona as a form: its answers are ``questionnaire_submitted``.

Goals and levels come from the catalogue, so a goal trainers add there is offered here too;
the mini program may keep posting the same event with the same fields.
"""

from __future__ import annotations

from persona.model.forms import Form, choice, multi, number, text, yesno

from .catalogue import CATALOGUE

WEEKDAYS = {"1": "周一", "2": "周二", "3": "周三", "4": "周四", "5": "周五", "6": "周六", "7": "周日"}
TIMES = {"07:00": "早上 7:00", "12:00": "中午 12:00", "18:30": "傍晚 18:30", "20:00": "晚上 20:00",
         "21:00": "晚上 21:00"}

QUESTIONNAIRE = Form(
    "questionnaire", title="健身问卷", event="questionnaire_submitted", expires="14d",
    intro="两分钟就能填完。教练会按你的目标、基础和时间，挑 3 套计划给你选。",
    thanks="问卷收到啦！教练正在给你挑计划，回到聊天里就能看到。",
    fields=[
        choice("goal", "你的目标是？", {k: v["name"] for k, v in CATALOGUE.goals.items()}),
        choice("level", "你现在的运动基础", {k: v["name"] for k, v in CATALOGUE.levels.items()}),
        multi("days", "每周哪几天方便练？", WEEKDAYS, minimum=1, maximum=6,
              hint="选 1 到 6 天，留一天休息"),
        choice("time", "一般几点练？", TIMES),
        yesno("injured", "有没有伤病，或者运动时会疼的部位？"),
        text("injuries", "哪里有伤、疼，简单写一下", required=False, max_length=100,
             hint="例如：左膝半月板受过伤，深蹲会疼"),
        number("weight_kg", "体重（公斤）", required=False, minimum=30, maximum=200,
               hint="用来估算训练强度，可以不填"),
        text("name", "怎么称呼你？", required=False, max_length=20, hint="排行榜上显示这个名字"),
    ],
)
