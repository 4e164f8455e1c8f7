"""Settings for Link & Learn.

Every value that differs between a laptop and production is read here, once, from the
environment (or an optional `.env` file next to manage.py). Nothing else reads os.environ.
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from corsheaders.defaults import default_headers as cors_default_headers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

INSECURE_DEV_SECRET_KEY = "django-insecure-link-and-learn-development-only"

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_DEV_SECRET_KEY)
if not DEBUG and (not SECRET_KEY or SECRET_KEY == INSECURE_DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    # A production process must never sign tokens with a key that is public in this repository.
    raise ImproperlyConfigured("Set SECRET_KEY (50+ random characters) when DEBUG is False.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "common",
    "accounts",
    "ledger",
    "learning",
    "tutoring",
    "reviews",
    "chat",
    "presence",
    "realtime",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # After CORS, so a browser client can read the 413.
    "common.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "common.trailing_slash.ApiTrailingSlashMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tutoring.middleware.SessionAttendanceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "linklearn.urls"
# API paths without their trailing slash are routed internally (common.trailing_slash); a
# redirect would turn a client's POST into a GET.
APPEND_SLASH = False
WSGI_APPLICATION = "linklearn.wsgi.application"
ASGI_APPLICATION = "linklearn.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Connections outlive requests. SQLite: each server thread keeps its own (common.asgi_http),
# DB_CONN_MAX_AGE seconds (unset: for ever). PostgreSQL: psycopg's pool of DB_POOL_MAX_SIZE
# connections per process, shared by every thread; DB_POOL_MAX_SIZE=0 keeps one connection per
# thread instead, like SQLite, checked with a query at each request.
DB_CONN_MAX_AGE = env.int("DB_CONN_MAX_AGE", default=None)
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=10)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite allows one writer at a time: wait for the lock (busy timeout, seconds) instead of
    # failing at once, and take it at the start of a transaction so two writers cannot deadlock
    # on an upgrade. WAL lets readers go on while a writer commits (and the other way round).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env.float("SQLITE_BUSY_TIMEOUT", default=20.0),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = DB_CONN_MAX_AGE
elif DB_POOL_MAX_SIZE > 0:
    # Measured faster than kept connections (docs/bench.md): no health-check query per request.
    # Django hands a connection back to the pool at the end of each request.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(2, DB_POOL_MAX_SIZE),
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": 10,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"]["CONN_MAX_AGE"] = DB_CONN_MAX_AGE
    # A kept connection is checked once per request, so a restarted database costs no 500.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# PostgreSQL: bind parameters on the server and let psycopg prepare a statement once it has run
# DB_PREPARE_THRESHOLD times on a connection, so PostgreSQL stops parsing and planning the hot
# reads at every request (the planning was most of its CPU per request: docs/bench.md, "PostgreSQL
# and Redis CPU per request"). Django's default (client-side binding, never prepared) suits a pooler in
# transaction mode (PgBouncer), which cannot keep a session's prepared statements:
# DB_PREPARED_STATEMENTS=False behind one.
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
DB_PREPARE_THRESHOLD = env.int("DB_PREPARE_THRESHOLD", default=5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_PREPARED_STATEMENTS:
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": DB_PREPARE_THRESHOLD}
    )
# Threads per server process that run Django's (synchronous) views (common.asgi_http).
HTTP_THREADS = env.int("HTTP_THREADS", default=4)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# New passwords are hashed with Argon2id (accounts.hashers); PBKDF2 hashes made before still
# verify and are re-hashed with Argon2id at the user's next login.
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "name")},  # the user model has no username
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves the admin's and the API docs' assets from the installed apps, so the docs
# page works under daphne with no internet, no collectstatic and no separate web server.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Channels -------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if not REDIS_URL and env.str("REDIS_HOST", default=""):
    REDIS_URL = f"redis://{env.str('REDIS_HOST')}:{env.int('REDIS_PORT', default=6379)}/0"
USE_IN_MEMORY_CHANNEL_LAYER = env.bool("USE_IN_MEMORY_CHANNEL_LAYER", default=not REDIS_URL)
if USE_IN_MEMORY_CHANNEL_LAYER:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL or "redis://127.0.0.1:6379/0"],
                # channels-redis counts a socket's capacity on its process's one inbox (all the
                # process's sockets together), so its default of 100 dropped chat deliveries
                # silently at a tenth of a second of backlog under load.
                "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=5000),
            },
        }
    }

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["common.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "common.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "common.schema.AutoSchema",
    "EXCEPTION_HANDLER": "common.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login_failures_ip": env.str("THROTTLE_LOGIN_FAILURES_IP", default="20/hour"),
        "login_failures_account": env.str("THROTTLE_LOGIN_FAILURES_ACCOUNT", default="5/15min"),
        "login_failures_account_total": env.str("THROTTLE_LOGIN_FAILURES_ACCOUNT_TOTAL", default="50/hour"),
        "signup": env.str("THROTTLE_SIGNUP", default="20/hour"),
        "token_refresh": env.str("THROTTLE_TOKEN_REFRESH", default="120/min"),
        "password_reset_ip": env.str("THROTTLE_PASSWORD_RESET_IP", default="10/hour"),
        "password_reset_email": env.str("THROTTLE_PASSWORD_RESET_EMAIL", default="3/hour"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # How many proxies in front of us append to X-Forwarded-For. 0 means "use the socket address":
    # otherwise any client could dodge the per-IP throttles by sending a made-up header.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    # accounts.services.token_refresh rotates (or not) and retires tokens itself, per login
    # family; SimpleJWT's blacklist is how a token is revoked (logout, reuse, "log out everywhere").
    "ROTATE_REFRESH_TOKENS": env.bool("JWT_ROTATE_REFRESH_TOKENS", default=True),
    "BLACKLIST_AFTER_ROTATION": False,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
}
# Parallel refreshes with one token within this long of the first get the same new pair; later,
# the retired token is a reuse and its whole login is revoked (SPEC section 2).
JWT_REFRESH_REUSE_GRACE = timedelta(seconds=env.int("JWT_REFRESH_REUSE_GRACE", default=30))

SPECTACULAR_SETTINGS = {
    "TITLE": "Link & Learn API",
    "DESCRIPTION": "Peer-to-peer learning paid for with credits. WebSockets are described in the README.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"HealthCheckResultEnum": ["ok", "error"]},
}

# Request bodies over 1 MiB are refused (SPEC section 1).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# Path plus query string; longer URLs get 414 (SPEC section 8, common.asgi_limits).
MAX_URL_BYTES = 8 * 1024

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
# Web clients may send Idempotency-Key and read whether an answer was replayed (common.idempotency).
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key")
CORS_EXPOSE_HEADERS = ["Idempotent-Replayed", "Retry-After"]

# The cache backs DRF throttles, so several processes must share it: Redis when configured.
CACHES = {"default": env.cache("CACHE_URL", default=(REDIS_URL or "locmemcache://"))}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # The same cache with one connection pool per process, not one per request (the module says why).
    CACHES["default"]["BACKEND"] = "common.redis_cache.ProcessRedisCache"

# --- Mail and password reset (SPEC section 2) ----------------------------------------------
# django-environ's URL form: smtp+tls://user:pw@host:587, consolemail://, filemail:////abs/dir.
# Only the keys the URL sets: a missing port or user must leave Django's default, not None.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
for _key in ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_FILE_PATH"):
    if _email.get(_key):
        globals()[_key] = _email[_key]
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_TIMEOUT = 10  # seconds; a hung mail server must not hold the sending thread forever
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Link & Learn <no-reply@localhost>")
# The web client's address; reset mails then carry a link to {FRONTEND_URL}/reset-password?uid=…
FRONTEND_URL = env.str("FRONTEND_URL", default="").rstrip("/")
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)

# --- Credits and sessions (SPEC sections 4 and 6) -----------------------------------------
SIGNUP_GRANT = Decimal(env.str("SIGNUP_GRANT", default="15.00"))
BANK_INITIAL_RESERVE = Decimal(env.str("BANK_INITIAL_RESERVE", default="1000.00"))
BANK_CUT_RATE = Decimal(env.str("BANK_CUT_RATE", default="0.10"))
SUPPORT_COOLDOWN = timedelta(seconds=env.int("SUPPORT_COOLDOWN_SECONDS", default=24 * 3600))
TIMER_DISCONNECT_GRACE = timedelta(seconds=env.int("TIMER_DISCONNECT_GRACE", default=120))
TIMER_MAX_SECONDS = env.int("TIMER_MAX_SECONDS", default=4 * 3600)
TIMER_SWEEP_INTERVAL = env.int("TIMER_SWEEP_INTERVAL", default=15)

# --- Retries (SPEC section 1) ---------------------------------------------------------------
# How long an Idempotency-Key and its stored answer are kept.
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
# How long a retry waits for the first request with its key to finish before answering 409.
IDEMPOTENCY_WAIT = timedelta(seconds=env.float("IDEMPOTENCY_WAIT_SECONDS", default=5.0))

# --- Real-time ------------------------------------------------------------------------------
# A connection whose process stopped refreshing it for this long counts as gone.
PRESENCE_TTL = timedelta(seconds=env.int("PRESENCE_TTL", default=90))
# A server process beats every quarter of this; once its beat is older, the process is dead and
# its users go offline at the next sweep of any other process (SPEC 7: within 15 s).
PRESENCE_PROCESS_TIMEOUT = timedelta(seconds=env.int("PRESENCE_PROCESS_TIMEOUT", default=10))
# Every ASGI process sweeps runaway timers and dead connections; False leaves it to
# `manage.py sweep --loop` run from one place.
REALTIME_BACKGROUND_SWEEP = env.bool("REALTIME_BACKGROUND_SWEEP", default=True)
WS_MAX_FRAME_BYTES = 64 * 1024
WS_RATE_LIMIT = env.int("WS_RATE_LIMIT", default=30)  # frames per WS_RATE_WINDOW seconds
WS_RATE_WINDOW = env.int("WS_RATE_WINDOW", default=10)
# Frames per WS_RATE_WINDOW for all of one user's sockets together, counted in the shared cache.
WS_USER_RATE_LIMIT = env.int("WS_USER_RATE_LIMIT", default=60)
WS_MAX_CONNECTIONS_PER_USER = env.int("WS_MAX_CONNECTIONS_PER_USER", default=20)
# The chat writer (chat/writer.py): messages waiting to be stored per process (beyond: a 503
# error frame), and the most it stores in one transaction.
CHAT_WRITE_QUEUE = env.int("CHAT_WRITE_QUEUE", default=1000)
CHAT_WRITE_BATCH = env.int("CHAT_WRITE_BATCH", default=500)
# Under load (the last batch held more than one message) the chat writer waits this long after a
# batch's first message for others to join it: fewer, larger transactions (chat.writer). An idle
# writer never waits.
CHAT_WRITE_LINGER_MS = env.float("CHAT_WRITE_LINGER_MS", default=2.0)
# The chat fan-out (realtime/fanout.py): frames waiting to go out on one chat socket (beyond: that
# socket misses the batch and is told with `missed_after`), and the Redis pub/sub channel's name
# (the Redis database number is appended: pub/sub ignores database numbers).
CHAT_SOCKET_QUEUE = env.int("CHAT_SOCKET_QUEUE", default=200)
CHAT_FANOUT_CHANNEL_PREFIX = env.str("CHAT_FANOUT_CHANNEL_PREFIX", default="linklearn.chat")

# `make bench` only: /api/bench/floor/, a constant 20-item JSON through the full middleware
# stack, the floor the REST paths are measured against. `check --deploy` fails while it is on.
BENCH_FLOOR_VIEW = env.bool("BENCH_FLOOR_VIEW", default=False)

# --- Production hardening -------------------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
