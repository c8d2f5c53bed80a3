from django.contrib import admin
from django.urls import path

from notes import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", views.index, name="index"),
    path("notes/", views.notes, name="notes"),
    path("upload/", views.upload, name="upload"),
    path("stream/", views.stream, name="stream"),
    path("boom/", views.boom, name="boom"),
    path("whoami/", views.whoami, name="whoami"),
]
