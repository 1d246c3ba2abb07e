"""Support for the classroom test: real system accounts, a real JupyterHub on loopback, nbgrader's exchange.

The classroom test plays a whole assignment the way a class on one JupyterHub machine does. This module holds the
machinery, so that the test reads as what the instructor and the learners do:

* :func:`system_users` creates real Linux accounts (home folders 0700, a random password each) and always
  removes them, their homes and any process left running under their ids;
* :func:`running_hub` starts JupyterHub (PAM login, local processes, the proxy from npm) with the course's
  environment for every user and nbgrader's exchange in a temporary folder, and always stops it;
* :class:`Hub` and :class:`UserServer` speak the Hub's REST API and, through the proxy, each person's own
  Jupyter server: the contents API (what JupyterLab saves), kernels (what a notebook runs), nbgrader's
  assignment list (what the Assignments tab clicks) and the formgrader API (what the instructor clicks);
* :func:`run_as` runs a command as one of the accounts, the way that person would in a terminal;
* :func:`readable_files` and :func:`opens` tell what an account can find and read, to check permissions.

Needs root (to create accounts and let the Hub switch to them), JupyterHub in this environment and
``configurable-http-proxy`` on PATH. :func:`missing_requirements` says what is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from browser_support import free_loopback_port

BIN = Path(sys.executable).parent
COURSE_ID = "cvae-course"
PROXY = "configurable-http-proxy"


def missing_requirements() -> str | None:
    """Why this machine cannot run the classroom test, or None when it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "The JupyterHub classroom test creates system accounts and must run as root (CI does)."
    if shutil.which("useradd") is None or shutil.which("userdel") is None or shutil.which("chpasswd") is None:
        return "The JupyterHub classroom test needs useradd, userdel and chpasswd (package passwd)."
    if not (BIN / "jupyterhub").exists() or not (BIN / "jupyterhub-singleuser").exists():
        return (
            f"The JupyterHub classroom test needs JupyterHub in this environment: `{BIN / 'pip'} install jupyterhub`."
        )
    if shutil.which(PROXY) is None:
        return f"The JupyterHub classroom test needs the Hub's proxy on PATH: `npm install -g {PROXY}`."
    return None


# ------------------------------------------------------------------------------------ accounts
@dataclass(frozen=True)
class Account:
    name: str
    password: str
    uid: int
    gid: int
    home: Path


@contextmanager
def system_users(names: list[str]) -> Iterator[dict[str, Account]]:
    """Create real accounts with private homes (0700) and random passwords; remove them whatever happens.

    ``useradd -m`` on Debian makes homes 0755 (readable by every other account), so the mode is set explicitly,
    as ``adduser`` (and JupyterHub's ``LocalAuthenticator.create_system_users``) do.
    """
    taken = [n for n in names if _exists(n)]
    if taken:
        raise RuntimeError(f"accounts {taken} already exist; the classroom test only uses accounts it creates")
    made: dict[str, Account] = {}
    try:
        for name in names:
            subprocess.run(
                ["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", "-K", "HOME_MODE=0700", name],
                check=True,
                capture_output=True,
                text=True,
            )
            entry = pwd.getpwnam(name)
            made[name] = Account(name, secrets.token_urlsafe(12), entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))
            subprocess.run(
                ["chpasswd"], input=f"{name}:{made[name].password}\n", check=True, capture_output=True, text=True
            )
        yield made
    finally:
        problems = []
        for account in made.values():
            _kill_processes_of(account.uid)
            done = subprocess.run(["userdel", "--remove", account.name], capture_output=True, text=True)
            if _exists(account.name) or account.home.exists():
                problems.append(f"{account.name}: {done.stderr.strip()}")
        if problems:
            raise RuntimeError(f"could not remove the test accounts: {problems}")


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _kill_processes_of(uid: int) -> None:
    """Kill, by process id, whatever still runs under a test account (only the test started processes there)."""
    import psutil

    left = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid]
    for proc in left:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(left, timeout=10)


def run_as(
    account: Account, cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 1200
) -> subprocess.CompletedProcess:
    """Run a command as ``account`` (its uid, its group only, its home), like that person in a terminal."""
    base = {
        "HOME": str(account.home),
        "USER": account.name,
        "LOGNAME": account.name,
        "LANG": "C.UTF-8",
        "PATH": f"{BIN}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
    }
    return subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd or account.home,
        env={**base, **(env or {})},
        user=account.uid,
        group=account.gid,
        extra_groups=[],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


_LIST_READABLE = """
import json, os, sys
found = []
for root in sys.argv[1:]:
    for folder, dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as f:
                    f.read(1)
                found.append(path)
            except OSError:
                pass
print(json.dumps(found))
"""

_OPENS = """
import json, sys
ok = []
for path in json.load(sys.stdin):
    try:
        with open(path, "rb") as f:
            f.read(1)
        ok.append(path)
    except OSError:
        pass
print(json.dumps(ok))
"""


def readable_files(account: Account, roots: list[Path]) -> list[Path]:
    """Every file under ``roots`` that ``account`` can find by listing folders and can open."""
    done = run_as(account, [sys.executable, "-c", _LIST_READABLE, *map(str, roots)], timeout=300)
    if done.returncode:
        raise RuntimeError(f"listing files as {account.name} failed:\n{done.stderr}")
    return [Path(p) for p in json.loads(done.stdout)]


def opens(account: Account, paths: list[Path]) -> list[Path]:
    """Those of ``paths`` that ``account`` can open for reading when it knows the exact path."""
    base = {"HOME": str(account.home), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", _OPENS],
        input=json.dumps([str(p) for p in paths]),
        env=base,
        user=account.uid,
        group=account.gid,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode:
        raise RuntimeError(f"opening files as {account.name} failed:\n{done.stderr}")
    return [Path(p) for p in json.loads(done.stdout)]


# ------------------------------------------------------------------------------------ the Hub
@dataclass
class Hub:
    """A running JupyterHub: its public URL, the test's service token and its log."""

    url: str
    service_token: str
    process: subprocess.Popen
    log_path: Path

    def api(
        self, method: str, path: str, token: str | None = None, expect: tuple[int, ...] = (200, 201, 202, 204), **kw
    ):
        """Call the Hub's REST API (``/hub/api/...``) with ``token`` (default: the test's service token)."""
        import requests

        response = requests.request(
            method,
            f"{self.url}/hub/api{path}",
            timeout=60,
            headers={"Authorization": f"token {token or self.service_token}"},
            **kw,
        )
        if response.status_code not in expect:
            raise RuntimeError(
                f"{method} /hub/api{path} -> {response.status_code}: {response.text[:500]}\nHub log:\n{self.log_tail()}"
            )
        return response.json() if response.content else None

    def login(self, name: str, password: str):
        """Log in on the Hub's login page like a browser; returns the HTTP response of the form post."""
        import requests

        session = requests.Session()
        page = session.get(f"{self.url}/hub/login", timeout=30)
        match = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
        data = {"username": name, "password": password, **({"_xsrf": match.group(1)} if match else {})}
        return session.post(f"{self.url}/hub/login", data=data, allow_redirects=False, timeout=60)

    def token_for(self, name: str) -> str:
        """An API token of ``name``'s own (what the Hub's Token page makes), with the user's own permissions."""
        return self.api("POST", f"/users/{name}/tokens", json={"note": "classroom test", "expires_in": 7200})["token"]

    def start_server(self, name: str, token: str, timeout: float = 180) -> UserServer:
        """Start ``name``'s Jupyter server (what "Start My Server" does) and wait until it answers."""
        self.api("POST", f"/users/{name}/server", token=token, expect=(201, 202, 400))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = (self.api("GET", f"/users/{name}", token=token).get("servers") or {}).get("")
            if server and server.get("ready"):
                return UserServer(self, name, token)
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        raise RuntimeError(f"the server of {name} was not ready within {timeout:.0f} s.\nHub log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class UserServer:
    """One person's Jupyter server behind the Hub's proxy, used with that person's token."""

    hub: Hub
    name: str
    token: str

    @property
    def base(self) -> str:
        return f"{self.hub.url}/user/{self.name}"

    def request(self, method: str, path: str, **kw):
        import requests

        return requests.request(
            method,
            f"{self.base}{path}",
            timeout=kw.pop("timeout", 300),
            headers={"Authorization": f"token {self.token}"},
            allow_redirects=False,
            **kw,
        )

    def json(self, method: str, path: str, **kw):
        response = self.request(method, path, **kw)
        if response.status_code >= 300:
            raise RuntimeError(f"{self.name}: {method} {path} -> {response.status_code}: {response.text[:800]}")
        return response.json() if response.content else None

    # -- the contents API: what JupyterLab reads and saves
    def read_notebook(self, path: str) -> dict:
        return self.json("GET", f"/api/contents/{path}", params={"content": 1, "type": "notebook"})["content"]

    def save_notebook(self, path: str, content: dict) -> None:
        self.json("PUT", f"/api/contents/{path}", json={"type": "notebook", "format": "json", "content": content})

    def read_text(self, path: str) -> str:
        return self.json("GET", f"/api/contents/{path}", params={"content": 1, "type": "file", "format": "text"})[
            "content"
        ]

    def listing(self, path: str = "") -> list[str]:
        return [item["name"] for item in self.json("GET", f"/api/contents/{path}", params={"content": 1})["content"]]

    # -- nbgrader's assignment list: what the Assignments tab does
    def assignments(self, action: str | None = None, assignment: str | None = None) -> dict:
        if action is None:
            return self.json("GET", "/assignments", params={"course_id": COURSE_ID})
        return self.json("POST", f"/assignments/{action}", data={"course_id": COURSE_ID, "assignment_id": assignment})

    # -- the formgrader API: what the instructor clicks in Formgrader > Manage Assignments
    def formgrader(self, assignment: str, action: str) -> dict:
        return self.json("POST", f"/formgrader/api/assignment/{assignment}/{action}")

    # -- a kernel: what running cells in a notebook does
    def run_cells(self, sources: list[str], timeout: float = 300) -> list[dict]:
        """Run code cells in a new python3 kernel of this server; one dict per cell: its text and its error."""
        kernel = self.json("POST", "/api/kernels", json={"name": "python3"})
        try:
            return asyncio.run(_execute(self, kernel["id"], sources, timeout))
        finally:
            self.request("DELETE", f"/api/kernels/{kernel['id']}")


async def _execute(server: UserServer, kernel_id: str, sources: list[str], timeout: float) -> list[dict]:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    session = uuid.uuid4().hex
    url = server.base.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels?session_id={session}"
    conn = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {server.token}"}))
    results = []
    try:
        for source in sources:
            msg_id = uuid.uuid4().hex
            conn.write_message(
                json.dumps(
                    {
                        "header": {
                            "msg_id": msg_id,
                            "msg_type": "execute_request",
                            "session": session,
                            "username": server.name,
                            "version": "5.3",
                            "date": "",
                        },
                        "parent_header": {},
                        "metadata": {},
                        "channel": "shell",
                        "buffers": [],
                        "content": {
                            "code": source,
                            "silent": False,
                            "store_history": True,
                            "user_expressions": {},
                            "allow_stdin": False,
                            "stop_on_error": True,
                        },
                    }
                )
            )
            text, error = [], None
            deadline = time.monotonic() + timeout
            while True:
                raw = await asyncio.wait_for(conn.read_message(), max(1.0, deadline - time.monotonic()))
                if raw is None:
                    raise RuntimeError(f"the kernel websocket of {server.name} closed")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    text.append(content["text"])
                elif kind in ("execute_result", "display_data"):
                    text.append(content["data"].get("text/plain", ""))
                elif kind == "error":
                    error = f"{content['ename']}: {content['evalue']}"
                elif kind == "status" and content["execution_state"] == "idle":
                    break
            results.append({"text": "".join(text), "error": error})
    finally:
        conn.close()
    return results


def _hub_config(
    hub_dir: Path, ports: dict[str, int], users: list[str], service_token: str, environment: dict[str, str], extra: str
) -> str:
    return textwrap.dedent(f"""\
        # Written by the classroom test: one machine, local accounts, the course's environment for everyone.
        c = get_config()
        c.JupyterHub.ip = "127.0.0.1"
        c.JupyterHub.port = {ports["public"]}
        c.JupyterHub.hub_ip = "127.0.0.1"
        c.JupyterHub.hub_port = {ports["hub"]}
        c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports["proxy_api"]}"
        c.ConfigurableHTTPProxy.command = [{shutil.which(PROXY)!r}]
        c.ConfigurableHTTPProxy.pid_file = {str(hub_dir / "proxy.pid")!r}
        c.JupyterHub.db_url = "sqlite:///{hub_dir / "jupyterhub.sqlite"}"
        c.JupyterHub.cookie_secret_file = {str(hub_dir / "cookie_secret")!r}
        c.JupyterHub.authenticator_class = "pam"
        c.Authenticator.allowed_users = {set(users)!r}
        c.JupyterHub.spawner_class = "localprocess"
        c.Spawner.cmd = [{str(BIN / "jupyterhub-singleuser")!r}]
        c.Spawner.default_url = "/lab"
        c.Spawner.environment = {environment!r}
        c.Spawner.start_timeout = 180
        c.Spawner.http_timeout = 180
        c.JupyterHub.services = [{{"name": "classroom-test", "api_token": {service_token!r}}}]
        c.JupyterHub.load_roles = [{{"name": "classroom-test", "services": ["classroom-test"],
                                    "scopes": ["admin:users", "admin:servers", "tokens", "list:users"]}}]
        """) + textwrap.dedent(extra)


@contextmanager
def running_hub(
    hub_dir: Path, users: list[str], environment: dict[str, str], extra_config: str = "", start_timeout: float = 90
) -> Iterator[Hub]:
    """Start JupyterHub as root on loopback (PAM login, one local process per user); always stop it and the proxy.

    ``hub_dir`` (0700, root's) holds the Hub's config, database, cookie secret and log. ``environment`` is
    what every single-user server (and so every kernel) gets; ``extra_config`` is appended to the Hub's config.
    """
    ports = {k: free_loopback_port() for k in ("public", "hub", "proxy_api")}
    token = secrets.token_hex(32)
    config = hub_dir / "jupyterhub_config.py"
    config.write_text(_hub_config(hub_dir, ports, users, token, environment, extra_config))
    log_path = hub_dir / "jupyterhub.log"
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "LANG": "C.UTF-8",
        "HOME": str(hub_dir),
        "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(32),
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(BIN / "jupyterhub"), "-f", str(config)],
            cwd=hub_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    hub = Hub(f"http://127.0.0.1:{ports['public']}", token, process, log_path)
    try:
        _wait_for_hub(hub, start_timeout)
        yield hub
    finally:
        _stop_hub(hub)


def _wait_for_hub(hub: Hub, timeout: float) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.process.poll() is not None:
            raise RuntimeError(f"JupyterHub exited with code {hub.process.returncode}.\n{hub.log_tail()}")
        try:
            if requests.get(f"{hub.url}/hub/api/", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"JupyterHub did not answer on {hub.url} within {timeout:.0f} s.\n{hub.log_tail()}")


def _stop_hub(hub: Hub) -> None:
    """SIGTERM lets the Hub stop every single-user server and its proxy; whatever is left is killed by id."""
    import psutil

    if hub.process.poll() is None:
        try:
            family = psutil.Process(hub.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        hub.process.send_signal(signal.SIGTERM)
        try:
            hub.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            hub.process.kill()
            hub.process.wait()
        for proc in family:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(family, timeout=10)


@contextmanager
def private_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder only root can enter (0700), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
