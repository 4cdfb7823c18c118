from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from helpcenter import views
from kb.sitemaps import sitemaps

api_patterns = [
    path("kb/", include("kb.api_urls")),
    path("tickets/", include("tickets.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("sitemap.xml", sitemap, {"sitemaps": sitemaps}, name="sitemap"),
    path("robots.txt", views.robots_txt, name="robots"),
    path("healthz", views.healthz, name="healthz"),
    path("chat/visitor/", include("tickets.chat.widget")),
]
urlpatterns += i18n_patterns(
    path("", include("kb.urls")),
    path("requests/", include("tickets.urls")),
    path("account/", include("tickets.account_urls")),
    prefix_default_language=True,
)

handler400 = "helpcenter.views.bad_request"
handler403 = "helpcenter.views.permission_denied"
handler404 = "helpcenter.views.page_not_found"
handler500 = "helpcenter.views.server_error"
