-- +goose Up
-- The payment evidence log (存证, docs/evidence.md): one record per posted
-- batch, the RFC 6962 Merkle tree as the hashes of its perfect subtrees
-- (level 0: the leaves), and the signed tree heads. Exactly once per batch
-- and per leaf index, whatever the number of instances: both are unique,
-- and a record is written with its nodes in one transaction.
CREATE TABLE evidence_records (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  leaf_index BIGINT NOT NULL,
  out_trade_no VARCHAR(32) NOT NULL,
  order_no VARCHAR(24) NOT NULL,
  body TEXT NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_evidence_records_leaf ON evidence_records (leaf_index);
CREATE UNIQUE INDEX uk_evidence_records_batch ON evidence_records (out_trade_no);

CREATE TABLE evidence_nodes (
  level INT NOT NULL,
  node_index BIGINT NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (level, node_index)
);

CREATE TABLE evidence_tree_heads (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tree_size BIGINT NOT NULL,
  root_hash BLOB NOT NULL,
  signed_at DATETIME NOT NULL,
  key_id VARCHAR(32) NOT NULL,
  signature BLOB NOT NULL
);
CREATE UNIQUE INDEX uk_evidence_tree_heads_size ON evidence_tree_heads (tree_size);
