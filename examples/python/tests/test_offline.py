"""Parts of the example that need no database or service (run alone: -p test_offline.py)."""
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import workspace_schema as ws  # noqa: E402


class _Conn:
    """Stands for a driver's connection class: the module reads only its module name."""


def conn_of(module: str) -> object:
    cls = type("Connection", (_Conn,), {"__module__": module})
    return cls()


class OfflineTest(unittest.TestCase):
    def test_workspace_ids_are_normalised_or_refused(self) -> None:
        wid = "3F2B6C1E-5A4D-4E8F-9A0B-1C2D3E4F5A6B"
        for form in (wid, "{" + wid + "}", wid.replace("-", ""), uuid.UUID(wid)):
            self.assertEqual(ws.normalize_workspace_id(form), wid.lower())
        for bad in ("", "not-a-guid", wid + "0", "3f2b6c1e-5a4d-4e8f-9a0b-1c2d3e4f5a6g", "' OR 1=1 --", None, 42):
            with self.assertRaises(ws.TenantMigrateError) as ctx:
                ws.normalize_workspace_id(bad)
            self.assertEqual(ctx.exception.code, "INVALID_WORKSPACE_ID")

    def test_dialect_marker_and_quoting_by_driver(self) -> None:
        pg = ws._dialect(conn_of("psycopg2.extensions"))
        odbc = ws._dialect(conn_of("pyodbc"))
        tds = ws._dialect(conn_of("pymssql._pymssql"))
        self.assertEqual((pg.placeholder, pg.quote("ws_x")), ("%s", '"ws_x"'))
        self.assertEqual((odbc.placeholder, odbc.quote("ws_x")), ("?", "[ws_x]"))
        self.assertEqual((tds.placeholder, tds.quote("a]b")), ("%s", "[a]]b]"))
        with self.assertRaises(TypeError):
            ws._dialect(conn_of("sqlite3"))

    def test_only_ws_plus_32_hex_is_a_schema_name(self) -> None:
        self.assertEqual(ws._valid_schema("ws_" + "a" * 32), "ws_" + "a" * 32)
        for bad in ("ws_" + "A" * 32, "ws_" + "a" * 31, 'ws_x"; DROP SCHEMA x; --', "pmassist_master", None):
            with self.assertRaises(ws.TenantMigrateError) as ctx:
                ws._valid_schema(bad)
            self.assertEqual(ctx.exception.code, "INVALID_SCHEMA_NAME")

    def test_error_documents_become_exceptions_with_code_and_context(self) -> None:
        doc = {"ok": False, "exitCode": 1, "error": {"name": "ProvisionError", "code": "PROVISION_FAILED", "message": "failed", "cleanedUp": True}}
        err = ws.TenantMigrateError.from_document(doc, http_status=500)
        self.assertEqual((err.code, err.message, err.context, err.http_status, err.exit_code), ("PROVISION_FAILED", "failed", {"cleanedUp": True}, 500, 1))
        self.assertFalse(err.retryable)
        self.assertTrue(ws.TenantMigrateError("LOCK_TIMEOUT", "busy").retryable)

    def test_a_service_that_does_not_answer_is_service_unavailable(self) -> None:
        client = ws.ProvisioningClient(socket_path="/nonexistent/tm.sock", timeout=2)
        with self.assertRaises(ws.TenantMigrateError) as ctx:
            client.health()
        self.assertEqual(ctx.exception.code, "SERVICE_UNAVAILABLE")
        with self.assertRaises(ValueError):
            ws.ProvisioningClient(base_url="https://example.com")


if __name__ == "__main__":
    unittest.main()
