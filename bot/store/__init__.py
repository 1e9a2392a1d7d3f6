"""The lead store: the one database of sign-ups, handoff cases, notes, accounts and the audit log.

Used by the action server (saving leads, citizens' own data requests), the dashboard
(casework, accounts) and the command line. One LeadStore is one database seen through
the part each caller needs:

- `intake`: the action server's write path, idempotent and spooled when the database is down;
- `citizens`: what a citizen may see and erase of their own conversation;
- `cases`: the coordinators' queries and workflow, scoped to their regions;
- `accounts`: dashboard accounts and login throttling;
- `live`: live chats between a citizen and a coordinator (bot.store.live);
- `reviews`: reviewers' decisions on the messages the bot handled badly (bot.store.review);
- `audit`: the audit log.

Retention (`bot.store.retention`) and Rasa's tracker store (`bot.store.conversations`)
work on the same data from outside.
"""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings, settings
from bot.store.accounts import Accounts
from bot.store.audit import AuditLog
from bot.store.casework import Casework
from bot.store.citizens import CitizenRequests
from bot.store.database import Database
from bot.store.intake import Intake
from bot.store.live import LiveChats
from bot.store.review import Reviews


class LeadStore:
    def __init__(self, url: str, spool_dir: Path | None = None) -> None:
        self.db = Database(url)
        self.audit = AuditLog(self.db)
        self.intake = Intake(self.db, self.audit, spool_dir)
        self.citizens = CitizenRequests(self.db, self.audit, self.intake)
        self.cases = Casework(self.db, self.audit)
        self.accounts = Accounts(self.db, self.audit)
        self.live = LiveChats(self.db, self.audit)
        self.reviews = Reviews(self.db, self.audit)


def open_store(config: Settings | None = None) -> LeadStore:
    """The lead store the configuration names, with its spool folder."""
    config = config or settings()
    return LeadStore(config.leads_url, spool_dir=config.spool_dir)
