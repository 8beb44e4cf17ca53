"""Privileged actions: the names the audit log gives them, who may act, and on whom.

Every privileged action writes one audit entry named by an ``AuditAction``; the
enumeration is the whole vocabulary, so an entry's action is never a free string
and a reader of the log can know every name it may meet. Periodic jobs and the
command line act as the system actor, whose id in the log is ``SYSTEM_ACTOR_ID``
(no account ever has it: account ids start at 1).
"""

from __future__ import annotations

from enum import StrEnum

from qunzu.domain.errors import Forbidden

SYSTEM_ACTOR_ID = 0
SYSTEM_ACTOR_NAME = "system"


class AuditAction(StrEnum):
    """Every action the audit log records."""

    # review of cases (services.review)
    case_queue = "case.queue"
    case_view = "case.view"
    case_claim = "case.claim"
    case_release = "case.release"
    case_escalate = "case.escalate"
    case_decide = "case.decide"
    # sanctions and appeals (services.review, services.appeals)
    sanction_lift = "sanction.lift"
    appeal_queue = "appeal.queue"
    appeal_decide = "appeal.decide"
    # credit (services.credit)
    credit_lock = "credit.lock"
    credit_unlock = "credit.unlock"
    credit_recompute = "credit.recompute"
    # identity and accounts (services.identity, services.accounts)
    identity_read = "identity.read"
    platform_user_create = "platform_user.create"
    # account security (services.passwords, services.throttle)
    password_reset_by_officer = "password.reset_by_officer"
    throttled = "security.throttled"
    # groups (services.attendance)
    group_assign_owner = "group.assign_owner"
    group_attendance = "group.attendance"
    # records for the authorities (services.records)
    records_export = "records.export"
    records_transparency = "records.transparency"
    # requests from the authorities and referrals (services.lawful_access)
    lawful_register = "lawful.register"
    lawful_approve = "lawful.approve"
    lawful_refuse = "lawful.refuse"
    lawful_export = "lawful.export"
    lawful_close = "lawful.close"
    lawful_list = "lawful.list"
    referral_list = "referral.list"
    referral_close = "referral.close"
    # the audit log itself (services.audit)
    audit_read = "audit.read"
    audit_verify = "audit.verify"
    audit_seal = "audit.seal"
    # what runs (services.status, services.jobs)
    platform_status = "platform.status"
    job_run = "job.run"


def check_not_self(officer_id: int, subject_account_id: int | None) -> None:
    """An officer never acts on their own account: no lock, lift, appeal decision or
    identity read where the officer is the subject (the interest is their own)."""
    if subject_account_id is not None and officer_id == subject_account_id:
        raise Forbidden(
            "officer_self_action",
            "A platform officer cannot act on their own account; another officer must.",
        )
