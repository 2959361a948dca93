-- Plugin state: each plugin's private key-value store (with the byte size
-- of each entry kept, so quotas are checked without dialect-specific length
-- functions), durable plugin timers, and links between users and identities
-- at external providers (SSO, plugin-registered accounts).
CREATE TABLE plugin_kv (
    plugin TEXT NOT NULL,
    key TEXT NOT NULL,
    value BYTEA NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (plugin, key)
);

CREATE TABLE plugin_timers (
    plugin TEXT NOT NULL,
    timer_id TEXT NOT NULL,
    due_ts BIGINT NOT NULL,
    interval_ms BIGINT,
    payload TEXT NOT NULL,
    PRIMARY KEY (plugin, timer_id)
);
CREATE INDEX plugin_timers_due ON plugin_timers (due_ts);

CREATE TABLE user_external_ids (
    auth_provider TEXT NOT NULL,
    external_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (auth_provider, external_id)
);
CREATE INDEX user_external_ids_user ON user_external_ids (user_id);
