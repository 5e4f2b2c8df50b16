"""Break-glass: the rule for reading raw request content.

Content is shown only to an operator acting as an investigator, inside an open case,
with a written justification, for a request of the organization the case is about
(when it names one) — and the reading itself is an audit entry, committed before any
content is returned, and also when reading fails. Anything else is refused. Where content is kept at all
is each model's retention rule (none, digest, or encrypted for N days); a request
whose content was not kept yields ``retained: false`` — and is still audited, since
the attempt to look is itself worth recording.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy as sa

from clearance.accounts.models import Caller
from clearance.accounts.permissions import Permission, may
from clearance.audit.events import ContentViewed
from clearance.audit.services import AuditLog
from clearance.db.database import Database
from clearance.errors import InvalidInput, InvalidState, NotAllowed
from clearance.monitoring.cases import Cases
from clearance.usage.models import usage_records_table

MIN_JUSTIFICATION = 20

_usage = usage_records_table.c
ContentLookup = Callable[[str], Awaitable[bytes | None]]


@dataclass(frozen=True)
class ContentView:
    request_id: str
    retained: bool
    content: bytes | None


class BreakGlass:
    def __init__(self, db: Database, audit: AuditLog, cases: Cases, lookup: ContentLookup) -> None:
        self._db = db
        self._audit = audit
        self._cases = cases
        self._lookup = lookup

    async def check(self, caller: Caller, case_id: str, justification: str) -> str:
        """Refuse unless the rule holds; returns the cleaned justification."""
        if not may(caller, Permission.CONTENT_READ):
            raise NotAllowed("only investigators may read raw content")
        case = await self._cases.get(case_id)
        if case.status != "open":
            raise InvalidState("raw content can only be read inside an open case")
        text = " ".join(justification.split())
        if len(text) < MIN_JUSTIFICATION:
            raise InvalidInput(
                f"write a justification of at least {MIN_JUSTIFICATION} characters",
                "justification",
            )
        return text

    async def view(
        self, caller: Caller, case_id: str, request_id: str, justification: str
    ) -> ContentView:
        text = await self.check(caller, case_id, justification)
        case = await self._cases.get(case_id)
        if case.org_id is not None:
            async with self._db.read() as conn:
                org_id = await conn.scalar(
                    sa.select(_usage.org_id).where(_usage.request_id == request_id)
                )
            if org_id is not None and org_id != case.org_id:
                raise NotAllowed("that request is not from the organization this case is about")
        try:
            content = await self._lookup(request_id)
        except Exception:  # the attempt is recorded all the same
            await self._record(caller, case_id, request_id, text, retained=False)
            raise
        await self._record(caller, case_id, request_id, text, retained=content is not None)
        return ContentView(request_id=request_id, retained=content is not None, content=content)

    async def _record(
        self, caller: Caller, case_id: str, request_id: str, text: str, retained: bool
    ) -> None:
        async with self._db.transaction() as conn:
            await self._audit.append(
                conn,
                ContentViewed(
                    actor=caller.actor,
                    case_id=case_id,
                    request_id=request_id,
                    justification=text[:2000],
                    retained=retained,
                ),
            )
