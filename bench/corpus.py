"""Synthetic but realistic help-center articles in English and Chinese, for the benchmarks.

Deterministic (seeded): titles, alternate questions, summaries and 150-400-word Markdown bodies
are assembled from pools of shop-service vocabulary (actions, products, policies, channels),
so that a keyword matches a realistic share of the articles rather than all or none of them.
"""

import random

from kb.importing import ArticleRecord
from kb.models import Article

# slug, English name, Chinese name, parent slug
CATEGORIES = [
    ("orders", "Orders", "订单", None),
    ("order-changes", "Changing an order", "修改订单", "orders"),
    ("payments", "Payments", "支付", "orders"),
    ("refunds-returns", "Refunds & returns", "退款与退货", None),
    ("exchanges", "Exchanges", "换货", "refunds-returns"),
    ("shipping-delivery", "Shipping & delivery", "配送与物流", None),
    ("international-shipping", "International shipping", "国际配送", "shipping-delivery"),
    ("invoices", "Invoices", "发票", None),
    ("account-login", "Account & login", "账号与登录", None),
    ("account-security", "Account security", "账号安全", "account-login"),
    ("points-coupons", "Points & coupons", "积分与优惠券", None),
    ("membership", "Membership", "会员", "points-coupons"),
]

# --- English pools -----------------------------------------------------------------------------

EN_ACTIONS = {
    "orders": ["track my order", "find my order number", "see my order history",
               "reorder an item", "combine two orders", "check the order status"],
    "order-changes": ["change the delivery address", "cancel an order", "add an item to my order",
                      "change the size of an item", "change the delivery date"],
    "payments": ["pay with a gift card", "split a payment", "pay in installments",
                 "use a bank transfer", "get a payment receipt", "fix a failed payment"],
    "refunds-returns": ["request a refund", "return an item", "check my refund status",
                        "get a refund to my original payment method", "print a return label",
                        "return a damaged item"],
    "exchanges": ["exchange an item for another size", "exchange a faulty product",
                  "swap the color of an item"],
    "shipping-delivery": ["change the courier", "track a parcel", "arrange a redelivery",
                          "pick up from a parcel locker", "speed up delivery",
                          "report a missing parcel"],
    "international-shipping": ["ship to another country", "pay import duties",
                               "track an international parcel", "clear customs"],
    "invoices": ["request an e-invoice", "get a company VAT invoice",
                 "correct the invoice title", "add my tax number", "download an invoice"],
    "account-login": ["reset my password", "change my phone number", "log in without a code",
                      "delete my account", "merge two accounts", "change my email address"],
    "account-security": ["enable two-step verification", "report a suspicious login",
                         "unlock a frozen account", "sign out of all devices"],
    "points-coupons": ["use a coupon", "earn more points", "redeem points",
                       "find my coupons", "combine coupons with a discount"],
    "membership": ["upgrade my membership level", "cancel the membership",
                   "get free shipping as a member", "check member benefits"],
}  # fmt: skip
EN_PRODUCTS = (
    "wireless earbuds, rice cooker, running shoes, phone case, desk lamp, air fryer, "
    "winter jacket, yoga mat, coffee grinder, baby stroller, gaming mouse, smart watch, "
    "bed sheets, electric toothbrush, backpack, water bottle, blender, office chair, "
    "sunglasses, laptop stand, vacuum cleaner, hair dryer, tea set, kettle, hiking boots, "
    "bluetooth speaker, power bank, skincare set, dog food, printer ink, camera lens, "
    "mechanical keyboard, sofa cushion, cookware set, silk scarf, tablet, e-reader"
).split(", ")
EN_QUALIFIERS = ["pre-order", "clearance", "bundle", "gift", "imported", "flash-sale",
                 "marketplace", "large", "refurbished", "subscription"]  # fmt: skip
# Brands and model codes make product-specific articles (as a large catalogue has).
BRANDS = ["Aurora", "Nimbus", "Kestrel", "Lumio", "Vantor", "Pebblo", "Orchid", "Zephra",
          "Quill", "Marlo", "Tidewell", "Sorrel", "Brisa", "Halden", "Corvo", "Yuki"]  # fmt: skip
EN_CHANNELS = ["the app", "the website", "live chat", "the hotline", "email", "the mini program"]
EN_PLACES = ["Account > My Orders", "Order details", "Account > Settings", "the Help page",
             "Account > Wallet", "Account > Coupons", "Account > Security"]  # fmt: skip
EN_TITLE_TEMPLATES = [
    "How do I {action}?",
    "Can I {action} after it has shipped?",
    "Why can't I {action}?",
    "How long does it take to {action}?",
    "{Action} for {qualifier} orders",
    "What happens if I {action} for a {product}?",
    "Can I {action} on {channel}?",
    "{Action} for the {brand} {model} {product}",
    "How do I {action} for my {brand} {product}?",
    "{brand} {product}: can I {action}?",
]
EN_QUESTION_TEMPLATES = [
    "how can i {action}",
    "{action} not working",
    "is it possible to {action}",
    "i want to {action}",
    "{action} {product}",
    "where do i {action}",
    "help me {action} please",
]
EN_SENTENCES = [
    "Open {place} in {channel} and tap the order you want to change.",
    "Orders paid before 16:00 usually ship the same day and every in-stock order ships within {hours} hours.",
    "If your {product} arrived damaged, take a photo of the parcel and the item before you {action}.",
    "Refunds go back to the original payment method within {days} working days of approval.",
    "You can {action} as long as the order status is Pending shipment.",
    "{Qualifier} items follow the same rules, except that the seller may need {days} extra days to confirm.",
    "Once the courier has collected the parcel, the tracking number appears in {place}.",
    "We will text you a verification code; it is valid for {minutes} minutes.",
    "If nothing changes after {days} days, contact us through {channel} with your order number.",
    "Coupons cannot be exchanged for cash and expire at the end of the date shown on them.",
    "Points are credited {days} days after delivery, when the order becomes Completed.",
    "Company VAT invoices need the exact company name and tax number as registered.",
    "For a {product}, keep the original packaging and all accessories so we can {action}.",
    "Parcels sent abroad may be held by customs; import duties are paid by the recipient.",
    "Members at Gold level and above get free shipping on orders over {amount} yuan.",
    "A return label is free when the item is faulty; otherwise the shipping fee is {amount} yuan.",
    "Your account stays signed in on up to {count} devices; signing out on one does not affect the others.",
    "If the payment failed but money left your account, it is returned automatically within {days} days.",
    "Large items such as a {product} are delivered by a partner courier who calls you before arriving.",
    "Changes made in {channel} take effect at once; you will see them in {place}.",
    "Marketplace sellers handle their own shipping, so delivery times for a {product} can vary.",
    "We cannot {action} for orders that are already Completed, but our agents can help on {channel}.",
    "Pre-order items ship on the date shown on the product page; you can cancel until then.",
    "Keep your receipt: the warranty for a {product} runs for {months} months from delivery.",
]
EN_HEADINGS = ["Before you start", "Step by step", "Good to know", "If something goes wrong",
               "Fees and timing", "Exceptions", "Still need help?"]  # fmt: skip
EN_TAGS = ["refund", "return", "invoice", "coupon", "points", "delivery", "tracking", "payment",
           "password", "security", "customs", "exchange", "membership", "damaged", "address"]  # fmt: skip

# --- Chinese pools -----------------------------------------------------------------------------

ZH_ACTIONS = {
    "orders": ["查询订单物流", "查看订单号", "查看历史订单", "再次购买", "合并订单", "查看订单状态"],
    "order-changes": ["修改收货地址", "取消订单", "修改商品尺码", "修改配送时间", "添加商品"],
    "payments": ["使用礼品卡支付", "分期付款", "银行转账付款", "开具付款凭证", "处理支付失败"],
    "refunds-returns": ["申请退款", "申请退货", "查询退款进度", "原路退回退款", "打印退货面单",
                        "退回破损商品"],
    "exchanges": ["换尺码", "更换故障商品", "换颜色"],
    "shipping-delivery": ["更换快递公司", "查询快递单号", "预约重新派送", "到自提柜取件", "催发货",
                          "反馈包裹丢失"],
    "international-shipping": ["寄到海外", "缴纳进口关税", "查询国际物流", "办理清关"],
    "invoices": ["开具电子发票", "开增值税专用发票", "修改发票抬头", "填写税号", "下载发票"],
    "account-login": ["重置密码", "更换绑定手机", "免验证码登录", "注销账号", "合并账号",
                      "修改邮箱"],
    "account-security": ["开启两步验证", "举报异常登录", "解冻账号", "退出所有设备"],
    "points-coupons": ["使用优惠券", "赚取积分", "积分兑换", "查看优惠券", "优惠券叠加满减"],
    "membership": ["提升会员等级", "取消会员", "会员包邮", "查看会员权益"],
}  # fmt: skip
ZH_PRODUCTS = (
    "无线耳机 电饭煲 跑步鞋 手机壳 台灯 空气炸锅 羽绒服 瑜伽垫 咖啡机 婴儿推车 游戏鼠标 智能手表 "
    "四件套 电动牙刷 双肩包 保温杯 破壁机 办公椅 太阳镜 扫地机器人 吹风机 茶具 电水壶 登山鞋 "
    "蓝牙音箱 充电宝 护肤套装 狗粮 墨盒 相机镜头 机械键盘 抱枕 锅具套装 丝巾 平板电脑"
).split()
ZH_QUALIFIERS = [
    "预售",
    "清仓",
    "套装",
    "礼品",
    "进口",
    "秒杀",
    "第三方店铺",
    "大件",
    "二手",
    "订阅",
]
ZH_CHANNELS = ["App", "官网", "在线客服", "客服热线", "邮件", "小程序"]
ZH_PLACES = ["“我的-我的订单”", "“订单详情”", "“我的-设置”", "“帮助中心”", "“我的-钱包”",
             "“我的-优惠券”", "“我的-账号安全”"]  # fmt: skip
ZH_TITLE_TEMPLATES = [
    "如何{action}？",
    "发货后还能{action}吗？",
    "为什么无法{action}？",
    "{action}需要多长时间？",
    "{qualifier}订单怎么{action}",
    "{product}怎么{action}？",
    "可以在{channel}{action}吗？",
    "{brand} {model} {product}如何{action}",
    "我的{brand}{product}能{action}吗？",
    "{brand}{product}{action}说明",
]
ZH_QUESTION_TEMPLATES = [
    "怎么{action}",
    "{action}失败了怎么办",
    "能不能{action}",
    "我想{action}",
    "{product}{action}",
    "在哪里{action}",
    "请问如何{action}",
]
ZH_SENTENCES = [
    "打开{channel}，进入{place}，点击需要处理的订单即可。",
    "当天16:00前付款的订单一般当天发货，有货商品均在付款后{hours}小时内发出。",
    "如果收到的{product}有破损，请先拍下包裹和商品照片，再{action}。",
    "退款审核通过后，款项将在{days}个工作日内原路退回。",
    "订单状态为“待发货”时，您可以直接{action}。",
    "{qualifier}商品规则相同，但商家可能需要额外{days}天确认。",
    "快递揽收后，快递单号会显示在{place}中。",
    "我们会向您的手机发送验证码，验证码{minutes}分钟内有效。",
    "如果{days}天后仍无变化，请通过{channel}联系我们并提供订单号。",
    "优惠券不能兑换现金，过期后自动失效。",
    "订单签收{days}天后变为“已完成”，积分随即到账。",
    "开具增值税专用发票时，请填写与营业执照一致的公司名称和税号。",
    "{product}请保留原包装和全部配件，以便我们{action}。",
    "寄往海外的包裹可能被海关查验，进口关税由收件人承担。",
    "黄金会员及以上等级，订单满{amount}元即可包邮。",
    "商品有质量问题时退货运费由我们承担，否则运费为{amount}元。",
    "您的账号最多可在{count}台设备上同时登录，退出其中一台不影响其他设备。",
    "如果支付失败但已扣款，款项会在{days}天内自动退回。",
    "{product}等大件商品由合作物流配送，送货前会电话联系您。",
    "通过{channel}修改后立即生效，可在{place}查看。",
    "第三方店铺的商品由商家自行发货，{product}的配送时间可能不同。",
    "已完成的订单无法{action}，但客服可以通过{channel}为您处理。",
    "预售商品按商品页显示的日期发货，发货前可随时取消订单。",
    "请保留购物凭证，{product}自签收之日起保修{months}个月。",
    "七天无理由退货的商品需保持完好，不影响二次销售。",
    "电子发票会在订单完成后发送到您的邮箱，也可以在订单详情中下载。",
    "忘记密码时，可以在登录页点击“忘记密码”，通过手机验证码重置密码。",
    "收货地址只能在发货前修改，发货后请联系快递改地址。",
]
ZH_HEADINGS = [
    "办理前须知",
    "操作步骤",
    "温馨提示",
    "常见问题",
    "费用与时效",
    "特殊情况",
    "仍需帮助？",
]
ZH_TAGS = ["退款", "退货", "发票", "优惠券", "积分", "配送", "物流", "支付", "密码", "安全", "清关",
           "换货", "会员", "破损", "地址"]  # fmt: skip

# --- Queries -----------------------------------------------------------------------------------
# (kind, query). Kinds: title (a question like a title), keyword, typo, none (no match expected).
EN_QUERIES = [
    ("title", "How do I track my order?"),
    ("title", "can I cancel an order after it has shipped"),
    ("title", "how long does it take to get a refund"),
    ("title", "change the delivery address"),
    ("title", "why can't I reset my password"),
    ("title", "get a company VAT invoice"),
    ("title", "how do I use a coupon on the app"),
    ("title", "pay import duties for an international parcel"),
    ("keyword", "refund"),
    ("keyword", "invoice"),
    ("keyword", "coupon"),
    ("keyword", "tracking number"),
    ("keyword", "earbuds"),
    ("keyword", "password"),
    ("keyword", "customs"),
    ("keyword", "damaged"),
    ("typo", "refnud status"),
    ("typo", "invocie title"),
    ("typo", "pasword reset"),
    ("typo", "delivry time"),
    ("none", "quantum physics lecture"),
    ("none", "mortgage interest rates"),
    ("none", "xylophone"),
    ("none", "volcano eruption"),
]
ZH_QUERIES = [
    ("title", "如何申请退款？"),
    ("title", "发货后还能修改收货地址吗"),
    ("title", "电子发票怎么开"),
    ("title", "忘记密码怎么办"),
    ("title", "退款需要多长时间"),
    ("title", "优惠券可以叠加满减吗"),
    ("title", "包裹丢失了怎么办"),
    ("title", "怎么开增值税专用发票"),
    ("keyword", "退款"),
    ("keyword", "发票"),
    ("keyword", "优惠券"),
    ("keyword", "快递单号"),
    ("keyword", "无线耳机"),
    ("keyword", "积分"),
    ("keyword", "清关"),
    ("keyword", "破损"),
    ("typo", "退欵进度"),  # wrong character
    ("typo", "发漂抬头"),  # homophone typo
    ("typo", "忘计密码"),
    ("typo", "运废多少"),
    ("none", "量子力学"),
    ("none", "股票行情"),
    ("none", "天气预报"),
    ("none", "火山爆发"),
]
QUERIES = {"en": EN_QUERIES, "zh-hans": ZH_QUERIES}


def _fill(template: str, rng: random.Random, pools: dict) -> str:
    values = {
        "action": pools["action"],
        "product": rng.choice(pools["products"]),
        "qualifier": rng.choice(pools["qualifiers"]),
        "channel": rng.choice(pools["channels"]),
        "place": rng.choice(pools["places"]),
        "hours": rng.choice([24, 48, 72]),
        "days": rng.randint(1, 15),
        "minutes": rng.choice([5, 10, 15]),
        "amount": rng.choice([49, 59, 88, 99, 199]),
        "count": rng.randint(2, 6),
        "months": rng.choice([6, 12, 24]),
        "brand": rng.choice(BRANDS),
        "model": rng.choice("ABCDEFGHKMPRSTXZ") + str(rng.randint(1, 99) * 10),
    }
    values.update({k.capitalize(): str(v)[:1].upper() + str(v)[1:] for k, v in values.items()})
    return template.format(**values)


def _pools(language: str, rng: random.Random, category: str) -> dict:
    en = language == "en"
    return {
        "action": rng.choice((EN_ACTIONS if en else ZH_ACTIONS)[category]),
        "products": EN_PRODUCTS if en else ZH_PRODUCTS,
        "qualifiers": EN_QUALIFIERS if en else ZH_QUALIFIERS,
        "channels": EN_CHANNELS if en else ZH_CHANNELS,
        "places": EN_PLACES if en else ZH_PLACES,
    }


def _body(language: str, rng: random.Random, pools: dict) -> str:
    """Markdown: sections of sentences and a numbered list, 150-400 words (or, in Chinese,
    about 2 characters per English word: 300-800 characters)."""
    en = language == "en"
    sentences = EN_SENTENCES if en else ZH_SENTENCES
    headings = EN_HEADINGS if en else ZH_HEADINGS
    target = rng.randint(150, 400) * (1 if en else 2)
    parts, size = [], 0
    for heading in rng.sample(headings, len(headings)):
        section = [f"## {heading}"]
        chosen = [_fill(s, rng, pools) for s in rng.sample(sentences, rng.randint(2, 4))]
        if rng.random() < 0.35:
            section.append("\n".join(f"{i}. {s}" for i, s in enumerate(chosen, 1)))
        else:
            section.append((" " if en else "").join(chosen))
        parts.append("\n".join(section))
        size += sum(len(s.split()) if en else len(s) for s in chosen)
        if size >= target:
            break
    return "\n\n".join(parts)


def records(count: int, *, seed: int = 1, start: int = 0, zh_share: float = 0.5):
    """``count`` ArticleRecords (slugs bench-<n>), roughly ``zh_share`` of them in Chinese."""
    rng = random.Random(seed * 1_000_003 + start)
    leaf_categories = [c[0] for c in CATEGORIES]
    result = []
    for n in range(start, start + count):
        language = "zh-hans" if rng.random() < zh_share else "en"
        en = language == "en"
        category = rng.choice(leaf_categories)
        pools = _pools(language, rng, category)
        title = _fill(rng.choice(EN_TITLE_TEMPLATES if en else ZH_TITLE_TEMPLATES), rng, pools)
        question_templates = EN_QUESTION_TEMPLATES if en else ZH_QUESTION_TEMPLATES
        questions = [
            _fill(t, rng, pools) for t in rng.sample(question_templates, rng.randint(1, 4))
        ]
        summary = _fill(rng.choice(EN_SENTENCES if en else ZH_SENTENCES), rng, pools)
        tags = rng.sample(EN_TAGS if en else ZH_TAGS, rng.randint(1, 3))
        result.append(
            ArticleRecord(
                line=n + 1,
                slug=f"bench-{n}",
                title=title[:200],
                language=language,
                category=category,
                body=_body(language, rng, pools),
                summary=summary[:500],
                questions=questions,
                tags=tags,
                status=Article.Status.PUBLISHED,
            )
        )
    return result


def create_categories() -> None:
    from kb.models import Category

    by_slug = {}
    for position, (slug, name, name_zh, parent) in enumerate(CATEGORIES):
        by_slug[slug], _ = Category.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "name_zh_hans": name_zh,
                "description": f"Help with {name.lower()}.",
                "description_zh_hans": f"{name_zh}相关帮助。",
                "parent": by_slug.get(parent),
                "position": position,
            },
        )


def bulk_load(records_: list[ArticleRecord], *, seed: int = 7, batch: int = 500) -> int:
    """Insert published articles fast (Markdown rendered as the services do, questions and
    tags included) without revisions or per-article indexing; call kb.search.index.reindex()
    afterwards. Returns the number of articles inserted."""
    from django.db import transaction
    from django.utils import timezone

    from kb.models import ArticleQuestion, Category, Tag
    from kb.rendering import plain_text, render_markdown

    rng = random.Random(seed)
    categories = {c.slug: c for c in Category.objects.all()}
    names = sorted({t for r in records_ for t in r.tags})
    Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True)
    tags = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
    through = Article.tags.through
    now = timezone.now()
    with transaction.atomic():
        for i in range(0, len(records_), batch):
            chunk = records_[i : i + batch]
            articles = []
            for r in chunk:
                body_html = render_markdown(r.body)
                articles.append(
                    Article(
                        slug=r.slug,
                        title=r.title,
                        language=r.language,
                        category=categories[r.category],
                        summary=r.summary,
                        body=r.body,
                        body_html=body_html,
                        body_text=plain_text(body_html),
                        status=r.status,
                        published_at=now,
                        view_count=int(rng.paretovariate(1.2) * 10),
                    )
                )
            Article.objects.bulk_create(articles)
            if articles[0].pk is None:  # a backend that does not return ids
                ids = dict(
                    Article.objects.filter(slug__in=[a.slug for a in articles]).values_list(
                        "slug", "pk"
                    )
                )
                for a in articles:
                    a.pk = ids[a.slug]
            ArticleQuestion.objects.bulk_create(
                ArticleQuestion(article_id=a.pk, text=q[:300], position=n)
                for a, r in zip(articles, chunk, strict=True)
                for n, q in enumerate(r.questions)
            )
            through.objects.bulk_create(
                through(article_id=a.pk, tag_id=tags[t])
                for a, r in zip(articles, chunk, strict=True)
                for t in set(r.tags)
            )
    return len(records_)
