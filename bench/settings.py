"""The real settings plus the benchmark's bare view (bench/urls.py); used only by bench/."""

from helpcenter.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
