#!/bin/bash
# swift/t_interop against Ceph RGW's Swift API: there a DLO lists as 0 bytes, an SLO with its manifest's
# size, the manifest GET answers with no body and If-Match on a manifest is refused (412).
IC_RGW=1 exec bash "$SNAPFS_SRC/tests/swift/t_interop.sh"
