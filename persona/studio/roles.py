"""Who may do what in the studio: three roles, one table, checked on the server for every request.

A writer owns the scripts, an agent works with customers, an admin manages accounts, opt-outs
and dead letters and reads the audit log. The browser only hides what a role cannot use; the
server refuses it (403) whatever the browser sends. Personal fields are shown in clear only to
agents, who talk to customers; everyone else sees them masked (a writer previewing a script for
a real customer, an admin reading a timeline).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    WRITER = "writer"
    AGENT = "agent"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW_BOT = "view_bot"                # diagram, events, policy, funnel
    VIEW_SCRIPTS = "view_scripts"
    PUBLISH_SCRIPTS = "publish_scripts"  # publish, rollback, variants
    VIEW_CUSTOMERS = "view_customers"    # search, timeline (personal fields masked)
    SEE_PERSONAL = "see_personal"        # phone numbers and other personal fields in clear
    PREVIEW_REAL = "preview_real"        # render a script for a real customer
    OPT_OUT = "opt_out"                  # opt a customer out or back in by hand
    REQUEUE = "requeue"                  # put dead letters back in the outbox
    HANDLE_CONVERSATIONS = "handle_conversations"  # the 客服台: answer held customers, give them back
    RUN_CAMPAIGNS = "run_campaigns"      # 群发: build an audience, schedule and cancel campaigns
    MANAGE_CODES = "manage_codes"        # 渠道活码: make and remove channel codes on the platform
    ADMIN = "admin"                      # accounts and the audit log


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.WRITER: frozenset({Permission.VIEW_BOT, Permission.VIEW_SCRIPTS, Permission.PUBLISH_SCRIPTS,
                            Permission.PREVIEW_REAL, Permission.RUN_CAMPAIGNS}),
    Role.AGENT: frozenset({Permission.VIEW_BOT, Permission.VIEW_SCRIPTS, Permission.VIEW_CUSTOMERS,
                           Permission.SEE_PERSONAL, Permission.PREVIEW_REAL, Permission.HANDLE_CONVERSATIONS}),
    # an admin manages people and opt-outs, and has no need for customers' phone numbers (nor
    # their conversations, which carry them)
    Role.ADMIN: frozenset(Permission) - {Permission.SEE_PERSONAL, Permission.HANDLE_CONVERSATIONS},
}


def allows(role: Role, permission: Permission) -> bool:
    """True when ``role`` may do ``permission``."""
    return permission in GRANTS[role]


LABELS: dict[Role, str] = {Role.WRITER: "文案", Role.AGENT: "客服", Role.ADMIN: "管理员"}
