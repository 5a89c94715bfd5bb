-- The gateway: API keys for integrators, the audit log of admin actions, notes on
-- leads, and what sign-in needs (Google subject, who is signed in where).

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- The first characters of the key, shown in lists so people can tell keys apart.
    prefix        text NOT NULL,
    -- sha256 of the whole key; the key itself is shown once and never stored.
    key_hash      text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    scopes        text[] NOT NULL CHECK (
                      cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'send', 'manage']),
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    UNIQUE (workspace_id, id)
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, created_at);

CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    actor_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    actor_email   text,
    actor_api_key uuid REFERENCES api_keys (id) ON DELETE SET NULL,
    action        text NOT NULL,
    target_type   text NOT NULL,
    target_id     text,
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_workspace_idx ON audit_log (workspace_id, id DESC);

CREATE TABLE lead_notes (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  uuid NOT NULL,
    lead_id       uuid NOT NULL,
    author_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    body          text NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    created_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX lead_notes_lead_idx ON lead_notes (lead_id, created_at);

ALTER TABLE users ADD COLUMN google_sub text UNIQUE;
ALTER TABLE users ADD COLUMN picture_url text;
ALTER TABLE memberships ADD COLUMN last_seen_at timestamptz;
