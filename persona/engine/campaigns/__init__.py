"""群发 campaigns: one audience, one script (or an A/B split), sent at a chosen time, once.

``record`` (what a campaign is: audience, scripts, data, when), ``book`` (campaigns kept in the
store: created, listed, claimed with a lease, cancelled, their progress counted), ``runner``
(``persona serve`` runs the due ones through the gate, one turn per customer).
"""

from __future__ import annotations

from .book import Book, Progress
from .record import Campaign, Moment, Split, Status, When
from .runner import CampaignRunner

__all__ = ["Book", "Campaign", "CampaignRunner", "Moment", "Progress", "Split", "Status", "When"]
