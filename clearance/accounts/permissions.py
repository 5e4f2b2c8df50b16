"""The permission matrix: what each operator role may do. Deny by default — a
permission not listed for a role is refused, and every admin route and CLI command
names the one permission it needs.

Separation of duties starts here: reviewers verify identities and review applications
but cannot grant or approve; approvers approve applications and grant entitlements but
cannot administer (and no admin can approve); only investigators read raw
content (inside a case, with a justification); auditors only read.
"""

from __future__ import annotations

from enum import StrEnum

from clearance.accounts.models import Caller, OperatorRole


class Permission(StrEnum):
    MODELS_READ = "models:read"
    MODELS_WRITE = "models:write"
    ORGS_READ = "orgs:read"
    ORGS_WRITE = "orgs:write"
    ORGS_SUSPEND = "orgs:suspend"
    MEMBERS_READ = "members:read"
    MEMBERS_WRITE = "members:write"
    MEMBERS_VERIFY = "members:verify"
    MEMBERS_SUSPEND = "members:suspend"
    KEYS_READ = "keys:read"
    KEYS_WRITE = "keys:write"
    KEYS_REVOKE = "keys:revoke"
    END_USERS_READ = "end_users:read"
    END_USERS_SUSPEND = "end_users:suspend"
    ENTITLEMENTS_READ = "entitlements:read"
    ENTITLEMENTS_WRITE = "entitlements:write"
    OPERATORS_READ = "operators:read"
    OPERATORS_WRITE = "operators:write"
    POLICY_READ = "policy:read"
    POLICY_WRITE = "policy:write"
    """Policies, country tables and the program file: the rules themselves."""
    AUDIT_READ = "audit:read"
    USAGE_READ = "usage:read"
    CASES_READ = "cases:read"
    CASES_WRITE = "cases:write"
    CONTENT_READ = "content:read"
    """Break-glass: raw request content, only inside an open case."""
    APPLICATIONS_READ = "applications:read"
    APPLICATIONS_WRITE = "applications:write"
    """Submit applications and file appeals."""
    APPLICATIONS_REVIEW = "applications:review"
    """Screen, adjudicate hits, run the checks, reject."""
    APPLICATIONS_APPROVE = "applications:approve"
    """Approve applications and decide appeals."""
    SCREENING_WRITE = "screening:write"
    """Import denied-party lists."""


P = Permission
READ = frozenset(
    {
        P.MODELS_READ,
        P.ORGS_READ,
        P.MEMBERS_READ,
        P.KEYS_READ,
        P.END_USERS_READ,
        P.ENTITLEMENTS_READ,
        P.OPERATORS_READ,
        P.POLICY_READ,
        P.AUDIT_READ,
        P.USAGE_READ,
        P.CASES_READ,
        P.APPLICATIONS_READ,
    }
)

MATRIX: dict[OperatorRole, frozenset[Permission]] = {
    OperatorRole.ADMIN: READ
    | {
        P.MODELS_WRITE,
        P.ORGS_WRITE,
        P.ORGS_SUSPEND,
        P.MEMBERS_WRITE,
        P.MEMBERS_SUSPEND,
        P.KEYS_WRITE,
        P.KEYS_REVOKE,
        P.END_USERS_SUSPEND,
        P.ENTITLEMENTS_WRITE,
        P.OPERATORS_WRITE,
        P.POLICY_WRITE,
        P.APPLICATIONS_WRITE,
        P.APPLICATIONS_REVIEW,
        P.SCREENING_WRITE,
    },
    OperatorRole.REVIEWER: READ | {P.MEMBERS_VERIFY, P.APPLICATIONS_WRITE, P.APPLICATIONS_REVIEW},
    OperatorRole.APPROVER: READ | {P.ENTITLEMENTS_WRITE, P.APPLICATIONS_APPROVE},
    OperatorRole.INVESTIGATOR: READ
    | {
        P.CASES_WRITE,
        P.CONTENT_READ,
        P.KEYS_REVOKE,
        P.END_USERS_SUSPEND,
        P.MEMBERS_SUSPEND,
        P.ORGS_SUSPEND,
    },
    OperatorRole.AUDITOR: READ,
}


def allows(role: OperatorRole, permission: Permission) -> bool:
    return permission in MATRIX.get(role, frozenset())


def granted(operator_role: OperatorRole, acting_role: OperatorRole) -> frozenset[Permission]:
    """What a request may do: the narrower of the operator's role and the role its
    credential acts with (a token scoped to ``auditor`` reads, whoever holds it; a
    token can never lend its holder more than the holder's own role)."""
    return MATRIX.get(operator_role, frozenset()) & MATRIX.get(acting_role, frozenset())


def may(caller: Caller, permission: Permission) -> bool:
    """Whether ``caller``'s request may do what needs ``permission``."""
    return permission in granted(caller.operator.role, caller.role)


def refusal(caller: Caller, permission: Permission) -> str:
    """Why ``caller`` may not do what needs ``permission``, naming the narrower role."""
    if not caller.full_scope:
        return (
            f"This token is scoped to the {caller.role.value} role, which may not do this "
            f"(needs {permission.value})."
        )
    return f"The {caller.role.value} role may not do this (needs {permission.value})."


def may_scope_token(operator_role: OperatorRole, token_role: OperatorRole) -> bool:
    """A token acts with one role: the operator's own, or the read-only auditor role."""
    return token_role in {operator_role, OperatorRole.AUDITOR}
