"""私教 (fitness_coach): plans from a questionnaire, coached training days, workout reviews,
share cards and a group leaderboard. See README.md."""

from .persona import FitnessCoach

__all__ = ["FitnessCoach"]
