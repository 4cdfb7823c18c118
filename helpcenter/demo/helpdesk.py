"""Demo help desk: skills, teams, agent profiles, the two customers and a few tickets in
several states. Idempotent: nothing is created twice."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from kb.models import Category
from tickets import services
from tickets.models import (
    AgentProfile,
    AuthorKind,
    Customer,
    RoutingMode,
    Skill,
    Status,
    Team,
    Ticket,
    Tier,
)

TEAMS = [
    # slug, name, skills (kind:code), routing, vip, default
    ("general", "General support", ["language:en"], RoutingMode.LEAST_LOADED, False, True),
    ("chinese", "中文客服", ["language:zh-hans"], RoutingMode.LEAST_LOADED, False, False),
    ("billing", "Billing & invoices", ["topic:invoices", "topic:refunds-returns"], RoutingMode.ROUND_ROBIN, False, False),
    ("vip", "VIP care", [], RoutingMode.LEAST_LOADED, True, False),
]  # fmt: skip
AGENT_SETUP = {
    "alice": (
        ["general", "billing", "vip"],
        ["language:en", "topic:invoices", "topic:refunds-returns"],
    ),
    "bob": (["chinese", "general", "vip"], ["language:zh-hans", "language:en"]),
}

TICKETS = [
    # customer, subject, body, hours ago, then: list of (author, body, status after)
    ("dave", "Where is my parcel?", "I ordered a lamp (order 20261115-3321) a week ago and the tracking has not moved for 4 days.", 30,
     [("alice", "Sorry for the wait! I have asked the courier to check the parcel and will update you tomorrow.", Status.PENDING)]),
    ("dave", "Invoice with the wrong company name", "The e-invoice for order 20261102-1180 shows my name instead of my company. Can you reissue it?", 5, []),
    ("carol", "URGENT: wrong item delivered, need it today!!!", "I received a blue vase instead of the white one. It is a gift for tonight, please help asap.", 1, []),
    ("carol", "退款什么时候到账？", "我上周退货了，显示仓库已签收，但是退款还没到支付宝，很着急。", 3,
     [("bob", "您好，已为您查询：退款已于今天发起，支付宝 1-3 个工作日到账，请留意。", Status.SOLVED)]),
    ("dave", "Can I change my delivery address?", "I just placed order 20261122-0042 and need it sent to my office instead.", 50,
     [("alice", "Done: the order will go to your office address.", Status.SOLVED)]),
]  # fmt: skip


def _skill(spec: str) -> Skill:
    kind, code = spec.split(":", 1)
    name = code
    if kind == "topic" and (category := Category.objects.filter(slug=code).first()):
        name = category.name
    return Skill.objects.get_or_create(kind=kind, code=code, defaults={"name": name})[0]


def load() -> int:
    User = get_user_model()
    users = {
        u.username: u
        for u in User.objects.filter(username__in=["alice", "bob", "carol", "dave", "manager"])
    }
    for category in Category.objects.all():
        _skill(f"topic:{category.slug}")
    teams = {}
    for slug, name, skills, routing, vip, default in TEAMS:
        team, created = Team.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "routing_mode": routing, "is_vip_team": vip, "is_default": default,
                      "lead": users.get("manager")},
        )  # fmt: skip
        if created:
            team.skills.set([_skill(s) for s in skills])
        teams[slug] = team
    for username, (team_slugs, skills) in AGENT_SETUP.items():
        if username not in users:
            continue
        profile, created = AgentProfile.objects.get_or_create(user=users[username])
        if created:
            profile.teams.set([teams[s] for s in team_slugs])
            profile.skills.set([_skill(s) for s in skills])
    vip_tier = Tier.objects.get(slug="vip")
    customers = {}
    for username in ("carol", "dave"):
        if username not in users:
            continue
        customer = services.customer_for_user(user=users[username])
        if username == "carol" and not customer.tier.is_vip:
            customer.tier = vip_tier
            customer.dedicated_agent = users.get("alice")
            customer.language = "en"
            customer.save(update_fields=["tier", "dedicated_agent", "language"])
        customers[username] = customer
    if Ticket.objects.filter(customer__in=customers.values()).exists():
        return 0
    now = timezone.now()
    for username, subject, body, hours_ago, replies in TICKETS:
        created_at = now - timedelta(hours=hours_ago)
        ticket = services.ticket_create(
            customer=Customer.objects.select_related("tier").get(pk=customers[username].pk),
            subject=subject, body=body, now=created_at,
        )  # fmt: skip
        for minutes, (author, text, status) in enumerate(replies, start=1):
            services.message_post(
                ticket=ticket, author_kind=AuthorKind.AGENT, author=users[author], body=text,
                status=status, now=created_at + timedelta(minutes=20 * minutes),
            )  # fmt: skip
            services.ticket_update(ticket=ticket, actor=users[author], assignee=users[author])
    return len(TICKETS)
