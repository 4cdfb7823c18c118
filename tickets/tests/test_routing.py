import threading

import pytest
from django.db import connection, connections

from tickets import services
from tickets.models import AgentStatus, RoutingMode, Skill, Ticket
from tickets.tests.factories import CustomerFactory, TeamFactory, agent, ticket, tier


def skill(kind, code):
    return Skill.objects.get_or_create(kind=kind, code=code, defaults={"name": code})[0]


@pytest.fixture
def teams(db):
    invoices = TeamFactory(name="Invoices", slug="invoices-team")
    invoices.skills.set([skill("topic", "invoices")])
    chinese = TeamFactory(name="Chinese desk", slug="zh-desk")
    chinese.skills.set([skill("language", "zh-hans")])
    general = TeamFactory(name="General", slug="general", is_default=True)
    vip = TeamFactory(name="VIP care", slug="vip-care", is_vip_team=True)
    return {"invoices": invoices, "chinese": chinese, "general": general, "vip": vip}


def assign(t):
    services.ticket_auto_assign(ticket_id=t.pk)
    t.refresh_from_db()
    return t


def test_new_ticket_goes_to_the_least_loaded_available_agent_with_matching_skills(teams):
    busy = agent("busy", teams=[teams["general"]])
    idle = agent("idle", teams=[teams["general"]])
    agent("away", teams=[teams["general"]], status=AgentStatus.AWAY)
    for _ in range(2):
        services.ticket_update(ticket=ticket(), actor=None, assignee=busy)
    t = assign(ticket(subject="Hello", body="A question about my account settings"))
    assert t.team == teams["general"]
    assert t.assignee == idle


def test_topic_and_language_skills_choose_the_team(teams):
    agent("zh-agent", teams=[teams["chinese"]], skills=[skill("language", "zh-hans")])
    t = assign(ticket(subject="发票", body="我想开发票"))
    assert t.language == "zh-hans"
    assert t.team == teams["chinese"]
    assert t.assignee.username == "zh-agent"


def test_agents_at_capacity_are_skipped_and_the_ticket_waits_in_the_team_queue(teams):
    full = agent("full", teams=[teams["general"]], capacity=1)
    services.ticket_update(ticket=ticket(), actor=None, assignee=full)
    t = assign(ticket())
    assert t.team == teams["general"]
    assert t.assignee is None


def test_round_robin_teams_rotate(teams):
    teams["general"].routing_mode = RoutingMode.ROUND_ROBIN
    teams["general"].save()
    a, b = agent("rr-a", teams=[teams["general"]]), agent("rr-b", teams=[teams["general"]])
    owners = [assign(ticket()).assignee for _ in range(4)]
    assert owners == [a, b, a, b]


def test_manual_teams_keep_tickets_in_the_queue(teams):
    teams["general"].routing_mode = RoutingMode.MANUAL
    teams["general"].save()
    agent("m", teams=[teams["general"]])
    assert assign(ticket()).assignee is None


def test_vip_dedicated_agent_first_then_the_vip_team_when_away(teams):
    dedicated = agent("dedicated", teams=[teams["vip"]])
    backup = agent("backup", teams=[teams["vip"]])
    vip = CustomerFactory(tier=tier("vip"), dedicated_agent=dedicated)
    assert assign(ticket(vip)).assignee == dedicated
    dedicated.agent_profile.status = AgentStatus.AWAY
    dedicated.agent_profile.save()
    t = assign(ticket(vip))
    assert t.team == teams["vip"]
    assert t.assignee == backup


def test_take_next_gives_the_top_ticket_matching_skills(teams):
    zh_only = agent("zh-only", skills=[skill("language", "zh-hans")])
    ticket(subject="Refund", body="Where is my money")
    zh = ticket(subject="退款", body="钱呢")
    assert services.ticket_take_next(agent=zh_only) == zh
    assert Ticket.objects.get(pk=zh.pk).assignee == zh_only
    assert services.ticket_take_next(agent=zh_only) is None  # nothing else they can take


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_agents_taking_at_once_never_get_the_same_ticket(settings):
    from tickets.models import Tier

    settings.TASKS_EAGER = False  # no auto-assignment: both tickets wait in the queue
    Tier.objects.get_or_create(slug="standard", defaults={"name": "Standard"})
    first, second = agent("racer-1"), agent("racer-2")
    tickets = [ticket(subject=f"Race {i}") for i in range(2)]
    barrier = threading.Barrier(2)
    results, errors = {}, []

    def take(user):
        try:
            barrier.wait()
            results[user.username] = services.ticket_take_next(agent=user)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=take, args=(u,)) for u in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    taken = [t.pk for t in results.values() if t]
    assert len(taken) == 2
    assert set(taken) == {t.pk for t in tickets}


def test_guest_who_signs_up_keeps_their_history(db, django_user_model):
    guest = services.customer_for_email(email="Ann@Example.com ", name="Ann")
    ticket(guest)
    user = django_user_model.objects.create_user("ann", email="ann@example.com")
    customer = services.customer_for_user(user=user)
    assert customer.pk == guest.pk
    assert customer.tickets.count() == 1


def test_merging_customers_moves_tickets_and_login(db, django_user_model):
    keep = CustomerFactory(name="", phone="")
    other = CustomerFactory(
        name="Bo", phone="123", user=django_user_model.objects.create_user("bo")
    )
    ticket(other)
    services.customers_merge(source=other, target=keep)
    keep.refresh_from_db()
    other.refresh_from_db()
    assert keep.tickets.count() == 1
    assert (keep.name, keep.phone, keep.user.username) == ("Bo", "123", "bo")
    assert other.merged_into == keep
    assert services.customer_for_email(email=keep.email).pk == keep.pk
