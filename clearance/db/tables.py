"""Imports every domain's tables so the shared metadata is complete (for migrations
and schema checks)."""

from clearance.accounts import models as accounts_models
from clearance.audit import models as audit_models
from clearance.db import changes
from clearance.identity import models as identity_models
from clearance.monitoring import enforcement_models, handoff, notify, retention
from clearance.monitoring import models as monitoring_models
from clearance.policy import models as policy_models
from clearance.registry import models as registry_models
from clearance.screening import models as screening_models
from clearance.usage import models as usage_models
from clearance.vetting import models as vetting_models

__all__ = [
    "accounts_models",
    "audit_models",
    "changes",
    "enforcement_models",
    "handoff",
    "identity_models",
    "monitoring_models",
    "notify",
    "policy_models",
    "registry_models",
    "retention",
    "screening_models",
    "usage_models",
    "vetting_models",
]
