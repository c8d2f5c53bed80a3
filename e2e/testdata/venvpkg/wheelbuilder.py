"""A minimal PEP 517 build backend that packs gw_venv_probe into a wheel.

It exists so that the virtualenv test can run `pip install --no-index` with
nothing but the venv's pip: no setuptools, no wheel package, no network.
"""

import base64
import hashlib
import os
import zipfile

NAME = "gw_venv_probe"
DIST = "gw_venv_probe"
VERSION = "1.0"
TAG = "py3-none-any"
HERE = os.path.dirname(os.path.abspath(__file__))


def _metadata():
    return "Metadata-Version: 2.1\nName: gw-venv-probe\nVersion: %s\n" % VERSION


def _wheel_info():
    return "Wheel-Version: 1.0\nGenerator: wheelbuilder\nRoot-Is-Purelib: true\nTag: %s\n" % TAG


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d\n" % (arcname, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = "%s-%s.dist-info" % (DIST, VERSION)
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    with open(os.path.join(metadata_directory, info, "METADATA"), "w") as f:
        f.write(_metadata())
    with open(os.path.join(metadata_directory, info, "WHEEL"), "w") as f:
        f.write(_wheel_info())
    return info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    filename = "%s-%s-%s.whl" % (DIST, VERSION, TAG)
    info = "%s-%s.dist-info" % (DIST, VERSION)
    files = []
    for root, _, names in os.walk(os.path.join(HERE, NAME)):
        for n in sorted(names):
            if n.endswith(".py"):
                path = os.path.join(root, n)
                with open(path, "rb") as f:
                    files.append((os.path.relpath(path, HERE).replace(os.sep, "/"), f.read()))
    files.append((info + "/METADATA", _metadata().encode()))
    files.append((info + "/WHEEL", _wheel_info().encode()))
    record = "".join(_record_line(a, d) for a, d in files) + info + "/RECORD,,\n"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, data in files:
            z.writestr(arcname, data)
        z.writestr(info + "/RECORD", record)
    return filename
