-- compat_version: 1
-- Accounts, devices, tokens, profiles, account data, registration tokens and
-- user-interactive-auth sessions. Timestamps are milliseconds since the epoch;
-- booleans are 0/1 integers so that both backends read them the same way.

CREATE TABLE schema_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL,
    compat_version BIGINT NOT NULL
);

CREATE TABLE applied_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_ts BIGINT NOT NULL
);

-- Monotonic counters for streams that /sync will read (account data now;
-- events, receipts and the rest arrive with rooms).
CREATE TABLE stream_positions (
    stream_name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);

CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    localpart TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    is_admin BIGINT NOT NULL DEFAULT 0,
    is_guest BIGINT NOT NULL DEFAULT 0,
    deactivated BIGINT NOT NULL DEFAULT 0,
    user_type TEXT,
    created_ts BIGINT NOT NULL
);

CREATE TABLE devices (
    user_id TEXT NOT NULL REFERENCES users (user_id),
    device_id TEXT NOT NULL,
    display_name TEXT,
    last_seen_ip TEXT,
    last_seen_user_agent TEXT,
    last_seen_ts BIGINT,
    created_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- Tokens are stored only as SHA-256 hashes (hex).
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    -- Set when this token was exchanged for a new pair; the old token stays
    -- usable until the new pair is first used (client-server spec, /refresh).
    next_token_id BIGINT,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

CREATE TABLE access_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    -- NULL: never expires. Set for tokens issued with a refresh token.
    expires_ts BIGINT,
    refresh_token_id BIGINT REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    -- 0 until the token authenticates its first request.
    used BIGINT NOT NULL DEFAULT 0,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_device ON access_tokens (user_id, device_id);

CREATE TABLE profiles (
    user_id TEXT PRIMARY KEY REFERENCES users (user_id),
    displayname TEXT,
    avatar_url TEXT
);

-- room_id is '' for global account data.
CREATE TABLE account_data (
    user_id TEXT NOT NULL REFERENCES users (user_id),
    room_id TEXT NOT NULL,
    data_type TEXT NOT NULL,
    content TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, data_type)
);
CREATE INDEX account_data_stream ON account_data (user_id, stream_id);

CREATE TABLE registration_tokens (
    token TEXT PRIMARY KEY,
    uses_allowed BIGINT,
    pending BIGINT NOT NULL DEFAULT 0,
    completed BIGINT NOT NULL DEFAULT 0,
    expiry_time BIGINT
);

-- User-interactive auth sessions survive restarts.
CREATE TABLE uia_sessions (
    session_id TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    uri TEXT NOT NULL,
    -- JSON: the stages completed so far and what each established.
    completed TEXT NOT NULL,
    -- JSON: request body remembered from the first call (e.g. /register's).
    client_dict TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    -- Serialised set of results stored against the session (user id, token used, …).
    results TEXT NOT NULL DEFAULT '{}'
);
