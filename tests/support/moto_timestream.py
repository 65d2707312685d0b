"""moto's Timestream write API on loopback, as a stand-in for Amazon Timestream.

Used by the integration tests (tests/support/moto.rs starts it). Two things are added to
stock moto, both to make it a faithful witness rather than to change what it checks:

* Real Timestream merges a request's CommonAttributes into every record. moto drops them,
  so this harness merges them before moto stores the records (the merge rules are the
  documented ones: a record's own fields win, dimensions are concatenated).
* moto executes no queries, so the stored records are served as JSON on a second port:
  GET /records?database=D&table=T -> [record, ...] exactly as moto stored them.

Prints "READY <timestream port> <records port>" on stdout once both listen.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from moto.server import ThreadedMotoServer
from moto.timestreamwrite import responses as tw_responses
from moto.timestreamwrite.models import timestreamwrite_backends

ACCOUNT = "123456789012"


def merge_common(common, record):
    merged = dict(common)
    merged.update(record)
    dims = list(common.get("Dimensions", [])) + list(record.get("Dimensions", []))
    if dims:
        merged["Dimensions"] = dims
    return merged


def write_records_with_common(self):
    common = self._get_param("CommonAttributes") or {}
    records = [merge_common(common, r) for r in self._get_param("Records")]
    self.timestreamwrite_backend.write_records(
        self._get_param("DatabaseName"), self._get_param("TableName"), records
    )
    total = len(records)
    ingested = {"Total": total, "MemoryStore": total, "MagneticStore": 0}
    return json.dumps({"RecordsIngested": ingested})


tw_responses.TimestreamWriteResponse.write_records = write_records_with_common


class Records(BaseHTTPRequestHandler):
    def do_GET(self):
        query = parse_qs(urlparse(self.path).query)
        database, table = query["database"][0], query["table"][0]
        region = query.get("region", ["us-east-1"])[0]
        backend = timestreamwrite_backends[ACCOUNT][region]
        try:
            records = backend.databases[database].tables[table].records
        except KeyError:
            records = []
        body = json.dumps(records).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, moto_port = server.get_host_and_port()
    records = ThreadingHTTPServer(("127.0.0.1", 0), Records)
    threading.Thread(target=records.serve_forever, daemon=True).start()
    print(f"READY {moto_port} {records.server_address[1]}", flush=True)
    # Live as long as the test that started us: it closes our stdin when done.
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
