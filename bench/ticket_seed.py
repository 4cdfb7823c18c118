"""Seed a help desk of N tickets fast (bulk inserts, not the services), with realistic
shape: 20 % as many customers as tickets (10 % VIP), 60 % of tickets active with running SLA
clocks spread around now, first messages and creation events."""

import random
from datetime import timedelta

SUBJECTS = [
    "Where is my parcel?", "Refund not received", "Wrong item delivered", "Invoice needs a new title",
    "Cannot log in", "Coupon does not work", "Change delivery address", "Damaged on arrival",
    "退款什么时候到账", "快递一直不更新", "发票抬头写错了", "登录不了", "优惠券用不了",
]  # fmt: skip
STATUSES = ["new"] * 20 + ["open"] * 30 + ["pending"] * 10 + ["solved"] * 25 + ["closed"] * 15


def seed(count: int, *, seed_value: int = 7, batch: int = 5000) -> dict:
    """Create ``count`` tickets; returns a few handy objects (staff user, customers)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from tickets.models import (
        AgentProfile,
        AuthorKind,
        Customer,
        Event,
        Message,
        SLAPolicy,
        Team,
        Ticket,
        Tier,
    )

    rng = random.Random(seed_value)
    now = timezone.now()
    User = get_user_model()
    agents = []
    for i in range(10):
        user, _ = User.objects.get_or_create(
            username=f"bench-agent-{i}", defaults={"is_staff": True, "email": f"a{i}@example.com"}
        )
        AgentProfile.objects.get_or_create(user=user)
        agents.append(user)
    teams = [
        Team.objects.get_or_create(slug=f"bench-{i}", defaults={"name": f"Bench {i}"})[0]
        for i in range(3)
    ]
    standard, vip = Tier.objects.get(slug="standard"), Tier.objects.get(slug="vip")
    policies = {p.name: p for p in SLAPolicy.objects.all()}
    start = Customer.objects.count()
    customers = Customer.objects.bulk_create(
        Customer(
            name=f"Bench customer {start + i}",
            email=f"bench{start + i}@example.com",
            tier=vip if rng.random() < 0.1 else standard,
        )
        for i in range(max(count // 5, 1))
    )
    created = 0
    while created < count:
        size = min(batch, count - created)
        tickets = []
        for _ in range(size):
            customer = rng.choice(customers)
            status = rng.choice(STATUSES)
            age = timedelta(minutes=rng.randint(1, 60 * 24 * 30))
            created_at = now - age
            active = status in ("new", "open", "pending")
            vip_lane = customer.tier_id == vip.pk
            running = active and status != "pending"
            # Running clocks end anywhere from 2 h ago (breached) to 3 days ahead.
            due = (
                now + timedelta(minutes=rng.randint(-120, 60 * 72))
                if running
                else created_at + timedelta(hours=2)
            )
            warn = due - timedelta(minutes=30)
            tickets.append(
                Ticket(
                    subject=rng.choice(SUBJECTS),
                    customer=customer,
                    status=status,
                    priority=rng.choice([1, 2, 3, 3, 3, 4]),
                    channel=rng.choice(["web", "email", "api", "chat"]),
                    lane=1 if vip_lane else 2,
                    team=rng.choice(teams),
                    assignee=rng.choice(agents) if status != "new" else None,
                    created_at=created_at,
                    updated_at=created_at + age / 2,
                    first_responded_at=None
                    if status == "new"
                    else created_at + timedelta(minutes=20),
                    solved_at=created_at + age / 2 if status in ("solved", "closed") else None,
                    sla_policy=policies["VIP" if vip_lane else "Standard"],
                    first_response_due=created_at + timedelta(hours=2),
                    resolution_due=due,
                    next_due_at=due if running else None,
                    sla_breached=running and due < now,
                    sla_clocks=[
                        {"name": "resolution", "due": due.isoformat(), "warn": warn.isoformat()}
                    ]
                    if running
                    else [],
                    sla_check_at=(warn if warn > now else due if due > now else None)
                    if running
                    else None,
                    language="zh-hans" if rng.random() < 0.3 else "en",
                )
            )
        tickets = Ticket.objects.bulk_create(tickets, batch_size=1000)
        Message.objects.bulk_create(
            (
                Message(
                    ticket=t,
                    author_kind=AuthorKind.CUSTOMER,
                    body=f"{t.subject}. Order 2026{t.pk:07d}.",
                    created_at=t.created_at,
                )
                for t in tickets
            ),
            batch_size=1000,
        )
        Event.objects.bulk_create(
            (
                Event(
                    ticket=t, kind="created", created_at=t.created_at, data={"channel": t.channel}
                )
                for t in tickets
            ),
            batch_size=1000,
        )
        created += size
    return {"agents": agents, "customers": customers, "teams": teams}
