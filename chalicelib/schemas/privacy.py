"""The export of everything held about a customer (GET /v1/customers/{id}/export)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from chalicelib.domain.outcomes import InteractionRecord, LedgerEntryRecord
from chalicelib.domain.privacy import CustomerDossier, TicketRecord
from chalicelib.domain.rewards import RewardRedemptionRecord
from chalicelib.schemas.audit import AuditEntryOut
from chalicelib.schemas.customers import CustomerOut
from chalicelib.schemas.interactions import TimelineEntryOut
from chalicelib.schemas.offers import CouponOut
from chalicelib.schemas.segments import CustomerSegmentsOut
from chalicelib.schemas.tickets import CommentOut, TicketEventOut, TicketOut


class LotOut(BaseModel):
    expires_on: date
    points: int


class PointsExport(BaseModel):
    balance: int = Field(description="Available at the time of the export.")
    lifetime_earned: int
    redeemed: int
    expired: int
    reversed: int
    deducted: int
    clawback_pending: int
    tier: str | None
    lots: list[LotOut] = Field(description="Points held, by the day they expire.")
    ledger: list[LedgerEntryRecord] = Field(description="The whole ledger, oldest first.")


class TicketExport(TicketOut):
    comments: list[CommentOut] = Field(description="All comments, internal ones too.")
    events: list[TicketEventOut]

    @classmethod
    def of_record(cls, record: TicketRecord, now: datetime) -> TicketExport:
        return cls(
            **TicketOut.of(record.ticket, now).model_dump(),
            comments=[CommentOut.of(c) for c in record.comments],
            events=[TicketEventOut.of(e) for e in record.events],
        )


class CustomerExport(BaseModel):
    exported_at: datetime
    customer: CustomerOut = Field(description="The profile with its metrics.")
    interactions: list[InteractionRecord] = Field(description="Every interaction, oldest first.")
    points: PointsExport | None = Field(description="Null when the customer never had points.")
    tickets: list[TicketExport] = Field(description="Oldest first, with comments and events.")
    segments: CustomerSegmentsOut
    audit_entries: list[AuditEntryOut] = Field(
        description="The audit trail's entries about this customer's data, oldest first."
    )
    reward_redemptions: list[RewardRedemptionRecord] = Field(
        description="Rewards redeemed, oldest first."
    )
    coupons: list[CouponOut] = Field(description="Coupons issued to the customer, newest first.")
    campaign_messages: list[TimelineEntryOut] = Field(
        description="Campaign messages (sent, held out or not sent, and why), oldest run first;"
        " as the timeline shows them."
    )

    @classmethod
    def of(cls, dossier: CustomerDossier) -> CustomerExport:
        now = dossier.exported_at
        account = dossier.account
        points = None
        if account is not None:
            points = PointsExport(
                balance=account.available(now.date()),
                lifetime_earned=account.lifetime_earned,
                redeemed=account.redeemed,
                expired=account.expired,
                reversed=account.reversed,
                deducted=account.deducted,
                clawback_pending=account.clawback_pending,
                tier=account.tier or None,
                lots=[LotOut(expires_on=d, points=p) for d, p in sorted(account.lots.items())],
                ledger=[LedgerEntryRecord.of(entry) for entry in dossier.ledger],
            )
        state = dossier.state
        return cls(
            exported_at=now,
            customer=CustomerOut.of(dossier.customer, state.metrics if state else None),
            interactions=[InteractionRecord.of(i) for i in dossier.interactions],
            points=points,
            tickets=[TicketExport.of_record(record, now) for record in dossier.tickets],
            segments=CustomerSegmentsOut.of(dossier.customer.id, state),
            audit_entries=[AuditEntryOut.of(entry) for entry in dossier.audit_entries],
            reward_redemptions=[RewardRedemptionRecord.of(r) for r in dossier.reward_redemptions],
            coupons=[CouponOut.of(coupon, now) for coupon in dossier.coupons],
            campaign_messages=[TimelineEntryOut.of_entry(m) for m in dossier.campaign_messages],
        )
