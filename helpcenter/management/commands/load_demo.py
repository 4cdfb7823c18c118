"""Demo data: staff and customers, categories and bilingual articles. Idempotent: a second run
changes nothing (existing users keep their passwords; unchanged articles are not saved)."""

from pathlib import Path

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.roles import AGENTS, MANAGERS, ensure_roles
from helpcenter.demo import helpdesk as demo_helpdesk
from kb import calibration, services
from kb.importing import ImportFailed, import_records, parse_lines
from kb.models import Article, Category
from tickets.defaults import ensure_defaults

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"

# username, password, first name, last name, email, role
USERS = [
    ("admin", "admin", "Ada", "Admin", "admin@example.com", "superuser"),
    ("manager", "manager", "Mia", "Manager", "manager@example.com", MANAGERS),
    ("alice", "alice", "Alice", "Agent", "alice@example.com", AGENTS),
    ("bob", "bob", "Bob", "Agent", "bob@example.com", AGENTS),
    ("carol", "carol", "Carol", "Customer (VIP)", "carol@example.com", "customer"),
    ("dave", "dave", "Dave", "Customer", "dave@example.com", "customer"),
]

CATEGORIES = [
    ("orders", "Orders", "订单", "Track, change or cancel an order, and paying for it.",
     "查询、修改或取消订单，以及付款相关问题。"),
    ("refunds-returns", "Refunds & returns", "退款与退货",
     "Return an item, exchange it, and get your money back.", "退货、换货以及退款进度。"),
    ("shipping-delivery", "Shipping & delivery", "配送与物流",
     "Delivery times, fees, tracking and international shipping.", "配送时效、运费、物流查询与国际配送。"),
    ("invoices", "Invoices", "发票", "E-invoices, company VAT invoices and corrections.",
     "电子发票、增值税专用发票及发票更正。"),
    ("account-login", "Account & login", "账号与登录",
     "Sign-in problems, passwords, phone numbers and account security.", "登录问题、密码、手机号与账号安全。"),
    ("points-coupons", "Points & coupons", "积分与优惠券",
     "Earning and using points, coupons and membership benefits.", "积分获取与使用、优惠券和会员权益。"),
]  # fmt: skip

# Popularity for the demo's "popular articles" (set once, when an article is first created).
DEMO_VIEWS = {
    "refund-processing-time": 940, "track-order-status": 880, "reset-password": 760,
    "cancel-order": 610, "request-e-invoice": 540, "delivery-times-areas": 500,
}  # fmt: skip


class Command(BaseCommand):
    help = "Load the demo users, categories and bilingual articles (safe to run again)."

    @transaction.atomic
    def handle(self, *args, **options):
        # Normally made by migrations; a test database flush removes them.
        ensure_roles(apps)
        ensure_defaults(apps)
        users_created = self._users()
        for position, (slug, name, name_zh, description, description_zh) in enumerate(CATEGORIES):
            Category.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name, "name_zh_hans": name_zh, "description": description,
                    "description_zh_hans": description_zh, "position": position,
                },
            )  # fmt: skip
        services.category_record_change()
        records, errors = parse_lines(
            (DEMO_DIR / "articles.jsonl").read_text(encoding="utf-8").splitlines()
        )
        if errors:
            raise CommandError(f"Demo articles are invalid: {errors[:3]}")
        known = set(Article.objects.values_list("slug", flat=True))
        try:
            report = import_records(
                records, author=get_user_model().objects.get(username="manager")
            )
        except ImportFailed as failed:
            raise CommandError(
                f"Demo articles could not be imported: {failed.report.errors[:3]}"
            ) from None
        calibration.calibrations_refresh()  # article vectors and the chat bot's thresholds
        tickets_created = demo_helpdesk.load()
        for slug, views in DEMO_VIEWS.items():
            for article_slug in (slug, f"{slug}-zh"):
                if article_slug not in known:
                    Article.objects.filter(slug=article_slug).update(view_count=views)
        self.stdout.write(
            f"Demo data: {users_created} user(s) created; articles {report.created} created, "
            f"{report.updated} updated, {report.unchanged} unchanged; "
            f"{tickets_created} demo ticket(s) created."
        )

    def _users(self) -> int:
        User = get_user_model()
        created_count = 0
        for username, password, first, last, email, role in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": email},
            )
            if not created:
                continue
            created_count += 1
            user.set_password(password)
            user.is_staff = role not in ("customer",)
            user.is_superuser = role == "superuser"
            user.save()
            if role in (MANAGERS, AGENTS):
                user.groups.add(Group.objects.get(name=role))
        return created_count
