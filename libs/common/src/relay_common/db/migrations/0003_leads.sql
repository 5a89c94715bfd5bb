-- The lead pipeline: per-bot conversation settings, field provenance, qualification and
-- assignment, human takeover, model usage, and the outbox that publishes lead events
-- exactly once with the transaction that caused them.

ALTER TABLE bot_features
    ADD COLUMN debounce_ms integer NOT NULL DEFAULT 2000 CHECK (debounce_ms BETWEEN 0 AND 60000),
    ADD COLUMN assignment text NOT NULL DEFAULT 'manual' CHECK (assignment IN ('manual', 'round_robin')),
    ADD COLUMN takeover_idle_s integer NOT NULL DEFAULT 1800 CHECK (takeover_idle_s >= 0),
    ADD COLUMN unclaimed_after_s integer NOT NULL DEFAULT 900 CHECK (unclaimed_after_s > 0),
    ADD COLUMN ignored_numbers text[] NOT NULL DEFAULT '{}',
    ADD COLUMN answer_groups boolean NOT NULL DEFAULT false,
    ADD COLUMN faq jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN history_size integer NOT NULL DEFAULT 20 CHECK (history_size BETWEEN 1 AND 200),
    ADD COLUMN default_region text CHECK (default_region ~ '^[A-Z]{2}$');

ALTER TABLE leads
    ADD COLUMN human_active_at timestamptz,
    ADD COLUMN field_sources jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN unclaimed_at timestamptz;

CREATE TABLE lead_field_changes (
    id            bigserial PRIMARY KEY,
    workspace_id  uuid NOT NULL,
    lead_id       uuid NOT NULL,
    field         text NOT NULL CHECK (field IN ('name', 'email', 'phone', 'location')),
    old_value     text,
    new_value     text NOT NULL,
    confidence    real NOT NULL,
    source        text NOT NULL,
    message_id    uuid,
    changed_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX lead_field_changes_lead_idx ON lead_field_changes (lead_id, changed_at);

ALTER TABLE memberships ADD COLUMN last_assigned_at timestamptz;

CREATE TABLE model_usage (
    workspace_id       uuid NOT NULL,
    bot_id             uuid NOT NULL,
    month              date NOT NULL,
    calls              integer NOT NULL DEFAULT 0,
    prompt_tokens      bigint NOT NULL DEFAULT 0,
    completion_tokens  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (bot_id, month),
    FOREIGN KEY (workspace_id, bot_id) REFERENCES bots (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    subject       text NOT NULL,
    msg_id        text NOT NULL,
    headers       jsonb NOT NULL,
    payload       bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE published_at IS NULL;

-- Lead events delivered to HTTPS endpoints of systems without NATS.
CREATE TABLE webhooks (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url           text NOT NULL CHECK (url ~ '^https?://'),
    secret        text NOT NULL CHECK (length(secret) >= 16),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_workspace_idx ON webhooks (workspace_id) WHERE active;

CREATE TABLE webhook_deliveries (
    id               bigserial PRIMARY KEY,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    workspace_id     uuid NOT NULL,
    event_id         uuid NOT NULL,
    event            text NOT NULL,
    payload          bytea NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    last_status      integer,
    last_error       text,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';

-- A workspace may bring its own model account (else the installation's, if any).
CREATE TABLE workspace_models (
    workspace_id  uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    base_url      text NOT NULL CHECK (base_url ~ '^https?://'),
    model         text NOT NULL,
    api_key       text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
