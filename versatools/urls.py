from django.contrib import admin
from django.contrib.auth.views import LoginView, LogoutView
from django.urls import path
from django.views.generic import RedirectView

from stats.admin_views import operator_dashboard
from stats.views import dashboard_page
from versatools.api import api
from versatools.views import healthz

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard"), name="home"),
    path("dashboard/", dashboard_page, name="dashboard"),
    path(
        "accounts/login/",
        LoginView.as_view(next_page="dashboard", redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", LogoutView.as_view(next_page="login"), name="logout"),
    # Before admin.site.urls, whose catch-all would take it; admin_view: active staff only.
    path("admin/operator-dashboard/", admin.site.admin_view(operator_dashboard), name="operator_dashboard"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("healthz", healthz, name="healthz"),
]
