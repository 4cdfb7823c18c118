"""HelpCenter settings: the only module that reads the environment.

Unset variables give the embedded topology (SQLite, in-memory channel layer, local-memory
cache, django-q2's ORM broker, console email); DATABASE_URL and REDIS_URL switch to the
distributed one. See README.md for the full list.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# Writable state of the embedded topology: SQLite file, collected static files, secret key.
VAR_DIR = Path(env("HELPCENTER_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if key := env("SECRET_KEY"):
        return key
    # Development convenience: a key generated once and kept out of git. Production sets SECRET_KEY.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Other sites that embed the chat widget (origins like https://shop.example.com).
CHAT_ALLOWED_ORIGINS = env_list("CHAT_ALLOWED_ORIGINS")
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = env("SITE_NAME", "Lumen Market Help Center")
SUPPORT_EMAIL = env("SUPPORT_EMAIL", "support@example.com")

# How many reverse proxies of ours stand in front of the server (each appends to
# X-Forwarded-For). 0: none, and the header is ignored; every per-address limit (sign-in,
# sign-up, guest tickets, votes, sockets, chats, content gaps) then counts the peer address
# (core/client.py). The ASGI server must not rewrite the peer address itself (`serve` runs
# uvicorn with --no-proxy-headers).
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", env_int("NUM_PROXIES", 0))

# Behind a TLS-terminating proxy in production (.env.production.example sets all of these, so
# `manage.py check --deploy` is clean).
if env_bool("SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Load balancers probe /healthz over plain HTTP; a redirect would count as a failed check.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Off by default: once a browser has seen HSTS it refuses plain HTTP for this many seconds.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "daphne",  # first: makes runserver serve ASGI (HTTP and WebSocket)
    "helpcenter.apps.AdminConfig",  # django.contrib.admin with our site (sign-in limits)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "channels",
    "helpcenter",
    "kb",
    "tickets",
    "surveys",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",  # ETag / 304 for every page
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # After the host check and the language, before anything reads the body (CSRF reads POST).
    "core.request_limits.BodyLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A view that failed because the database cannot serve now answers 503, not 500.
    "helpcenter.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "helpcenter.urls"
WSGI_APPLICATION = "helpcenter.wsgi.application"
ASGI_APPLICATION = "helpcenter.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "helpcenter.context_processors.site",
                "helpcenter.context_processors.language_links",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# How long a statement waits for a lock someone else holds (a long migration, a backup, a slow
# disk) before the database counts as unavailable: HTTP 503 + Retry-After, the sockets' error
# frame `unavailable` (core/database.py). SQLite's busy timeout, PostgreSQL's lock_timeout.
# Writes hold the lock for milliseconds, so waiting longer only makes a request hang.
DATABASE_LOCK_TIMEOUT_MS = env_int("DATABASE_LOCK_TIMEOUT_MS", 5000)
# PostgreSQL: the longest one statement may run, and how long to wait for a connection (s).
# 0 turns the statement timeout off (say, for `manage.py migrate` on a large table).
DATABASE_STATEMENT_TIMEOUT_MS = env_int("DATABASE_STATEMENT_TIMEOUT_MS", 30_000)
DATABASE_CONNECT_TIMEOUT = env_int("DATABASE_CONNECT_TIMEOUT", 5)
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 0), conn_health_checks=True
        )
    }
    if DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
        _options = DATABASES["default"].setdefault("OPTIONS", {})
        _options.setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT)
        # Server settings of every session; an `options` of the URL comes last, so it wins.
        _options["options"] = (
            f"-c lock_timeout={DATABASE_LOCK_TIMEOUT_MS} "
            f"-c statement_timeout={DATABASE_STATEMENT_TIMEOUT_MS} {_options.get('options', '')}"
        ).strip()
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "helpcenter.sqlite3",
            "OPTIONS": {
                # WAL lets readers work while one writer commits; IMMEDIATE takes the write lock
                # at BEGIN, so two writers queue on the busy timeout instead of failing with
                # "database is locked" when a read transaction tries to upgrade.
                "init_command": (
                    "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                    f"PRAGMA busy_timeout={DATABASE_LOCK_TIMEOUT_MS}"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": DATABASE_LOCK_TIMEOUT_MS / 1000,
            },
            # Worth setting under WSGI workers (a new SQLite connection costs ~2 ms of CPU);
            # under ASGI every request runs on a fresh thread, so keep 0 there.
            "CONN_MAX_AGE": env_int("CONN_MAX_AGE", 0),
            "CONN_HEALTH_CHECKS": True,
        }
    }
# The WebSocket consumers' database work runs on a pool of this many threads per worker, so a
# call stuck on a lock does not hold up every socket; each thread keeps its connection
# SOCKET_CONN_MAX_AGE seconds (core/socket_db.py). 0: on Channels' one shared thread instead,
# where one stuck call holds up every socket (the tests' in-memory SQLite needs it: conftest.py).
SOCKET_DB_THREADS = max(0, env_int("SOCKET_DB_THREADS", 4))
SOCKET_CONN_MAX_AGE = env_int("SOCKET_CONN_MAX_AGE", 300)
# Test databases: a file for SQLite (forked live servers cannot share an in-memory database)
# and an explicit name on PostgreSQL. TEST_DATABASE_NAME is set by the test runner only.
if test_db_name := env("TEST_DATABASE_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": test_db_name}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, channel layer, task broker: Redis when REDIS_URL is set, else in-process ------------
REDIS_URL = env("REDIS_URL")
CACHE_KEY_PREFIX = env("CACHE_KEY_PREFIX", "hc")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
    # The layer only rings the doorbell: messages live in the database and clients replay what
    # they missed, so Redis pub/sub (one PUBLISH per group send, nothing stored) is enough.
    # "lists" is channels-redis' default layer (per-channel lists): 9.8-14.2 against 3.3-5.2 ms
    # of server CPU per chat message at 200 msg/s in bench/chat.py (docs/benchmarks.md).
    REDIS_CHANNEL_LAYER = env("REDIS_CHANNEL_LAYER", "pubsub")
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": {
                "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "lists": "channels_redis.core.RedisChannelLayer",
            }[REDIS_CHANNEL_LAYER],
            # socket_timeout None: channels-redis blocks 5 s in BZPOPMIN, and redis-py's default
            # read timeout of 5 s would otherwise drop idle sockets. max_connections: redis-py
            # 8's pool raises beyond 100 connections, and 2,000 sockets closing at once each
            # need one for group_discard (both measured in tickets/tests/test_chat_servers.py
            # and bench/chat.py). Idle connections are reused, so this is a ceiling, not a cost.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": None, "max_connections": 5_000}],
                "prefix": f"{CACHE_KEY_PREFIX}:asgi",
            },
        }
    }
else:  # one process, no other service
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "helpcenter",
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "core.layers.InMemoryChannelLayer"}}

Q_CLUSTER = {
    "name": "helpcenter",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": 120,
    "retry": 180,
    "max_attempts": 3,
    "catch_up": False,  # a sweep that missed runs while the worker was down runs once, not N times
    "sync": env_bool("Q_SYNC", False),
    "label": "Tasks",
}
# Run enqueued tasks at once in the calling process (tests); the cluster runs them otherwise.
TASKS_EAGER = env_bool("TASKS_EAGER", False)
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 1.0

# --- Email: EMAIL_URL (smtp://user:pass@host:587?tls=1) or the usual EMAIL_* settings ----------
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", f"{SITE_NAME} <{SUPPORT_EMAIL}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_URL = env("EMAIL_URL")
EMAIL_TIMEOUT = 10
if EMAIL_URL:
    _email = urlsplit(EMAIL_URL)
    _email_query = {key: values[-1] for key, values in parse_qs(_email.query).items()}
    _email_backends = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "locmem": "django.core.mail.backends.locmem.EmailBackend",
        "dummy": "django.core.mail.backends.dummy.EmailBackend",
    }
    if _email.scheme in _email_backends:
        EMAIL_BACKEND = _email_backends[_email.scheme]
    else:
        EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        EMAIL_HOST = _email.hostname or "localhost"
        EMAIL_PORT = _email.port or (465 if _email.scheme == "smtps" else 587)
        EMAIL_HOST_USER = unquote(_email.username or "")
        EMAIL_HOST_PASSWORD = unquote(_email.password or "")
        EMAIL_USE_SSL = _email.scheme == "smtps" or _email_query.get("ssl") == "1"
        EMAIL_USE_TLS = not EMAIL_USE_SSL and _email_query.get("tls", "1") == "1"
elif env("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "tickets:list"
LOGOUT_REDIRECT_URL = "kb:home"
# Email confirmation and password reset links stay valid this long.
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "helpcenter.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "helpcenter.api.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # "Was this helpful?" votes per client and hour, on the site form and the API alike.
    "DEFAULT_THROTTLE_RATES": {
        "kb_feedback": env("KB_FEEDBACK_RATE", "30/hour"),
        # Tickets created without signing in (API and request form), per client address.
        "ticket_guest_create": env("TICKETS_GUEST_CREATE_RATE", "10/hour"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # DRF's own idea of the client address, for any throttle that does not use core.client.
    "NUM_PROXIES": TRUSTED_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "HelpCenter API",
    "DESCRIPTION": (
        "Knowledge base, tickets, live chat and surveys of HelpCenter. Any endpoint may answer "
        "503 with a `Retry-After` header (seconds) while the database is busy (a migration, a "
        "backup): nothing was saved; send the request again then (a new ticket with the same "
        "`Idempotency-Key`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # assets served locally, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Knowledge base -------------------------------------------------------------------------
# Public help-center pages are cached per language and URL for anonymous visitors; any
# change to the knowledge base in this process invalidates them at once, a change made by
# another process without a shared cache (REDIS_URL unset) shows within this many seconds.
KB_PAGE_CACHE_SECONDS = env_int("KB_PAGE_CACHE_SECONDS", 60)
# View counts are buffered per process and written at most this often (one UPDATE per
# article), so a page view is not a database write.
KB_VIEW_FLUSH_SECONDS = env_int("KB_VIEW_FLUSH_SECONDS", 10)
# Rank the bot's answers (and longer search-as-you-type queries) by meaning with the offline
# multilingual sentence encoder; off: full-text only.
KB_SEMANTIC = env_bool("KB_SEMANTIC", True)
# Segmentation of Chinese text for the full-text index: "jieba" (words) or "bigram".
KB_CHINESE_TOKENIZER = env("KB_CHINESE_TOKENIZER", "jieba")

# --- Tickets -------------------------------------------------------------------------------
# A customer reply reopens a solved ticket within this many days; later it opens a follow-up.
TICKETS_REOPEN_DAYS = env_int("TICKETS_REOPEN_DAYS", 7)
# Solved tickets close (and can no longer be reopened) after this many days.
TICKETS_AUTO_CLOSE_DAYS = env_int("TICKETS_AUTO_CLOSE_DAYS", 4)
TICKETS_ATTACHMENT_MAX_BYTES = env_int("TICKETS_ATTACHMENT_MAX_MB", 10) * 1024 * 1024
TICKETS_ATTACHMENTS_PER_MESSAGE = 5
# The largest request body (HTTP), checked before it is read (core/request_limits.py): by
# default every attachment of one message plus 1 MB for the rest. Django's own limits
# (DATA_UPLOAD_MAX_MEMORY_SIZE 2.5 MB for everything but files, 1,000 fields, 100 files) apply
# inside it.
REQUEST_MAX_BYTES = (
    env_int(
        "REQUEST_MAX_MB",
        TICKETS_ATTACHMENTS_PER_MESSAGE * TICKETS_ATTACHMENT_MAX_BYTES // 2**20 + 1,
    )
    * 2**20
)

# --- Rate limits --------------------------------------------------------------------------
# On what anonymous clients can make us do (core/signin.py, tickets/limits.py, kb/feedback.py;
# also KB_FEEDBACK_RATE and TICKETS_GUEST_CREATE_RATE above). "Address" is the client's, as
# core/client.py derives it.
# Failed sign-ins (portal and admin) per username from one address, and from one browser that
# signed in as that username before (a "known device"), per 15 minutes.
LOGIN_ATTEMPTS_PER_15_MINUTES = env_int("LOGIN_ATTEMPTS_PER_15_MINUTES", 10)
# Failed sign-ins from one address, whatever the usernames (spraying), per 15 minutes. Known
# devices are not counted here, so people behind one shared address who signed in before are
# not locked out by a stranger sharing it.
LOGIN_ATTEMPTS_PER_ADDRESS_PER_15_MINUTES = env_int(
    "LOGIN_ATTEMPTS_PER_ADDRESS_PER_15_MINUTES", LOGIN_ATTEMPTS_PER_15_MINUTES
)
# Failed sign-ins per username from everywhere except its known devices, per hour (guessing
# from many addresses). A password reset by email clears it.
LOGIN_ATTEMPTS_PER_USERNAME_PER_HOUR = env_int("LOGIN_ATTEMPTS_PER_USERNAME_PER_HOUR", 50)
# Account mails (confirmation, password reset...) to one email asked from one address (or one
# known device) per 15 minutes, and to one email in all per hour (known devices not counted).
ACCOUNT_MAILS_PER_15_MINUTES = env_int("ACCOUNT_MAILS_PER_15_MINUTES", 5)
ACCOUNT_MAILS_PER_EMAIL_PER_HOUR = env_int("ACCOUNT_MAILS_PER_EMAIL_PER_HOUR", 20)
# Sign-up forms accepted per address per hour.
ACCOUNT_SIGNUPS_PER_HOUR = env_int("ACCOUNT_SIGNUPS_PER_HOUR", 10)
# Open customer chat sockets per address, counted by each server process.
CHAT_SOCKETS_PER_ADDRESS = env_int("CHAT_SOCKETS_PER_ADDRESS", 20)
# New chat conversations per address (guests) or per user (signed in), per hour.
CHAT_CONVERSATIONS_PER_HOUR = env_int("CHAT_CONVERSATIONS_PER_HOUR", 10)
# Content gaps recorded per client (address, or user when signed in) per hour; searches beyond
# it are still answered, only not recorded.
KB_GAPS_PER_HOUR = env_int("KB_GAPS_PER_HOUR", 30)

# --- Serving (make run) ---------------------------------------------------------------------
SERVE_HOST = env("HOST", "127.0.0.1")
SERVE_PORT = env_int("PORT", 8000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
