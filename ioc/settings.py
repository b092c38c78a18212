"""IOC settings. Everything comes from the environment; the defaults are the embedded mode.

See the configuration table in README.md for what each variable does.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .env import database_from_url, env_bool, env_int, env_list, env_str, sqlite_database

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("IOC_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off (`make run` makes one in var/secret_key)."
        )
    SECRET_KEY = "insecure-debug-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
HOST = env_str("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000)
# The public base URL printed with webhook addresses; defaults to http://HOST:PORT.
IOC_BASE_URL = env_str("IOC_BASE_URL", f"http://{HOST}:{PORT}").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "channels",
    "django_htmx",
    "ioc",
    "teams",
    "incidents",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless its view says otherwise (healthz, webhooks, login).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "ioc.urls"
ASGI_APPLICATION = "ioc.asgi.application"

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
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", 10)
DATABASE_POOL_TIMEOUT = env_int("DATABASE_POOL_TIMEOUT", 10)
if DATABASE_URL:
    DATABASES = {
        "default": database_from_url(
            DATABASE_URL, pool_max_size=DATABASE_POOL_MAX_SIZE, pool_timeout=DATABASE_POOL_TIMEOUT
        )
    }
else:
    DATABASES = {"default": sqlite_database(VAR_DIR / "ioc.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, channels, background work ---------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    IOC_BACKGROUND = "celery"
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # Without Redis, deliveries are processed by a thread inside the `serve` process.
    IOC_BACKGROUND = "thread"

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish after a webhook commit must never hang the request: the sweep picks up what it missed.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-deliveries": {"task": "alerts.tasks.deliveries_sweep", "schedule": 10.0},
    # Escalation due times live in rows; this only wakes the sweeper that claims them.
    "escalations-sweep": {"task": "incidents.tasks.escalations_sweep", "schedule": 5.0},
}

# --- Auth and sessions ------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "board"
LOGOUT_REDIRECT_URL = "login"
# Sessions live in the database, not Redis: logins survive a Redis outage.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Security ---------------------------------------------------------------------------------
# IOC_HTTPS=1 when served behind TLS: secure cookies, HSTS and redirects.
IOC_HTTPS = env_bool("IOC_HTTPS", False)
SESSION_COOKIE_SECURE = IOC_HTTPS
CSRF_COOKIE_SECURE = IOC_HTTPS
SECURE_SSL_REDIRECT = IOC_HTTPS
SECURE_HSTS_SECONDS = 31536000 if IOC_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = IOC_HTTPS
SECURE_HSTS_PRELOAD = IOC_HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if IOC_HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# --- Time -------------------------------------------------------------------------------------
USE_TZ = True
# Times are stored in UTC (USE_TZ); IOC_TIME_ZONE is the floor's zone for display and "today".
IOC_TIME_ZONE = env_str("IOC_TIME_ZONE", "UTC")
TIME_ZONE = IOC_TIME_ZONE
LANGUAGE_CODE = "en-us"
USE_I18N = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request without it
# Serve straight from the finders: no collectstatic step for the embedded mode.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an anonymous or bad token gets 401 with a WWW-Authenticate header, never 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "ioc.api.exception_handler",
}

# --- Ingestion limits -------------------------------------------------------------------------
IOC_WEBHOOK_MAX_BYTES = env_int("IOC_WEBHOOK_MAX_BYTES", 1024 * 1024)
IOC_WEBHOOK_MAX_DEPTH = env_int("IOC_WEBHOOK_MAX_DEPTH", 32)
IOC_PROCESS_BATCH_SIZE = env_int("IOC_PROCESS_BATCH_SIZE", 200)
# Per integration; over it /integrations/ answers 503 + Retry-After and /v2/enqueue 429.
IOC_WEBHOOK_RATE_LIMIT_PER_MINUTE = env_int("IOC_WEBHOOK_RATE_LIMIT_PER_MINUTE", 60000)
# How long a rotated-out integration token keeps working.
IOC_TOKEN_ROTATION_GRACE_HOURS = env_int("IOC_TOKEN_ROTATION_GRACE_HOURS", 24)
# Signed webhooks (HMAC) older than this are refused as replays.
IOC_WEBHOOK_SIGNATURE_MAX_AGE = env_int("IOC_WEBHOOK_SIGNATURE_MAX_AGE", 300)
# Minimum gap between two live pushes for one incident, so a storm cannot swamp browsers.
IOC_BROADCAST_INTERVAL = float(env_str("IOC_BROADCAST_INTERVAL", "1.0"))
# How often, at most, a process asks whether the service catalog changed (alerts/catalog.py).
IOC_CATALOG_CHECK_SECONDS = float(env_str("IOC_CATALOG_CHECK_SECONDS", "1.0"))
# Flapping: this many state changes of one alert within the window mark it flapping (0: never);
# it then opens no incident and pages nobody until it has had no state change for the quiet time.
IOC_FLAP_THRESHOLD = env_int("IOC_FLAP_THRESHOLD", 5)
IOC_FLAP_WINDOW_SECONDS = env_int("IOC_FLAP_WINDOW_SECONDS", 600)
IOC_FLAP_QUIET_SECONDS = env_int("IOC_FLAP_QUIET_SECONDS", 600)
# Deliveries are deleted by the sweep this many days after processing (0: kept); pending never.
IOC_RETENTION_PROCESSED_DAYS = env_int("IOC_RETENTION_PROCESSED_DAYS", 7)
IOC_RETENTION_FAILED_DAYS = env_int("IOC_RETENTION_FAILED_DAYS", 30)
IOC_WEBHOOK_FAST_PATH = env_bool("IOC_WEBHOOK_FAST_PATH", True)  # PostgreSQL: alerts/fastpath.py

# --- Incident workflow ------------------------------------------------------------------------
# Major incidents (SEV1/SEV2) owe stakeholders a status update this often.
IOC_STATUS_UPDATE_MINUTES = env_int("IOC_STATUS_UPDATE_MINUTES", 30)
# Who hears about major incidents and their status updates (comma-separated emails).
IOC_STAKEHOLDER_EMAILS = env_list("IOC_STAKEHOLDER_EMAILS", [])
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ioc@localhost")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
# An incident whose alerts have all resolved, and stayed resolved this long, resolves itself
# (0: never; staff resolve by hand).
IOC_AUTO_RESOLVE_MINUTES = env_int("IOC_AUTO_RESOLVE_MINUTES", 0)
# The last resort when a step reaches nobody and the team has no reachable manager.
IOC_FLOOR_LEAD = env_str("IOC_FLOOR_LEAD", "")
# How long an incident declared by hand or split out waits before its escalation's first step.
# Incidents opened by alerts wait for their route's group wait instead (30 s by default).
IOC_ESCALATION_DELAY_SECONDS = env_int("IOC_ESCALATION_DELAY_SECONDS", 0)
# The share of alerts resolved inside the IOC that the floor aims for (the board shows it).
IOC_INSIDE_SHARE_TARGET = float(env_str("IOC_INSIDE_SHARE_TARGET", "0.87"))

# --- AWS SNS (CloudWatch) ---------------------------------------------------------------------
# Signing certificates and subscription confirmations are fetched only from hosts matching this.
IOC_SNS_ALLOWED_HOSTS = env_str(
    "IOC_SNS_ALLOWED_HOSTS", r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"
)
IOC_SNS_VERIFY_SIGNATURES = env_bool("IOC_SNS_VERIFY_SIGNATURES", True)
# A CA bundle for those HTTPS fetches (tests point it at their own local CA).
IOC_SNS_CA_BUNDLE = env_str("IOC_SNS_CA_BUNDLE")

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact_tokens": {"()": "ioc.logfilters.RedactTokens"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # One handler for everything (Django's default adds a second console handler).
        "django": {"handlers": [], "propagate": True, "level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        # uvicorn's access log prints paths, and webhook paths carry tokens: ours redacts them.
        "uvicorn.access": {"level": "WARNING", "propagate": False},
    },
}
# Django's own cap on request.body must never be below the webhook limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2621440, IOC_WEBHOOK_MAX_BYTES + 1)

# --- Notifications ----------------------------------------------------------------------------
# Outbound pages (incidents/notify, docs/notifications.md). Email uses the EMAIL_* settings above.
# One attempt at an HTTP send (Slack, Teams, webhooks, SMS and voice): connect and each read.
IOC_NOTIFY_HTTP_TIMEOUT = float(env_str("IOC_NOTIFY_HTTP_TIMEOUT", "10"))
# Retries back off from the base, doubling (30 s, 1 min, 2 min, ...) up to the cap; after this
# many attempts a transient failure is recorded as permanent.
IOC_NOTIFY_MAX_ATTEMPTS = env_int("IOC_NOTIFY_MAX_ATTEMPTS", 6)
IOC_NOTIFY_RETRY_BASE_SECONDS = env_int("IOC_NOTIFY_RETRY_BASE_SECONDS", 30)
IOC_NOTIFY_RETRY_MAX_SECONDS = env_int("IOC_NOTIFY_RETRY_MAX_SECONDS", 900)
# SMS and voice: Twilio's REST API, or anything that speaks it at this base URL.
IOC_SMS_PROVIDER_URL = env_str("IOC_SMS_PROVIDER_URL", "https://api.twilio.com").rstrip("/")
IOC_SMS_ACCOUNT_SID = env_str("IOC_SMS_ACCOUNT_SID")
IOC_SMS_AUTH_TOKEN = env_str("IOC_SMS_AUTH_TOKEN")
IOC_SMS_FROM = env_str("IOC_SMS_FROM")  # the sending number, E.164
