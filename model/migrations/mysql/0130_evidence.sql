-- +goose Up
-- The payment evidence log (存证, docs/evidence.md): one record per posted
-- batch, the RFC 6962 Merkle tree as the hashes of its perfect subtrees
-- (level 0: the leaves), and the signed tree heads. Exactly once per batch
-- and per leaf index, whatever the number of instances: both are unique,
-- and a record is written with its nodes in one transaction.
CREATE TABLE evidence_records (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  leaf_index BIGINT NOT NULL,
  out_trade_no VARCHAR(32) NOT NULL,
  order_no VARCHAR(24) NOT NULL,
  body TEXT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_evidence_records_leaf (leaf_index),
  UNIQUE KEY uk_evidence_records_batch (out_trade_no)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE evidence_nodes (
  level INT NOT NULL,
  node_index BIGINT NOT NULL,
  hash VARBINARY(32) NOT NULL,
  PRIMARY KEY (level, node_index)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE evidence_tree_heads (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  tree_size BIGINT NOT NULL,
  root_hash VARBINARY(32) NOT NULL,
  signed_at DATETIME(6) NOT NULL,
  key_id VARCHAR(32) NOT NULL,
  signature VARBINARY(64) NOT NULL,
  UNIQUE KEY uk_evidence_tree_heads_size (tree_size)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
