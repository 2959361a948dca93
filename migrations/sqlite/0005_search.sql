-- Full-text search index of message bodies, names and topics (see
-- host/storage/src/search.rs). Filled in by the search implementation.
CREATE TABLE search_placeholder_0005 (id BIGINT PRIMARY KEY);
