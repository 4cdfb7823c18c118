"""Sensible defaults a help desk starts with: tiers, a business calendar, SLA policies after
common service standards (chat first reply 30 s, web/email 2 h, VIP tighter), the urgency and
sentiment lexicon in English and Chinese, empathetic openings and a few canned replies.
Managers edit all of it in admin. Created by migration 0002; ``ensure_defaults`` is idempotent,
so load_demo can call it again after a test database flush."""

from datetime import time, timedelta

LEXICON = [
    # (term, is_regex, kind, language, weight)
    ("urgent", False, "urgency", "en", 2.0),
    ("asap", False, "urgency", "en", 2.0),
    ("as soon as possible", False, "urgency", "en", 2.0),
    ("emergency", False, "urgency", "en", 2.0),
    ("immediately", False, "urgency", "en", 1.5),
    ("right now", False, "urgency", "en", 1.0),
    ("still waiting", False, "urgency", "en", 1.0),
    (r"!{3,}", True, "urgency", "any", 1.0),
    ("complaint", False, "negative", "en", 1.5),
    ("lawyer", False, "negative", "en", 3.0),
    ("legal action", False, "negative", "en", 3.0),
    ("fraud", False, "negative", "en", 2.5),
    ("scam", False, "negative", "en", 2.0),
    ("unacceptable", False, "negative", "en", 1.5),
    ("terrible", False, "negative", "en", 1.0),
    ("worst", False, "negative", "en", 1.0),
    ("angry", False, "negative", "en", 1.0),
    ("refund", False, "negative", "en", 0.5),
    ("急", False, "urgency", "zh-hans", 1.5),
    ("着急", False, "urgency", "zh-hans", 2.0),
    ("紧急", False, "urgency", "zh-hans", 2.0),
    ("马上", False, "urgency", "zh-hans", 1.0),
    ("立刻", False, "urgency", "zh-hans", 1.0),
    ("尽快", False, "urgency", "zh-hans", 1.0),
    ("投诉", False, "negative", "zh-hans", 2.0),
    ("差评", False, "negative", "zh-hans", 2.0),
    ("12315", False, "negative", "any", 3.0),
    ("律师", False, "negative", "zh-hans", 3.0),
    ("骗子", False, "negative", "zh-hans", 2.5),
    ("曝光", False, "negative", "zh-hans", 2.0),
    ("垃圾", False, "negative", "zh-hans", 1.5),
    ("气死", False, "negative", "zh-hans", 1.5),
    ("太慢", False, "negative", "zh-hans", 1.0),
    ("退款", False, "negative", "zh-hans", 0.5),
]

OPENINGS = [
    (
        "en",
        "",
        "I'm sorry for the trouble, and I understand this is urgent for you. Let me sort it out right away.",
    ),
    (
        "en",
        "senior",
        "I'm very sorry for the trouble. I'll take care of this for you personally, step by step.",
    ),
    (
        "en",
        "business",
        "Apologies for the disruption to your business. I'm prioritising this now and will keep you updated.",
    ),
    ("zh-hans", "", "非常抱歉给您带来不便，我理解您很着急，我马上为您处理。"),
    ("zh-hans", "senior", "非常抱歉让您费心了，我会一步一步帮您处理好，请您放心。"),
    ("zh-hans", "business", "很抱歉影响了贵司的业务，我们已优先处理，并会随时向您同步进展。"),
]

CANNED = [
    (
        "Refund timing",
        "refund-timing",
        "en",
        "Hi {customer_name},\n\nRefunds reach Alipay and WeChat Pay in 1-3 business days and bank cards in 3-7 business days after we issue them. Details: {article:refund-processing-time}\n\nBest regards,\n{agent_name}",
        "",
    ),
    (
        "Ask for the order number",
        "order-number",
        "en",
        "Hi {customer_name},\n\nCould you send us your order number so we can look into this ({ticket_reference})?\n\nThanks,\n{agent_name}",
        "pending",
    ),
    (
        "Solved, anything else?",
        "solved",
        "en",
        "Hi {customer_name},\n\nI'm glad this is sorted. If anything else comes up, just reply to this message.\n\nBest regards,\n{agent_name}",
        "solved",
    ),
    (
        "退款到账时间",
        "refund-timing",
        "zh-hans",
        "{customer_name}您好：\n\n退款发起后，支付宝、微信支付 1-3 个工作日到账，银行卡 3-7 个工作日到账。详情请看：{article:refund-processing-time-zh}\n\n{agent_name}",
        "",
    ),
    (
        "请提供订单号",
        "order-number",
        "zh-hans",
        "{customer_name}您好：\n\n麻烦您提供一下订单号，我们好为您查询（工单 {ticket_reference}）。\n\n{agent_name}",
        "pending",
    ),
    (
        "问题已解决",
        "solved",
        "zh-hans",
        "{customer_name}您好：\n\n很高兴问题已经解决。如还有其他问题，直接回复本消息即可。\n\n{agent_name}",
        "solved",
    ),
]


def ensure_defaults(apps, schema_editor=None) -> None:
    Tier = apps.get_model("tickets", "Tier")
    Calendar = apps.get_model("tickets", "Calendar")
    BusinessHours = apps.get_model("tickets", "BusinessHours")
    SLAPolicy = apps.get_model("tickets", "SLAPolicy")
    LexiconEntry = apps.get_model("tickets", "LexiconEntry")
    UrgencyRule = apps.get_model("tickets", "UrgencyRule")
    EmpatheticOpening = apps.get_model("tickets", "EmpatheticOpening")
    CannedReply = apps.get_model("tickets", "CannedReply")

    Tier.objects.get_or_create(slug="standard", defaults={"name": "Standard", "position": 0})
    vip, _ = Tier.objects.get_or_create(
        slug="vip", defaults={"name": "VIP", "is_vip": True, "position": 1}
    )

    calendar, created = Calendar.objects.get_or_create(
        name="Business hours", defaults={"time_zone": "Asia/Shanghai"}
    )
    if created:
        for day in range(5):
            BusinessHours.objects.create(
                calendar=calendar, weekday=day, opens=time(9), closes=time(18)
            )
        BusinessHours.objects.create(calendar=calendar, weekday=5, opens=time(10), closes=time(16))

    if not SLAPolicy.objects.exists():
        m, h = (lambda n: timedelta(minutes=n)), (lambda n: timedelta(hours=n))
        policies = [
            # name, position, priorities, channels, vip only, first, next, resolution, calendar, escalate
            (
                "VIP chat",
                10,
                [],
                ["chat"],
                True,
                timedelta(seconds=15),
                timedelta(seconds=30),
                h(2),
                None,
                2,
            ),
            (
                "Chat",
                20,
                [],
                ["chat"],
                False,
                timedelta(seconds=30),
                timedelta(seconds=60),
                h(4),
                None,
                2,
            ),
            ("VIP urgent", 30, [1], [], True, m(15), m(30), h(4), None, None),
            ("VIP", 40, [], [], True, m(30), h(1), h(24), None, 2),
            ("Urgent", 50, [1], [], False, m(30), h(1), h(8), None, None),
            ("High", 60, [2], [], False, h(1), h(2), h(24), calendar, 1),
            ("Standard", 70, [], [], False, h(2), h(4), h(72), calendar, 2),
        ]
        for (
            name,
            position,
            priorities,
            channels,
            vip_only,
            first,
            nxt,
            resolution,
            cal,
            esc,
        ) in policies:
            policy = SLAPolicy.objects.create(
                name=name,
                position=position,
                priorities=priorities,
                channels=channels,
                first_response=first,
                next_response=nxt,
                resolution=resolution,
                calendar=cal,
                escalate_to_priority=esc,
            )
            if vip_only:
                policy.tiers.add(vip)

    if not LexiconEntry.objects.exists():
        LexiconEntry.objects.bulk_create(
            LexiconEntry(term=t, is_regex=r, kind=k, language=lang, weight=w)
            for t, r, k, lang, w in LEXICON
        )
    if not UrgencyRule.objects.exists():
        UrgencyRule.objects.create(min_score=4, priority=1)
        UrgencyRule.objects.create(min_score=2, priority=2)
    if not EmpatheticOpening.objects.exists():
        EmpatheticOpening.objects.bulk_create(
            EmpatheticOpening(language=lang, segment=seg, text=text) for lang, seg, text in OPENINGS
        )
    if not CannedReply.objects.exists():
        CannedReply.objects.bulk_create(
            CannedReply(title=t, shortcut=s, language=lang, body=b, set_status=st)
            for t, s, lang, b, st in CANNED
        )
