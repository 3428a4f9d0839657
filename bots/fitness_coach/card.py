"""The share card a customer posts to Moments after a workout: streak, minutes, move scores.

Chinese needs a CJK font. The card uses ``FITNESS_COACH_FONT`` when set, else the first font
``fc-list :lang=zh`` reports, else a few usual install paths; on a machine with none it falls
back to Pillow's built-in font and draws the card in English and numbers, which every font
can show, rather than boxes where the characters should be.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 720, 960
TOP, BOTTOM = (255, 122, 69), (255, 77, 109)
INK, SOFT, BAR, TRACK = (45, 45, 55), (120, 120, 130), (255, 110, 80), (238, 238, 242)
KNOWN_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


@dataclass(frozen=True)
class CardMove:
    name: str  # Chinese name
    en: str  # English name, for a machine without a CJK font
    score: int


def media_dir() -> Path:
    """Where cards are written: ``$PERSONA_MEDIA_DIR/fitness_coach`` (default ``./media``)."""
    return Path(os.environ.get("PERSONA_MEDIA_DIR", "media")).resolve() / "fitness_coach"


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """A font file that can draw Chinese, or None."""
    chosen = os.environ.get("FITNESS_COACH_FONT")
    if chosen and Path(chosen).is_file():
        return chosen
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True,
                                timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        listed = ""
    for line in sorted(listed.splitlines()):
        path = line.split(":", 1)[0].strip()
        if path.lower().endswith((".ttf", ".ttc", ".otf")) and Path(path).is_file():
            return path
    return next((p for p in KNOWN_FONTS if Path(p).is_file()), None)


def _font(size: int, path: str | None) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path:
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _ascii(text: str, fallback: str) -> str:
    clean = re.sub(r"[^\x20-\x7e]", "", text).strip()
    return clean or fallback


def thumbnail() -> Path:
    """The cover of the coach's mini program cards (WeCom wants one): drawn once per media folder."""
    return _thumbnail(str(media_dir()))


@functools.lru_cache(maxsize=4)
def _thumbnail(folder: str) -> Path:
    path = Path(folder) / "miniprogram_cover.png"
    if path.is_file():
        return path
    font_path = cjk_font()
    image = _gradient(520, 416)
    draw = ImageDraw.Draw(image)
    font = _font(72, font_path)
    text = "私教" if font_path else "COACH"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text(((520 - (right - left)) / 2 - left, (416 - (bottom - top)) / 2 - top), text, font=font,
              fill=(255, 255, 255))
    _save(image, path)
    return path


def _gradient(width: int, height: int) -> Image.Image:
    """The brand's orange-to-pink background, top to bottom."""
    mask = Image.linear_gradient("L").resize((width, height))
    return Image.composite(Image.new("RGB", (width, height), BOTTOM), Image.new("RGB", (width, height), TOP), mask)


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    image.save(partial, format="PNG")
    os.replace(partial, path)


def render_card(path: Path, *, streak: int, day: date, minutes: int, moves: list[CardMove],
                plan: str = "", coach: str = "") -> Path:
    """Draw the card to ``path`` (PNG) and return it; the write is atomic."""
    font_path = cjk_font()
    chinese = font_path is not None
    image = _gradient(WIDTH, HEIGHT)
    draw = ImageDraw.Draw(image)

    def centred(text: str, y: int, size: int, fill: tuple[int, int, int] = (255, 255, 255)) -> None:
        font = _font(size, font_path)
        left, _, right, _ = draw.textbbox((0, 0), text, font=font)
        draw.text(((WIDTH - (right - left)) / 2 - left, y), text, font=font, fill=fill)

    if chinese:
        centred(f"{coach} · 今日训练打卡" if coach else "今日训练打卡", 48, 30)
        centred(str(streak), 100, 200)
        centred(f"连续运动第 {streak} 天", 330, 44)
        centred(f"{day.month}月{day.day}日 · {minutes} 分钟" + (f" · {plan}" if plan else ""), 395, 28)
    else:
        centred("WORKOUT DONE", 48, 30)
        centred(str(streak), 100, 200)
        centred(f"DAY {streak} IN A ROW", 330, 44)
        centred(f"{day.isoformat()}  -  {minutes} MIN", 395, 28)

    panel = (48, 460, WIDTH - 48, HEIGHT - 110)
    draw.rounded_rectangle(panel, radius=28, fill=(255, 255, 255))
    row_font, score_font = _font(30, font_path), _font(30, font_path)
    shown = moves[:6]
    row_h = (panel[3] - panel[1] - 40) / max(len(shown), 1)
    for i, move in enumerate(shown):
        top = panel[1] + 20 + i * row_h
        name = move.name if chinese else _ascii(move.en, f"Move {i + 1}")
        draw.text((panel[0] + 32, top + 8), name, font=row_font, fill=INK)
        score = max(0, min(100, move.score))
        draw.text((panel[2] - 100, top + 8), f"{score}", font=score_font, fill=INK)
        bar_top = top + 52
        draw.rounded_rectangle((panel[0] + 32, bar_top, panel[2] - 32, bar_top + 14), radius=7, fill=TRACK)
        if score:
            right = panel[0] + 32 + (panel[2] - panel[0] - 64) * score / 100
            draw.rounded_rectangle((panel[0] + 32, bar_top, max(right, panel[0] + 46), bar_top + 14),
                                   radius=7, fill=BAR)
    if not shown:
        draw.text((panel[0] + 32, panel[1] + 32), "今天也练完了！" if chinese else "Done for today!",
                  font=row_font, fill=SOFT)
    centred("坚持，就是最好的天赋" if chinese else "KEEP GOING", HEIGHT - 80, 30)

    _save(image, path)
    return path
