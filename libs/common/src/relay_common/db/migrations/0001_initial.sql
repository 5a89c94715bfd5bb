-- The seed's schema, rebuilt around workspaces. Every tenant table carries workspace_id;
-- child tables reference (workspace_id, parent id) so a row can never point across tenants.

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A person who can sign in; roles live on memberships.
CREATE TABLE users (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email          text NOT NULL CHECK (email = lower(email) AND position('@' in email) > 1),
    name           text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz,
    UNIQUE (email)
);

CREATE TABLE memberships (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          text NOT NULL CHECK (role IN ('owner', 'admin', 'vendor')),
    is_active     boolean NOT NULL DEFAULT true,
    invited_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE subscriptions (
    workspace_id            uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    plan                    text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'business')),
    status                  text NOT NULL DEFAULT 'active'
                            CHECK (status IN ('active', 'trialing', 'past_due', 'canceled', 'incomplete')),
    bot_limit               integer NOT NULL DEFAULT 1 CHECK (bot_limit >= 0),
    vendor_limit            integer NOT NULL DEFAULT 1 CHECK (vendor_limit >= 0),
    monthly_message_limit   integer NOT NULL DEFAULT 1000 CHECK (monthly_message_limit >= 0),
    stripe_customer_id      text UNIQUE,
    stripe_subscription_id  text UNIQUE,
    current_period_end      timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bots (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    prompt          text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'paused', 'disabled')),
    transport       text NOT NULL DEFAULT 'simulated' CHECK (transport IN ('simulated', 'whatsapp')),
    phone_number    text,
    runtime_state   text NOT NULL DEFAULT 'starting',
    runtime_reason  text,
    runtime_at      timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id)
);
CREATE INDEX bots_workspace_idx ON bots (workspace_id, created_at);

CREATE TABLE bot_features (
    bot_id                 uuid PRIMARY KEY,
    workspace_id           uuid NOT NULL,
    auto_reply             boolean NOT NULL DEFAULT true,
    lead_capture           boolean NOT NULL DEFAULT true,
    scheduling             boolean NOT NULL DEFAULT false,
    working_hours_enabled  boolean NOT NULL DEFAULT false,
    working_hours_start    time NOT NULL DEFAULT '09:00',
    working_hours_end      time NOT NULL DEFAULT '18:00',
    time_zone              text NOT NULL DEFAULT 'UTC',
    away_message           text,
    required_lead_fields   text[] NOT NULL DEFAULT ARRAY['name', 'phone_or_email'],
    updated_at             timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (workspace_id, bot_id) REFERENCES bots (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE bot_images (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id   uuid NOT NULL,
    bot_id         uuid NOT NULL,
    sha256         text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type   text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    size_bytes     integer NOT NULL CHECK (size_bytes > 0),
    original_name  text NOT NULL,
    keywords       text[] NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (workspace_id, bot_id) REFERENCES bots (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX bot_images_bot_idx ON bot_images (bot_id);

-- One customer of one bot.
CREATE TABLE leads (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id     uuid NOT NULL,
    bot_id           uuid NOT NULL,
    chat_jid         text NOT NULL,
    whatsapp_number  text,
    name             text,
    email            text,
    location         text,
    phone            text,
    status           text NOT NULL DEFAULT 'capturing'
                     CHECK (status IN ('capturing', 'qualified', 'assigned', 'won', 'lost')),
    assigned_to      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    qualified_at     timestamptz,
    assigned_at      timestamptz,
    last_message_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (bot_id, chat_jid),
    UNIQUE (workspace_id, id),
    FOREIGN KEY (workspace_id, bot_id) REFERENCES bots (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX leads_workspace_recent_idx ON leads (workspace_id, last_message_at DESC, id);
CREATE INDEX leads_workspace_status_idx ON leads (workspace_id, status, last_message_at DESC);
CREATE INDEX leads_assignee_idx ON leads (workspace_id, assigned_to, last_message_at DESC)
    WHERE assigned_to IS NOT NULL;

CREATE TABLE lead_messages (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id         uuid NOT NULL,
    bot_id               uuid NOT NULL,
    lead_id              uuid NOT NULL,
    whatsapp_message_id  text NOT NULL,
    origin               text NOT NULL CHECK (origin IN ('customer', 'bot', 'vendor', 'phone')),
    kind                 text NOT NULL DEFAULT 'text',
    body                 text NOT NULL DEFAULT '',
    media                jsonb,
    sent_by              uuid REFERENCES users (id) ON DELETE SET NULL,
    is_history           boolean NOT NULL DEFAULT false,
    sent_at              timestamptz NOT NULL,
    stored_at            timestamptz NOT NULL DEFAULT now(),
    -- WhatsApp ids are unique per bot: a redelivered message is stored once.
    UNIQUE (bot_id, whatsapp_message_id),
    FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX lead_messages_lead_idx ON lead_messages (lead_id, sent_at, stored_at);

CREATE TABLE schedules (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  uuid NOT NULL,
    bot_id        uuid NOT NULL,
    action        text NOT NULL CHECK (action IN ('enable', 'disable', 'pause')),
    run_at        timestamptz NOT NULL,
    cron          text,
    time_zone     text NOT NULL DEFAULT 'UTC',
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'done', 'cancelled', 'failed')),
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    executed_at   timestamptz,
    result        text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (workspace_id, bot_id) REFERENCES bots (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX schedules_due_idx ON schedules (run_at) WHERE status = 'pending';
CREATE INDEX schedules_bot_idx ON schedules (workspace_id, bot_id, run_at DESC);

-- Session workers: which send commands were carried out, so a redelivery never sends twice.
CREATE TABLE sent_commands (
    command_id           uuid PRIMARY KEY,
    workspace_id         uuid NOT NULL,
    bot_id               uuid NOT NULL,
    whatsapp_message_id  text,
    sent_at              timestamptz,
    claimed_at           timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (workspace_id, bot_id) REFERENCES bots (workspace_id, id) ON DELETE CASCADE
);
