"""Computes the per-block checks of Azure Storage with Microsoft's own code (an independent implementation).

Usage: interop_block_checks.py DIR
For every file DIR/*.body prints, as one JSON object keyed by file name, the CRC-64 Azure Storage computes
(azure-storage-extensions' `crc64.compute`, as the 8 little-endian bytes of the `x-ms-content-crc64` header, base64)
and the MD5 (as the `Content-MD5` header, base64).
"""

import base64
import hashlib
import json
import pathlib
import sys

from azure.storage.extensions.checksums import crc64

checks = {}
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.body")):
    data = path.read_bytes()
    crc = crc64.compute(data, 0)
    checks[path.name] = {
        "crc64": base64.b64encode(crc.to_bytes(8, "little")).decode(),
        "md5": base64.b64encode(hashlib.md5(data).digest()).decode(),
        "size": len(data),
    }
print(json.dumps(checks))
