"""Writing the build's generated files."""
import os


def write_if_changed(path, data):
    """Replace `path` (text or bytes) atomically, and only when its contents change, so that make
    sees no new time stamp and remakes nothing that depends on it."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        if os.path.getsize(path) == len(raw):
            with open(path, "rb") as f:
                if f.read() == raw:
                    return
    except OSError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(raw)
    os.replace(tmp, path)
