"""A real IMAP (and POP3) server for the tests: Debian's Dovecot (installed when missing),
started as an unprivileged instance on free ports with a configuration of its own in a
temporary folder.
Every user name signs in with one password; each user has a maildir of its own, so each test
uses a fresh mailbox by taking a new name."""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port, wait_for_port
from tests.tools import ensure_command

PASSWORD = "hemligt-test"

CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap pop3
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/home/%u
}}
# Unprivileged: no chroot for the processes that would use one.
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


@dataclass(frozen=True)
class Dovecot:
    host: str
    port: int
    pop3_port: int

    def new_user(self) -> str:
        return f"studsar-{uuid.uuid4().hex[:10]}"

    def url(self, user: str, folder: str = "INBOX") -> str:
        return f"imap://{user}:{PASSWORD}@{self.host}:{self.port}/{folder}"

    def pop3_url(self, user: str) -> str:
        return f"pop3://{user}:{PASSWORD}@{self.host}:{self.pop3_port}"

    @contextlib.contextmanager
    def connect(self, user: str) -> Iterator[imaplib.IMAP4]:
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            imap.login(user, PASSWORD)
            yield imap
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                imap.logout()

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Put a mail into a user's folder, as the mail server delivering it would."""
        with self.connect(user) as imap:
            status, answer = imap.append(folder, None, None, raw)
            assert status == "OK", answer

    def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Every mail in a folder that is not flagged deleted ([] if there is no folder)."""
        with self.connect(user) as imap:
            status, _ = imap.select(f'"{folder}"', readonly=True)
            if status != "OK":
                return []
            _, found = imap.uid("SEARCH", "NOT DELETED")
            mails = []
            for uid in (found[0] or b"").split():
                _, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                mails += [part[1] for part in fetched if isinstance(part, tuple)]
            return mails


def _account() -> tuple[str, str]:
    """Who runs the server: the package's `dovecot` user when we are root, else ourselves."""
    if os.geteuid() == 0:
        return "dovecot", "dovecot"
    entry = pwd.getpwuid(os.geteuid())
    import grp

    return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name


@contextlib.contextmanager
def dovecot() -> Iterator[Dovecot]:
    """A Dovecot IMAP server on a free port, stopped and removed afterwards."""
    binary = ensure_command("dovecot", "dovecot-imapd")
    ensure_command("/usr/lib/dovecot/pop3", "dovecot-pop3d")
    user, group = _account()
    root = Path(tempfile.mkdtemp(prefix="newsroom-imap-"))
    port, pop3_port = free_port(), free_port()
    config = root / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            root=root, user=user, group=group, password=PASSWORD, port=port, pop3_port=pop3_port
        )
    )
    command = [binary, "-F", "-c", str(config)]
    if os.geteuid() == 0:
        shutil.chown(root, user, group)
        shutil.chown(config, user, group)
        command = ["runuser", "-u", user, "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_for_port("127.0.0.1", port, timeout=30)
            wait_for_port("127.0.0.1", pop3_port, timeout=30)
        except TimeoutError:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            raise RuntimeError(f"Dovecot did not start:\n{log}") from None
        yield Dovecot("127.0.0.1", port, pop3_port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)
