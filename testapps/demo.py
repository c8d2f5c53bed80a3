"""The demo served by `make run`: a small page showing the request as the app sees it."""

import html
import sys


def application(environ, start_response):
    rows = "".join(
        "<tr><th>%s</th><td>%s</td></tr>" % (html.escape(k), html.escape(repr(environ[k])))
        for k in sorted(environ)
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>gowsgi demo</title>"
        "<style>body{font:15px system-ui,sans-serif;margin:2em;max-width:60em}"
        "th{text-align:left;padding-right:1em;font-weight:600;vertical-align:top}"
        "td{font-family:monospace;word-break:break-all}</style></head><body>"
        "<h1>Hello from gowsgi</h1><p>Python %s serving <code>%s</code>.</p>"
        "<table>%s</table></body></html>"
    ) % (html.escape(sys.version.split()[0]), html.escape(environ.get("PATH_INFO", "")), rows)
    body = page.encode("utf-8")
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]
