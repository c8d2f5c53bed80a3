"""A small but real Flask application for the e2e tests, served by gowsgi
directly and behind nginx: JSON routes, redirects, cookies and uploads.

    gowsgi --chdir testapps --module flaskapp:app
"""
import hashlib
import threading

from flask import Flask, abort, jsonify, make_response, redirect, request, url_for


def create_app():
    app = Flask(__name__)
    # Uploads larger than this are refused by Werkzeug with 413.
    app.config["MAX_CONTENT_LENGTH"] = 64 << 20

    items = {}
    lock = threading.Lock()  # gowsgi may run several request threads
    next_id = [1]

    @app.get("/api/items")
    def list_items():
        with lock:
            return jsonify(items=[items[k] for k in sorted(items)])

    @app.post("/api/items")
    def create_item():
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
            return jsonify(error="want a JSON object with a non-empty string name"), 400
        with lock:
            item = {"id": next_id[0], "name": data["name"], "tags": list(data.get("tags", []))}
            items[item["id"]] = item
            next_id[0] += 1
        resp = jsonify(item)
        resp.status_code = 201
        resp.headers["Location"] = url_for("get_item", item_id=item["id"])
        return resp

    @app.get("/api/items/<int:item_id>")
    def get_item(item_id):
        with lock:
            item = items.get(item_id)
        if item is None:
            abort(404)
        return jsonify(item)

    @app.errorhandler(404)
    def not_found(err):
        if request.path.startswith("/api/"):
            return jsonify(error="not found", path=request.path), 404
        return err

    @app.get("/go")
    def go():
        # A relative redirect keeps working behind any front end.
        return redirect(url_for("landing", came_from="go"))

    @app.get("/go/permanent")
    def go_permanent():
        return redirect(url_for("landing"), code=308)

    @app.get("/landing")
    def landing():
        return jsonify(landed=True, came_from=request.args.get("came_from"))

    @app.get("/cookies/set")
    def set_cookies():
        resp = make_response(jsonify(set=sorted(request.args)))
        for name, value in request.args.items():
            resp.set_cookie(name, value, max_age=3600, httponly=True, samesite="Lax")
        return resp

    @app.get("/cookies")
    def show_cookies():
        return jsonify(cookies=request.cookies.to_dict())

    @app.get("/cookies/clear")
    def clear_cookies():
        resp = make_response(jsonify(cleared=sorted(request.cookies)))
        for name in request.cookies:
            resp.delete_cookie(name)
        return resp

    @app.post("/upload")
    def upload():
        files = request.files.getlist("file")
        if not files:
            return jsonify(error="no file field"), 400
        out = []
        for f in files:
            digest = hashlib.sha256()
            size = 0
            while True:
                chunk = f.stream.read(1 << 16)
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
            out.append({"filename": f.filename, "size": size, "sha256": digest.hexdigest()})
        return jsonify(files=out, fields=request.form.to_dict())

    @app.get("/whoami")
    def whoami():
        return jsonify(
            scheme=request.scheme,
            host=request.host,
            url=request.url,
            remote_addr=request.remote_addr,
            script_root=request.script_root,
            path=request.path,
            forwarded_for=request.headers.get("X-Forwarded-For"),
            forwarded_proto=request.headers.get("X-Forwarded-Proto"),
        )

    return app


app = create_app()
