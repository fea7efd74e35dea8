from django.contrib import admin
from django.urls import include, path

from accounts.views import account_delete_confirm, account_export_download, account_page
from billing.views import plans_page
from history.views import history_page
from stats.admin_views import operator_dashboard
from stats.views import dashboard_page, usage_page
from tools.views import hub_page, tool_page
from versatools.api import api
from versatools.rls import rls_page_reads
from versatools.views import healthz

urlpatterns = [
    # The pages people use (server-rendered; the run page's script calls /api/).
    # Signed in, their GETs read as the person under row level security, like the API's.
    path("", rls_page_reads(hub_page), name="home"),
    path("tools/<slug:tool_id>/", rls_page_reads(tool_page), name="tool"),
    path("dashboard/", dashboard_page, name="dashboard"),
    path("history/", rls_page_reads(history_page), name="history"),
    path("usage/", rls_page_reads(usage_page), name="usage"),
    path("plans/", rls_page_reads(plans_page), name="plans"),
    path("account/", rls_page_reads(account_page), name="account"),
    path("account/export/", rls_page_reads(account_export_download), name="account_export"),
    path("account/delete/", account_delete_confirm, name="account_delete"),
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
