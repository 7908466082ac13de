"""Running on a Ray cluster (the `cluster` extra): recognition as a Ray Serve deployment and
Janus room bots as Ray actors. Imported only when a cluster is configured ([cluster] address
in interpres.toml, INTERPRES_CLUSTER_ADDRESS or `serve --cluster`), so the default path never
imports ray."""

import os

# A Ray call after the connection is gone (a handle's background thread at shutdown, a
# status poll) must fail, not quietly start a local Ray instance on the server (which
# also writes ~/.ray/auth_token). Read by ray when it is imported: before any import of it.
os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
