"""The example module against a real database and a running ``tenant-migrate serve``.

Run by test/integration/python-example.test.ts, which prepares everything and passes it in the
environment (run by hand the same way):

  TM_PY_DIALECT          postgres | mssql
  TM_SERVICE_SOCKET      the service's Unix socket
  TM_PY_APP              JSON {host, port, user, password, database}: a login in access.appRole only
  TM_PY_ADMIN            JSON, same keys: the deploy login (checks what exists, grants role membership)
  TM_PY_ROLE_PATTERN     access.workspaceRolePattern (per-workspace roles), e.g. {schema}_app
  TM_PY_FAIL_NAME        a workspace name whose provisioning the test project's last migration fails
  TM_PY_FAIL_MIGRATION   that migration's id
  TM_CLI, TM_PY_PROJECT  how to start the CLI, and the project folder it runs in

  /usr/bin/python3 -m unittest discover -s examples/python/tests -t examples/python -v
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import secrets
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import workspace_schema as ws  # noqa: E402  (the example itself, not a copy)

DIALECT = os.environ.get("TM_PY_DIALECT")
if DIALECT not in ("postgres", "mssql"):
    raise RuntimeError("TM_PY_DIALECT (postgres|mssql) and the variables in this file's docstring must be set: run test/integration/python-example.test.ts")
APP = json.loads(os.environ["TM_PY_APP"])
ADMIN = json.loads(os.environ["TM_PY_ADMIN"])
ROLE_PATTERN = os.environ["TM_PY_ROLE_PATTERN"]
FAIL_NAME = os.environ["TM_PY_FAIL_NAME"]
FAIL_MIGRATION = os.environ["TM_PY_FAIL_MIGRATION"]
#: The drivers an application uses for this dialect; every query test runs with each.
DRIVERS = ("psycopg2",) if DIALECT == "postgres" else ("pyodbc", "pymssql")
ODBC_DRIVER = os.environ.get("TM_PY_ODBC_DRIVER", "FreeTDS")


def connect(info: dict, driver: str):
    """A DB-API connection (transactions on, as an application has them)."""
    if driver == "psycopg2":
        import psycopg2

        return psycopg2.connect(host=info["host"], port=info["port"], user=info["user"], password=info.get("password") or None, dbname=info["database"])
    if driver == "pymssql":
        import pymssql

        return pymssql.connect(server=info["host"], port=str(info["port"]), user=info["user"], password=info["password"], database=info["database"])
    if driver == "pyodbc":
        import pyodbc

        # Production: DRIVER={ODBC Driver 18 for SQL Server};SERVER=host,1433;Encrypt=yes;…
        brace = lambda v: "{" + str(v).replace("}", "}}") + "}"  # noqa: E731
        extra = "TDS_Version=7.4;" if ODBC_DRIVER == "FreeTDS" else "TrustServerCertificate=yes;"
        return pyodbc.connect(
            f"DRIVER={brace(ODBC_DRIVER)};SERVER={info['host']};PORT={info['port']};DATABASE={brace(info['database'])};"
            f"UID={brace(info['user'])};PWD={brace(info['password'])};{extra}",
            autocommit=False,
        )
    raise ValueError(driver)


def admin_driver() -> str:
    return "psycopg2" if DIALECT == "postgres" else "pymssql"


class Admin:
    """The deploy login's view: what exists, whatever the application may see."""

    def __init__(self) -> None:
        self.conn = connect(ADMIN, admin_driver())
        if DIALECT == "postgres":
            self.conn.autocommit = True
        else:
            self.conn.autocommit(True)  # pymssql: a method
        self.d = ws._dialect(self.conn)
        self.p = self.d.placeholder

    def rows(self, sql: str, params: tuple = ()) -> list:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
        finally:
            cur.close()

    def table(self, name: str) -> str:
        return f"{self.d.quote(ws.MASTER_SCHEMA)}.{self.d.quote(name)}"

    def registry_row(self, workspace_id: str):
        found = self.rows(f"SELECT status, db_schema_name FROM {self.table('Workspace')} WHERE workspace_id = {self.p}", (workspace_id,))
        return found[0] if found else None

    def schema_exists(self, schema: str) -> bool:
        sql = f"SELECT 1 FROM pg_namespace WHERE nspname = {self.p}" if DIALECT == "postgres" else f"SELECT 1 FROM sys.schemas WHERE name = {self.p}"
        return len(self.rows(sql, (schema,))) == 1

    def provisioning_rows(self) -> int:
        return len(self.rows(f"SELECT workspace_id FROM {self.table('Workspace')} WHERE status = 'Provisioning'"))

    def close(self) -> None:
        self.conn.close()


def schema_of(workspace_id: str) -> str:
    return "ws_" + workspace_id.replace("-", "")


class WorkspaceSchemaTest(unittest.TestCase):
    client: ws.ProvisioningClient
    admin: Admin

    @classmethod
    def setUpClass(cls) -> None:
        cls.client = ws.ProvisioningClient()  # TM_SERVICE_SOCKET
        ws.set_default_provisioner(cls.client)
        cls.admin = Admin()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.admin.close()
        cls.client.close()

    def setUp(self) -> None:
        ws.invalidate_workspace_schema_cache()

    def app(self, driver: str):
        conn = connect(APP, driver)
        self.addCleanup(conn.close)
        return conn

    def assert_error(self, ctx: unittest.case._AssertRaisesContext, code: str) -> ws.TenantMigrateError:
        err = ctx.exception
        self.assertIsInstance(err, ws.TenantMigrateError)
        self.assertEqual(err.code, code, str(err))
        return err

    def test_service_answers_health(self) -> None:
        self.assertEqual(self.client.health()["status"], "serving")

    def test_concurrent_creation_then_app_role_reads_and_writes_each_workspace(self) -> None:
        names = [f"Concurrent {i}" for i in range(8)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
            created = list(pool.map(lambda n: ws.create_workspace(n, f"owner-{n}"), names))
        self.assertEqual([c.outcome for c in created], ["created"] * len(names))
        self.assertEqual(len({c.schema for c in created}), len(names))
        for c in created:
            self.assertEqual(c.schema, schema_of(c.workspace_id))
            self.assertEqual(self.admin.registry_row(c.workspace_id)[0], "Active")
            self.assertTrue(self.admin.schema_exists(c.schema))
            self.assertEqual(ws.show_workspace(c.workspace_id)["pending"], [])
        for driver in DRIVERS:
            with self.subTest(driver=driver):
                conn = self.app(driver)
                provider = f"github-{driver}"  # each driver's own rows
                for i, c in enumerate(created):
                    iid = ws.add_integration(conn, c.workspace_id, provider, f"{driver}-{i}", f"Repo {i}", f"https://example.com/{i}")
                    conn.commit()
                    self.assertEqual(
                        ws.list_integrations(conn, c.workspace_id, provider),
                        [ws.Integration(iid, provider, f"{driver}-{i}", f"Repo {i}", f"https://example.com/{i}")],
                    )
                    self.assertEqual(ws.list_integrations(conn, c.workspace_id, "jira"), [])
                    conn.commit()
        self.assertEqual(self.admin.provisioning_rows(), 0)

    def test_values_are_parameters_not_sql(self) -> None:
        c = ws.create_workspace("Quotes", "owner-q")
        hostile = "x'); DROP TABLE workspace_integrations; --"
        for driver in DRIVERS:
            with self.subTest(driver=driver):
                conn = self.app(driver)
                provider = f"{hostile} {driver}"
                ws.add_integration(conn, c.workspace_id, provider[:50], f"id-{driver}", hostile)
                conn.commit()
                self.assertEqual([i.display_name for i in ws.list_integrations(conn, c.workspace_id, provider[:50])], [hostile])
                conn.commit()

    def test_archive_then_the_lookup_refuses_the_workspace(self) -> None:
        c = ws.create_workspace("To archive", "owner-a")
        conn = self.app(DRIVERS[0])
        self.assertEqual(ws.get_workspace_schema_name_from_db(conn, c.workspace_id), c.schema)  # cached now
        self.assertEqual(ws.archive_workspace(c.workspace_id)["status"], "Archived")
        with self.assertRaises(ws.TenantMigrateError) as ctx:
            ws.get_workspace_schema_name_from_db(conn, c.workspace_id)
        self.assertEqual(self.assert_error(ctx, "WORKSPACE_NOT_ACTIVE").context["status"], "Archived")
        with self.assertRaises(ws.TenantMigrateError) as ctx:
            ws.list_integrations(conn, c.workspace_id)
        self.assert_error(ctx, "WORKSPACE_NOT_ACTIVE")
        self.assertTrue(self.admin.schema_exists(c.schema), "archiving keeps the data")
        # Provisioning it again is refused by the engine, with its code and HTTP status.
        with self.assertRaises(ws.TenantMigrateError) as ctx:
            ws.create_workspace("again", "owner-a", workspace_id=c.workspace_id)
        self.assertEqual(self.assert_error(ctx, "WORKSPACE_NOT_ACTIVE").http_status, 409)

    def test_an_archive_made_elsewhere_is_seen_after_the_cache_entry_goes(self) -> None:
        c = ws.create_workspace("Archived elsewhere", "owner-e")
        conn = self.app(DRIVERS[0])
        self.assertEqual(ws.get_workspace_schema_name_from_db(conn, c.workspace_id), c.schema)
        self.client.archive(c.workspace_id)  # another process's archive: this process's cache is not told
        self.assertEqual(ws.get_workspace_schema_name_from_db(conn, c.workspace_id), c.schema, "served from the cache until the TTL")
        ws.invalidate_workspace_schema_cache(c.workspace_id)
        with self.assertRaises(ws.TenantMigrateError) as ctx:
            ws.get_workspace_schema_name_from_db(conn, c.workspace_id)
        self.assert_error(ctx, "WORKSPACE_NOT_ACTIVE")
        conn.commit()

    def test_an_invalid_guid_is_a_clear_error_from_the_engine_and_never_reaches_sql(self) -> None:
        with self.assertRaises(ws.TenantMigrateError) as ctx:
            self.client.add("not-a-guid", name="x")
        err = self.assert_error(ctx, "INVALID_WORKSPACE_ID")
        self.assertEqual((err.http_status, err.exit_code, err.context["workspaceId"]), (400, 2, "not-a-guid"))
        with self.assertRaises(ws.TenantMigrateError) as ctx:
            self.client.show("1 OR 1=1")
        self.assert_error(ctx, "INVALID_WORKSPACE_ID")
        conn = self.app(DRIVERS[0])
        with self.assertRaises(ws.TenantMigrateError) as ctx:
            ws.get_workspace_schema_name_from_db(conn, "00000000-0000-0000-0000-000000000000'; DROP TABLE x; --")
        self.assert_error(ctx, "INVALID_WORKSPACE_ID")
        with self.assertRaises(ws.TenantMigrateError) as ctx:
            ws.get_workspace_schema_name_from_db(conn, str(uuid.uuid4()))
        self.assert_error(ctx, "NOT_FOUND")

    def test_a_failed_provisioning_is_a_clear_error_and_leaves_nothing_behind(self) -> None:
        wid = str(uuid.uuid4())
        with self.assertRaises(ws.TenantMigrateError) as ctx:
            ws.create_workspace(FAIL_NAME, "owner-f", workspace_id=wid)
        err = self.assert_error(ctx, "PROVISION_FAILED")
        self.assertEqual(err.http_status, 500)
        self.assertEqual(err.exit_code, 1)
        self.assertIs(err.context["cleanedUp"], True)
        self.assertEqual(err.context["migrationId"], FAIL_MIGRATION)
        self.assertIn(wid, err.message)
        self.assertIsNone(self.admin.registry_row(wid), "the registry row is removed")
        self.assertFalse(self.admin.schema_exists(schema_of(wid)), "the schema is removed")
        self.assertEqual(self.admin.provisioning_rows(), 0)
        with self.assertRaises(ws.TenantMigrateError) as ctx:
            ws.get_workspace_schema_name_from_db(self.app(DRIVERS[0]), wid)
        self.assert_error(ctx, "NOT_FOUND")

    def test_a_workspace_role_reaches_its_own_tables_and_not_another_workspaces(self) -> None:
        a = ws.create_workspace("Role A", "owner-ra")
        b = ws.create_workspace("Role B", "owner-rb")
        role_a = ROLE_PATTERN.replace("{schema}", a.schema)
        if DIALECT == "postgres":
            app_user = APP["user"]
            self.admin.rows(f"GRANT {self.admin.d.quote(role_a)} TO {self.admin.d.quote(app_user)}")
            conn = self.app("psycopg2")
            ws.get_workspace_schema_name_from_db(conn, b.workspace_id)  # the lookup runs as the app role
            conn.commit()
            with ws.workspace_role(conn, a.workspace_id) as role:
                self.assertEqual(role, role_a)
                ws.add_integration(conn, a.workspace_id, "slack", "own", "Own workspace")
                self.assertEqual([i.external_id for i in ws.list_integrations(conn, a.workspace_id)], ["own"])
                import psycopg2.errors

                with self.assertRaises(psycopg2.errors.InsufficientPrivilege):
                    ws.list_integrations(conn, b.workspace_id)
            conn.rollback()
            # SET LOCAL: the role ended with the transaction; the same connection is the app role again.
            self.assertEqual(ws.list_integrations(conn, b.workspace_id), [])
            return
        # SQL Server: a login per workspace, member of the workspace's role.
        login = f"tm_py_{secrets.token_hex(4)}"
        password = f"Py-{secrets.token_hex(8)}-A1"
        self.admin.rows(f"CREATE LOGIN [{login}] WITH PASSWORD = '{password}'")
        self.addCleanup(lambda: self.admin.rows(f"DROP LOGIN [{login}]"))
        self.admin.rows(f"CREATE USER [{login}] FOR LOGIN [{login}]")
        self.addCleanup(lambda: self.admin.rows(f"DROP USER [{login}]"))
        self.admin.rows(f"ALTER ROLE [{role_a}] ADD MEMBER [{login}]")
        self.addCleanup(lambda: self.admin.rows(f"ALTER ROLE [{role_a}] DROP MEMBER [{login}]"))
        lookup = self.app(DRIVERS[0])
        ws.get_workspace_schema_name_from_db(lookup, a.workspace_id)  # looked up by the app login (the workspace role has no master rights)
        ws.get_workspace_schema_name_from_db(lookup, b.workspace_id)
        for driver in DRIVERS:
            with self.subTest(driver=driver):
                conn = connect({**APP, "user": login, "password": password}, driver)
                self.addCleanup(conn.close)
                ws.add_integration(conn, a.workspace_id, "slack", f"own-{driver}", "Own workspace")
                conn.commit()
                self.assertIn(f"own-{driver}", [i.external_id for i in ws.list_integrations(conn, a.workspace_id)])
                conn.commit()
                with self.assertRaises(Exception) as ctx:
                    ws.list_integrations(conn, b.workspace_id)
                self.assertRegex(str(ctx.exception), r"(?i)permission|denied")
                try:
                    conn.rollback()
                except Exception:  # noqa: BLE001 — Babelfish ends the transaction at the error (SQL Server keeps it open)
                    pass
                # The connection still reads its own workspace (its transaction state after the error is the
                # driver's and engine's business: pymssql on Babelfish no longer has one to commit).
                self.assertIn(f"own-{driver}", [i.external_id for i in ws.list_integrations(conn, a.workspace_id)])

    def test_the_backfill_the_application_reads_what_the_legacy_table_held(self) -> None:
        legacy = self.admin.rows(
            f"SELECT workspace_id, link_id, provider, external_id, display_name, url FROM {self.admin.table('WorkspaceExternalLink')}"
        )
        by_workspace: dict = {}
        for wid, link_id, provider, external_id, display_name, url in legacy:
            key = str(wid).lower()
            by_workspace.setdefault(key, []).append(ws.Integration(str(link_id).lower(), provider, external_id, display_name, url))
        self.assertGreaterEqual(len(by_workspace), 5, "the test database was seeded with legacy workspaces")
        self.assertGreater(len(legacy), len(by_workspace), "some legacy workspaces have several links")
        for driver in DRIVERS:
            with self.subTest(driver=driver):
                conn = self.app(driver)
                # Compared in one order (the database's collation may order hyphens and digits differently).
                key = lambda i: (i.provider, i.external_id)  # noqa: E731
                for wid, expected in by_workspace.items():
                    expected.sort(key=key)
                    self.assertEqual(sorted(ws.list_integrations(conn, wid), key=key), expected, wid)
                    provider = expected[0].provider
                    self.assertEqual(sorted(ws.list_integrations(conn, wid, provider), key=key), [i for i in expected if i.provider == provider])
                conn.commit()

    def test_the_cli_gives_the_same_documents_as_the_service(self) -> None:
        cli = ws.CliProvisioner(command=os.environ["TM_CLI"].split(), cwd=os.environ["TM_PY_PROJECT"])
        wid = str(uuid.uuid4())
        added = ws.ProvisionedWorkspace.from_document(cli.add(wid, name="From the CLI", owner="owner-cli"))
        self.assertEqual((added.workspace_id, added.schema, added.outcome), (wid, schema_of(wid), "created"))
        via_cli, via_service = cli.show(wid), self.client.show(wid)
        self.assertEqual(sorted(via_cli), sorted(via_service))
        self.assertEqual({k: v for k, v in via_cli.items() if k != "lastSeenUtc"}, {k: v for k, v in via_service.items() if k != "lastSeenUtc"})
        again = ws.create_workspace("From the CLI", "owner-cli", workspace_id=wid)  # the service, idempotent
        self.assertEqual(again.outcome, "existing")
        with self.assertRaises(ws.TenantMigrateError) as ctx:
            cli.add("not-a-guid")
        self.assertEqual(self.assert_error(ctx, "INVALID_WORKSPACE_ID").exit_code, 2)


if __name__ == "__main__":
    unittest.main()
