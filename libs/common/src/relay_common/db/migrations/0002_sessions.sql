-- Session workers: which WhatsApp device each bot is linked as (whatsmeow keeps the keys
-- in its own tables of the shared store), and per-bot pacing that protects numbers.

CREATE TABLE bot_devices (
    bot_id        uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL,
    device_jid    text NOT NULL UNIQUE,
    phone_number  text,
    linked_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (workspace_id, bot_id) REFERENCES bots (workspace_id, id) ON DELETE CASCADE
);

ALTER TABLE bot_features ADD COLUMN pacing jsonb NOT NULL DEFAULT '{}'::jsonb;

ALTER TABLE bots ADD COLUMN runtime_worker text;
ALTER TABLE bots ADD COLUMN banned_until timestamptz;

-- Images a bot may send, stored once per content (sha256) in each workspace, so any
-- worker can send them without shared disks.
CREATE TABLE media_blobs (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type  text NOT NULL,
    data          bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, sha256)
);

CREATE INDEX sent_commands_bot_day_idx ON sent_commands (bot_id, sent_at);

-- What the dashboard needs to link a number: the current QR code or pairing code.
ALTER TABLE bots ADD COLUMN runtime_qr text;
ALTER TABLE bots ADD COLUMN runtime_pair_code text;
