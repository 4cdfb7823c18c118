"""Text normalization shared by indexing and querying: the two must tokenize identically.

English words are kept whole (the database stems them: FTS5's porter tokenizer, PostgreSQL's
``english`` configuration); runs of Chinese characters are segmented into words with jieba
(``cut_for_search``, which also emits the shorter words inside long ones) or, as the measured
alternative, into overlapping bigrams. ``bench/search_quality.py`` compares the two.
"""

import re
import threading
import unicodedata
from functools import lru_cache

from django.conf import settings

# A token is a run of Latin letters/digits or a run of CJK ideographs.
_TOKEN_RE = re.compile(r"[0-9a-z]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Words that carry no topic. Kept short on purpose: BM25 already discounts common words, this
# list only stops "how do I" from matching every article and from diluting confidence.
ENGLISH_STOPWORDS = frozenset(
    "a about am an and any are as at be been but by can could did do does doing for from get "
    "got had has have having he her here hi hello him his how i if in into is it its just me my "
    "myself no not of on or our please she so some than that the their them then there these "
    "they this those to too us was we were what when where which who why will with would you "
    "your yours s t m d ll re ve".split()
)
CHINESE_STOPWORDS = frozenset(
    "的 了 吗 呢 吧 啊 呀 嘛 我 我的 你 你们 您 他 她 它 是 在 有 和 与 及 或 就 都 也 还 要 想 请 请问 "
    "一下 怎么 怎么办 怎样 如何 什么 为什么 哪里 哪儿 可以 能 能不能 可不可以 是不是 这个 那个 这 "
    "那 个 一个 么 呗 哦 嗯 好 谢谢 你好 麻烦".split()
)

# Shop words jieba's general dictionary splits badly; added once when jieba loads.
DOMAIN_WORDS = (
    "到账",
    "退款",
    "退货",
    "换货",
    "运费",
    "包邮",
    "运单号",
    "快递单号",
    "物流",
    "签收",
    "催发货",
    "发票",
    "电子发票",
    "专票",
    "普票",
    "增值税专用发票",
    "抬头",
    "税号",
    "开票",
    "积分",
    "优惠券",
    "满减",
    "验证码",
    "绑定手机",
    "注销账号",
    "收货地址",
    "七天无理由",
    "自提柜",
    "驿站",
    "会员等级",
    "取消订单",
    "订单号",
    "原路退回",
    "登录不了",
    "改地址",
    "忘记密码",
    "重置密码",
)

_jieba_lock = threading.Lock()
_jieba = None


def _segmenter():
    """jieba, loaded once per process (its dictionary takes ~0.5 s to load)."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.dt.tmp_dir = str(settings.VAR_DIR)
                jieba.initialize()
                for word in DOMAIN_WORDS:
                    jieba.add_word(word, freq=20000)
                _jieba = jieba
    return _jieba


def warm_up() -> None:
    _segmenter()


def normalize(text: str) -> str:
    """Fold width and case: full-width letters and digits become ASCII, text becomes lowercase."""
    return unicodedata.normalize("NFKC", text or "").lower()


def _cjk_words(run: str, tokenizer: str) -> list[str]:
    if tokenizer == "bigram":
        if len(run) == 1:
            return [run]
        return [run[i : i + 2] for i in range(len(run) - 1)]
    words = [w for w in _segmenter().cut_for_search(run, HMM=True) if w.strip()]
    return words


def tokens(text: str, *, tokenizer: str | None = None) -> list[str]:
    """All tokens of ``text`` in order (stopwords kept), Chinese segmented."""
    tokenizer = tokenizer or settings.KB_CHINESE_TOKENIZER
    result: list[str] = []
    for match in _TOKEN_RE.finditer(normalize(text)):
        token = match.group()
        if _CJK_RE.match(token):
            result.extend(_cjk_words(token, tokenizer))
        else:
            result.append(token)
    return result


def index_text(text: str, *, tokenizer: str | None = None) -> str:
    """Text for the full-text index: tokens joined by spaces (the index splits on spaces)."""
    return " ".join(tokens(text, tokenizer=tokenizer))


def is_cjk(token: str) -> bool:
    return bool(_CJK_RE.match(token))


def is_stopword(token: str) -> bool:
    return token in ENGLISH_STOPWORDS or token in CHINESE_STOPWORDS


def query_terms(text: str, *, tokenizer: str | None = None) -> list[str]:
    """Distinct content terms of a query, in order; stopwords go unless nothing else is left."""
    all_terms = list(dict.fromkeys(tokens(text, tokenizer=tokenizer)))
    content = [t for t in all_terms if not is_stopword(t)]
    return content or all_terms


def contains_cjk(text: str) -> bool:
    return bool(_CJK_RE.search(text or ""))


@lru_cache(maxsize=4096)
def stem(word: str) -> str:
    """A light English suffix stripper, for matching query words against text in Python
    (confidence, highlighting); the database does the real stemming for retrieval."""
    if is_cjk(word) or len(word) <= 3:
        return word
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "es", "ed", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                base += "y"
            return base
    return word
