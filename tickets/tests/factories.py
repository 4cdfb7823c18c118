import factory
from django.contrib.auth import get_user_model

from tickets import services
from tickets.models import AgentProfile, Channel, Customer, Team, Tier


def tier(slug: str = "standard") -> Tier:
    return Tier.objects.get(slug=slug)  # created by migration 0002


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    tier = factory.LazyFunction(tier)


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"agent{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.django.Password("pw")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


def agent(
    username: str | None = None, *, teams=(), skills=(), capacity: int = 20, status="available"
):
    user = StaffFactory(**({"username": username} if username else {}))
    profile, _ = AgentProfile.objects.get_or_create(user=user)
    profile.capacity, profile.status = capacity, status
    profile.save()
    profile.teams.set(teams)
    profile.skills.set(skills)
    return user


def ticket(
    customer=None,
    *,
    subject="Where is my order?",
    body="It has not arrived.",
    channel=Channel.WEB,
    **kwargs,
):
    return services.ticket_create(
        customer=customer or CustomerFactory(),
        subject=subject,
        body=body,
        channel=channel,
        **kwargs,
    )
