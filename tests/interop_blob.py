"""Reads a blob that campctl uploaded with Microsoft's Python SDK (an independent client).

Usage: interop_blob.py CONNECTION_STRING CONTAINER BLOB
Prints one JSON object: sha256 and md5 (base64) of the downloaded bytes, size, the blob's metadata and its
Content-MD5 (base64), and the names the container lists under the blob's folder.
"""

import base64
import hashlib
import json
import sys

from azure.storage.blob import BlobServiceClient

connection_string, container, blob = sys.argv[1:4]
service = BlobServiceClient.from_connection_string(connection_string)
client = service.get_blob_client(container, blob)
data = client.download_blob().readall()
properties = client.get_blob_properties()
md5 = properties.content_settings.content_md5
folder = blob.rsplit("/", 1)[0] + "/"
listed = [b.name for b in service.get_container_client(container).list_blobs(name_starts_with=folder)]
print(json.dumps({
    "sha256": hashlib.sha256(data).hexdigest(),
    "md5": base64.b64encode(hashlib.md5(data).digest()).decode(),
    "size": len(data),
    "metadata": properties.metadata,
    "content_md5": base64.b64encode(md5).decode() if md5 else None,
    "listed": listed,
}))
