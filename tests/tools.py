"""Programs from Debian's packages that some tests drive (nginx, Java for the Nu HTML checker,
Chromium): found on PATH, or installed here when missing and we may (root with apt-get)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

_LOCK = Path(tempfile.gettempdir()) / "newsroom-test-tools.lock"


def ensure_command(command: str, package: str) -> str:
    """The path of `command`, installing Debian `package` first when it is missing.

    Fails (never skips) with the command to run when it cannot install it itself.
    """
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(f"`{command}` is missing: run `apt-get install -y {package}` as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # One installer at a time, also across test processes; dpkg allows only one anyway.
    with open(_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")
        if found:
            return found
        # Another process (a test suite beside this one) may hold dpkg's lock for a while:
        # apt waits for it up to the timeout, and a locked attempt is tried again (bounded).
        wait = ["-o", "DPkg::Lock::Timeout=300"]
        for attempt in range(3):
            subprocess.run(
                ["apt-get", *wait, "update", "-qq"], env=env, capture_output=True, timeout=900
            )
            done = subprocess.run(
                ["apt-get", *wait, "install", "-y", "-qq", "--no-install-recommends", package],
                env=env,
                capture_output=True,
                text=True,
                timeout=1200,
            )
            if done.returncode == 0 or "lock" not in done.stderr.lower() or attempt == 2:
                break
            time.sleep(15)
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")
    if done.returncode or not found:
        raise RuntimeError(f"apt-get install {package} failed:\n{done.stderr[-2000:]}")
    return found
