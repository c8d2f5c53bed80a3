"""Views of the e2e test site, each exercising one thing a real Django
deployment relies on: CSRF-protected forms with a session, multipart
uploads spooled to disk, streamed responses, error pages, and what the
request looks like to Django (scheme, host, client address)."""
import hashlib
import time

from django import forms
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods


class NoteForm(forms.Form):
    text = forms.CharField(max_length=200)


class UploadForm(forms.Form):
    file = forms.FileField()
    label = forms.CharField(max_length=100, required=False)


@require_GET
def index(request):
    return render(request, "notes/index.html")


@require_http_methods(["GET", "POST"])
def notes(request):
    """A form (CSRF-protected) whose notes are kept in the session."""
    saved = request.session.get("notes", [])
    if request.method == "POST":
        form = NoteForm(request.POST)
        if form.is_valid():
            request.session["notes"] = saved + [form.cleaned_data["text"]]
            return redirect("notes")  # post/redirect/get
    else:
        form = NoteForm()
    return render(request, "notes/notes.html", {"form": form, "notes": saved})


@require_http_methods(["GET", "POST"])
def upload(request):
    """Returns the size and SHA-256 of an uploaded file, as Django received it."""
    if request.method == "GET":
        return render(request, "notes/upload.html", {"form": UploadForm()})
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    upload = form.cleaned_data["file"]
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    return JsonResponse(
        {
            "name": upload.name,
            "size": size,
            "sha256": digest.hexdigest(),
            "label": form.cleaned_data["label"],
            # Files above FILE_UPLOAD_MAX_MEMORY_SIZE go to a temporary file.
            "in_memory": isinstance(upload, InMemoryUploadedFile),
        }
    )


@require_GET
def stream(request):
    """n lines, produced one at a time (delay seconds apart) by a generator."""
    n = min(int(request.GET.get("n", "5")), 10000)
    delay = min(float(request.GET.get("delay", "0")), 1.0)

    def lines():
        for i in range(n):
            if delay and i:
                time.sleep(delay)
            yield f"line {i} of {n}\n".encode()

    return StreamingHttpResponse(lines(), content_type="text/plain; charset=utf-8")


def boom(request):
    raise RuntimeError("boom: this view fails on purpose")


@require_GET
def whoami(request):
    """How the request looks to Django behind whatever front end serves it."""
    return JsonResponse(
        {
            "scheme": request.scheme,
            "is_secure": request.is_secure(),
            "host": request.get_host(),
            "absolute_uri": request.build_absolute_uri(),
            "remote_addr": request.META.get("REMOTE_ADDR"),
            "path": request.path,
            "path_info": request.path_info,
            "script_name": request.META.get("SCRIPT_NAME"),
            "query": request.GET.dict(),
            "user": request.user.username,
        }
    )
