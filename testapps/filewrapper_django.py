"""A minimal Django project in one module, for Django's FileResponse.

Django's WSGI handler hands a FileResponse's file to wsgi.file_wrapper, so
gowsgi must send it with sendfile. /download wraps the file in
filewrapper_app.RecordingFile (which records any read() by Python and the
close()); /plain passes a file from open() as real views do.
"""

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="e2e-only-not-a-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        USE_TZ=True,
    )
    django.setup()

import io  # noqa: E402

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import FileResponse, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

import tracker  # noqa: E402
from filewrapper_app import RecordingFile  # noqa: E402


def download(request):
    f = RecordingFile(request.GET["id"], io.FileIO(request.GET["path"], "rb"))
    return FileResponse(f, as_attachment=True, filename="data.bin")


def plain(request):
    return FileResponse(open(request.GET["path"], "rb"))


def closed(request):
    import json

    return HttpResponse(json.dumps({"events": tracker.events(request.GET.get("id", ""))}), content_type="application/json")


urlpatterns = [
    path("download", download),
    path("plain", plain),
    path("closed", closed),
]

application = get_wsgi_application()
