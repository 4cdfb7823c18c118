"""Customer portal views (being built: see the portal work in progress)."""

from django.http import HttpResponse


def _todo(*args, **kwargs):
    return HttpResponse("Not built yet.", status=501)


request_list = request_new = suggestion_open = request_detail = request_guest = (
    attachment_download
) = _todo
