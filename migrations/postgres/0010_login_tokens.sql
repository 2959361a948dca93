-- Single-use, short-lived tokens for `m.login.token` logins: minted by
-- `POST /login/get_token` (and by SSO). Stored as SHA-256 hashes, like every
-- other token; using one deletes it.
CREATE TABLE login_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    auth_provider TEXT,
    expires_ts BIGINT NOT NULL
);
CREATE INDEX login_tokens_expiry ON login_tokens (expires_ts);
