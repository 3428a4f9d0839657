"""A salon's bot in two versions, as a brand would change it between two deploys.

Version 2 renames the state ``welcomed`` to ``greeted``, drops the one-day ``nudge`` timer,
adds a day-30 follow-up (armed for customers already in flight too), renames the attribute
``fav`` to ``favourite`` and rewords the day-15 message.
"""
