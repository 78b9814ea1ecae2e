"""Workspaces of a schema-per-tenant database, from a Python backend, over tenant-migrate.

Provisioning goes through tenant-migrate (the schema, every tenant migration, the registry row
Active, the creator as OWNER, all-or-nothing); the application's own queries go straight to the
database with its driver:

* :func:`create_workspace` / :func:`archive_workspace` / :func:`show_workspace` call the warm
  provisioning service (``tenant-migrate serve``) through :class:`ProvisioningClient`, or the CLI
  through :class:`CliProvisioner` (the same JSON, ~2 s per call: scripts and one-off jobs only);
* :func:`get_workspace_schema_name_from_db` looks the schema name up in the registry (cached per
  process) and validates it;
* :func:`list_integrations` / :func:`add_integration` are per-workspace queries: the schema name is
  validated, then quoted; values always travel as parameters.

Drivers: PostgreSQL with psycopg2; SQL Server with pyodbc (ODBC Driver 18 for SQL Server in
production, FreeTDS works too) or pymssql. The service client uses the standard library only.
See docs/integrating-python.md.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional, Sequence
from urllib.parse import quote, urlsplit

__all__ = [
    "TenantMigrateError",
    "ProvisionedWorkspace",
    "Integration",
    "ProvisioningClient",
    "CliProvisioner",
    "set_default_provisioner",
    "create_workspace",
    "show_workspace",
    "archive_workspace",
    "get_workspace_schema_name_from_db",
    "invalidate_workspace_schema_cache",
    "list_integrations",
    "add_integration",
    "workspace_role",
]

#: What tenant-migrate names a workspace schema: ``ws_`` + the GUID's 32 lowercase hex digits
#: (its default ``registry.schemaPattern``). Only a name matching this ever reaches SQL.
SCHEMA_NAME_RE = re.compile(r"^ws_[0-9a-f]{32}$")
_GUID_RE = re.compile(r"^\{?([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{12})\}?$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

#: The master schema holding the ``Workspace`` registry (tenant-migrate's ``masterSchema``).
MASTER_SCHEMA = os.environ.get("TM_MASTER_SCHEMA", "pmassist_master")
#: How long a looked-up schema name is trusted, in seconds: an archive made by *another* process is
#: seen here after at most this long. 0 disables the cache.
SCHEMA_CACHE_TTL_SECONDS = float(os.environ.get("TM_SCHEMA_CACHE_TTL", "60"))


class TenantMigrateError(Exception):
    """A refusal or failure, carrying tenant-migrate's stable error ``code``.

    ``code``: the engine's code (``INVALID_WORKSPACE_ID``, ``NOT_FOUND``, ``WORKSPACE_NOT_ACTIVE``,
    ``PROVISION_FAILED``, ``LOCK_TIMEOUT``, ``USAGE``, ``DATABASE_ERROR``, …) or the client's own
    ``SERVICE_UNAVAILABLE`` (the service did not answer) and ``PROTOCOL_ERROR`` (it answered
    something that is not the documented JSON). ``context``: the error's fields besides
    name/code/message (``workspaceId``, ``tenant``, ``cleanedUp``, ``migrationId``, ``file``,
    ``line``, …). ``http_status`` / ``exit_code``: how the service / the CLI reported it.
    """

    def __init__(
        self,
        code: str,
        message: str,
        context: Optional[Mapping[str, Any]] = None,
        *,
        http_status: Optional[int] = None,
        exit_code: Optional[int] = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.context = dict(context or {})
        self.http_status = http_status
        self.exit_code = exit_code

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later (the schema was busy, the database or service away)."""
        return self.code in ("LOCK_TIMEOUT", "DATABASE_ERROR", "SERVICE_UNAVAILABLE", "SHUTTING_DOWN")

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], *, http_status: Optional[int] = None, exit_code: Optional[int] = None) -> "TenantMigrateError":
        error = dict(doc.get("error") or {})
        code = str(error.pop("code", "UNEXPECTED"))
        message = str(error.pop("message", "no message"))
        error.pop("name", None)
        return cls(code, message, error, http_status=http_status, exit_code=doc.get("exitCode", exit_code))


@dataclass(frozen=True)
class ProvisionedWorkspace:
    """The answer of ``workspace add`` / ``POST /v1/workspaces``."""

    workspace_id: str
    schema: str
    #: ``created``, ``resumed`` (an interrupted earlier attempt was finished) or ``existing``.
    outcome: str
    applied: tuple
    #: The target database (docs/fleet.md); None: the master's own.
    target: Optional[str]
    duration_ms: int

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> "ProvisionedWorkspace":
        return cls(
            workspace_id=doc["workspaceId"],
            schema=_valid_schema(doc["schema"]),
            outcome=doc["outcome"],
            applied=tuple(doc.get("applied", ())),
            target=doc.get("target"),
            duration_ms=int(doc.get("durationMs", 0)),
        )


@dataclass(frozen=True)
class Integration:
    """A row of ``<workspace schema>.workspace_integrations``."""

    integration_id: str
    provider: str
    external_id: str
    display_name: str
    url: Optional[str]


# --------------------------------------------------------------------------------------------
# Provisioning: the warm service, or the CLI
# --------------------------------------------------------------------------------------------


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket (http.client speaks TCP only)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class ProvisioningClient:
    """Client of ``tenant-migrate serve``: standard library only, safe to share between threads.

    Connections are kept alive and reused (up to ``max_idle`` idle ones): a request costs one
    local round trip, no connection set-up and no Node start-up. Address: ``socket_path`` (Unix socket), or ``base_url`` (``http://127.0.0.1:7070``)
    with ``token``; by default from ``TM_SERVICE_SOCKET``, ``TM_SERVICE_URL``, ``TM_SERVICE_TOKEN``.
    ``timeout``: seconds a request may take (provisioning may wait for a schema lock held by a
    running ``up``: keep it above the engine's ``lockTimeoutMs``).
    """

    def __init__(
        self,
        socket_path: Optional[str] = None,
        base_url: Optional[str] = None,
        token: Optional[str] = None,
        timeout: float = 120.0,
        max_idle: int = 8,
    ) -> None:
        if socket_path is None and base_url is None:
            socket_path = os.environ.get("TM_SERVICE_SOCKET")
            base_url = os.environ.get("TM_SERVICE_URL")
        if (socket_path is None) == (base_url is None):
            raise ValueError("ProvisioningClient needs exactly one of socket_path (TM_SERVICE_SOCKET) and base_url (TM_SERVICE_URL)")
        self._socket_path = socket_path
        self._url = urlsplit(base_url) if base_url else None
        if self._url is not None and self._url.scheme != "http":
            raise ValueError(f"base_url must be http://host:port (a loopback or socket service), not {base_url!r}")
        self._token = token if token is not None else os.environ.get("TM_SERVICE_TOKEN")
        self._timeout = timeout
        self._max_idle = max_idle
        self._idle: list = []
        self._lock = threading.Lock()

    # The four routes of docs/workspace-api.md.

    def add(self, workspace_id: str, name: Optional[str] = None, owner: Optional[str] = None, target: Optional[str] = None) -> dict:
        body = {"workspaceId": workspace_id}
        if name is not None:
            body["name"] = name
        if owner is not None:
            body["owner"] = owner
        if target is not None:
            body["target"] = target
        return self._request("POST", "/v1/workspaces", body)

    def show(self, workspace_id: str) -> dict:
        return self._request("GET", f"/v1/workspaces/{quote(workspace_id, safe='')}")

    def archive(self, workspace_id: str) -> dict:
        return self._request("POST", f"/v1/workspaces/{quote(workspace_id, safe='')}/archive", {})

    def health(self) -> dict:
        return self._request("GET", "/v1/health")

    def close(self) -> None:
        """Close the idle connections (one in use is closed when its request ends)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _connect(self) -> http.client.HTTPConnection:
        if self._socket_path is not None:
            return _UnixHTTPConnection(self._socket_path, self._timeout)
        assert self._url is not None
        return http.client.HTTPConnection(self._url.hostname or "127.0.0.1", self._url.port or 80, timeout=self._timeout)

    def _checkout(self) -> tuple:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._connect(), False

    def _checkin(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def _request(self, method: str, path: str, body: Optional[dict] = None) -> dict:
        payload = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        # Every route is idempotent (a workspace id chosen by the caller, archive twice = once), so
        # a request that met a kept-alive connection the service had just closed is sent again once.
        for attempt in (1, 2):
            conn, reused = self._checkout()
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                if reused and attempt == 1:
                    continue
                raise TenantMigrateError("SERVICE_UNAVAILABLE", f"the provisioning service closed the connection: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                where = self._socket_path or (self._url.geturl() if self._url else "?")
                raise TenantMigrateError("SERVICE_UNAVAILABLE", f"the provisioning service at {where} did not answer: {exc}") from exc
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
            else:
                self._checkin(conn)
            try:
                doc = json.loads(data.decode("utf-8"))
            except ValueError as exc:
                raise TenantMigrateError("PROTOCOL_ERROR", f"HTTP {response.status} with a body that is not JSON: {data[:200]!r}", http_status=response.status) from exc
            if not isinstance(doc, dict) or doc.get("ok") is not True:
                raise TenantMigrateError.from_document(doc if isinstance(doc, dict) else {}, http_status=response.status)
            return doc
        raise AssertionError("unreachable")


class CliProvisioner:
    """The same calls through the CLI: one ``tenant-migrate workspace … --json`` process each.

    Each call starts Node, loads the config, connects and checks every tenant migration (~1–2 s):
    fine for scripts, admin jobs and a fallback, too slow for a request path (use the service).
    ``command``: how to start tenant-migrate (default ``TM_CLI`` split on spaces, or ``npx
    tenant-migrate``); ``cwd``: the project folder (its config file and migrations); ``env``:
    extra environment (e.g. ``TM_DATABASE_URL``).
    """

    def __init__(self, command: Optional[Sequence[str]] = None, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None, timeout: float = 300.0) -> None:
        self._command = list(command) if command is not None else os.environ.get("TM_CLI", "npx tenant-migrate").split()
        self._cwd = cwd
        self._env = {**os.environ, **(env or {})}
        self._timeout = timeout

    def add(self, workspace_id: str, name: Optional[str] = None, owner: Optional[str] = None, target: Optional[str] = None) -> dict:
        args = ["workspace", "add", workspace_id]
        for flag, value in (("--name", name), ("--owner", owner), ("--target", target)):
            if value is not None:
                args += [flag, value]
        return self._run(args)

    def show(self, workspace_id: str) -> dict:
        return self._run(["workspace", "show", workspace_id])

    def archive(self, workspace_id: str) -> dict:
        return self._run(["workspace", "archive", workspace_id])

    def _run(self, args: list) -> dict:
        # A list, never a shell string: a workspace name is passed as one argument, whatever it holds.
        proc = subprocess.run([*self._command, *args, "--json"], cwd=self._cwd, env=self._env, capture_output=True, text=True, timeout=self._timeout)
        try:
            doc = json.loads(proc.stdout)
        except ValueError:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise TenantMigrateError("PROTOCOL_ERROR", f"tenant-migrate exited {proc.returncode} without a JSON answer: {' | '.join(tail)}", exit_code=proc.returncode) from None
        if proc.returncode != 0 or not isinstance(doc, dict) or doc.get("ok") is not True:
            raise TenantMigrateError.from_document(doc if isinstance(doc, dict) else {}, exit_code=proc.returncode)
        return doc


_default_provisioner: Any = None
_default_lock = threading.Lock()


def set_default_provisioner(provisioner: Any) -> None:
    """Use ``provisioner`` (a :class:`ProvisioningClient` or :class:`CliProvisioner`) when none is passed."""
    global _default_provisioner
    with _default_lock:
        _default_provisioner = provisioner


def _provisioner(provisioner: Any) -> Any:
    global _default_provisioner
    if provisioner is not None:
        return provisioner
    with _default_lock:
        if _default_provisioner is None:
            _default_provisioner = ProvisioningClient()
        return _default_provisioner


def create_workspace(name: str, owner_user_id: str, *, workspace_id: Optional[str] = None, target: Optional[str] = None, provisioner: Any = None) -> ProvisionedWorkspace:
    """Create a workspace: GUID → ``ws_<guid>`` → registry row → schema and tables → owner as OWNER.

    All-or-nothing: when it raises ``PROVISION_FAILED``, the row and the schema this call created
    are gone again (``err.context['cleanedUp']``). Idempotent per ``workspace_id``: calling it again
    (e.g. after a timeout) finishes or confirms the same workspace (``outcome`` says which).
    """
    wid = normalize_workspace_id(workspace_id) if workspace_id is not None else str(uuid.uuid4())
    doc = _provisioner(provisioner).add(wid, name=name, owner=owner_user_id, target=target)
    invalidate_workspace_schema_cache(wid)
    return ProvisionedWorkspace.from_document(doc)


def show_workspace(workspace_id: str, *, provisioner: Any = None) -> dict:
    """The ``workspace show`` document: status, schema, applied and pending migrations."""
    return _provisioner(provisioner).show(normalize_workspace_id(workspace_id))


def archive_workspace(workspace_id: str, *, provisioner: Any = None) -> dict:
    """Mark the workspace Archived (its data is kept); this process stops serving it at once."""
    wid = normalize_workspace_id(workspace_id)
    try:
        return _provisioner(provisioner).archive(wid)
    finally:
        invalidate_workspace_schema_cache(wid)


# --------------------------------------------------------------------------------------------
# Lookups and per-workspace queries: the application's own connection
# --------------------------------------------------------------------------------------------


class _Dialect:
    def __init__(self, name: str, placeholder: str) -> None:
        self.name = name
        self.placeholder = placeholder

    def quote(self, identifier: str) -> str:
        if self.name == "postgres":
            return '"' + identifier.replace('"', '""') + '"'
        return "[" + identifier.replace("]", "]]") + "]"


def _dialect(conn: Any) -> _Dialect:
    """From the DB-API connection's driver: its SQL flavour and its parameter marker."""
    driver = type(conn).__module__.split(".")[0]
    if driver in ("psycopg2", "psycopg"):
        return _Dialect("postgres", "%s")
    if driver == "pymssql" or driver == "_mssql":
        return _Dialect("mssql", "%s")
    if driver == "pyodbc":
        return _Dialect("mssql", "?")
    raise TypeError(f"unsupported driver {driver!r}: psycopg2, pyodbc or pymssql expected")


def normalize_workspace_id(value: Any) -> str:
    """The canonical GUID form (lowercase, hyphens); ``INVALID_WORKSPACE_ID`` for anything else."""
    if isinstance(value, uuid.UUID):
        return str(value)
    m = _GUID_RE.match(value.strip()) if isinstance(value, str) else None
    if not m:
        raise TenantMigrateError("INVALID_WORKSPACE_ID", f"{value!r} is not a workspace GUID", {"workspaceId": str(value)})
    return "-".join(m.groups()).lower()


def _valid_schema(name: Any) -> str:
    if not isinstance(name, str) or not SCHEMA_NAME_RE.match(name):
        raise TenantMigrateError("INVALID_SCHEMA_NAME", f"{name!r} is not a workspace schema name (ws_ + 32 hex digits)", {"tenant": str(name)})
    return name


#: Most entries kept; the least recently used go first.
SCHEMA_CACHE_MAX_ENTRIES = 10_000
_schema_cache: "OrderedDict[str, tuple]" = OrderedDict()
_schema_cache_lock = threading.Lock()


def invalidate_workspace_schema_cache(workspace_id: Optional[str] = None) -> None:
    """Forget one cached lookup (or all): after a change to the registry made by this process."""
    with _schema_cache_lock:
        if workspace_id is None:
            _schema_cache.clear()
        else:
            _schema_cache.pop(normalize_workspace_id(workspace_id), None)


def get_workspace_schema_name_from_db(conn: Any, workspace_id: Any) -> str:
    """The validated schema name of an **Active** workspace, from the registry, cached per process.

    Raises :class:`TenantMigrateError` with ``INVALID_WORKSPACE_ID`` (not a GUID: no query is
    sent), ``NOT_FOUND``, ``WORKSPACE_NOT_ACTIVE`` (Archived, or still being provisioned), or
    ``INVALID_SCHEMA_NAME`` (the stored name is not ``ws_`` + 32 hex: it never reaches SQL). Only
    Active answers are cached, for :data:`SCHEMA_CACHE_TTL_SECONDS` (at most
    :data:`SCHEMA_CACHE_MAX_ENTRIES`, least recently used dropped first); an archive made by this
    process through :func:`archive_workspace` is seen at once, one made elsewhere after the TTL.
    """
    wid = normalize_workspace_id(workspace_id)
    now = time.monotonic()
    with _schema_cache_lock:
        hit = _schema_cache.get(wid)
        if hit is not None and hit[1] > now:
            _schema_cache.move_to_end(wid)
            return hit[0]
    d = _dialect(conn)
    registry = f"{d.quote(MASTER_SCHEMA)}.{d.quote('Workspace')}"
    cur = conn.cursor()
    try:
        cur.execute(f"SELECT db_schema_name, status FROM {registry} WHERE workspace_id = {d.placeholder}", (wid,))
        row = cur.fetchone()
    finally:
        cur.close()
    if row is None:
        raise TenantMigrateError("NOT_FOUND", f"no workspace {wid} in the registry", {"workspaceId": wid})
    stored, status = row[0], row[1]
    if status != "Active":
        raise TenantMigrateError("WORKSPACE_NOT_ACTIVE", f"workspace {wid} is {status}, not Active", {"workspaceId": wid, "status": status})
    # A row from before the two-level layout may not be backfilled yet: its name is derived, as the engine does.
    schema = _valid_schema(stored if stored is not None else "ws_" + wid.replace("-", ""))
    if SCHEMA_CACHE_TTL_SECONDS > 0:
        with _schema_cache_lock:
            _schema_cache[wid] = (schema, now + SCHEMA_CACHE_TTL_SECONDS)
            _schema_cache.move_to_end(wid)
            while len(_schema_cache) > SCHEMA_CACHE_MAX_ENTRIES:
                _schema_cache.popitem(last=False)
    return schema


def _table(conn: Any, workspace_id: Any, table: str) -> tuple:
    d = _dialect(conn)
    schema = get_workspace_schema_name_from_db(conn, workspace_id)  # validated: ws_ + 32 hex
    # Identifiers cannot be parameters: the schema goes into the SQL text only validated and quoted.
    return d, f"{d.quote(schema)}.{d.quote(table)}"


def list_integrations(conn: Any, workspace_id: Any, provider: Optional[str] = None) -> list:
    """The workspace's integrations, optionally of one ``provider``, ordered by provider and external id."""
    d, table = _table(conn, workspace_id, "workspace_integrations")
    sql = f"SELECT integration_id, provider, external_id, display_name, url FROM {table}"
    params: tuple = ()
    if provider is not None:
        sql += f" WHERE provider = {d.placeholder}"
        params = (provider,)
    sql += " ORDER BY provider, external_id"
    cur = conn.cursor()
    try:
        cur.execute(sql, params)
        rows = cur.fetchall()
    finally:
        cur.close()
    return [Integration(str(r[0]).lower(), r[1], r[2], r[3], r[4]) for r in rows]


def add_integration(conn: Any, workspace_id: Any, provider: str, external_id: str, display_name: str, url: Optional[str] = None) -> str:
    """Insert one integration and return its id. Not committed: the caller owns the transaction."""
    d, table = _table(conn, workspace_id, "workspace_integrations")
    integration_id = str(uuid.uuid4())  # made here: the same statement on every driver, no RETURNING/OUTPUT
    p = d.placeholder
    cur = conn.cursor()
    try:
        cur.execute(
            f"INSERT INTO {table} (integration_id, provider, external_id, display_name, url) VALUES ({p}, {p}, {p}, {p}, {p})",
            (integration_id, provider, external_id, display_name, url),
        )
    finally:
        cur.close()
    return integration_id


@contextlib.contextmanager
def workspace_role(conn: Any, workspace_id: Any, pattern: str = "{schema}_app") -> Iterator[str]:
    """PostgreSQL: run the block as the workspace's own role (``access.workspaceRolePattern``).

    With per-workspace roles the database itself keeps a request inside its workspace: the block
    can reach this workspace's tables and nothing of another's. The application's login must be a
    member of the role (``GRANT "ws_…_app" TO app_login``). ``SET LOCAL``: the role ends with the
    transaction, so a pooled connection never carries it into the next request.
    """
    d = _dialect(conn)
    if d.name != "postgres":
        raise TypeError("workspace_role switches roles with SET ROLE (PostgreSQL); on SQL Server connect with the workspace's own login")
    if getattr(conn, "autocommit", False):
        raise TypeError("workspace_role needs a transaction (SET LOCAL ROLE is a no-op in autocommit mode)")
    schema = get_workspace_schema_name_from_db(conn, workspace_id)
    role = pattern.replace("{schema}", schema).replace("{guid}", schema[3:])
    if not _IDENT_RE.match(role):
        raise TenantMigrateError("INVALID_SCHEMA_NAME", f"role {role!r} from pattern {pattern!r} is not a plain identifier", {"tenant": schema})
    cur = conn.cursor()
    try:
        cur.execute(f"SET LOCAL ROLE {d.quote(role)}")
        yield role
    finally:
        cur.close()
