"""The index as a cluster: replication through NATS JetStream (docs/index-cluster.md).

`feed` names the streams and encodes their entries; `node` follows them and publishes writes;
`peers` seeds an index from another node's snapshot.
"""
