from django.contrib import admin
from django.urls import path

from versatools.api import api
from versatools.views import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("healthz", healthz, name="healthz"),
]
