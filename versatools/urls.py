from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from stats.admin_views import operator_dashboard
from stats.views import dashboard_page
from versatools.api import api
from versatools.views import healthz

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard"), name="home"),
    path("dashboard/", dashboard_page, name="dashboard"),
    # django-allauth: /accounts/login/ (the dashboard's LOGIN_URL), signup/,
    # logout/, confirm-email/, password/reset/ and change/, email/, and OAuth
    # under 3rdparty/ and <provider>/login/. The operator admin keeps its own
    # login at /admin/login/.
    path("accounts/", include("allauth.urls")),
    # Before admin.site.urls, whose catch-all would take it; admin_view: active staff only.
    path("admin/operator-dashboard/", admin.site.admin_view(operator_dashboard), name="operator_dashboard"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("healthz", healthz, name="healthz"),
]
