"""Running on a Ray cluster (the `cluster` extra): recognition as a Ray Serve deployment and
Janus room bots as Ray actors. Imported only when a cluster is configured ([cluster] address
in interpres.toml, INTERPRES_CLUSTER_ADDRESS or `serve --cluster`), so the default path never
imports ray."""
