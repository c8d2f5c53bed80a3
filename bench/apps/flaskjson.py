"""flaskjson: a real Flask app (Debian python3-flask) with one JSON route, /json."""

from flask import Flask, jsonify

application = Flask(__name__)


@application.route("/json")
def json_route():
    return jsonify(id=42, message="Hello, World!", ok=True, tags=["wsgi", "bench"])
