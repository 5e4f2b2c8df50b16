"""Applications for access, their history, approvals, appeals and the versioned terms
of access. Tables and values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearance.db.schema import JSONValue, UTCDateTime, metadata
from clearance.vetting.form import ApplicationForm
from clearance.vetting.states import AppStatus

applications_table = sa.Table(
    "applications",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("legal_name", sa.String(256), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("form", JSONValue, nullable=False),
    sa.Column("submitted_at", UTCDateTime, nullable=False),
    sa.Column("submitted_by", sa.String(128), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("org_id", sa.String(40), nullable=True),
    sa.Column("domain_token", sa.String(128), nullable=True),
    sa.Column("domain_verified_at", UTCDateTime, nullable=True),
    sa.Column("domain_method", sa.String(8), nullable=True),
    sa.Column("email_token_digest", sa.String(64), nullable=True, unique=True),
    sa.Column("email_token_expires_at", UTCDateTime, nullable=True),
    sa.Column("email_verified_at", UTCDateTime, nullable=True),
    sa.Column("terms_version", sa.String(64), nullable=True),
    sa.Column("terms_sha256", sa.String(64), nullable=True),
    sa.Column("terms_accepted_at", UTCDateTime, nullable=True),
    sa.Column("terms_accepted_by", sa.String(320), nullable=True),
    sa.Column("grant", JSONValue, nullable=True),
    sa.Column("revet_due_at", UTCDateTime, nullable=True),
    sa.Column("reminded_at", UTCDateTime, nullable=True),
)

application_history_table = sa.Table(
    "application_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("application_id", sa.ForeignKey("applications.id"), nullable=False, index=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("from_status", sa.String(16), nullable=True),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("detail", JSONValue, nullable=True),
)

application_approvals_table = sa.Table(
    "application_approvals",
    metadata,
    sa.Column("application_id", sa.ForeignKey("applications.id"), primary_key=True),
    sa.Column("operator_id", sa.String(40), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("round", sa.Integer, nullable=False, server_default="1"),
)

appeals_table = sa.Table(
    "appeals",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("application_id", sa.ForeignKey("applications.id"), nullable=False, index=True),
    sa.Column("against", sa.String(16), nullable=False),
    sa.Column("grounds", sa.Text, nullable=False),
    sa.Column("filed_at", UTCDateTime, nullable=False),
    sa.Column("filed_by", sa.String(320), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("decided_by", sa.String(128), nullable=True),
    sa.Column("decision_reason", sa.Text, nullable=True),
)

terms_table = sa.Table(
    "terms_versions",
    metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    # Publication order: times can tie, the current terms have the highest seq.
    sa.Column("seq", sa.Integer, nullable=True, unique=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("published_at", UTCDateTime, nullable=False),
    sa.Column("published_by", sa.String(128), nullable=False),
)


@dataclass(frozen=True, slots=True)
class Application:
    id: str
    status: AppStatus
    form: ApplicationForm
    submitted_at: datetime
    submitted_by: str
    updated_at: datetime
    org_id: str | None
    domain_verified_at: datetime | None
    domain_method: str | None
    email_verified_at: datetime | None
    terms_version: str | None
    terms_sha256: str | None
    terms_accepted_at: datetime | None
    terms_accepted_by: str | None
    grant: dict[str, Any] | None
    revet_due_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Application:
        m = row._mapping
        return cls(
            id=m["id"],
            status=AppStatus(m["status"]),
            form=ApplicationForm.from_stored(m["form"]),
            submitted_at=m["submitted_at"],
            submitted_by=m["submitted_by"],
            updated_at=m["updated_at"],
            org_id=m["org_id"],
            domain_verified_at=m["domain_verified_at"],
            domain_method=m["domain_method"],
            email_verified_at=m["email_verified_at"],
            terms_version=m["terms_version"],
            terms_sha256=m["terms_sha256"],
            terms_accepted_at=m["terms_accepted_at"],
            terms_accepted_by=m["terms_accepted_by"],
            grant=m["grant"],
            revet_due_at=m["revet_due_at"],
        )

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "form": self.form.document(),
            "submitted_at": self.submitted_at,
            "submitted_by": self.submitted_by,
            "updated_at": self.updated_at,
            "org_id": self.org_id,
            "domain_verified_at": self.domain_verified_at,
            "domain_method": self.domain_method,
            "email_verified_at": self.email_verified_at,
            "terms_version": self.terms_version,
            "terms_accepted_at": self.terms_accepted_at,
            "terms_accepted_by": self.terms_accepted_by,
            "grant": self.grant,
            "revet_due_at": self.revet_due_at,
        }
