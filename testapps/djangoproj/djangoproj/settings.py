"""Settings of the e2e test project: a small but real Django site (admin,
auth, sessions, messages, CSRF) served by gowsgi directly and behind nginx.

For tests only: the secret key is public and DEBUG is off so that the 404
and 500 pages are the ones users of a production site see. The sqlite
database and uploaded temporary files live in DJANGOPROJ_DATA_DIR, a
directory the test creates, so nothing is ever written into the checkout.
"""
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

try:
    DATA_DIR = Path(os.environ["DJANGOPROJ_DATA_DIR"])
except KeyError:
    raise ImproperlyConfigured(
        "set DJANGOPROJ_DATA_DIR to a writable directory for the sqlite database"
    ) from None

SECRET_KEY = "e2e-tests-only-this-key-is-public-never-use-it-anywhere-else-0123456789"
DEBUG = False
# The tests address the site as e2e.test, directly and through nginx.
ALLOWED_HOSTS = ["e2e.test", "localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "djangoproj.urls"

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

WSGI_APPLICATION = "djangoproj.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "db.sqlite3",
    }
}

# Uploads above FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) are written here.
FILE_UPLOAD_TEMP_DIR = str(DATA_DIR)

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# With DEBUG off, Django's default logging prints nothing: send request
# errors (the traceback of a 500) to stderr, where gowsgi logs them.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False}},
}
